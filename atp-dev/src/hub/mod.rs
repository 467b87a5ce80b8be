//! The server's state, as types with one job each: what toolkits
//! announced ([`registrations`]), how requests reach them ([`links`]),
//! the requests waiting for answers and the app sessions they open
//! ([`routes`], with the one `forget`), and the answers nobody waits for
//! ([`stray`]). [`Hub`] puts them together behind the methods every route
//! and the [`DevServer`](crate::DevServer) handle use, so the HTTP API and
//! the library behave the same. No lock is held across an `.await`; when
//! two are taken, `registrations` comes before `routes`.

mod links;
mod registrations;
mod routes;
mod stray;
mod types;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use atp_sdk::protocol::{
    AppAction, AppTerminate, RegisterToolRequest, RequestId, ServerMessage, ToolRequest,
    VerifyHashRequest, VerifyToolHashRequest,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::call_log::{CallEvent, CallLog};
pub(crate) use links::{Outbound, Request};
use registrations::Registrations;
use routes::{Answer, Kind, Routes};
use stray::Stray;
pub use types::{
    AnnounceRecord, CallError, CallOptions, CallOutcome, RawFrame, ServerStats, ToolInfo,
};

/// Settings of a hub.
#[derive(Debug, Clone)]
pub(crate) struct HubConfig {
    pub(crate) api_key: Option<String>,
    pub(crate) call_timeout: Duration,
    pub(crate) inbox_liveness: Duration,
    /// How long a request written on a connection that closed may still
    /// be answered (by the toolkit reconnecting) before it fails.
    pub(crate) lost_call_grace: Duration,
}

/// The shared state.
pub(crate) struct Hub {
    config: HubConfig,
    registrations: Mutex<Registrations>,
    routes: Mutex<Routes>,
    stray: Mutex<Stray>,
    next_id: AtomicU64,
    next_seq: AtomicU64,
    /// Toolkit WebSocket connections accepted since the start.
    connects: AtomicU64,
    /// Inbox polls answered since the start.
    inbox_polls: AtomicU64,
    changed: watch::Sender<u64>,
    log: CallLog,
    closed: AtomicBool,
}

// Not derived: the state holds API keys (map keys) and queued requests
// with their tokens.
impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("stats", &self.stats())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Forgets a request if its caller goes away (its future is dropped)
/// before the answer, and logs the call as cancelled.
struct CancelGuard<'a> {
    hub: &'a Hub,
    request_id: RequestId,
    armed: bool,
    event: Option<CallEvent>,
}

impl<'a> CancelGuard<'a> {
    fn new(hub: &'a Hub, request_id: &RequestId, event: Option<CallEvent>) -> Self {
        Self {
            hub,
            request_id: request_id.clone(),
            armed: true,
            event,
        }
    }

    /// The call ended: nothing to forget; its event back.
    fn disarm(mut self) -> Option<CallEvent> {
        self.armed = false;
        self.event.take()
    }
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.hub.routes().forget(&self.request_id);
        if let Some(event) = self.event.take() {
            self.hub
                .log
                .publish(event.failed("cancelled: the caller went away".to_owned()));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub(crate) fn new(config: HubConfig) -> Self {
        Self {
            config,
            registrations: Mutex::default(),
            routes: Mutex::default(),
            stray: Mutex::default(),
            next_id: AtomicU64::new(1),
            next_seq: AtomicU64::new(1),
            connects: AtomicU64::new(0),
            inbox_polls: AtomicU64::new(0),
            changed: watch::channel(0).0,
            log: CallLog::default(),
            closed: AtomicBool::new(false),
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        lock(&self.routes)
    }

    fn registrations(&self) -> MutexGuard<'_, Registrations> {
        lock(&self.registrations)
    }

    fn notify(&self) {
        self.changed.send_modify(|version| *version += 1);
    }

    /// A receiver that wakes on every change of registrations or connections.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The key this server requires, if it requires one.
    pub(crate) fn api_key(&self) -> Option<&str> {
        self.config.api_key.as_deref()
    }

    /// Whether `key` may use this server.
    pub(crate) fn accepts(&self, key: &str) -> bool {
        self.config
            .api_key
            .as_deref()
            .is_none_or(|k| crate::credentials::constant_time_eq(k, key))
    }

    /// A short, irreversible name for a key, for logs.
    pub(crate) fn describe_key(&self, key: &str) -> String {
        match self.registrations().app_name(key) {
            Some(name) if !name.is_empty() => format!("'{name}'"),
            _ => format!("key#{}", fingerprint(key)),
        }
    }

    // -- announcing ---------------------------------------------------------

    pub(crate) fn verify_hash(&self, body: VerifyHashRequest) -> bool {
        self.registrations().verify_hash(body)
    }

    pub(crate) fn verify_tool_hash(&self, body: VerifyToolHashRequest) -> bool {
        self.registrations().verify_tool_hash(body)
    }

    /// Stores a registration and returns its exchange token.
    pub(crate) fn register_tool(&self, body: RegisterToolRequest) -> String {
        tracing::info!(tool = %body.function_id, app = %body.app_name, "tool registered");
        self.registrations().register(body);
        self.notify();
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    }

    pub(crate) fn announce_log(&self) -> Vec<AnnounceRecord> {
        self.registrations().log()
    }

    pub(crate) fn registrations_list(&self) -> Vec<RegisterToolRequest> {
        self.registrations().bodies()
    }

    // -- toolkit connections ------------------------------------------------

    /// Adds a toolkit connection; returns its id and the queue of what to
    /// send (frames parked for its key first).
    pub(crate) fn connect(&self, key: &str) -> Option<(u64, mpsc::UnboundedReceiver<Outbound>)> {
        if self.is_closed() {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let rx = self.routes().connect(id, key);
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.notify();
        Some((id, rx))
    }

    /// Whether a request should still be written: its caller still waits.
    pub(crate) fn wanted(&self, request_id: &RequestId) -> bool {
        self.routes().is_waiting(request_id)
    }

    /// Removes a connection. Request frames it never wrote go to another
    /// connection of the same toolkit (or wait for its next one), except
    /// those of app sessions it held, which are lost with the sessions.
    ///
    /// Requests already written on it may still be answered by the toolkit
    /// once it reconnects; the caller gets `Some(grace)` when some wait,
    /// and [`fail_orphans`](Self::fail_orphans) fails them after it.
    pub(crate) fn disconnect(
        &self,
        id: u64,
        unwritten: Option<Request>,
        queue: mpsc::UnboundedReceiver<Outbound>,
    ) -> Option<Duration> {
        let orphans = self.routes().disconnect(id, unwritten, queue);
        self.notify();
        (orphans > 0).then_some(self.config.lost_call_grace)
    }

    /// Fails what still waits for an answer from a connection that closed
    /// `lost_call_grace` ago (a toolkit that is gone, not reconnecting).
    pub(crate) fn fail_orphans(&self, connection: u64) {
        let failed = self
            .routes()
            .fail_orphans(connection, self.config.lost_call_grace);
        if failed > 0 {
            tracing::warn!(
                failed,
                "calls failed: the toolkit connection that took them closed and never answered"
            );
        }
    }

    /// A toolkit's answer (over `connection`, or the inbox): resolves the
    /// request of `key`'s that waits for it and says `true`; one that
    /// nobody waits for (late, unknown, or under an id of another kind:
    /// atp-dev's ids are strings, so `7` answers no `"7"`) is kept as
    /// stray, and `false`.
    pub(crate) fn answered(
        &self,
        connection: Option<u64>,
        key: &str,
        request_id: RequestId,
        result: Value,
    ) -> bool {
        let Err(result) = self.routes().resolve(connection, key, &request_id, result) else {
            return true;
        };
        tracing::debug!(%request_id, "answer for no waiting call (late or unknown)");
        lock(&self.stray).keep(request_id, result);
        self.notify();
        false
    }

    pub(crate) fn stray_answers(&self) -> Vec<(RequestId, Value)> {
        lock(&self.stray).all()
    }

    /// Sends `frame` to every toolkit connection; returns how many.
    pub(crate) fn send_raw(&self, frame: &RawFrame) -> usize {
        self.routes().send_raw(frame)
    }

    /// Drops every toolkit connection abruptly; returns how many. They
    /// stop taking calls at once.
    pub(crate) fn drop_connections(&self) -> usize {
        let dropped = self.routes().drop_all();
        self.notify();
        dropped
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.routes().connection_count()
    }

    pub(crate) fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    // -- inbox --------------------------------------------------------------

    /// An inbox poll: records it and pops the oldest waiting request.
    pub(crate) fn poll_inbox(&self, key: &str) -> Option<ServerMessage> {
        self.inbox_polls.fetch_add(1, Ordering::Relaxed);
        let (item, came_alive) = self.routes().poll_inbox(key, self.config.inbox_liveness);
        if came_alive {
            self.notify();
        }
        item
    }

    /// Inbox polls answered since the start.
    pub(crate) fn inbox_polls(&self) -> u64 {
        self.inbox_polls.load(Ordering::Relaxed)
    }

    // -- calls --------------------------------------------------------------

    /// Calls a tool and waits for the answer.
    pub(crate) async fn call(
        &self,
        tool: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<CallOutcome, CallError> {
        let timeout = options.timeout.unwrap_or(self.config.call_timeout);
        let request_id = RequestId::from(format!(
            "atp-dev-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
        let mut event = self.event(tool, &params, options.auth_token.is_some());
        let message = ServerMessage::ToolRequest(ToolRequest {
            request_id: request_id.clone(),
            tool_name: tool.to_owned(),
            params,
            auth_token: options.auth_token.map(atp_sdk::AuthToken::new),
        });
        let rx =
            match self.send_request(message, options.app_name.as_deref(), Kind::Call, &mut event) {
                Ok(rx) => rx,
                Err(err) => {
                    tracing::debug!(tool = %tool, %err, "call failed");
                    self.log.publish(event.failed(err.to_string()));
                    return Err(err);
                }
            };
        if self.log.watched() {
            self.log.publish(event.clone());
        }
        self.finish(request_id, event, rx, timeout, tool).await
    }

    /// Waits for a request's answer (within `timeout`), and logs how the
    /// call ended. Dropping the future forgets the request.
    async fn finish(
        &self,
        request_id: RequestId,
        event: CallEvent,
        rx: oneshot::Receiver<Answer>,
        timeout: Duration,
        tool: &str,
    ) -> Result<CallOutcome, CallError> {
        let guard = CancelGuard::new(self, &request_id, Some(event));
        let started = Instant::now();
        let answer = self.answer(&request_id, rx, timeout, tool).await;
        let event = guard.disarm().expect("given an event");
        match answer {
            Ok(result) => {
                let latency = started.elapsed();
                tracing::debug!(tool = %tool, %request_id, ?latency, "call answered");
                self.log.publish(event.answered(result.clone(), latency));
                Ok(CallOutcome {
                    request_id: request_id.to_string(),
                    result,
                    latency,
                })
            }
            Err(err) => {
                if matches!(err, CallError::Timeout { .. }) {
                    tracing::warn!(tool = %tool, %request_id, ?timeout, "call timed out");
                }
                self.log.publish(event.failed(err.to_string()));
                Err(err)
            }
        }
    }

    /// The answer to `id`, or why there is none. At the time limit the
    /// request is forgotten — unless its answer came in that very instant,
    /// which is then the call's.
    async fn answer(
        &self,
        id: &RequestId,
        mut rx: oneshot::Receiver<Answer>,
        timeout: Duration,
        tool: &str,
    ) -> Result<Value, CallError> {
        let answer = match tokio::time::timeout(timeout, &mut rx).await {
            Ok(answer) => answer.ok(),
            Err(_) => {
                if self.routes().forget(id) {
                    return Err(CallError::Timeout {
                        tool: tool.to_owned(),
                        timeout,
                    });
                }
                // Answered while the time ran out: it is in the receiver.
                rx.try_recv().ok()
            }
        };
        match answer {
            Some(Answer::Value(result)) => Ok(result),
            Some(Answer::Lost(err)) => Err(err),
            None => Err(CallError::ShuttingDown),
        }
    }

    fn event(&self, tool: &str, params: &Value, with_token: bool) -> CallEvent {
        CallEvent::started(
            self.next_seq.fetch_add(1, Ordering::Relaxed),
            tool,
            params,
            with_token,
        )
    }

    /// Routes a tool request (or an app start) to a toolkit, records that
    /// it waits for an answer and sends it: over the toolkit's socket, or
    /// into its inbox ([`Routes::send_request`]). Fills in the event's id
    /// and toolkit.
    fn send_request(
        &self,
        message: ServerMessage,
        app_name: Option<&str>,
        kind: Kind,
        event: &mut CallEvent,
    ) -> Result<oneshot::Receiver<Answer>, CallError> {
        let (ServerMessage::ToolRequest(request) | ServerMessage::AppRequest(request)) = &message
        else {
            unreachable!("only tool requests and app starts are routed");
        };
        let tool = request.tool_name.clone();
        let id = request.request_id.clone();
        let (keys, names, ignored) = {
            let registrations = self.registrations();
            let keys = registrations.keys_with(&tool, app_name);
            let names: Vec<String> = keys
                .iter()
                .map(|k| registrations.app_name(k).unwrap_or_default().to_owned())
                .collect();
            // The arguments each toolkit's tool did not announce.
            let ignored: Vec<Vec<String>> = keys
                .iter()
                .map(|k| registrations.unknown_params(k, &tool, &request.params))
                .collect();
            (keys, names, ignored)
        };
        if keys.is_empty() {
            return Err(CallError::UnknownTool(tool));
        }
        let mut routes = self.routes();
        if self.is_closed() {
            return Err(CallError::ShuttingDown);
        }
        let request = Request {
            id: id.clone(),
            message,
        };
        let Some((index, rx)) =
            routes.send_request(&keys, request, kind, self.config.inbox_liveness)
        else {
            return Err(CallError::NotConnected(tool));
        };
        event.request_id = id.to_string();
        event.app_name = Some(names[index].clone());
        event.ignored_params.clone_from(&ignored[index]);
        Ok(rx)
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
        let request_id = RequestId::from(format!(
            "atp-dev-app-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
        let mut event = self.event(
            &format!("{app} (app start)"),
            &params,
            options.auth_token.is_some(),
        );
        let message = ServerMessage::AppRequest(ToolRequest {
            request_id: request_id.clone(),
            tool_name: app.to_owned(),
            params,
            auth_token: options.auth_token.map(atp_sdk::AuthToken::new),
        });
        let rx = match self.send_request(
            message,
            options.app_name.as_deref(),
            Kind::AppStart,
            &mut event,
        ) {
            Ok(rx) => rx,
            Err(err) => {
                self.log.publish(event.failed(err.to_string()));
                return Err(err);
            }
        };
        self.log.publish(event.clone());
        self.finish(request_id, event, rx, timeout, app).await
    }

    /// Sends a user action to a session and waits for the next UI.
    pub(crate) async fn app_action(
        &self,
        session: &str,
        action_data: Value,
        timeout: Option<Duration>,
    ) -> Result<CallOutcome, CallError> {
        let id = RequestId::from(session);
        let message = ServerMessage::AppAction(AppAction {
            request_id: id.clone(),
            action_data: action_data.clone(),
        });
        let (app, toolkit, rx) = self.send_to_session(&id, message, Kind::AppAction)?;
        let mut event = self.event(&format!("{app} (app action)"), &action_data, false);
        event.request_id = session.to_owned();
        event.app_name = Some(toolkit);
        self.log.publish(event.clone());
        let timeout = timeout.unwrap_or(self.config.call_timeout);
        self.finish(id, event, rx, timeout, &app).await
    }

    /// Ends a session: sends `atp_app_terminate` and waits (briefly) for
    /// the toolkit's answer; `None` if it gave none (the reference client
    /// never answers one).
    pub(crate) async fn app_end(
        &self,
        session: &str,
        wait: Duration,
    ) -> Result<Option<Value>, CallError> {
        let id = RequestId::from(session);
        let message = ServerMessage::AppTerminate(AppTerminate {
            request_id: id.clone(),
        });
        let (app, _, rx) = self.send_to_session(&id, message, Kind::AppEnd)?;
        let guard = CancelGuard::new(self, &id, None);
        let answer = self.answer(&id, rx, wait, &app).await;
        guard.disarm();
        match answer {
            Ok(result) => Ok(Some(result)),
            Err(CallError::Timeout { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Sends a message to the connection (or inbox) that holds session
    /// `id` ([`Routes::send_to_session`]); returns the app, the toolkit's
    /// name and the answer's receiver.
    fn send_to_session(
        &self,
        id: &RequestId,
        message: ServerMessage,
        kind: Kind,
    ) -> Result<(String, String, oneshot::Receiver<Answer>), CallError> {
        let registrations = self.registrations();
        let mut routes = self.routes();
        if self.is_closed() {
            return Err(CallError::ShuttingDown);
        }
        let request = Request {
            id: id.clone(),
            message,
        };
        let (session, rx) = routes.send_to_session(request, kind)?;
        let toolkit = registrations
            .app_name(&session.key)
            .unwrap_or_default()
            .to_owned();
        Ok((session.app, toolkit, rx))
    }

    // -- views --------------------------------------------------------------

    /// Every tool of every connected toolkit, sorted by name.
    pub(crate) fn tools(&self) -> Vec<ToolInfo> {
        let registrations = self.registrations();
        let routes = self.routes();
        let mut tools = Vec::new();
        for (key, toolkit) in &registrations.toolkits {
            let Some((transport, connections)) = routes.reach(key, self.config.inbox_liveness)
            else {
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

    /// The tools of the connected toolkit named `app_name`, sorted by name.
    pub(crate) fn toolkit_tools(&self, app_name: &str) -> Result<Vec<ToolInfo>, CallError> {
        if self.registrations().keys_named(app_name).is_empty() {
            let mut connected: Vec<String> = self.tools().into_iter().map(|t| t.app_name).collect();
            connected.sort();
            connected.dedup();
            return Err(CallError::UnknownToolkit {
                name: app_name.to_owned(),
                connected,
            });
        }
        let tools: Vec<ToolInfo> = self
            .tools()
            .into_iter()
            .filter(|t| t.app_name == app_name)
            .collect();
        if tools.is_empty() {
            return Err(CallError::NotConnected(app_name.to_owned()));
        }
        Ok(tools)
    }

    /// Whether every named tool is registered by a connected toolkit.
    pub(crate) fn tools_ready(&self, names: &[&str]) -> bool {
        let tools = self.tools();
        names
            .iter()
            .all(|name| tools.iter().any(|t| t.name == *name))
    }

    /// What the bounds hold down.
    pub(crate) fn stats(&self) -> ServerStats {
        let stray_answers = lock(&self.stray).len();
        self.routes().stats(stray_answers)
    }

    // -- lifetime -----------------------------------------------------------

    /// Refuses new connections and calls, closes the open ones, and fails
    /// the calls still waiting.
    pub(crate) fn close(&self) {
        {
            let mut routes = self.routes();
            self.closed.store(true, Ordering::SeqCst);
            routes.close();
        }
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
