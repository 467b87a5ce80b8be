//! The limit: the least a toolkit can do. It registers `echo` once, then
//! answers every `atp_tool_request` on one task with a fixed result under
//! the request's id — no SDK, no validation, no task per call.

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

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
    let url = format!("{ws_base}/ws/v1/atp/toolkit-client/{key}/");
    // TCP_NODELAY, as the SDK sets it.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    while let Some(frame) = ws.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if frame["message_type"] != "atp_tool_request" {
            continue;
        }
        let answer = json!({
            "type": "tool_response",
            "request_id": frame["payload"]["request_id"],
            "result": {"echo": "hello"},
        });
        ws.send(Message::text(answer.to_string())).await?;
    }
    Ok(())
}
