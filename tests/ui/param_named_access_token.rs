use atp_sdk::atp_tool;

/// Reads the profile.
#[atp_tool]
fn profile(access_token: String) -> String {
    access_token
}

fn main() {}
