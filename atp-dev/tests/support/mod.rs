//! Raw protocol peers for testing atp-dev: an HTTP client for the
//! announce and call endpoints, and a WebSocket "toolkit" that speaks the
//! frames by hand.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use atp_dev::DevServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// POSTs JSON and returns (status, body).
pub async fn post(server: &DevServer, path: &str, body: &Value) -> (u16, Value) {
    post_raw(server, path, body.to_string()).await
}

pub async fn post_raw(server: &DevServer, path: &str, body: String) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path}", server.base_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get(server: &DevServer, path: &str) -> (u16, Value) {
    let response = http()
        .get(format!("{}{path}", server.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A register_tool body for `name` under `key`.
pub fn registration(key: &str, app: &str, name: &str) -> Value {
    json!({
        "function_id": name, "api_key": key, "app_name": app, "programming_language": "Python",
        "code_hash": format!("hash-{name}"), "toolkit_hash": format!("toolkit-{app}"),
        "metadata": {"params": ["x"], "required_params": ["x"], "description": format!("The {name} tool."),
                     "auth_provider": null, "auth_type": null, "auth_with": null,
                     "sample_response": "", "source_code": format!("def {name}(x): ..."),
                     "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}
    })
}

pub async fn register(server: &DevServer, key: &str, app: &str, name: &str) {
    let (status, body) = post(
        server,
        "/api/v1/register_tool",
        &registration(key, app, name),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// A toolkit that speaks the WebSocket frames by hand.
pub struct RawToolkit {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawToolkit {
    /// Connects and reads the `atp_client_connected` greeting.
    pub async fn connect(server: &DevServer, key: &str) -> Self {
        let url = format!(
            "ws://{}/ws/v1/atp/toolkit-client/{key}/",
            server.local_addr()
        );
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut toolkit = Self { ws };
        let hello = toolkit.next_json().await;
        assert_eq!(hello["message_type"], "atp_client_connected", "{hello}");
        assert!(hello["payload"]["message"].is_string());
        toolkit
    }

    /// The next text frame, as JSON.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next `atp_tool_request`'s payload.
    pub async fn next_request(&mut self) -> Value {
        let frame = self.next_json().await;
        assert_eq!(frame["message_type"], "atp_tool_request", "{frame}");
        frame["payload"].clone()
    }

    pub async fn send_json(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    pub async fn respond(&mut self, request_id: &Value, result: Value) {
        self.send_json(
            json!({"type": "tool_response", "request_id": request_id, "result": result}),
        )
        .await;
    }

    /// Answers `n` requests with `{"echo": params, "by": tag}`.
    pub async fn serve(&mut self, n: usize, tag: &str) {
        for _ in 0..n {
            let request = self.next_request().await;
            let result = json!({"echo": request["params"], "by": tag});
            self.respond(&request["request_id"], result).await;
        }
    }
}

impl RawToolkit {
    /// Like [`connect`](Self::connect), with no limit on the size of what
    /// it reads (for tests that jam a connection with a huge frame).
    pub async fn connect_unlimited(server: &DevServer, key: &str) -> Self {
        use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
        let url = format!(
            "ws://{}/ws/v1/atp/toolkit-client/{key}/",
            server.local_addr()
        );
        let config = WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .unwrap();
        let mut toolkit = Self { ws };
        let hello = toolkit.next_json().await;
        assert_eq!(hello["message_type"], "atp_client_connected", "{hello}");
        toolkit
    }

    /// The next text frame within `wait`, as it came; `None` if none came
    /// in that time or the connection ended.
    pub async fn next_text_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => return Some(text.as_str().to_owned()),
                Ok(Some(Ok(_))) => {}
                Ok(None | Some(Err(_))) | Err(_) => return None,
            }
        }
    }
}

/// The `atp-dev` binary, with none of its environment variables inherited
/// from the test's (a developer's `ATP_DEV_URL` or key).
pub fn atp_dev() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_atp-dev"));
    command
        .env_remove("ATP_DEV_URL")
        .env_remove("ATP_DEV_KEY")
        .env_remove("ATP_DEV_API_KEY")
        .env_remove("ATP_APP_NAME")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end, within `WAIT`.
pub async fn run(command: &mut tokio::process::Command) -> std::process::Output {
    tokio::time::timeout(WAIT, command.output())
        .await
        .expect("atp-dev finishes")
        .unwrap()
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub mod hub;
