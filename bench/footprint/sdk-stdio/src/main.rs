//! Three tools served to an MCP client on stdin/stdout, with atp-sdk alone
//! (default features off, `mcp-stdio` on). The same server as
//! `../rmcp-stdio`, written with rmcp alone.

use atp_sdk::atp_tool;

/// Echoes the text back.
#[atp_tool]
fn echo(text: String) -> String {
    text
}

/// Adds two numbers.
#[atp_tool]
fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// Counts the words in a text.
#[atp_tool]
fn word_count(text: String) -> usize {
    text.split_whitespace().count()
}

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
