//! The sessions of MCP over streamable HTTP, bounded. rmcp's
//! [`LocalSessionManager`] keeps any number of them, each until it has
//! been idle for its keep-alive: one client sending `initialize` in a loop
//! could hold gigabytes. Here:
//! - at most `max_sessions` live at once: an `initialize` past that is
//!   answered `503 Service Unavailable` with `Retry-After` (see
//!   [`admit`]), and the sessions already open are not disturbed;
//! - a session not used since its `initialize` (no request, no event
//!   stream) is closed after `unused_session_life`;
//! - an idle one after `idle_session_life` (rmcp's keep-alive).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::server_side_http::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::SessionManager;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::McpHttpLimits;

/// The `Retry-After` of a refused `initialize`, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// The largest request body looked into for `initialize` (rmcp refuses
/// larger bodies anyway).
const MAX_BODY: usize = 4 << 20;

/// rmcp's sessions, bounded.
pub(crate) struct Sessions {
    inner: LocalSessionManager,
    limits: McpHttpLimits,
    /// Sessions not used since `initialize`, with when they were made.
    unused: Mutex<HashMap<SessionId, Instant>>,
    /// `initialize` requests admitted and not yet answered (their
    /// sessions may not be in `inner` yet).
    admitting: AtomicUsize,
}

impl Sessions {
    pub(crate) fn new(limits: McpHttpLimits) -> Arc<Self> {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(limits.idle_session_life);
        Arc::new(Self {
            inner,
            limits,
            unused: Mutex::new(HashMap::new()),
            admitting: AtomicUsize::new(0),
        })
    }

    /// Sessions live now.
    pub(crate) async fn live(&self) -> usize {
        self.inner.sessions.read().await.len()
    }

    fn used(&self, id: &SessionId) {
        self.unused.lock().expect("not poisoned").remove(id);
    }

    /// Closes the sessions unused for their life, until `ct` is
    /// cancelled.
    pub(crate) async fn reap(self: Arc<Self>, ct: CancellationToken) {
        let life = self.limits.unused_session_life;
        let period = (life / 4).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                () = ct.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            let expired: Vec<SessionId> = {
                let unused = self.unused.lock().expect("not poisoned");
                unused
                    .iter()
                    .filter(|(_, made)| made.elapsed() >= life)
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            for id in expired {
                tracing::debug!("MCP session unused since initialize: closed");
                let _ = self.close_session(&id).await;
            }
        }
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let (id, transport) = self.inner.create_session().await?;
        self.unused
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), Instant::now());
        Ok((id, transport))
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        self.inner.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.has_session(id)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.used(id);
        self.inner.close_session(id).await
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.used(id);
        self.inner.create_stream(id, message)
    }

    fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        // A notification (`notifications/initialized` comes right after
        // `initialize`) or a response: not a use.
        self.inner.accept_message(id, message)
    }

    fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.used(id);
        self.inner.create_standalone_stream(id)
    }

    fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.used(id);
        self.inner.resume(id, last_event_id)
    }
}

/// Admits an `initialize` only while there is room for its session;
/// every other request passes untouched.
pub(crate) async fn admit(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::DELETE {
        return closed(next.run(request).await);
    }
    // rmcp reads a session id that is not text as no session id: so do we.
    let opens_session = request.method() == Method::POST
        && request
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .is_none();
    if !opens_session {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    if !may_initialize(&bytes) {
        return next.run(request).await;
    }
    let admitting = Admitting::new(&sessions.admitting);
    let live = sessions.live().await;
    let response = if live + admitting.count > sessions.limits.max_sessions {
        tracing::warn!(
            live,
            max = sessions.limits.max_sessions,
            "MCP initialize refused: too many sessions"
        );
        full(sessions.limits.max_sessions)
    } else {
        next.run(request).await
    };
    drop(admitting);
    response
}

/// A session closed by `DELETE`: rmcp answers `202 Accepted`, which the
/// spec does not give for it and clients read as a failure (the official
/// Python client logs `Session termination failed: 202`; it takes 200 or
/// 204): `204 No Content` instead.
fn closed(mut response: Response) -> Response {
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = Body::empty();
        response.headers_mut().remove(header::CONTENT_TYPE);
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response
}

/// One `initialize` being admitted: counted from [`Admitting::new`] until
/// dropped, so a request whose future is dropped half-way (its client
/// went away) gives its place back too.
struct Admitting<'a> {
    counter: &'a AtomicUsize,
    /// The count with this one in it.
    count: usize,
}

impl<'a> Admitting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        let count = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Self { counter, count }
    }
}

impl Drop for Admitting<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a request body may be an `initialize` request: every body but
/// one that reads plainly as another method counts, so a body this check
/// can't read (a repeated `method` key, say) can't pass the cap and open a
/// session in rmcp's reading of it.
fn may_initialize(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    !matches!(
        serde_json::from_slice::<Method<'_>>(body),
        Ok(Method { method: Some(m) }) if m != "initialize"
    )
}

fn full(max: usize) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32000,
            "message": format!("this server has {max} MCP sessions open, its limit: try again later, or close a session you no longer use (HTTP DELETE)"),
        },
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&RETRY_AFTER_SECS.to_string()).expect("digits"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_body_that_reads_plainly_as_another_method_skips_the_cap() {
        assert!(may_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(!may_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        // What this check can't read counts: rmcp may read it otherwise.
        assert!(may_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"initialize"}"#
        ));
        assert!(may_initialize(br#"[{"method":"initialize"}]"#));
        assert!(may_initialize(b"not json"));
    }

    #[test]
    fn an_admission_dropped_half_way_gives_its_place_back() {
        let counter = AtomicUsize::new(0);
        let first = Admitting::new(&counter);
        assert_eq!(first.count, 1);
        let second = Admitting::new(&counter);
        assert_eq!(second.count, 2);
        drop(second);
        drop(first);
        assert_eq!(counter.load(Ordering::SeqCst), 0);
    }
}
