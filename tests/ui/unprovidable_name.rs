use atp_sdk::atp_tool;

/// A name that starts with a digit: Gemini refuses it.
#[atp_tool(name = "1st_place")]
fn first(text: String) -> String {
    text
}

/// A function name outside ASCII: no provider takes it as a tool name.
#[atp_tool]
fn café(text: String) -> String {
    text
}

fn main() {}
