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

/// Raw MCP over streamable HTTP, as any client sends it: JSON-RPC bodies
/// POSTed with the headers the spec asks for.
pub mod raw {
    use serde_json::{Value, json};

    use crate::{WAIT, http};

    /// An `initialize` request body.
    pub fn initialize() -> String {
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}
        })
        .to_string()
    }

    /// POSTs `body` to `url`, in `session` if given, with `bearer` as the
    /// access token if given.
    pub async fn post(
        url: &str,
        session: Option<&str>,
        bearer: Option<&str>,
        body: String,
    ) -> reqwest::Response {
        let mut request = http()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18");
        }
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        tokio::time::timeout(WAIT, request.send())
            .await
            .expect("answered in time")
            .expect("an HTTP answer")
    }

    /// A new session's id: `initialize`, then `notifications/initialized`.
    pub async fn open_session(url: &str, bearer: Option<&str>) -> String {
        let response = post(url, None, bearer, initialize()).await;
        assert_eq!(response.status(), 200, "initialize");
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let accepted = post(url, Some(&id), bearer, initialized.to_string()).await;
        assert_eq!(accepted.status(), 202, "notifications/initialized accepted");
        id
    }

    /// A request `method` with `params` in `session`: its HTTP status,
    /// and the JSON-RPC message of its body (read from the event stream
    /// or the JSON body), `Null` if none.
    pub async fn request(
        url: &str,
        session: &str,
        bearer: Option<&str>,
        method: &str,
        params: Value,
    ) -> (u16, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params});
        let response = post(url, Some(session), bearer, body.to_string()).await;
        let status = response.status().as_u16();
        let text = tokio::time::timeout(WAIT, response.text())
            .await
            .expect("read in time")
            .unwrap_or_default();
        let message = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .chain(std::iter::once(text.as_str()))
            .find_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .unwrap_or(Value::Null);
        (status, message)
    }
}

/// A toolkit serving MCP over streamable HTTP in this process, on a
/// listener of the test's.
#[derive(Debug)]
pub struct HttpServed {
    /// Its `/mcp` URL (on 127.0.0.1, whatever address it listens on).
    pub url: String,
    stop: atp_sdk::StopHandle,
    task: tokio::task::JoinHandle<Result<(), atp_sdk::Error>>,
}

impl HttpServed {
    /// Serves `client` on 127.0.0.1 at a free port.
    pub async fn start(client: atp_sdk::ToolKitClient) -> HttpServed {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(client, listener)
    }

    /// Serves `client` on `listener`.
    pub fn on(client: atp_sdk::ToolKitClient, listener: tokio::net::TcpListener) -> HttpServed {
        let port = listener.local_addr().unwrap().port();
        let stop = client.stop_handle();
        let task = tokio::spawn(client.serve_mcp_http_on(listener));
        HttpServed {
            url: format!("http://127.0.0.1:{port}/mcp"),
            stop,
            task,
        }
    }

    /// Asks it to stop (the calls in flight still finish).
    pub fn ask_to_stop(&self) {
        self.stop.stop();
    }

    /// Stops it; panics unless it stops in time and cleanly.
    pub async fn stop(self) {
        self.stop.stop();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stops in time")
            .expect("serve() does not panic")
            .expect("serve() returns Ok");
    }
}
