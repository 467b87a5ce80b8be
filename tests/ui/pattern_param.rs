use atp_sdk::atp_tool;

/// Adds.
#[atp_tool]
fn add((a, b): (i32, i32)) -> i32 {
    a + b
}

fn main() {}
