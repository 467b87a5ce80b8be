//! The playground: a web page at the server's base URL to see the
//! connected tools, call them from forms generated from their JSON Schema,
//! and watch every call live. The page is one HTML file with its CSS and
//! JavaScript inline, built into the binary (no build step, no CDN).
//!
//! Its live log is a Server-Sent Events stream, `GET /api/dev/events`:
//! - `call`: a [`CallEvent`](crate::CallEvent) as JSON (first the finished
//!   calls kept so far, then each call as it starts and as it ends);
//! - `tools`: the connected tools changed (data: a version number);
//! - `lagged`: the watcher fell behind and missed some events (data: how
//!   many).
//!
//! The stream ends when the server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use futures_util::Stream;
use tokio::sync::{broadcast, watch};

use crate::api::AppState;
use crate::call_log::CallEvent;
use crate::hub::Hub;

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
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        Html(PAGE),
    )
}

/// `GET /api/dev/calls`: the finished calls kept so far, oldest first.
pub(crate) async fn calls(State(state): State<AppState>) -> axum::Json<Vec<CallEvent>> {
    axum::Json(state.hub.call_log().recent())
}

/// `GET /api/dev/events`.
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let hub = state.hub;
    let (calls, backlog) = hub.call_log().watch();
    let changes = hub.subscribe();
    let watcher = Watcher {
        hub,
        calls,
        changes,
        backlog: backlog.into_iter().map(call_event).collect(),
    };
    let stream = futures_util::stream::unfold(watcher, |mut w| async move {
        let event = w.next().await?;
        Some((Ok(event), w))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// One page's view of the server.
struct Watcher {
    hub: Arc<Hub>,
    calls: broadcast::Receiver<CallEvent>,
    changes: watch::Receiver<u64>,
    backlog: std::collections::VecDeque<Event>,
}

impl Watcher {
    /// The next event to send; `None` when the server is shutting down.
    async fn next(&mut self) -> Option<Event> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(event);
        }
        if self.hub.is_closed() {
            return None;
        }
        tokio::select! {
            received = self.calls.recv() => match received {
                Ok(event) => Some(call_event(event)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some(Event::default().event("lagged").data(missed.to_string()))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            },
            changed = self.changes.changed() => {
                changed.ok()?;
                if self.hub.is_closed() {
                    return None;
                }
                let version = *self.changes.borrow_and_update();
                Some(Event::default().event("tools").data(version.to_string()))
            }
        }
    }
}

fn call_event(event: CallEvent) -> Event {
    Event::default()
        .event("call")
        .json_data(&event)
        .unwrap_or_else(|_| Event::default().event("call").data("{}"))
}
