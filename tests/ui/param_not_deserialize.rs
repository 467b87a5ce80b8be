use atp_sdk::atp_tool;

#[derive(schemars::JsonSchema)]
struct Opaque {
    inner: u8,
}

/// Uses it.
#[atp_tool]
fn use_it(label: String, value: Opaque) -> u8 {
    let _ = label;
    value.inner
}

fn main() {}
