use atp_sdk::atp_tool;

#[derive(schemars::JsonSchema)]
struct Opaque {
    inner: u8,
}

#[derive(serde::Deserialize)]
struct Undescribed {
    inner: u8,
}

/// Reads a list: the error is on `Opaque`, with the SDK's message.
#[atp_tool]
fn count(values: Vec<Opaque>) -> usize {
    values.len()
}

/// Reads an optional list of a type without a schema.
#[atp_tool]
fn count_more(values: Option<Vec<Undescribed>>) -> usize {
    values.map_or(0, |v| v.len())
}

fn main() {}
