//! rmcp's own client, as the MCP tests drive a toolkit with it (feature
//! `mcp`): a client of a streamable-HTTP URL, and a call's outcome.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;

use crate::WAIT;

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ()>;

/// An rmcp client of `url` (`.../mcp`), sending `token` as a bearer token.
pub async fn http_client(url: &str, token: Option<&str>) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(WAIT, ().serve(transport))
        .await
        .expect("initialized in time")
        .expect("the MCP handshake succeeds")
}

/// A call's outcome: (is_error, the text content, structuredContent).
pub async fn call(client: &Client, tool: &str, args: Value) -> (bool, String, Option<Value>) {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(args) = args {
        params = params.with_arguments(args);
    }
    let result: CallToolResult = tokio::time::timeout(WAIT, client.call_tool(params))
        .await
        .expect("answered in time")
        .expect("a tool result, not a protocol error");
    let text: Vec<String> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect();
    (
        result.is_error.unwrap_or(false),
        text.join("\n"),
        result.structured_content,
    )
}
