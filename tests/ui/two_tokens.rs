use atp_sdk::{atp_tool, AuthToken};

/// Reads the profile.
#[atp_tool(auth_provider = "github")]
fn profile(first: AuthToken, second: AuthToken) -> usize {
    first.as_str().len() + second.as_str().len()
}

fn main() {}
