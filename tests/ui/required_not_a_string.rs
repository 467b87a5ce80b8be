use atp_sdk::atp_tool;

/// Echoes.
#[atp_tool(required = [text])]
fn echo(text: String) -> String {
    text
}

fn main() {}
