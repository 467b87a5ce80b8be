//! Running one request: decode the frame, look the tool up, validate the
//! params and token, call the tool on the right executor, catch a panic,
//! encode the response.
//!
//! Everything here is free of sockets: a frame's text goes in, and the
//! response's text comes out on a channel, so both transports share it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::apps::{SessionLimits, Sessions};
use crate::params::CallArgs;
use crate::protocol::{RequestId, ToolRequest, ToolkitMessage};
use crate::registry::{Invoke, Registry};
use crate::secret::AuthToken;
use crate::tool::{CallError, CallResult};

/// What an inbound frame asks for.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// `atp_client_connected`.
    Connected(String),
    /// A tool call to run.
    Call(ToolRequest),
    /// `atp_app_request`: start an app session (the request's id is the
    /// session's).
    AppStart(ToolRequest),
    /// `atp_app_action`: a user action in a session.
    AppAction(RequestId, Value),
    /// `atp_app_terminate`: end a session.
    AppTerminate(RequestId),
    /// A frame with a request id that can't be served: answer with this
    /// error, as a `tool_response` or an `app_response`.
    Reject(RequestId, CallError, Reply),
    /// Anything else: nothing to answer.
    Ignore(&'static str),
}

/// Which kind of response answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `tool_response`.
    Tool,
    /// `app_response`.
    App,
}

/// Decodes a server frame leniently: every frame that carries a usable
/// `request_id` yields something to answer, whatever else is wrong with it.
/// Bytes that are not UTF-8 JSON (a binary frame, say) are ignored.
pub(crate) fn decode(frame: &[u8]) -> Inbound {
    let Ok(Value::Object(mut frame)) = serde_json::from_slice::<Value>(frame) else {
        return Inbound::Ignore("not a JSON object");
    };
    let message_type = match frame.get("message_type") {
        Some(Value::String(t)) => t.as_str(),
        _ => return Inbound::Ignore("no message_type"),
    };
    match message_type {
        "atp_client_connected" => {
            let message = frame
                .get("payload")
                .and_then(|p| p.get("message"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            Inbound::Connected(message.to_owned())
        }
        "atp_tool_request" => match request(frame.remove("payload"), Reply::Tool) {
            Ok(request) => Inbound::Call(request),
            Err(inbound) => inbound,
        },
        "atp_app_request" => match request(frame.remove("payload"), Reply::App) {
            Ok(request) => Inbound::AppStart(request),
            Err(inbound) => inbound,
        },
        "atp_app_action" => {
            let Some(Value::Object(mut payload)) = frame.remove("payload") else {
                return Inbound::Ignore("app action without a payload object");
            };
            let Some(request_id) = payload.get("request_id").and_then(RequestId::from_value) else {
                return Inbound::Ignore("app action without a request_id");
            };
            let action = payload.remove("action_data").unwrap_or(Value::Null);
            Inbound::AppAction(request_id, action)
        }
        "atp_app_terminate" => match frame
            .get("payload")
            .and_then(|p| p.get("request_id"))
            .and_then(RequestId::from_value)
        {
            Some(id) => Inbound::AppTerminate(id),
            None => Inbound::Ignore("app terminate without a request_id"),
        },
        _ => Inbound::Ignore("unhandled message_type"),
    }
}

/// The request in a tool or app request's payload; what to answer
/// instead when it can't be one.
fn request(payload: Option<Value>, reply: Reply) -> Result<ToolRequest, Inbound> {
    let Some(Value::Object(mut payload)) = payload else {
        return Err(Inbound::Ignore("request without a payload object"));
    };
    let Some(request_id) = payload.get("request_id").and_then(RequestId::from_value) else {
        return Err(Inbound::Ignore("request without a request_id"));
    };
    let tool_name = match payload.remove("tool_name") {
        Some(Value::String(name)) => name,
        _ => {
            let missing = String::from("<missing tool_name>");
            let err = match reply {
                Reply::Tool => CallError::UnknownTool(missing),
                Reply::App => CallError::UnknownApp(missing),
            };
            return Err(Inbound::Reject(request_id, err, reply));
        }
    };
    let auth_token = match payload.remove("auth_token") {
        Some(Value::String(token)) => Some(AuthToken::new(token)),
        _ => None,
    };
    let params = payload.remove("params").unwrap_or(Value::Null);
    Ok(ToolRequest {
        request_id,
        tool_name,
        params,
        auth_token,
    })
}

/// Encodes a `tool_response` frame.
pub(crate) fn encode_response(request_id: RequestId, result: CallResult) -> String {
    encode(Reply::Tool, request_id, result)
}

/// Encodes a `tool_response` or `app_response` frame.
pub(crate) fn encode(reply: Reply, request_id: RequestId, result: CallResult) -> String {
    let result = result.unwrap_or_else(|err| err.to_result());
    let message = match reply {
        Reply::Tool => ToolkitMessage::ToolResponse { request_id, result },
        Reply::App => ToolkitMessage::AppResponse { request_id, result },
    };
    serde_json::to_string(&message).expect("a JSON value always serializes")
}

/// Counts the calls in flight, so a stop can wait for them.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// Calls currently running or waiting to run.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no call is running.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// How many calls may run and wait, and for how long one may run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Calls running at once.
    pub(crate) max_in_flight: usize,
    /// Calls waiting for a free slot; past it, a request is answered
    /// [`CallError::Overloaded`] at once.
    pub(crate) max_queued: usize,
    /// A tool's time limit unless its attribute sets one.
    pub(crate) call_timeout: Duration,
    /// How many app sessions are kept, and for how long.
    pub(crate) sessions: SessionLimits,
}

/// A response on its way to the socket.
///
/// It holds its call's admission slot until it is written (or dropped),
/// so a server that reads slowly makes the toolkit take fewer calls
/// instead of piling up responses: everything a call holds, from its
/// request to its unsent response, is bounded by
/// `max_in_flight + max_queued`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Cheap to clone: it is kept for a resend if the write fails.
    pub(crate) text: tokio_tungstenite::tungstenite::Utf8Bytes,
    _slot: OwnedSemaphorePermit,
}

/// Runs requests against a registry and sends the encoded responses.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    registry: Arc<Registry>,
    inflight: Arc<InFlight>,
    /// Slots for calls running or waiting (and their unsent responses).
    admitted: Arc<Semaphore>,
    /// Slots for calls running.
    running: Arc<Semaphore>,
    limits: Limits,
    /// The open app sessions.
    sessions: Arc<Sessions>,
}

/// Work for a call task.
#[derive(Debug)]
pub(crate) enum Job {
    Tool(ToolRequest),
    AppStart(ToolRequest),
    AppAction(RequestId, Value),
}

impl Job {
    fn request_id(&self) -> &RequestId {
        match self {
            Job::Tool(r) | Job::AppStart(r) => &r.request_id,
            Job::AppAction(id, _) => id,
        }
    }

    fn reply(&self) -> Reply {
        match self {
            Job::Tool(_) => Reply::Tool,
            Job::AppStart(_) | Job::AppAction(..) => Reply::App,
        }
    }

    fn name(&self) -> &str {
        match self {
            Job::Tool(r) | Job::AppStart(r) => &r.tool_name,
            Job::AppAction(..) => "<app action>",
        }
    }
}

impl Dispatcher {
    pub(crate) fn new(registry: Arc<Registry>, limits: Limits) -> Self {
        let max_in_flight = limits.max_in_flight.max(1);
        Self {
            registry,
            inflight: Arc::default(),
            admitted: Arc::new(Semaphore::new(max_in_flight + limits.max_queued)),
            running: Arc::new(Semaphore::new(max_in_flight)),
            limits,
            sessions: Arc::new(Sessions::new(limits.sessions)),
        }
    }

    pub(crate) fn inflight(&self) -> &Arc<InFlight> {
        &self.inflight
    }

    /// Handles one inbound frame. A call is started and its response
    /// comes later on `out`; an answer that is due at once (a rejected
    /// request, an overload) is returned, to be written by the caller
    /// before it reads on, which keeps a flood of them bounded too.
    pub(crate) fn handle(
        &self,
        frame: &[u8],
        out: &mpsc::UnboundedSender<Outgoing>,
    ) -> Option<String> {
        match decode(frame) {
            Inbound::Call(request) => self.start(Job::Tool(request), out).err(),
            Inbound::AppStart(request) => self.start(Job::AppStart(request), out).err(),
            Inbound::AppAction(id, action) => self.start(Job::AppAction(id, action), out).err(),
            Inbound::AppTerminate(id) => Some(self.terminate(id)),
            Inbound::Reject(id, err, reply) => Some(encode(reply, id, Err(err))),
            Inbound::Connected(message) => {
                tracing::info!(%message, "server accepted the toolkit");
                None
            }
            Inbound::Ignore(why) => {
                tracing::debug!(why, "frame ignored");
                None
            }
        }
    }

    /// Starts a call if there is room, or returns the overload answer.
    pub(crate) fn start(
        &self,
        job: Job,
        out: &mpsc::UnboundedSender<Outgoing>,
    ) -> Result<(), String> {
        let Ok(slot) = self.admitted.clone().try_acquire_owned() else {
            tracing::warn!(
                tool = %job.name(),
                request_id = %job.request_id(),
                "overloaded: call refused"
            );
            let limit = self.limits.max_in_flight + self.limits.max_queued;
            let reply = job.reply();
            let id = job.request_id().clone();
            return Err(encode(reply, id, Err(CallError::Overloaded(limit))));
        };
        let guard = self.inflight.enter();
        let this = self.clone();
        let out = out.clone();
        tokio::spawn(async move {
            let request_id = job.request_id().clone();
            let reply = job.reply();
            let result = match job {
                Job::Tool(request) => this.call(request).await,
                Job::AppStart(request) => this.app_start(request).await,
                Job::AppAction(id, action) => this.app_action(id, action).await,
            };
            let _ = out.send(Outgoing {
                text: encode(reply, request_id, result).into(),
                _slot: slot,
            });
            drop(guard);
        });
        Ok(())
    }

    /// Ends an app session at the server's request.
    pub(crate) fn terminate(&self, id: RequestId) -> String {
        let result = if self.sessions.close(&id.to_string()) {
            tracing::debug!(session = %id, "app session ended by the server");
            Ok(crate::apps::terminated())
        } else {
            Err(CallError::UnknownSession(id.to_string()))
        };
        encode(Reply::App, id, result)
    }

    /// Starts an app session: validates like a tool call, runs the app's
    /// start, keeps the state unless the app finished at once.
    async fn app_start(&self, request: ToolRequest) -> CallResult {
        let ToolRequest {
            request_id,
            tool_name,
            params,
            auth_token,
        } = request;
        let Some(entry) = self.registry.app(&tool_name) else {
            return Err(CallError::UnknownApp(tool_name));
        };
        let Ok(permit) = self.running.clone().acquire_owned().await else {
            return Err(CallError::ShuttingDown);
        };
        let future = entry.start(params, auth_token)?;
        let limit = entry.timeout.unwrap_or(self.limits.call_timeout);
        let outcome = run_app(future, limit, permit).await?;
        if let Some(state) = outcome.state {
            self.sessions
                .open(request_id.to_string(), &tool_name, state);
            tracing::debug!(app = %tool_name, session = %request_id, "app session started");
        }
        Ok(outcome.ui)
    }

    /// One user action in a session: the app gets the kept state; the new
    /// state is kept, or the session ends.
    async fn app_action(&self, id: RequestId, action: Value) -> CallResult {
        let key = id.to_string();
        let Some((app, slot)) = self.sessions.get(&key) else {
            return Err(CallError::UnknownSession(key));
        };
        let Some(entry) = self.registry.app(&app) else {
            return Err(CallError::UnknownApp(app));
        };
        // Actions of one session run one after the other, in order.
        let mut state = slot.lock().await;
        let Some(current) = state.clone() else {
            return Err(CallError::UnknownSession(key));
        };
        let Ok(permit) = self.running.clone().acquire_owned().await else {
            return Err(CallError::ShuttingDown);
        };
        let limit = entry.timeout.unwrap_or(self.limits.call_timeout);
        let outcome = run_app(entry.app.action(action, current), limit, permit).await?;
        match outcome.state {
            Some(next) => *state = Some(next),
            None => {
                *state = None;
                self.sessions.close(&key);
                tracing::debug!(%app, session = %key, "app session finished");
            }
        }
        Ok(outcome.ui)
    }

    /// Runs one request to completion (waiting for a running slot first).
    pub(crate) async fn call(&self, request: ToolRequest) -> CallResult {
        let ToolRequest {
            request_id,
            tool_name,
            params,
            auth_token,
        } = request;
        let Ok(permit) = self.running.clone().acquire_owned().await else {
            return Err(CallError::ShuttingDown);
        };
        let started = Instant::now();
        tracing::debug!(tool = %tool_name, %request_id, "call started");
        let result = self.run(&tool_name, params, auth_token, permit).await;
        log_call(&tool_name, &request_id, &result, started.elapsed());
        result
    }

    async fn run(
        &self,
        tool_name: &str,
        params: Value,
        token: Option<AuthToken>,
        permit: OwnedSemaphorePermit,
    ) -> CallResult {
        let Some(tool) = self.registry.get(tool_name) else {
            return Err(CallError::UnknownTool(tool_name.to_owned()));
        };
        let args = CallArgs::from_request(params, token)?;
        args.validate(&tool.required, tool.needs_token)?;
        let limit = tool.timeout.unwrap_or(self.limits.call_timeout);
        let ended = match &tool.invoke {
            Invoke::Blocking(call) => {
                let call = *call;
                // The running slot goes with the thread: a blocking tool
                // past its limit can't be stopped and keeps it until it
                // returns.
                let mut task = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    call(args)
                });
                match tokio::time::timeout(limit, &mut task).await {
                    Ok(Ok(result)) => Ended::Done(result),
                    Ok(Err(err)) if err.is_panic() => {
                        Ended::Panicked(panic_message(err.into_panic()))
                    }
                    Ok(Err(_)) => Ended::Done(Err(CallError::ShuttingDown)),
                    Err(_) => Ended::TimedOut,
                }
            }
            // An async tool runs right here, in the call's own task: no
            // second task to hop to. Past its limit its future is dropped.
            Invoke::Async(call) => {
                let call = *call;
                run_async(move || call(args), limit, permit).await
            }
            Invoke::Dynamic(call) => {
                let call = call.clone();
                run_async(move || call(args), limit, permit).await
            }
        };
        match ended {
            Ended::Done(result) => result,
            Ended::Panicked(message) => Err(CallError::Panicked(message)),
            Ended::TimedOut => {
                tracing::warn!(tool = %tool_name, ?limit, "call timed out");
                Err(CallError::TimedOut(limit))
            }
        }
    }
}

/// How a tool's code ended.
enum Ended {
    Done(CallResult),
    Panicked(String),
    TimedOut,
}

/// Makes an async tool's future and polls it to completion within
/// `limit`, catching a panic in either step (a run-time tool's handler
/// runs code before it returns its future).
async fn run_async(
    start: impl FnOnce() -> crate::tool::CallFuture,
    limit: Duration,
    permit: OwnedSemaphorePermit,
) -> Ended {
    use futures_util::FutureExt;
    let _permit = permit;
    let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => return Ended::Panicked(panic_message(payload)),
    };
    match tokio::time::timeout(limit, std::panic::AssertUnwindSafe(future).catch_unwind()).await {
        Ok(Ok(result)) => Ended::Done(result),
        Ok(Err(payload)) => Ended::Panicked(panic_message(payload)),
        Err(_) => Ended::TimedOut,
    }
}

/// Runs an app's start or action like an async tool (time limit, panic
/// caught).
async fn run_app(
    future: crate::apps::AppFuture,
    limit: Duration,
    permit: OwnedSemaphorePermit,
) -> Result<crate::apps::AppOutcome, CallError> {
    use futures_util::FutureExt;
    let _permit = permit;
    match tokio::time::timeout(limit, std::panic::AssertUnwindSafe(future).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => Err(CallError::Panicked(panic_message(payload))),
        Err(_) => Err(CallError::TimedOut(limit)),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a non-string panic payload".to_owned(),
        },
    }
}

fn log_call(tool: &str, request_id: &RequestId, result: &CallResult, elapsed: Duration) {
    match result {
        Ok(_) => tracing::debug!(tool = %tool, %request_id, ?elapsed, "call answered"),
        Err(err) if err.is_validation() => {
            tracing::debug!(tool = %tool, %request_id, ?elapsed, error = %err, "call rejected")
        }
        Err(err) => {
            tracing::debug!(tool = %tool, %request_id, ?elapsed, error = %err, "call failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn frame(payload: Value) -> Vec<u8> {
        json!({"message_type": "atp_tool_request", "payload": payload})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn decodes_a_tool_request() {
        let Inbound::Call(req) = decode(&frame(
            json!({"request_id": "r1", "tool_name": "echo", "params": {"a": 1}, "auth_token": "t"}),
        )) else {
            panic!("a call")
        };
        assert_eq!(req.request_id, RequestId::from("r1"));
        assert_eq!(req.tool_name, "echo");
        assert_eq!(req.params, json!({"a": 1}));
        assert_eq!(req.auth_token.unwrap().as_str(), "t");
    }

    #[test]
    fn numeric_ids_and_odd_fields_are_tolerated() {
        let Inbound::Call(req) = decode(&frame(
            json!({"request_id": 7, "tool_name": "x", "auth_token": 5}),
        )) else {
            panic!("a call")
        };
        assert_eq!(serde_json::to_value(&req.request_id).unwrap(), json!(7));
        assert!(req.auth_token.is_none());
        assert_eq!(req.params, Value::Null);
    }

    #[test]
    fn a_request_without_a_tool_name_is_rejected_not_dropped() {
        assert!(matches!(
            decode(&frame(json!({"request_id": "r", "tool_name": 3}))),
            Inbound::Reject(_, CallError::UnknownTool(_), Reply::Tool)
        ));
    }

    #[test]
    fn frames_without_an_id_or_type_are_ignored() {
        for text in [
            b"not json".to_vec(),
            b"[]".to_vec(),
            br#"{"payload": {}}"#.to_vec(),
            br#"{"message_type": "something_new", "payload": {"request_id": "r"}}"#.to_vec(),
            frame(json!({"tool_name": "echo"})),
            frame(json!({"request_id": [1], "tool_name": "echo"})),
        ] {
            assert!(
                matches!(decode(&text), Inbound::Ignore(_)),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
        assert!(matches!(
            decode(br#"{"message_type": "atp_client_connected", "payload": {"message": "hi"}}"#),
            Inbound::Connected(m) if m == "hi"
        ));
    }

    #[tokio::test]
    async fn a_handler_that_panics_before_its_future_is_answered() {
        let tool =
            crate::dynamic::DynamicTool::new("early", |_| -> std::future::Ready<CallResult> {
                panic!("before the future")
            });
        let registry = Registry::build(None, vec![tool]).unwrap();
        let limits = Limits {
            max_in_flight: 1,
            max_queued: 0,
            call_timeout: Duration::from_secs(5),
            sessions: SessionLimits {
                max_sessions: 10,
                idle_ttl: Duration::from_secs(60),
            },
        };
        let dispatcher = Dispatcher::new(Arc::new(registry), limits);
        let request = ToolRequest {
            request_id: "p".into(),
            tool_name: "early".to_owned(),
            params: Value::Null,
            auth_token: None,
        };
        assert_eq!(
            dispatcher.call(request).await,
            Err(CallError::Panicked("before the future".to_owned()))
        );
    }

    #[test]
    fn responses_encode_results_and_errors() {
        assert_eq!(
            serde_json::from_str::<Value>(&encode_response("r".into(), Ok(json!([1])))).unwrap(),
            json!({"type": "tool_response", "request_id": "r", "result": [1]})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&encode_response(
                "r".into(),
                Err(CallError::MissingAuthToken)
            ))
            .unwrap(),
            json!({"type": "tool_response", "request_id": "r", "result": {"error": "Missing auth_token for authenticated tool"}})
        );
    }
}

/// Hostile input: arbitrary bytes and JSON values, and frames that look
/// almost right, fed to the inbound frame handler the socket uses. Nothing
/// panics, and every tool or app request with a usable `request_id` is
/// answered, under that id, with the right kind of response.
#[cfg(test)]
mod hostile {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use serde_json::{Map, Value, json};
    use tokio::sync::mpsc;

    use super::{Dispatcher, Limits};
    use crate::dynamic::DynamicTool;
    use crate::registry::Registry;
    use crate::tool::CallError;

    /// How many cases; `PROPTEST_CASES` overrides.
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000)
    }

    fn dispatcher() -> Dispatcher {
        let echo = DynamicTool::new("echo", |mut args| async move {
            let text: String = args.required("text")?;
            Ok(json!({ "echo": text }))
        })
        .param::<String>("text", "");
        let token = DynamicTool::new("whoami", |mut args| async move {
            Ok(json!(args.take_token()?.as_str().len()))
        })
        .auth("hubspot", "OAuth2", Some("access_token"));
        let fails = DynamicTool::new("fails", |_| async { Err(CallError::tool("no")) });
        let registry = Registry::build(None, vec![echo, token, fails]).unwrap();
        Dispatcher::new(
            Arc::new(registry),
            Limits {
                max_in_flight: 4,
                max_queued: 4,
                call_timeout: Duration::from_secs(5),
                sessions: crate::apps::SessionLimits {
                    max_sessions: 10,
                    idle_ttl: Duration::from_secs(60),
                },
            },
        )
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
            Just(json!("")),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Frames shaped like the protocol's, with any field wrong.
    fn frame_like() -> impl Strategy<Value = Value> {
        let message_type = prop_oneof![
            Just(json!("atp_tool_request")),
            Just(json!("atp_app_request")),
            Just(json!("atp_app_action")),
            Just(json!("atp_app_terminate")),
            Just(json!("atp_client_connected")),
            json_value(),
        ];
        let request_id = prop_oneof![
            ".{0,10}".prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            json_value(),
        ];
        let tool_name = prop_oneof![
            Just(json!("echo")),
            Just(json!("whoami")),
            Just(json!("fails")),
            json_value(),
        ];
        let params = prop_oneof![
            Just(json!({"text": "hi"})),
            Just(json!("")),
            json_value(),
            prop::collection::btree_map(
                prop_oneof![
                    Just("text".to_owned()),
                    Just("auth_token".to_owned()),
                    ".{0,6}"
                ],
                json_value(),
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ];
        let field = |v: BoxedStrategy<Value>| prop::option::weighted(0.9, v);
        (
            field(message_type.boxed()),
            field(request_id.boxed()),
            field(tool_name.boxed()),
            field(params.boxed()),
            field(json_value().boxed()),
            prop::bool::weighted(0.9),
        )
            .prop_map(
                |(message_type, request_id, tool_name, params, token, payload_object)| {
                    let mut payload = Map::new();
                    for (key, value) in [
                        ("request_id", request_id),
                        ("tool_name", tool_name),
                        ("params", params),
                        ("auth_token", token),
                    ] {
                        if let Some(value) = value {
                            payload.insert(key.to_owned(), value);
                        }
                    }
                    let mut frame = Map::new();
                    if let Some(message_type) = message_type {
                        frame.insert("message_type".to_owned(), message_type);
                    }
                    let payload = if payload_object {
                        Value::Object(payload)
                    } else {
                        Value::Array(payload.into_values().collect())
                    };
                    frame.insert("payload".to_owned(), payload);
                    Value::Object(frame)
                },
            )
    }

    /// Inputs as bytes: arbitrary bytes, arbitrary JSON, protocol-shaped
    /// frames, and such frames with a byte changed.
    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..64),
            1 => json_value().prop_map(|v| v.to_string().into_bytes()),
            4 => frame_like().prop_map(|v| v.to_string().into_bytes()),
            1 => (frame_like(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
                let mut bytes = v.to_string().into_bytes();
                let i = at.index(bytes.len());
                bytes[i] = byte;
                bytes
            }),
        ]
    }

    /// What must be answered, by the rules alone: (`app_response`?, id).
    fn expected(bytes: &[u8]) -> Option<(bool, Value)> {
        let frame: Value = serde_json::from_slice(bytes).ok()?;
        let app = match frame.get("message_type")?.as_str()? {
            "atp_tool_request" => false,
            "atp_app_request" | "atp_app_action" | "atp_app_terminate" => true,
            _ => return None,
        };
        let id = frame.get("payload")?.as_object()?.get("request_id")?;
        (id.is_string() || id.is_number()).then(|| (app, id.clone()))
    }

    /// Cases that had to be answered, so a run shows it tested something.
    static ANSWERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn check(
        runtime: &tokio::runtime::Runtime,
        dispatcher: &Dispatcher,
        bytes: &[u8],
    ) -> Result<(), TestCaseError> {
        let answer = runtime.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let now = dispatcher.handle(bytes, &tx);
            drop(tx);
            let later = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a started call finishes")
                .map(|out| out.text.as_str().to_owned());
            match (now, later) {
                (Some(_), Some(_)) => panic!("answered twice"),
                (now, later) => now.or(later),
            }
        });
        match (expected(bytes), answer) {
            (None, None) => Ok(()),
            (Some((app, id)), Some(answer)) => {
                ANSWERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let answer: Value = serde_json::from_str(&answer).expect("answers are JSON");
                let kind = if app { "app_response" } else { "tool_response" };
                prop_assert_eq!(&answer["type"], &json!(kind));
                prop_assert_eq!(&answer["request_id"], &id);
                prop_assert!(answer.get("result").is_some());
                Ok(())
            }
            (Some(id), None) => Err(TestCaseError::fail(format!("{id:?} was not answered"))),
            (None, Some(answer)) => Err(TestCaseError::fail(format!(
                "answered a frame without a usable request_id: {answer}"
            ))),
        }
    }

    #[test]
    fn every_request_with_an_id_is_answered_and_nothing_panics() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dispatcher = dispatcher();
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&input(), |bytes| check(&runtime, &dispatcher, &bytes))
            .unwrap();
        let answered = ANSWERED.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "{} cases, {answered} of them requests that had to be answered",
            cases()
        );
        assert!(
            answered * 20 > cases() as usize,
            "the inputs reach the dispatcher often enough: {answered}"
        );
    }

    #[test]
    fn edge_cases_are_answered_or_ignored_without_a_panic() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dispatcher = dispatcher();
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep_params = format!(
            r#"{{"message_type":"atp_tool_request","payload":{{"request_id":"d","tool_name":"echo","params":{{"text":{}"x"{}}}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let cases: Vec<Vec<u8>> = vec![
            vec![0xff, 0xfe, 0x00],
            b"{\"message_type\":\"atp_tool_request\",\"payload\":{\"request_id\":\"\xff\"}}".to_vec(),
            deep.into_bytes(),
            deep_params.into_bytes(),
            br#"{"message_type":"atp_tool_request","payload":{"request_id":1e999,"tool_name":"echo"}}"#.to_vec(),
            br#"{"message_type":"atp_tool_request","payload":{"request_id":123456789012345678901234567890,"tool_name":"echo","params":{"text":"big"}}}"#.to_vec(),
            br#"{"message_type":"atp_tool_request","payload":{"request_id":"n","tool_name":"echo","params":{"text":1e308}}}"#.to_vec(),
            br#"{"message_type":"atp_tool_request","payload":{"request_id":"s","tool_name":"echo","params":"not an object"}}"#.to_vec(),
            br#"{"message_type":"atp_app_action","payload":{"request_id":"a","action_data":{}}}"#.to_vec(),
            br#"{"message_type":"atp_app_terminate","payload":{"request_id":"t"}}"#.to_vec(),
        ];
        for bytes in cases {
            check(&runtime, &dispatcher, &bytes).unwrap();
        }
    }
}
