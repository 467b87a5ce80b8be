use atp_sdk::atp_tool;

/// A scope with a space.
#[atp_tool(scopes = ["tickets write"])]
fn spaced(id: u64) -> u64 {
    id
}

/// A scope listed twice, and one that is not a string.
#[atp_tool(scopes = ["tickets:read", "tickets:read", tickets])]
fn twice(id: u64) -> u64 {
    id
}

/// Scopes given twice.
#[atp_tool(scopes = ["a"], scopes = ["b"])]
fn repeated(id: u64) -> u64 {
    id
}

fn main() {}
