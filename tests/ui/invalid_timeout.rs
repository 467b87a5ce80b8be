use atp_sdk::atp_tool;

/// Echoes.
#[atp_tool(timeout = "30 seconds")]
fn echo(text: String) -> String {
    text
}

/// Never done.
#[atp_tool(timeout = "0s")]
fn never(text: String) -> String {
    text
}

fn main() {}
