//! Three tools served to an MCP client on stdin/stdout with rmcp alone
//! (its own `#[tool]` and `#[tool_router]`): the limit `../sdk-stdio` is
//! measured against.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServiceExt, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Text {
    /// The text.
    text: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Pair {
    /// The first number.
    a: f64,
    /// The second number.
    b: f64,
}

#[derive(Clone)]
struct Tools;

#[tool_router(server_handler)]
impl Tools {
    /// Echoes the text back.
    #[tool(description = "Echoes the text back.")]
    fn echo(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        text
    }

    /// Adds two numbers.
    #[tool(description = "Adds two numbers.")]
    fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a + b).to_string()
    }

    /// Counts the words in a text.
    #[tool(description = "Counts the words in a text.")]
    fn word_count(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        text.split_whitespace().count().to_string()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let running = Tools
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(std::io::Error::other)?;
    let _ = running.waiting().await;
    Ok(())
}
