use atp_sdk::{atp_tool, AuthToken};

/// Everything wrong at once: all of it is reported.
#[atp_tool(required = ["missing"], auth_with = "access_token", colour = "blue")]
fn broken(api_key: String, text: &str, token: AuthToken) -> String {
    format!("{api_key} {text} {}", token.as_str())
}

fn main() {}
