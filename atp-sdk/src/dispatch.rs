//! Admitting and running one request, whatever link brought it: the
//! dispatcher takes a typed [`Inbound`], admits it within the limits, runs
//! the tool (or the app step) on the right executor with its time limit,
//! [`Context`] and `tracing` span, catches a panic, and hands back a typed
//! [`Reply`]. Nothing here knows about sockets or framing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use crate::apps::{AppTurns, Apps};
use crate::call_metrics::CallGauges;
use crate::cancel::Cancel;
#[cfg(feature = "atp")]
use crate::codec::Inbound;
use crate::codec::Reply;
use crate::config::Limits;
use crate::context::{Context, ContextParts, TalkBack};
use crate::error::CallError;
use crate::params::CallArgs;
use crate::principal::Principal;
use crate::protocol::ResponseKind;
use crate::protocol::{RequestId, ToolRequest};
use crate::registry::{Invoke, Registry};
use crate::state::States;
use crate::tool::{CallFuture, CallResult};

/// Counts the calls in flight, so a stop can wait for them.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct InFlightGuard(Arc<InFlight>);

/// A call waiting for a running slot, for `atp_calls_queued`; counted out
/// however the wait ends (a slot, the time limit, a cancellation).
struct Queued<'a>(&'a CallGauges);

impl<'a> Queued<'a> {
    fn new(gauges: &'a CallGauges) -> Self {
        gauges.queued();
        Self(gauges)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.dequeued();
    }
}

/// A call holding a running slot, for `atp_calls_in_flight`; counted out
/// when its run ends, however it ends (an async tool's future dropped).
struct Running<'a>(&'a CallGauges);

impl<'a> Running<'a> {
    fn new(gauges: &'a CallGauges) -> Self {
        gauges.started();
        Self(gauges)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.finished();
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A reply on its way to the server.
///
/// It holds its call's admission slot until it is delivered (or dropped),
/// so a server that reads slowly makes the toolkit take fewer calls
/// instead of piling up replies: everything a call holds, from its
/// request to its undelivered reply, is bounded by
/// `max_in_flight + max_queued`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) reply: Reply,
    /// None for a reply due at once (a refusal): it holds no call.
    _slot: Option<OwnedSemaphorePermit>,
}

impl Outgoing {
    /// A reply due at once, holding no call's slot.
    pub(crate) fn now(reply: Reply) -> Self {
        Self { reply, _slot: None }
    }
}

/// Runs requests against the tools and apps and hands back their replies.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    registry: Arc<Registry>,
    apps: Apps,
    states: Arc<States>,
    limits: Limits,
    app_name: Arc<str>,
    inflight: Arc<InFlight>,
    /// Slots for calls running or waiting (and their undelivered replies).
    admitted: Arc<Semaphore>,
    /// Slots for calls running.
    running: Arc<Semaphore>,
    /// A stop began: new requests are refused.
    refusing: AtomicBool,
    /// The shutdown deadline passed: every call's context is cancelled.
    shutdown: Cancel,
    /// `atp_calls_in_flight` and `atp_calls_queued`.
    gauges: CallGauges,
}

/// What a link (MCP) knows of a call's caller and gives the call.
#[cfg_attr(
    not(any(feature = "mcp-stdio", feature = "mcp-http")),
    allow(dead_code)
)]
pub(crate) struct Caller {
    /// Fired when the caller cancels: the call's [`Context`] sees it, an
    /// async tool is dropped, and the reply is [`CallError::Cancelled`].
    pub(crate) cancel: Cancel,
    /// Who the link authenticated the caller as.
    pub(crate) principal: Option<Principal>,
    /// Where the call's progress and log lines go.
    pub(crate) talk: Option<Arc<dyn TalkBack>>,
}

impl Caller {
    /// A caller that can only cancel.
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) fn new(cancel: Cancel) -> Self {
        Self {
            cancel,
            principal: None,
            talk: None,
        }
    }
}

/// Work for a call task.
enum Job {
    /// A tool call, and what the link knows of its caller (MCP).
    Tool(ToolRequest, Option<Caller>),
    /// An app's start and its user's actions: from an ATP server only.
    #[cfg(feature = "atp")]
    AppStart(ToolRequest),
    #[cfg(feature = "atp")]
    AppAction(RequestId, Value),
}

impl Job {
    fn request_id(&self) -> &RequestId {
        match self {
            Job::Tool(r, ..) => &r.request_id,
            #[cfg(feature = "atp")]
            Job::AppStart(r) => &r.request_id,
            #[cfg(feature = "atp")]
            Job::AppAction(id, _) => id,
        }
    }

    fn kind(&self) -> ResponseKind {
        match self {
            Job::Tool(..) => ResponseKind::Tool,
            #[cfg(feature = "atp")]
            Job::AppStart(_) | Job::AppAction(..) => ResponseKind::App,
        }
    }

    fn name(&self) -> &str {
        match self {
            Job::Tool(r, ..) => &r.tool_name,
            #[cfg(feature = "atp")]
            Job::AppStart(r) => &r.tool_name,
            #[cfg(feature = "atp")]
            Job::AppAction(..) => "<app action>",
        }
    }
}

impl Dispatcher {
    pub(crate) fn new(
        registry: Arc<Registry>,
        apps: Apps,
        states: Arc<States>,
        limits: Limits,
        app_name: &str,
    ) -> Self {
        let max_in_flight = limits.max_in_flight.max(1);
        Self(Arc::new(Shared {
            registry,
            apps,
            states,
            admitted: Arc::new(Semaphore::new(max_in_flight + limits.max_queued)),
            running: Arc::new(Semaphore::new(max_in_flight)),
            limits,
            app_name: Arc::from(app_name),
            inflight: Arc::default(),
            refusing: AtomicBool::new(false),
            shutdown: Cancel::new(),
            gauges: CallGauges::default(),
        }))
    }

    /// The tools served.
    pub(crate) fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// Handles one inbound message. A call is started and its reply is
    /// handed to `deliver` when done; a reply due at once (a rejected
    /// request, an overload, a refusal while stopping, a terminate) is
    /// returned, to be sent by the link before it reads on, which keeps a
    /// flood of them bounded too.
    #[cfg(feature = "atp")]
    pub(crate) fn handle<F>(&self, inbound: Inbound, deliver: F) -> Option<Reply>
    where
        F: FnOnce(Outgoing) + Send + 'static,
    {
        let job = match inbound {
            Inbound::Call(request) => Job::Tool(request, None),
            Inbound::AppStart(request) => Job::AppStart(request),
            Inbound::AppAction(id, action) => Job::AppAction(id, action),
            Inbound::AppTerminate(id) => {
                let result = self.0.apps.terminate(&id);
                return Some(Reply::new(ResponseKind::App, id, result));
            }
            Inbound::Reject(id, err, kind) => return Some(Reply::new(kind, id, Err(err))),
            Inbound::Connected(message) => {
                tracing::info!(%message, "server accepted the toolkit");
                return None;
            }
            Inbound::Ignore(why) => {
                tracing::debug!(why, "message ignored");
                return None;
            }
        };
        self.start(job, deliver)
    }

    /// Starts one tool call for a `caller` the link knows (an MCP client
    /// that can cancel it, be authenticated, and hear from it).
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) fn call<F>(&self, request: ToolRequest, caller: Caller, deliver: F) -> Option<Reply>
    where
        F: FnOnce(Outgoing) + Send + 'static,
    {
        self.start(Job::Tool(request, Some(caller)), deliver)
    }

    /// A stop began: requests from now on are answered
    /// `Toolkit is shutting down`; the calls in flight go on.
    pub(crate) fn refuse_new(&self) {
        self.0.refusing.store(true, Ordering::SeqCst);
    }

    /// The shutdown deadline passed: every call still running sees its
    /// context cancelled.
    pub(crate) fn abandon(&self) {
        self.0.shutdown.fire();
    }

    /// Calls admitted and not yet replied to.
    pub(crate) fn in_flight(&self) -> usize {
        self.0.inflight.count()
    }

    /// Resolves when no call is in flight.
    pub(crate) async fn idle(&self) {
        self.0.inflight.wait_idle().await;
    }

    /// Plain-`fn` tools whose threads still run (answered or not), with
    /// how many each.
    pub(crate) fn blocking_still_running(&self) -> Vec<(String, usize)> {
        self.0
            .registry
            .tools()
            .iter()
            .filter_map(|tool| {
                let n = tool.blocking_running.load(Ordering::SeqCst);
                (n > 0).then(|| (tool.name.clone(), n))
            })
            .collect()
    }

    fn start<F>(&self, job: Job, deliver: F) -> Option<Reply>
    where
        F: FnOnce(Outgoing) + Send + 'static,
    {
        if self.0.refusing.load(Ordering::SeqCst) {
            let id = job.request_id().clone();
            let result = Err(CallError::ShuttingDown);
            self.count_refusal(&job, &result);
            return Some(Reply::new(job.kind(), id, result));
        }
        let Ok(slot) = self.0.admitted.clone().try_acquire_owned() else {
            tracing::warn!(
                tool = %job.name(),
                request_id = %job.request_id(),
                "overloaded: call refused"
            );
            let limit = self.0.limits.max_in_flight + self.0.limits.max_queued;
            let id = job.request_id().clone();
            let result = Err(CallError::Overloaded(limit));
            self.count_refusal(&job, &result);
            return Some(Reply::new(job.kind(), id, result));
        };
        let guard = self.0.inflight.enter();
        let this = self.clone();
        tokio::spawn(async move {
            let kind = job.kind();
            let request_id = job.request_id().clone();
            let result = match job {
                Job::Tool(request, caller) => this.run_tool(request, caller).await,
                #[cfg(feature = "atp")]
                Job::AppStart(request) => this.0.apps.start(request, &this.app_turns()).await,
                #[cfg(feature = "atp")]
                Job::AppAction(id, action) => this.0.apps.act(id, action, &this.app_turns()).await,
            };
            deliver(Outgoing {
                reply: Reply::new(kind, request_id, result),
                _slot: Some(slot),
            });
            drop(guard);
        });
        None
    }

    /// Counts a tool call refused before it was admitted.
    fn count_refusal(&self, job: &Job, result: &CallResult) {
        if let Job::Tool(request, ..) = job
            && let Some(tool) = self.0.registry.get(&request.tool_name)
        {
            tool.metrics.record(&tool.shared_name, result, None);
        }
    }

    /// Waits for a running slot, within the call's time limit.
    async fn running_slot(&self, deadline: Instant) -> Option<OwnedSemaphorePermit> {
        crate::apps::running_slot(&self.0.running, deadline).await
    }

    /// What an app's turn takes from the dispatcher: the default time
    /// limit, and the running slots it shares with the tools.
    fn app_turns(&self) -> AppTurns<'_> {
        AppTurns {
            call_timeout: self.0.limits.call_timeout,
            running: &self.0.running,
        }
    }

    /// Runs one tool call to its reply. The time limit counts from
    /// admission: waiting for a running slot is part of it.
    async fn run_tool(&self, request: ToolRequest, caller: Option<Caller>) -> CallResult {
        let admitted = Instant::now();
        let ToolRequest {
            request_id,
            tool_name,
            params,
            auth_token,
        } = request;
        let tool = self.lookup(tool_name)?;
        let mut args = match arguments(tool, params, auth_token) {
            Ok(args) => args,
            Err(err) => {
                let result = Err(err);
                tool.metrics
                    .record(&tool.shared_name, &result, Some(admitted.elapsed()));
                return result;
            }
        };
        let shared = &*self.0;
        let limit = tool.timeout.unwrap_or(shared.limits.call_timeout);
        let deadline = admitted + limit;
        // A cancellation only where something can watch it: the tool's
        // context, or the link (MCP) that cancels.
        let (external, principal, talk) = match caller {
            Some(Caller {
                cancel,
                principal,
                talk,
            }) => (Some(cancel), principal, talk),
            None => (None, None, None),
        };
        let cancel = match &external {
            Some(cancel) => Some(cancel.clone()),
            None => tool.uses_context.then(Cancel::new),
        };
        let context = match (&cancel, tool.uses_context) {
            (Some(cancel), true) => Some(Context::new(ContextParts {
                request_id: request_id.clone(),
                tool: tool.shared_name.clone(),
                app_name: shared.app_name.clone(),
                deadline: deadline.into_std(),
                call: cancel.clone(),
                shutdown: shared.shutdown.clone(),
                principal,
                talk,
            })),
            _ => None,
        };
        args.attach(context, shared.states.clone(), tool.strict_args);
        let span = tracing::info_span!("call", tool = %tool.name, %request_id);
        let work = self.execute(tool, args, deadline);
        let ended = match &external {
            None => work.instrument(span.clone()).await,
            Some(external) => {
                tokio::select! {
                    biased;
                    () = external.fired() => CallEnd::Cancelled,
                    ended = work.instrument(span.clone()) => ended,
                }
            }
        };
        let result = outcome(ended, cancel.as_ref(), limit, &span);
        let elapsed = admitted.elapsed();
        tool.metrics
            .record(&tool.shared_name, &result, Some(elapsed));
        if tracing::enabled!(tracing::Level::DEBUG) {
            span.in_scope(|| log_call(&result, elapsed));
        }
        result
    }

    /// The tool called `name`; an app or nothing by that name is an error.
    fn lookup(&self, name: String) -> Result<&crate::registry::ServedTool, CallError> {
        let shared = &*self.0;
        match shared.registry.get(&name) {
            Some(tool) => Ok(tool),
            None if shared.apps.get(&name).is_some() => Err(CallError::Tool(format!(
                "`{name}` is an interactive app: start a session with atp_app_request"
            ))),
            None => Err(CallError::UnknownTool(name)),
        }
    }

    /// Runs the tool once a running slot is free, within `deadline`: a
    /// plain `fn` on the SDK's workers (`blocking.rs`), an `async fn` (or a
    /// plain `fn` marked `inline`) in this task.
    async fn execute(
        &self,
        tool: &crate::registry::ServedTool,
        args: CallArgs,
        deadline: Instant,
    ) -> CallEnd {
        let gauges = &self.0.gauges;
        let queued = Queued::new(gauges);
        let permit = self.running_slot(deadline).await;
        drop(queued);
        let Some(permit) = permit else {
            return CallEnd::TimedOut;
        };
        let _running = Running::new(gauges);
        tracing::debug!("call started");
        match &tool.invoke {
            Invoke::Blocking(call) => {
                let call = *call;
                let running = tool.blocking_running.clone();
                // The running slot goes with the thread: a plain fn
                // past its limit can't be stopped and keeps it until
                // it returns (its context says it was cancelled).
                let work = crate::blocking::run(move || {
                    let _permit = permit;
                    running.fetch_add(1, Ordering::SeqCst);
                    let result = call(args);
                    running.fetch_sub(1, Ordering::SeqCst);
                    result
                });
                match timeout_at(deadline, work).await {
                    Ok(Ok(result)) => CallEnd::Done(result),
                    Ok(Err(panic)) => CallEnd::Panicked(crate::error::panic_message(panic)),
                    Err(_) => CallEnd::TimedOut,
                }
            }
            // Asked for by its author: no hop at all, and nothing else runs
            // on this thread until it returns (its limit can't cut it
            // short; a result past the limit is still a timeout).
            Invoke::Inline(call) => {
                let call = *call;
                let _permit = permit;
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || call(args))) {
                    Ok(_) if Instant::now() > deadline => CallEnd::TimedOut,
                    Ok(result) => CallEnd::Done(result),
                    Err(payload) => CallEnd::Panicked(crate::error::panic_message(payload)),
                }
            }
            // An async tool runs right here, in the call's own task: no
            // second task to hop to. Past its limit its future is dropped.
            Invoke::Async(call) => {
                let call = *call;
                run_async(move || call(args), deadline, permit).await
            }
            Invoke::Dynamic(call) => {
                let call = call.clone();
                run_async(move || call(args), deadline, permit).await
            }
        }
    }
}

/// A request's `params` and token as the tool's arguments: required ones
/// present, a token for a tool with an auth provider. Arguments the tool
/// does not take are said at DEBUG (models add their own), or refused
/// when the tool says `deny_unknown_fields`.
fn arguments(
    tool: &crate::registry::ServedTool,
    params: Value,
    token: Option<crate::secret::AuthToken>,
) -> Result<CallArgs, CallError> {
    let args = CallArgs::from_request(params, token)?;
    args.validate(&tool.required, tool.needs_token)?;
    if tool.deny_unknown_fields {
        let mut unknown: Vec<String> = args
            .names()
            .filter(|n| !tool.params.iter().any(|p| p == n))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(CallError::UnknownParameters {
                unknown,
                known: tool.params.clone(),
            });
        }
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        let ignored: Vec<&str> = args
            .names()
            .filter(|n| !tool.params.iter().any(|p| p == n))
            .collect();
        if !ignored.is_empty() {
            tracing::debug!(tool = %tool.name, ?ignored, "arguments the tool does not take are ignored");
        }
    }
    Ok(args)
}

/// How a call ended, as its result; a call past its limit fires its
/// cancel (its context says so) and is logged.
fn outcome(
    ended: CallEnd,
    cancel: Option<&Cancel>,
    limit: Duration,
    span: &tracing::Span,
) -> CallResult {
    match ended {
        CallEnd::Done(result) => result,
        CallEnd::Panicked(message) => Err(CallError::Panicked(message)),
        CallEnd::TimedOut => {
            if let Some(cancel) = cancel {
                cancel.fire();
            }
            span.in_scope(|| tracing::warn!(?limit, "call timed out"));
            Err(CallError::TimedOut(limit))
        }
        CallEnd::Cancelled => Err(CallError::Cancelled),
    }
}

/// How a tool's code ended.
enum CallEnd {
    Done(CallResult),
    Panicked(String),
    TimedOut,
    Cancelled,
}

/// Makes an async tool's future and polls it to completion by `deadline`,
/// catching a panic in either step (a run-time tool's handler runs code
/// before it returns its future).
async fn run_async(
    start: impl FnOnce() -> CallFuture,
    deadline: Instant,
    permit: OwnedSemaphorePermit,
) -> CallEnd {
    use futures_util::FutureExt;
    let _permit = permit;
    let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => return CallEnd::Panicked(crate::error::panic_message(payload)),
    };
    match timeout_at(
        deadline,
        std::panic::AssertUnwindSafe(future).catch_unwind(),
    )
    .await
    {
        Ok(Ok(result)) => CallEnd::Done(result),
        Ok(Err(payload)) => CallEnd::Panicked(crate::error::panic_message(payload)),
        Err(_) => CallEnd::TimedOut,
    }
}

/// One debug line per call, inside its span (which names the tool and the
/// request).
fn log_call(result: &CallResult, elapsed: Duration) {
    match result {
        Ok(_) => tracing::debug!(?elapsed, "call answered"),
        Err(err) if err.is_validation() => {
            tracing::debug!(?elapsed, error = %err, "call rejected")
        }
        Err(err) => tracing::debug!(?elapsed, error = %err, "call failed"),
    }
}

// Driven the way the ATP links drive it (`handle`).
#[cfg(all(test, feature = "atp"))]
mod tests {
    use super::*;
    use crate::config::SessionLimits;
    use crate::dynamic::DynamicTool;

    pub(super) fn dispatcher(tools: Vec<DynamicTool>, max_in_flight: usize) -> Dispatcher {
        let registry = Registry::build(Some(&[]), tools, Vec::new(), &States::default()).unwrap();
        Dispatcher::new(
            Arc::new(registry),
            Apps::new(Vec::new(), SessionLimits::default()),
            Arc::default(),
            Limits {
                max_in_flight,
                max_queued: max_in_flight,
                call_timeout: Duration::from_secs(5),
                sessions: SessionLimits::default(),
            },
            "test",
        )
    }

    async fn call(dispatcher: &Dispatcher, tool: &str) -> CallResult {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let request = ToolRequest {
            request_id: "p".into(),
            tool_name: tool.to_owned(),
            params: Value::Null,
            auth_token: None,
        };
        if let Some(now) = dispatcher.handle(Inbound::Call(request), move |out| {
            let _ = tx.send(out);
        }) {
            return now.result;
        }
        rx.await.unwrap().reply.result
    }

    #[tokio::test]
    async fn a_handler_that_panics_before_its_future_is_answered() {
        let tool = DynamicTool::new("early", |_| -> std::future::Ready<CallResult> {
            panic!("before the future")
        });
        let dispatcher = dispatcher(vec![tool], 1);
        assert_eq!(
            call(&dispatcher, "early").await,
            Err(CallError::Panicked("before the future".to_owned()))
        );
    }

    #[tokio::test]
    async fn a_stopping_dispatcher_refuses_new_calls() {
        let tool = DynamicTool::new("ok", |_| async { Ok(Value::Null) });
        let dispatcher = dispatcher(vec![tool], 1);
        assert_eq!(call(&dispatcher, "ok").await, Ok(Value::Null.into()));
        dispatcher.refuse_new();
        assert_eq!(call(&dispatcher, "ok").await, Err(CallError::ShuttingDown));
    }

    #[tokio::test]
    async fn a_cancelled_call_ends_its_async_tool() {
        let tool = DynamicTool::new("forever", |args| async move {
            args.context().cancelled().await;
            Ok(Value::from("saw the cancel"))
        });
        let dispatcher = dispatcher(vec![tool], 1);
        let cancel = Cancel::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let request = ToolRequest {
            request_id: "c".into(),
            tool_name: "forever".to_owned(),
            params: Value::Null,
            auth_token: None,
        };
        assert!(
            dispatcher
                .call(request, Caller::new(cancel.clone()), move |out| {
                    let _ = tx.send(out);
                })
                .is_none()
        );
        cancel.fire();
        let reply = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.reply.result, Err(CallError::Cancelled));
        dispatcher.idle().await;
    }
}
/// Hostile input: arbitrary bytes and JSON values, and frames that look
/// almost right, fed to the inbound frame handler the socket uses. Nothing
/// panics, and every tool or app request with a usable `request_id` is
/// answered, under that id, with the right kind of response.
#[cfg(all(test, feature = "atp"))]
mod hostile {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use serde_json::{Map, Value, json};
    use tokio::sync::mpsc;

    use super::{Dispatcher, Limits};
    use crate::apps::Apps;
    use crate::codec::decode_frame;
    use crate::config::SessionLimits;
    use crate::dynamic::DynamicTool;
    use crate::error::CallError;
    use crate::registry::Registry;
    use crate::state::States;

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
        let fails = DynamicTool::new("fails", |_| async {
            Err::<Value, _>(CallError::tool("no"))
        });
        let registry = Registry::build(
            Some(&[]),
            vec![echo, token, fails],
            Vec::new(),
            &States::default(),
        )
        .unwrap();
        let sessions = SessionLimits {
            max_sessions: 10,
            idle_ttl: Duration::from_secs(60),
        };
        Dispatcher::new(
            Arc::new(registry),
            Apps::new(Vec::new(), sessions),
            Arc::default(),
            Limits {
                max_in_flight: 4,
                max_queued: 4,
                call_timeout: Duration::from_secs(5),
                sessions,
            },
            "hostile",
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

    /// What must be answered, by the rules alone: (`app_response`?, the
    /// id's JSON text). Any request whose payload has a string or number
    /// `request_id` is answered, whatever else in it can't be read.
    fn expected(bytes: &[u8]) -> Option<(bool, String)> {
        use serde_json::value::RawValue;
        let frame: std::collections::HashMap<String, &RawValue> =
            serde_json::from_slice(bytes).ok()?;
        let message_type: String = serde_json::from_str(frame.get("message_type")?.get()).ok()?;
        let app = match message_type.as_str() {
            "atp_tool_request" => false,
            "atp_app_request" | "atp_app_action" | "atp_app_terminate" => true,
            _ => return None,
        };
        let payload: std::collections::HashMap<String, &RawValue> =
            serde_json::from_str(frame.get("payload")?.get()).ok()?;
        let id = payload.get("request_id")?.get();
        let usable = id.starts_with('"')
            || id.starts_with('-')
            || id.starts_with(|c: char| c.is_ascii_digit());
        usable.then(|| (app, id.to_owned()))
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
            let now = dispatcher
                .handle(decode_frame(bytes), move |out| {
                    let _ = tx.send(out);
                })
                .map(|reply| reply.to_frame());
            let later = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a started call finishes")
                .map(|out| out.reply.to_frame());
            match (now, later) {
                (Some(_), Some(_)) => panic!("answered twice"),
                (now, later) => now.or(later),
            }
        });
        match (expected(bytes), answer) {
            (None, None) => Ok(()),
            (Some((app, id)), Some(answer)) => {
                ANSWERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let kind = if app { "app_response" } else { "tool_response" };
                // (An id such as 1e999 is echoed as sent: valid JSON that
                // serde_json reads only as raw text.)
                let answer: std::collections::HashMap<String, &serde_json::value::RawValue> =
                    serde_json::from_str(&answer).expect("answers are JSON");
                prop_assert_eq!(answer["type"].get(), format!("\"{kind}\""));
                prop_assert!(answer.contains_key("result"));
                let echoed = answer["request_id"].get();
                if id.starts_with('"') {
                    // A string id: the same string (escapes may differ).
                    let sent: String = serde_json::from_str(&id).unwrap();
                    let got: String = serde_json::from_str(echoed).unwrap();
                    prop_assert_eq!(sent, got);
                } else {
                    // A number id: byte for byte.
                    prop_assert_eq!(echoed, id.as_str());
                }
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
