use atp_sdk::atp_tool;

/// Greets.
#[atp_tool(required = ["name", "greeting"])]
fn greet(name: String, greeting: Option<String>) -> String {
    format!("{greeting:?} {name}")
}

fn main() {}
