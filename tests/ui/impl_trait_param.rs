use atp_sdk::atp_tool;

/// Shows.
#[atp_tool]
fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
