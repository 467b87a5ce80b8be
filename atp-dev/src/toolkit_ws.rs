//! The toolkit WebSocket (protocol section 2): greets the toolkit, sends
//! it requests (written here as frames), and hands its answers (read here)
//! to the calls waiting for them.

use atp_sdk::protocol::{ClientConnected, ServerMessage, ToolkitMessage};
use axum::extract::{Path, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio_websockets::{CloseCode, Message};

use crate::api::AppState;
use crate::hub::{Hub, Outbound, RawFrame};
use crate::ws_upgrade::{WebSocket, WsUpgrade};

/// `GET /ws/v1/atp/toolkit-client/{api_key}/`.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ws: WsUpgrade,
) -> Response {
    let max = state.max_frame_bytes;
    ws.on_upgrade(max, move |socket| serve(state, key, socket))
}

async fn serve(state: AppState, key: String, mut socket: WebSocket) {
    let hub = &state.hub;
    if !hub.accepts(&key) {
        let _ = socket
            .send(Message::close(
                Some(CloseCode::POLICY_VIOLATION),
                "invalid API key",
            ))
            .await;
        return;
    }
    let Some((id, mut outbound)) = hub.connect(&key) else {
        return;
    };
    let who = hub.describe_key(&key);
    tracing::info!(toolkit = %who, "toolkit connected");
    let hello = ServerMessage::ClientConnected(ClientConnected {
        message: format!("Connected to atp-dev as {who}"),
    });
    let mut unwritten = None;
    if socket.send(Message::text(frame(&hello))).await.is_ok() {
        loop {
            tokio::select! {
                out = outbound.recv() => match out {
                    Some(Outbound::Request(request)) => {
                        // A request whose caller gave up meanwhile is not sent.
                        if !hub.wanted(&request.id) {
                            continue;
                        }
                        if socket.send(Message::text(frame(&request.message))).await.is_err() {
                            // Not written: let another connection have it.
                            unwritten = Some(request);
                            break;
                        }
                    }
                    Some(Outbound::Raw(frame)) => {
                        let frame = match frame {
                            RawFrame::Text(text) => Message::text(text),
                            RawFrame::Binary(bytes) => Message::binary(bytes),
                        };
                        if socket.send(frame).await.is_err() {
                            break;
                        }
                    }
                    Some(Outbound::Close) => {
                        let _ = socket
                            .send(Message::close(Some(CloseCode::GOING_AWAY), "atp-dev is shutting down"))
                            .await;
                        break;
                    }
                    // Dropping the socket closes the TCP connection with no close frame.
                    Some(Outbound::Drop) | None => break,
                },
                frame = socket.next() => match frame {
                    Some(Ok(message)) if message.is_close() => break,
                    Some(Ok(message)) => {
                        if let Some(text) = message.as_text() {
                            on_frame(hub, id, &key, text);
                        }
                    }
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
    if let Some(grace) = hub.disconnect(id, unwritten, outbound) {
        // Calls written on this connection: the toolkit may answer them
        // once it reconnects; after the grace, they fail.
        let hub = state.hub.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            hub.fail_orphans(id);
        });
    }
    tracing::info!(toolkit = %who, "toolkit disconnected");
}

/// A message as a WebSocket frame's text.
fn frame(message: &ServerMessage) -> String {
    serde_json::to_string(message).expect("a protocol message always serializes")
}

/// A frame from the toolkit: an answer goes to the call waiting for it
/// (or is kept as stray); anything else is ignored.
fn on_frame(hub: &Hub, connection: u64, key: &str, text: &str) {
    match serde_json::from_str::<ToolkitMessage>(text) {
        Ok(
            ToolkitMessage::ToolResponse { request_id, result }
            | ToolkitMessage::AppResponse { request_id, result },
        ) => {
            hub.answered(Some(connection), key, request_id, result);
        }
        Err(err) => tracing::debug!(%err, "frame from toolkit ignored"),
    }
}
