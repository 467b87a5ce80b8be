use atp_sdk::atp_tool;

/// Echoes.
#[atp_tool]
fn echo<T: serde::de::DeserializeOwned + schemars::JsonSchema + serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
