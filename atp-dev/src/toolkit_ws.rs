//! The toolkit WebSocket (protocol section 2): greets the toolkit, sends
//! it requests, and hands its answers to the calls waiting for them.

use atp_sdk::protocol::{ClientConnected, ServerMessage};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::response::Response;

use crate::http::AppState;
use crate::hub::{Outbound, RawFrame};

/// `GET /ws/v1/atp/toolkit-client/{api_key}/`.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(state.max_frame_bytes)
        .max_frame_size(state.max_frame_bytes)
        .on_upgrade(move |socket| serve(state, key, socket))
}

async fn serve(state: AppState, key: String, mut socket: WebSocket) {
    let hub = &state.hub;
    if !hub.accepts(&key) {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::POLICY,
                reason: "invalid API key".into(),
            })))
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
    let hello = serde_json::to_string(&hello).expect("a greeting always serializes");
    let mut unwritten = None;
    if socket.send(Message::Text(hello.into())).await.is_ok() {
        loop {
            tokio::select! {
                out = outbound.recv() => match out {
                    Some(Outbound::Frame { request_id, text }) => {
                        let frame = Utf8Bytes::from(text);
                        if socket.send(Message::Text(frame.clone())).await.is_err() {
                            // Not written: let another connection have it.
                            unwritten = Some((request_id, frame.as_str().to_owned()));
                            break;
                        }
                    }
                    Some(Outbound::Raw(frame)) => {
                        let frame = match frame {
                            RawFrame::Text(text) => Message::Text(text.into()),
                            RawFrame::Binary(bytes) => Message::Binary(bytes.into()),
                        };
                        if socket.send(frame).await.is_err() {
                            break;
                        }
                    }
                    Some(Outbound::Close) => {
                        let _ = socket.send(Message::Close(Some(CloseFrame {
                            code: close_code::AWAY,
                            reason: "atp-dev is shutting down".into(),
                        }))).await;
                        break;
                    }
                    // Dropping the socket closes the TCP connection with no close frame.
                    Some(Outbound::Drop) | None => break,
                },
                frame = socket.recv() => match frame {
                    Some(Ok(Message::Text(text))) => hub.on_toolkit_frame(&key, text.as_str()),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    hub.disconnect(id, unwritten, outbound);
    tracing::info!(toolkit = %who, "toolkit disconnected");
}
