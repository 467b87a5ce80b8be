//! The MCP limit row's server: `echo` written with rmcp alone (its own
//! `#[tool]` and `#[tool_router]`, no atp-sdk), served on stdin/stdout
//! (`stdio`) or over streamable HTTP at `/mcp` (`http PORT [stateless]`),
//! so the cost of atp-sdk over rmcp is a number.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServiceExt, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoParams {
    /// The text to send back.
    text: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct EchoOutput {
    echo: String,
}

#[derive(Clone)]
struct Bare;

#[tool_router(server_handler)]
impl Bare {
    /// Echoes the text back.
    #[tool(description = "Echoes the text back.")]
    fn echo(&self, Parameters(EchoParams { text }): Parameters<EchoParams>) -> Json<EchoOutput> {
        Json(EchoOutput { echo: text })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("stdio") => {
            // rmcp's non-blocking pipes (its `stdio()` reads and writes on
            // tokio's blocking pool), as atp-sdk uses them.
            let running = Bare
                .serve(rmcp::transport::stdio_pipes())
                .await
                .map_err(std::io::Error::other)?;
            let _ = running.waiting().await;
            Ok(())
        }
        Some("http") => {
            let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(8789);
            let stateless = args.get(2).is_some_and(|a| a == "stateless");
            let config = StreamableHttpServerConfig::default()
                .with_legacy_session_mode(!stateless)
                .with_json_response(stateless);
            let service = StreamableHttpService::new(
                || Ok(Bare),
                LocalSessionManager::default().into(),
                config,
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            axum::serve(listener, router).await
        }
        _ => {
            eprintln!("usage: atp-bench-rmcp stdio | http PORT [stateless]");
            std::process::exit(2);
        }
    }
}
