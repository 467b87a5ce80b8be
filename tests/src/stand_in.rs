//! Frames for a test that plays the server by hand over a
//! [`RawServer`](crate::raw::RawServer) connection: the request frame it
//! sends, and the toolkit's answer frames as text.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::raw::Ws;

/// A tool request frame.
pub fn tool_request(id: Value, tool: &str, params: Value) -> String {
    json!({"message_type": "atp_tool_request",
           "payload": {"request_id": id, "tool_name": tool, "params": params}})
    .to_string()
}

/// The next text frame from the toolkit within `within`; `None` if none
/// came in that time or the connection ended.
pub async fn next_text(ws: &mut Ws, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(text.as_str().to_owned()),
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) | Err(_) => return None,
        }
    }
}
