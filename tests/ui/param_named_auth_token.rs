use atp_sdk::atp_tool;

/// Reads the profile.
#[atp_tool(auth_provider = "github")]
fn profile(user: String, auth_token: String) -> String {
    format!("{user} {auth_token}")
}

fn main() {}
