use atp_sdk::{atp_tool, Context};

/// Two contexts.
#[atp_tool]
fn twice(first: Context, second: Context) -> String {
    format!("{} {}", first.tool(), second.tool())
}

fn main() {}
