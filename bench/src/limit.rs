//! The limit: the least a toolkit can do. It registers `echo` once, then
//! answers every `atp_tool_request` on one task with `{"echo": <text>}`
//! under the request's id — no SDK, no validation, no task per call — over
//! the same WebSocket library the SDK uses (tokio-websockets), with
//! TCP_NODELAY as the SDK sets it.

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_websockets::{ClientBuilder, Limits, Message};

pub(crate) fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("limit: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = std::env::var("ATP_BASE_URL")?;
    let key = std::env::var("ATP_API_KEY")?;
    let app = std::env::var("ATP_APP_NAME")?;
    let registration = json!({
        "function_id": "echo",
        "api_key": key,
        "app_name": app,
        "programming_language": "Rust",
        "code_hash": "limit",
        "metadata": {"params": ["text"], "required_params": ["text"], "description": "Echoes."},
    });
    reqwest::Client::new()
        .post(format!("{base}/api/v1/register_tool"))
        .json(&registration)
        .send()
        .await?
        .error_for_status()?;
    let ws_base = atp_sdk::protocol::websocket_base(&base).ok_or("base URL is not http(s)")?;
    let uri: http::Uri = format!("{ws_base}/ws/v1/atp/toolkit-client/{key}/").parse()?;
    let host = uri.host().ok_or("no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let (mut ws, _) = ClientBuilder::from_uri(uri)
        .limits(Limits::default().max_payload_len(Some(64 << 20)))
        .connect_on(tcp)
        .await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        let Some(text) = message.as_text() else {
            continue;
        };
        let Ok(mut frame) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if frame["message_type"] != "atp_tool_request" {
            continue;
        }
        let payload = frame["payload"].take();
        let mut payload = payload;
        let answer = json!({
            "type": "tool_response",
            "request_id": payload["request_id"].take(),
            "result": {"echo": payload["params"]["text"].take()},
        });
        ws.send(Message::text(answer.to_string())).await?;
    }
    Ok(())
}
