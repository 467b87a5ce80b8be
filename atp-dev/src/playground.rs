//! The playground: a web page at the server's base URL to see the
//! connected tools, call them from forms generated from their JSON Schema,
//! and watch every call live. The page is one HTML file with its CSS and
//! JavaScript inline, built into the binary (no build step, no CDN).
//!
//! Its live log is a stream of events, as Server-Sent Events at
//! `GET /api/dev/events` or as a WebSocket at `GET /api/dev/events/ws`
//! (what the page uses: a WebSocket does not count against a browser's six
//! HTTP/1.1 connections per host, so any number of tabs stay live; each
//! message is `{"event": ..., "data": ...}`):
//! - `call`: a [`CallEvent`](crate::CallEvent) as JSON (first the finished
//!   calls kept so far, then each call as it starts and as it ends);
//! - `tools`: the connected tools changed (data: a version number);
//! - `lagged`: the watcher fell behind and missed some events (data: how
//!   many).
//!
//! With a key, the WebSocket's first message must be `{"key": "<key>"}`
//! (a browser can't set headers on a WebSocket). The streams end when the
//! server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio_websockets::{CloseCode, Message};

use crate::api::{ApiError, AppState};
use crate::call_log::CallEvent;
use crate::credentials::constant_time_eq;
use crate::guard::{StreamSlot, peer};
use crate::hub::Hub;
use crate::ws_upgrade::{WebSocket, WsUpgrade};

/// The page.
const PAGE: &str = include_str!("playground.html");

/// `GET /`.
pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            // The page loads nothing from elsewhere; say so to the browser.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        Html(PAGE),
    )
}

/// `GET /api/dev/calls`: the finished calls kept so far, oldest first.
pub(crate) async fn calls(State(state): State<AppState>) -> axum::Json<Vec<CallEvent>> {
    axum::Json(state.hub.call_log().recent())
}

/// `GET /api/dev/events`: the live log as Server-Sent Events.
pub(crate) async fn events(
    State(state): State<AppState>,
    request: Request,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = state.streams.acquire(
        peer(request.extensions()),
        state.guard.max_streams_per_client,
    )?;
    let watcher = Watcher::new(state.hub, slot);
    let stream = futures_util::stream::unfold(watcher, |mut w| async move {
        let event = w.next().await?;
        Some((Ok(event.to_sse()), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /api/dev/events/ws`: the live log over a WebSocket.
pub(crate) async fn events_ws(State(state): State<AppState>, ws: WsUpgrade) -> Response {
    ws.on_upgrade(64 * 1024, move |socket| watch_over(state, socket))
}

/// How long a WebSocket watcher has to send its key.
const KEY_WAIT: Duration = Duration::from_secs(10);

async fn watch_over(state: AppState, mut socket: WebSocket) {
    if let Some(key) = &state.guard.api_key {
        let first = tokio::time::timeout(KEY_WAIT, socket.next()).await;
        let given = match &first {
            Ok(Some(Ok(message))) => message
                .as_text()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .and_then(|v| v["key"].as_str().map(str::to_owned)),
            _ => None,
        };
        if !given.is_some_and(|given| constant_time_eq(&given, key)) {
            let _ = socket
                .send(Message::close(
                    Some(CloseCode::POLICY_VIOLATION),
                    "invalid key",
                ))
                .await;
            return;
        }
    }
    let mut watcher = Watcher::new(state.hub, None);
    loop {
        tokio::select! {
            event = watcher.next() => {
                let Some(event) = event else { break };
                if socket.send(Message::text(event.to_json())).await.is_err() {
                    return;
                }
            }
            // The page sends nothing more; a close or an error ends it.
            incoming = socket.next() => match incoming {
                Some(Ok(message)) if !message.is_close() => {}
                _ => return,
            },
        }
    }
    let _ = socket
        .send(Message::close(
            Some(CloseCode::GOING_AWAY),
            "atp-dev is shutting down",
        ))
        .await;
}

/// One event of the live log.
enum LogEvent {
    Call(Box<CallEvent>),
    Tools(u64),
    Lagged(u64),
}

impl LogEvent {
    fn to_sse(&self) -> Event {
        match self {
            LogEvent::Call(event) => Event::default()
                .event("call")
                .json_data(event)
                .unwrap_or_else(|_| Event::default().event("call").data("{}")),
            LogEvent::Tools(version) => Event::default().event("tools").data(version.to_string()),
            LogEvent::Lagged(missed) => Event::default().event("lagged").data(missed.to_string()),
        }
    }

    fn to_json(&self) -> String {
        let message = match self {
            LogEvent::Call(event) => json!({ "event": "call", "data": event }),
            LogEvent::Tools(version) => json!({ "event": "tools", "data": version }),
            LogEvent::Lagged(missed) => json!({ "event": "lagged", "data": missed }),
        };
        message.to_string()
    }
}

/// One page's view of the server.
struct Watcher {
    hub: Arc<Hub>,
    calls: broadcast::Receiver<CallEvent>,
    changes: watch::Receiver<u64>,
    backlog: std::collections::VecDeque<CallEvent>,
    _slot: Option<StreamSlot>,
}

impl Watcher {
    fn new(hub: Arc<Hub>, slot: Option<StreamSlot>) -> Self {
        let (calls, backlog) = hub.call_log().watch();
        let changes = hub.subscribe();
        Self {
            hub,
            calls,
            changes,
            backlog: backlog.into(),
            _slot: slot,
        }
    }

    /// The next event to send; `None` when the server is shutting down.
    async fn next(&mut self) -> Option<LogEvent> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(LogEvent::Call(Box::new(event)));
        }
        if self.hub.is_closed() {
            return None;
        }
        tokio::select! {
            received = self.calls.recv() => match received {
                Ok(event) => Some(LogEvent::Call(Box::new(event))),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some(LogEvent::Lagged(missed)),
                Err(broadcast::error::RecvError::Closed) => None,
            },
            changed = self.changes.changed() => {
                changed.ok()?;
                if self.hub.is_closed() {
                    return None;
                }
                Some(LogEvent::Tools(*self.changes.borrow_and_update()))
            }
        }
    }
}
