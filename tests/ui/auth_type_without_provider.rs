use atp_sdk::atp_tool;

/// Reads the profile.
#[atp_tool(auth_type = "OAuth2")]
fn profile(user: String) -> String {
    user
}

fn main() {}
