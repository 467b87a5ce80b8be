use atp_sdk::{atp_tool, AuthToken};

/// Reads the profile.
#[atp_tool]
fn profile(user: String, token: AuthToken) -> String {
    format!("{user} {}", token.as_str())
}

fn main() {}
