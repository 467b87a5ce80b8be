use atp_sdk::atp_tool;

#[derive(serde::Deserialize)]
struct NoSchema {
    inner: u8,
}

/// Uses it.
#[atp_tool]
fn use_it(value: NoSchema) -> u8 {
    value.inner
}

fn main() {}
