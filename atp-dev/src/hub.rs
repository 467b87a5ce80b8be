//! The server's shared state: registrations, live toolkit connections,
//! HTTP inboxes and calls waiting for their answer.
//!
//! Every route and the [`DevServer`](crate::DevServer) handle go through
//! these methods, so the HTTP API and the library behave the same. The lock
//! is never held across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::call_log::{CallEvent, CallLog};
use atp_sdk::protocol::{
    RegisterToolRequest, RequestId, ServerMessage, ToolMetadata, ToolRequest, ToolkitMessage,
    VerifyHashRequest, VerifyToolHashRequest,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

/// One announce request, as received.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnounceRecord {
    /// `POST /api/v1/toolkit/verify_hash`.
    VerifyHash(VerifyHashRequest),
    /// `POST /api/v1/toolkit/verify_tool_hash`.
    VerifyToolHash(VerifyToolHashRequest),
    /// `POST /api/v1/register_tool`.
    RegisterTool(Box<RegisterToolRequest>),
}

/// A tool of a connected toolkit, as `GET /api/dev/tools` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ToolInfo {
    /// The tool's name.
    pub name: String,
    /// The toolkit's name.
    pub app_name: String,
    /// The registered metadata, unknown fields included.
    pub metadata: ToolMetadata,
    /// Live WebSocket connections of the toolkit.
    pub connections: usize,
    /// `"websocket"` or `"inbox"`.
    pub transport: String,
}

/// A call's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The id the server gave the request.
    pub request_id: String,
    /// What the toolkit answered (an `{"error": ...}` result included).
    pub result: Value,
    /// From sending the request to receiving the answer.
    pub latency: Duration,
}

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No toolkit registered a tool of that name.
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    /// The tool is registered but its toolkit is not connected.
    #[error("tool {0} is registered but its toolkit is not connected")]
    NotConnected(String),
    /// The toolkit did not answer in time.
    #[error("tool {tool} did not answer within {timeout:?}")]
    Timeout {
        /// The tool.
        tool: String,
        /// The time limit.
        timeout: Duration,
    },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// No app session of that id is open on this server.
    #[error("unknown app session: {0}")]
    UnknownSession(String),
    /// The session is still busy with an earlier action.
    #[error("app session {0} is busy with another action")]
    SessionBusy(String),
    /// The connection that holds the session is gone (and the session
    /// with it).
    #[error("app session {0} was lost: its toolkit connection closed")]
    SessionLost(String),
}

/// Options of one call. Its `Debug` output never shows the token.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The auth token to send with the request.
    pub auth_token: Option<String>,
    /// The time limit (default: the server's call timeout).
    pub timeout: Option<Duration>,
    /// The toolkit to call, when several offer the tool.
    pub app_name: Option<String>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("app_name", &self.app_name)
            .finish()
    }
}

/// A frame for [`DevServer::send_raw`](crate::DevServer::send_raw): sent
/// to the toolkits as it is, however wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFrame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send a request frame.
    Frame {
        /// The request's id.
        request_id: String,
        /// The frame's text.
        text: String,
    },
    /// Send this frame as it is (fault injection).
    Raw(RawFrame),
    /// Drop the connection at once, without a close frame (fault injection).
    Drop,
    /// Close the connection properly (server shutdown).
    Close,
}

#[derive(Debug, Default)]
struct Toolkit {
    app_name: String,
    toolkit_hash: Option<String>,
    tools: BTreeMap<String, Registered>,
}

#[derive(Debug)]
struct Registered {
    code_hash: String,
    metadata: ToolMetadata,
}

#[derive(Debug)]
struct Connection {
    key: String,
    tx: mpsc::UnboundedSender<Outbound>,
}

#[derive(Debug, Default)]
struct Inbox {
    /// Items as the poll returns them, with their request ids.
    queue: VecDeque<(String, Value)>,
    last_poll: Option<Instant>,
}

/// Where an app session lives: its toolkit, and the connection that
/// started it (actions go to that one: the session's state is there).
#[derive(Debug, Clone)]
struct AppSession {
    key: String,
    app: String,
    /// `None` for a toolkit that polls the inbox.
    connection: Option<u64>,
}

#[derive(Debug)]
struct Pending {
    key: String,
    answer: oneshot::Sender<Value>,
}

#[derive(Debug, Default)]
struct Inner {
    toolkits: HashMap<String, Toolkit>,
    connections: BTreeMap<u64, Connection>,
    round_robin: HashMap<String, usize>,
    inboxes: HashMap<String, Inbox>,
    pending: HashMap<String, Pending>,
    /// Request frames for a key with no open connection (its connection
    /// dropped before writing them), sent to its next connection.
    parked: HashMap<String, Vec<(String, String)>>,
    announce_log: Vec<AnnounceRecord>,
    registrations: Vec<RegisterToolRequest>,
    /// Toolkit WebSocket connections accepted since the start.
    connects: u64,
    /// Inbox polls answered since the start.
    inbox_polls: u64,
    /// Open app sessions, by session id (the starting request's id).
    app_sessions: HashMap<String, AppSession>,
    /// Answers for no waiting call (late, unknown, or to a raw frame),
    /// the latest [`STRAY_KEPT`] of them.
    stray: VecDeque<(RequestId, Value)>,
    closed: bool,
}

/// How many stray answers a hub keeps.
const STRAY_KEPT: usize = 1000;

/// Settings of a hub.
#[derive(Debug, Clone)]
pub(crate) struct HubConfig {
    pub(crate) api_key: Option<String>,
    pub(crate) call_timeout: Duration,
    pub(crate) inbox_liveness: Duration,
}

/// The shared state.
pub(crate) struct Hub {
    config: HubConfig,
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    changed: watch::Sender<u64>,
    log: CallLog,
    next_seq: AtomicU64,
    /// Mirrors `Inner::closed`, for watchers that check it often.
    closed: std::sync::atomic::AtomicBool,
}

// Not derived: the state holds API keys (map keys) and queued requests
// with their tokens.
impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Hub")
            .field("toolkits", &inner.toolkits.len())
            .field("connections", &inner.connections.len())
            .field("pending_calls", &inner.pending.len())
            .field("app_sessions", &inner.app_sessions.len())
            .field("closed", &inner.closed)
            .finish_non_exhaustive()
    }
}

/// Publishes a call as cancelled if its future is dropped while it waits.
struct CancelGuard<'a> {
    hub: &'a Hub,
    request_id: String,
    event: Option<CallEvent>,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if let Some(event) = self.event.take() {
            self.hub.cancelled(&self.request_id, event);
        }
    }
}

/// Where a call goes.
enum Route {
    Socket,
    Inbox,
}

impl Hub {
    pub(crate) fn new(config: HubConfig) -> Self {
        Self {
            config,
            inner: Mutex::default(),
            next_id: AtomicU64::new(1),
            changed: watch::channel(0).0,
            log: CallLog::default(),
            next_seq: AtomicU64::new(1),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|version| *version += 1);
    }

    /// A receiver that wakes on every change of registrations or connections.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `key` may use this server.
    pub(crate) fn accepts(&self, key: &str) -> bool {
        self.config.api_key.as_deref().is_none_or(|k| k == key)
    }

    /// A short, irreversible name for a key, for logs.
    pub(crate) fn describe_key(&self, key: &str) -> String {
        let inner = self.lock();
        match inner.toolkits.get(key) {
            Some(toolkit) if !toolkit.app_name.is_empty() => format!("'{}'", toolkit.app_name),
            _ => format!("key#{}", fingerprint(key)),
        }
    }

    // -- announcing ---------------------------------------------------------

    pub(crate) fn verify_hash(&self, body: VerifyHashRequest) -> bool {
        let mut inner = self.lock();
        let up_to_date = inner
            .toolkits
            .get(body.api_key.expose())
            .and_then(|t| t.toolkit_hash.as_deref())
            == Some(body.toolkit_hash.as_str());
        inner.announce_log.push(AnnounceRecord::VerifyHash(body));
        up_to_date
    }

    pub(crate) fn verify_tool_hash(&self, body: VerifyToolHashRequest) -> bool {
        let mut inner = self.lock();
        let up_to_date = inner
            .toolkits
            .get(body.api_key.expose())
            .and_then(|t| t.tools.get(&body.tool_name))
            .is_some_and(|tool| tool.code_hash == body.tool_hash);
        inner
            .announce_log
            .push(AnnounceRecord::VerifyToolHash(body));
        up_to_date
    }

    /// Stores a registration and returns its exchange token.
    pub(crate) fn register_tool(&self, body: RegisterToolRequest) -> String {
        {
            let mut inner = self.lock();
            let toolkit = inner
                .toolkits
                .entry(body.api_key.expose().to_owned())
                .or_default();
            toolkit.app_name.clone_from(&body.app_name);
            if body.toolkit_hash.is_some() {
                toolkit.toolkit_hash.clone_from(&body.toolkit_hash);
            }
            toolkit.tools.insert(
                body.function_id.clone(),
                Registered {
                    code_hash: body.code_hash.clone(),
                    metadata: body.metadata.clone(),
                },
            );
            tracing::info!(tool = %body.function_id, app = %body.app_name, "tool registered");
            inner
                .announce_log
                .push(AnnounceRecord::RegisterTool(Box::new(body.clone())));
            inner.registrations.push(body);
        }
        self.notify();
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    }

    pub(crate) fn announce_log(&self) -> Vec<AnnounceRecord> {
        self.lock().announce_log.clone()
    }

    pub(crate) fn registrations(&self) -> Vec<RegisterToolRequest> {
        self.lock().registrations.clone()
    }

    // -- connections --------------------------------------------------------

    /// Adds a toolkit connection; returns its id and the queue of what to send.
    pub(crate) fn connect(&self, key: &str) -> Option<(u64, mpsc::UnboundedReceiver<Outbound>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut inner = self.lock();
            if inner.closed {
                return None;
            }
            inner.connects += 1;
            for (request_id, text) in inner.parked.remove(key).unwrap_or_default() {
                let _ = tx.send(Outbound::Frame { request_id, text });
            }
            inner.connections.insert(
                id,
                Connection {
                    key: key.to_owned(),
                    tx,
                },
            );
        }
        self.notify();
        Some((id, rx))
    }

    /// Removes a connection. Request frames it never wrote go to another
    /// connection of the same toolkit, or wait for its next one.
    pub(crate) fn disconnect(
        &self,
        id: u64,
        unwritten: Option<(String, String)>,
        mut queue: mpsc::UnboundedReceiver<Outbound>,
    ) {
        {
            let mut inner = self.lock();
            inner.connections.remove(&id);
            queue.close();
            let mut frames: Vec<(String, String)> = unwritten.into_iter().collect();
            while let Ok(out) = queue.try_recv() {
                if let Outbound::Frame { request_id, text } = out {
                    frames.push((request_id, text));
                }
            }
            for (request_id, text) in frames {
                if let Some(key) = inner.pending.get(&request_id).map(|p| p.key.clone()) {
                    Self::deliver(&mut inner, &key, request_id, text);
                }
            }
        }
        self.notify();
    }

    /// Sends a request frame to a connection of `key` (round robin), or
    /// parks it until the toolkit connects again.
    /// Sends a request frame to a connection of `key` (round robin), or
    /// parks it for the next one; returns the connection used.
    fn deliver(inner: &mut Inner, key: &str, request_id: String, text: String) -> Option<u64> {
        let ids: Vec<u64> = inner
            .connections
            .iter()
            .filter(|(_, c)| c.key == key)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Outbound::Frame { request_id, text };
        if !ids.is_empty() {
            let next = inner.round_robin.entry(key.to_owned()).or_insert(0);
            let start = *next;
            *next = next.wrapping_add(1);
            for offset in 0..ids.len() {
                let id = ids[(start + offset) % ids.len()];
                match inner.connections[&id].tx.send(out) {
                    Ok(()) => return Some(id),
                    Err(mpsc::error::SendError(back)) => out = back,
                }
            }
        }
        if let Outbound::Frame { request_id, text } = out {
            inner
                .parked
                .entry(key.to_owned())
                .or_default()
                .push((request_id, text));
        }
        None
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }

    /// Sends `frame` to every toolkit connection; returns how many.
    pub(crate) fn send_raw(&self, frame: &RawFrame) -> usize {
        let inner = self.lock();
        inner
            .connections
            .values()
            .filter(|c| c.tx.send(Outbound::Raw(frame.clone())).is_ok())
            .count()
    }

    pub(crate) fn stray_answers(&self) -> Vec<(RequestId, Value)> {
        self.lock().stray.iter().cloned().collect()
    }

    pub(crate) fn connects(&self) -> u64 {
        self.lock().connects
    }

    /// Drops every toolkit connection abruptly; returns how many. They
    /// stop taking calls at once.
    pub(crate) fn drop_connections(&self) -> usize {
        let dropped = {
            let mut inner = self.lock();
            let connections = std::mem::take(&mut inner.connections);
            for connection in connections.values() {
                let _ = connection.tx.send(Outbound::Drop);
            }
            connections.len()
        };
        self.notify();
        dropped
    }

    /// Refuses new connections and calls, closes the open ones, and fails
    /// the calls still waiting.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        for connection in inner.connections.values() {
            let _ = connection.tx.send(Outbound::Close);
        }
        inner.pending.clear();
        drop(inner);
        self.closed.store(true, Ordering::SeqCst);
        // Wakes the watchers (the playground's event streams), which end.
        self.notify();
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The call log.
    pub(crate) fn call_log(&self) -> &CallLog {
        &self.log
    }

    /// Inbox polls answered since the start.
    pub(crate) fn inbox_polls(&self) -> u64 {
        self.lock().inbox_polls
    }

    /// Keeps an answer that came for no waiting call (late or unknown).
    pub(crate) fn keep_stray(&self, request_id: RequestId, result: Value) {
        tracing::debug!(%request_id, "answer for no waiting call (late or unknown)");
        {
            let mut inner = self.lock();
            if inner.stray.len() == STRAY_KEPT {
                inner.stray.pop_front();
            }
            inner.stray.push_back((request_id, result));
        }
        self.notify();
    }

    /// A frame from a toolkit: answers resolve the call waiting for them.
    pub(crate) fn on_toolkit_frame(&self, key: &str, text: &str) {
        match serde_json::from_str::<ToolkitMessage>(text) {
            Ok(
                ToolkitMessage::ToolResponse { request_id, result }
                | ToolkitMessage::AppResponse { request_id, result },
            ) => {
                if let Err(result) = self.resolve(key, &request_id, result) {
                    self.keep_stray(request_id, result);
                }
            }
            Err(err) => tracing::debug!(%err, "frame from toolkit ignored"),
        }
    }

    /// Resolves a waiting call; gives the result back when none is
    /// waiting for that id from that key.
    pub(crate) fn resolve(
        &self,
        key: &str,
        request_id: &RequestId,
        result: Value,
    ) -> Result<(), Value> {
        let id = request_id.to_string();
        let pending = {
            let mut inner = self.lock();
            match inner.pending.get(&id) {
                Some(p) if p.key == key => inner.pending.remove(&id),
                _ => None,
            }
        };
        match pending {
            Some(pending) => pending.answer.send(result),
            None => Err(result),
        }
    }

    // -- inbox --------------------------------------------------------------

    /// An inbox poll: records it and pops the oldest waiting request.
    pub(crate) fn poll_inbox(&self, key: &str) -> Option<Value> {
        let (request, first_poll) = {
            let mut inner = self.lock();
            inner.inbox_polls += 1;
            let inbox = inner.inboxes.entry(key.to_owned()).or_default();
            let first_poll = inbox
                .last_poll
                .is_none_or(|at| at.elapsed() > self.config.inbox_liveness);
            inbox.last_poll = Some(Instant::now());
            (inbox.queue.pop_front().map(|(_, item)| item), first_poll)
        };
        if first_poll {
            self.notify();
        }
        request
    }

    // -- calls --------------------------------------------------------------

    fn inbox_live(&self, inner: &Inner, key: &str) -> bool {
        inner
            .inboxes
            .get(key)
            .and_then(|i| i.last_poll)
            .is_some_and(|at| at.elapsed() <= self.config.inbox_liveness)
    }

    /// Calls a tool and waits for the answer.
    pub(crate) async fn call(
        &self,
        tool: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<CallOutcome, CallError> {
        let event = CallEvent::started(
            self.next_seq.fetch_add(1, Ordering::Relaxed),
            tool,
            &params,
            options.auth_token.is_some(),
        );
        let answer = self.send_and_wait(tool, params, options, event).await;
        if let Err(err) = &answer {
            tracing::debug!(tool = %tool, %err, "call failed");
        }
        answer
    }

    /// Routes a tool request (or, with `app`, an `atp_app_request`) to a
    /// toolkit, registers the wait for its answer and sends it: over the
    /// toolkit's socket, or into its inbox. Returns the toolkit's key, the
    /// connection used (none for the inbox or a parked frame) and the
    /// answer to come; fills in the event's id and toolkit.
    fn send_request(
        &self,
        request: ToolRequest,
        app_name: Option<&str>,
        app: bool,
        event: &mut CallEvent,
    ) -> Result<(String, Option<u64>, oneshot::Receiver<Value>), CallError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(CallError::ShuttingDown);
        }
        let (key, route) = self.route(&inner, &request.tool_name, app_name)?;
        let request_id = request.request_id.to_string();
        event.request_id.clone_from(&request_id);
        event.app_name = inner.toolkits.get(&key).map(|t| t.app_name.clone());
        let (answer_tx, answer_rx) = oneshot::channel();
        inner.pending.insert(
            request_id.clone(),
            Pending {
                key: key.clone(),
                answer: answer_tx,
            },
        );
        let connection = match route {
            Route::Socket => {
                let message = if app {
                    ServerMessage::AppRequest(request)
                } else {
                    ServerMessage::ToolRequest(request)
                };
                let text = serde_json::to_string(&message).expect("a request always serializes");
                Self::deliver(&mut inner, &key, request_id, text)
            }
            Route::Inbox => {
                let mut item = serde_json::to_value(&request).expect("a request always serializes");
                if app {
                    item["message_type"] = Value::from("atp_app_request");
                }
                inner
                    .inboxes
                    .entry(key.clone())
                    .or_default()
                    .queue
                    .push_back((request_id, item));
                None
            }
        };
        Ok((key, connection, answer_rx))
    }

    /// Forgets a call whose caller went away (its future was dropped):
    /// the waiting entry goes, and the log shows the call as cancelled.
    fn cancelled(&self, request_id: &str, event: CallEvent) {
        {
            let mut inner = self.lock();
            if let Some(pending) = inner.pending.remove(request_id)
                && let Some(inbox) = inner.inboxes.get_mut(&pending.key)
            {
                inbox.queue.retain(|(id, _)| id != request_id);
            }
        }
        self.log
            .publish(event.failed("cancelled: the caller went away".to_owned()));
    }

    async fn send_and_wait(
        &self,
        tool: &str,
        params: Value,
        options: CallOptions,
        mut event: CallEvent,
    ) -> Result<CallOutcome, CallError> {
        let timeout = options.timeout.unwrap_or(self.config.call_timeout);
        let request_id = format!("atp-dev-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let request = ToolRequest {
            request_id: RequestId::from(request_id.as_str()),
            tool_name: tool.to_owned(),
            params,
            auth_token: options.auth_token.map(atp_sdk::AuthToken::new),
        };
        let (key, _, answer_rx) =
            match self.send_request(request, options.app_name.as_deref(), false, &mut event) {
                Ok(sent) => sent,
                Err(err) => {
                    self.log.publish(event.failed(err.to_string()));
                    return Err(err);
                }
            };
        if self.log.watched() {
            self.log.publish(event.clone());
        }
        let mut guard = CancelGuard {
            hub: self,
            request_id: request_id.clone(),
            event: Some(event),
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, answer_rx).await;
        let latency = started.elapsed();
        let event = guard.event.take().expect("taken once");
        drop(guard);
        match outcome {
            Ok(Ok(result)) => {
                tracing::debug!(tool = %tool, %request_id, ?latency, "call answered");
                self.log.publish(event.answered(result.clone(), latency));
                Ok(CallOutcome {
                    request_id,
                    result,
                    latency,
                })
            }
            Ok(Err(_)) => {
                self.log
                    .publish(event.failed(CallError::ShuttingDown.to_string()));
                Err(CallError::ShuttingDown)
            }
            Err(_) => {
                let mut inner = self.lock();
                inner.pending.remove(&request_id);
                if let Some(inbox) = inner.inboxes.get_mut(&key) {
                    inbox.queue.retain(|(id, _)| *id != request_id);
                }
                if let Some(parked) = inner.parked.get_mut(&key) {
                    parked.retain(|(id, _)| *id != request_id);
                }
                tracing::warn!(tool = %tool, %request_id, ?timeout, "call timed out");
                let err = CallError::Timeout {
                    tool: tool.to_owned(),
                    timeout,
                };
                self.log.publish(event.failed(err.to_string()));
                Err(err)
            }
        }
    }

    // -- app sessions -------------------------------------------------------

    /// Starts an app session: sends `atp_app_request` and waits for the
    /// first UI. The outcome's `request_id` is the session id.
    pub(crate) async fn app_start(
        &self,
        app: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<CallOutcome, CallError> {
        let timeout = options.timeout.unwrap_or(self.config.call_timeout);
        let request_id = format!(
            "atp-dev-app-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let event = CallEvent::started(
            self.next_seq.fetch_add(1, Ordering::Relaxed),
            &format!("{app} (app start)"),
            &params,
            options.auth_token.is_some(),
        );
        let request = ToolRequest {
            request_id: RequestId::from(request_id.as_str()),
            tool_name: app.to_owned(),
            params,
            auth_token: options.auth_token.map(atp_sdk::AuthToken::new),
        };
        let mut event = event;
        let (key, connection, answer_rx) =
            match self.send_request(request, options.app_name.as_deref(), true, &mut event) {
                Ok(sent) => sent,
                Err(err) => {
                    self.log.publish(event.failed(err.to_string()));
                    return Err(err);
                }
            };
        self.lock().app_sessions.insert(
            request_id.clone(),
            AppSession {
                key,
                app: app.to_owned(),
                connection,
            },
        );
        self.log.publish(event.clone());
        let answer = self.wait_app(&request_id, answer_rx, timeout, app).await;
        match &answer {
            Ok(outcome) => {
                // A start that failed opened no session.
                if outcome.result.get("error").is_some() {
                    self.lock().app_sessions.remove(&request_id);
                }
                self.log
                    .publish(event.answered(outcome.result.clone(), outcome.latency));
            }
            Err(err) => {
                self.lock().app_sessions.remove(&request_id);
                self.log.publish(event.failed(err.to_string()));
            }
        }
        answer
    }

    /// Sends a user action to a session and waits for the next UI.
    pub(crate) async fn app_action(
        &self,
        session: &str,
        action_data: Value,
        timeout: Option<Duration>,
    ) -> Result<CallOutcome, CallError> {
        let frame = json!({
            "message_type": "atp_app_action",
            "payload": { "request_id": session, "action_data": action_data },
        });
        let app = self.send_to_session(session, frame, false)?;
        let event = CallEvent::started(
            self.next_seq.fetch_add(1, Ordering::Relaxed),
            &format!("{} (app action)", app.0),
            &action_data,
            false,
        );
        let mut event = event;
        event.request_id = session.to_owned();
        event.app_name = Some(app.1);
        self.log.publish(event.clone());
        let timeout = timeout.unwrap_or(self.config.call_timeout);
        let answer = self.wait_app(session, app.2, timeout, &app.0).await;
        match &answer {
            Ok(outcome) => self
                .log
                .publish(event.answered(outcome.result.clone(), outcome.latency)),
            Err(err) => self.log.publish(event.failed(err.to_string())),
        }
        answer
    }

    /// Ends a session: sends `atp_app_terminate` and waits (briefly) for
    /// the toolkit's answer; `None` if it gave none (the reference client
    /// never answers one).
    pub(crate) async fn app_end(
        &self,
        session: &str,
        wait: Duration,
    ) -> Result<Option<Value>, CallError> {
        let frame = json!({
            "message_type": "atp_app_terminate",
            "payload": { "request_id": session },
        });
        let (app, _, answer) = self.send_to_session(session, frame, true)?;
        match self.wait_app(session, answer, wait, &app).await {
            Ok(outcome) => Ok(Some(outcome.result)),
            Err(CallError::Timeout { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Sends a frame to the connection (or inbox) that holds a session;
    /// returns the app, the toolkit's name and the answer's receiver.
    fn send_to_session(
        &self,
        session: &str,
        frame: Value,
        end: bool,
    ) -> Result<(String, String, oneshot::Receiver<Value>), CallError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(CallError::ShuttingDown);
        }
        let Some(found) = inner.app_sessions.get(session).cloned() else {
            return Err(CallError::UnknownSession(session.to_owned()));
        };
        if inner.pending.contains_key(session) {
            return Err(CallError::SessionBusy(session.to_owned()));
        }
        let toolkit = inner
            .toolkits
            .get(&found.key)
            .map(|t| t.app_name.clone())
            .unwrap_or_default();
        match found.connection {
            Some(connection) => {
                let text = frame.to_string();
                let sent = inner.connections.get(&connection).is_some_and(|c| {
                    c.tx.send(Outbound::Frame {
                        request_id: session.to_owned(),
                        text,
                    })
                    .is_ok()
                });
                if !sent {
                    inner.app_sessions.remove(session);
                    return Err(CallError::SessionLost(session.to_owned()));
                }
            }
            None => {
                let mut item = frame["payload"].clone();
                item["message_type"] = frame["message_type"].clone();
                inner
                    .inboxes
                    .entry(found.key.clone())
                    .or_default()
                    .queue
                    .push_back((session.to_owned(), item));
            }
        }
        if end {
            inner.app_sessions.remove(session);
        }
        let (answer_tx, answer_rx) = oneshot::channel();
        inner.pending.insert(
            session.to_owned(),
            Pending {
                key: found.key,
                answer: answer_tx,
            },
        );
        Ok((found.app, toolkit, answer_rx))
    }

    /// Waits for an app answer; on a timeout forgets the request.
    async fn wait_app(
        &self,
        id: &str,
        answer: oneshot::Receiver<Value>,
        timeout: Duration,
        app: &str,
    ) -> Result<CallOutcome, CallError> {
        let started = Instant::now();
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => Ok(CallOutcome {
                request_id: id.to_owned(),
                result,
                latency: started.elapsed(),
            }),
            Ok(Err(_)) => Err(CallError::ShuttingDown),
            Err(_) => {
                let mut inner = self.lock();
                if let Some(pending) = inner.pending.remove(id)
                    && let Some(inbox) = inner.inboxes.get_mut(&pending.key)
                {
                    inbox.queue.retain(|(queued, _)| queued != id);
                }
                Err(CallError::Timeout {
                    tool: app.to_owned(),
                    timeout,
                })
            }
        }
    }

    /// Picks the toolkit and the connection (round robin) for a call.
    fn route(
        &self,
        inner: &Inner,
        tool: &str,
        app: Option<&str>,
    ) -> Result<(String, Route), CallError> {
        let mut keys: Vec<&String> = inner
            .toolkits
            .iter()
            .filter(|(_, t)| t.tools.contains_key(tool) && app.is_none_or(|a| t.app_name == a))
            .map(|(k, _)| k)
            .collect();
        if keys.is_empty() {
            return Err(CallError::UnknownTool(tool.to_owned()));
        }
        keys.sort();
        for key in &keys {
            if inner.connections.values().any(|c| &c.key == *key) {
                return Ok(((*key).clone(), Route::Socket));
            }
        }
        for key in &keys {
            if self.inbox_live(inner, key) {
                return Ok(((*key).clone(), Route::Inbox));
            }
        }
        Err(CallError::NotConnected(tool.to_owned()))
    }

    // -- views --------------------------------------------------------------

    /// Every tool of every connected toolkit, sorted by name.
    pub(crate) fn tools(&self) -> Vec<ToolInfo> {
        let inner = self.lock();
        let mut tools = Vec::new();
        for (key, toolkit) in &inner.toolkits {
            let connections = inner.connections.values().filter(|c| &c.key == key).count();
            let transport = if connections > 0 {
                "websocket"
            } else if self.inbox_live(&inner, key) {
                "inbox"
            } else {
                continue;
            };
            for (name, tool) in &toolkit.tools {
                tools.push(ToolInfo {
                    name: name.clone(),
                    app_name: toolkit.app_name.clone(),
                    metadata: tool.metadata.clone(),
                    connections,
                    transport: transport.to_owned(),
                });
            }
        }
        tools.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.app_name.cmp(&b.app_name))
        });
        tools
    }

    /// Whether every named tool is registered by a connected toolkit.
    pub(crate) fn tools_ready(&self, names: &[&str]) -> bool {
        let tools = self.tools();
        names
            .iter()
            .all(|name| tools.iter().any(|t| t.name == *name))
    }
}

/// The first 8 hex digits of the key's SHA-256: enough to tell keys apart
/// in a log, useless to recover the key.
pub(crate) fn fingerprint(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}
