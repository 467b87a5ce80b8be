use atp_sdk::atp_tool;

/// Echoes.
#[atp_tool]
fn echo(text: &str) -> String {
    text.to_owned()
}

fn main() {}
