use atp_sdk::atp_tool;

/// Echoes.
#[atp_tool(name = "echo", name = "echo2")]
fn echo(text: String) -> String {
    text
}

fn main() {}
