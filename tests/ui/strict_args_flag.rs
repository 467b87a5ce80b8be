use atp_sdk::atp_tool;

/// The flag given a value.
#[atp_tool(strict_args = true)]
fn valued(id: u64) -> u64 {
    id
}

/// The flag given twice.
#[atp_tool(strict_args, strict_args)]
fn twice(id: u64) -> u64 {
    id
}

fn main() {}
