use atp_sdk::atp_tool;

#[derive(Debug)]
struct Failure;

/// Tries.
#[atp_tool]
fn attempt(n: u32) -> Result<u32, Failure> {
    if n > 0 { Ok(n) } else { Err(Failure) }
}

fn main() {}
