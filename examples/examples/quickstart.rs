//! The smallest toolkit: one `echo` tool.
//!
//! Run it against a local server with no account:
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example quickstart
//! ```
//!
//! and, in another terminal, call it:
//!
//! ```text
//! cargo run -p atp-dev -- call echo text=hello
//! ```

use atp_sdk::atp_tool;
use serde_json::{Value, json};

/// Echoes the input text back, with its length.
#[atp_tool(name = "echo")]
fn echo(
    /// The text to send back.
    text: String,
) -> Value {
    json!({ "echo": text, "length": text.chars().count() })
}

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
