use atp_sdk::{atp_tool, State};

/// A state of no type.
#[atp_tool]
fn shared(value: State) -> u8 {
    let _ = value;
    1
}

fn main() {}
