use atp_sdk::atp_tool;

/// Reads the profile.
#[atp_tool(auth_with = "access_token")]
fn profile(user: String) -> String {
    user
}

fn main() {}
