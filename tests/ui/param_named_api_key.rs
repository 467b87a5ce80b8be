use atp_sdk::atp_tool;

/// Reads the profile.
#[atp_tool]
async fn profile(user: String, api_key: Option<String>) -> String {
    format!("{user} {api_key:?}")
}

fn main() {}
