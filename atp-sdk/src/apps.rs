//! Interactive app sessions (protocol section 5): an [`App`] is started
//! with parameters (and a token) and returns UI content and a state; each
//! user action gets the kept state back and returns new content and a new
//! state, or ends the session. The toolkit keeps the state per session
//! (the `request_id` of the request that started it), bounded in count
//! and age.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use crate::config::SessionLimits;
use crate::error::CallError;
use crate::params::CallArgs;
use crate::protocol::{RequestId, ToolRequest};
use crate::secret::AuthToken;
use crate::tool::{
    Announced, CallResult, Output, OwnedAuth, ParamSpec, announce_run_time, metadata, params_of,
};

/// An interactive app, served next to the tools with
/// [`ToolKitClientBuilder::app`](crate::ToolKitClientBuilder::app).
///
/// A session starts with [`start`](Self::start), which returns the first
/// screen (`ui`, any JSON the platform renders) and the state to keep.
/// Each user action calls [`action`](Self::action) with what the user did
/// and the kept state; it returns the next screen and state, or
/// [`AppStep::finish`] to end the session. An `Err` is answered as
/// `{"error": "..."}` and leaves the state as it was.
///
/// ```standalone_crate
/// use atp_sdk::{App, AppStep, AuthToken};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use serde_json::json;
///
/// /// Counts clicks until the user stops.
/// struct Counter;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Start {
///     /// Where to start counting.
///     from: i64,
/// }
///
/// #[derive(Deserialize)]
/// #[serde(tag = "button", rename_all = "snake_case")]
/// enum Click { Plus, Stop }
///
/// impl App for Counter {
///     type Params = Start;
///     type State = i64;
///     type Action = Click;
///
///     async fn start(&self, params: Start, _token: Option<AuthToken>) -> Result<AppStep<i64>, String> {
///         Ok(AppStep::show(json!({"count": params.from, "buttons": ["plus", "stop"]}), params.from))
///     }
///
///     async fn action(&self, click: Click, count: i64) -> Result<AppStep<i64>, String> {
///         Ok(match click {
///             Click::Plus => AppStep::show(json!({"count": count + 1}), count + 1),
///             Click::Stop => AppStep::finish(json!({"final": count})),
///         })
///     }
/// }
///
/// let client = atp_sdk::ToolKitClient::builder("key", "counter")
///     .app(atp_sdk::AppDef::new("counter", Counter).description("Counts clicks."))
///     .build()
///     .unwrap();
/// assert_eq!(client.tool_names().collect::<Vec<_>>(), ["counter"]);
/// ```
pub trait App: Send + Sync + 'static {
    /// What a session starts with: a struct whose fields are the app's
    /// parameters (announced like a tool's, with their JSON Schema).
    type Params: DeserializeOwned + JsonSchema + Send;
    /// What the toolkit keeps between two actions of a session.
    type State: Serialize + DeserializeOwned + Send;
    /// What a user action carries (the request's `action_data`).
    type Action: DeserializeOwned + Send;

    /// Starts a session. `token` is the request's auth token (required
    /// when the app was given an auth provider).
    fn start(
        &self,
        params: Self::Params,
        token: Option<AuthToken>,
    ) -> impl Future<Output = Result<AppStep<Self::State>, String>> + Send;

    /// Handles one user action with the state kept so far.
    fn action(
        &self,
        action: Self::Action,
        state: Self::State,
    ) -> impl Future<Output = Result<AppStep<Self::State>, String>> + Send;
}

/// What an [`App`] returns: the screen to show, and either the state to
/// keep for the next action or the end of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct AppStep<S> {
    ui: Value,
    next: Option<S>,
}

impl<S> AppStep<S> {
    /// Shows `ui` and keeps `state` for the next action.
    pub fn show(ui: Value, state: S) -> Self {
        Self {
            ui,
            next: Some(state),
        }
    }

    /// Shows `ui` and ends the session.
    pub fn finish(ui: Value) -> Self {
        Self { ui, next: None }
    }
}

pub(crate) type AppFuture = Pin<Box<dyn Future<Output = Result<AppOutcome, CallError>> + Send>>;

/// A step with the state as JSON (`None`: the session ends).
pub(crate) struct AppOutcome {
    pub(crate) ui: Value,
    pub(crate) state: Option<Value>,
}

/// An app behind JSON in and out, so apps of any types share one store.
pub(crate) trait ErasedApp: Send + Sync {
    fn start(&self, params: Value, token: Option<AuthToken>) -> AppFuture;
    fn action(&self, action: Value, state: Value) -> AppFuture;
}

struct Typed<A>(Arc<A>);

fn outcome<S: Serialize>(step: Result<AppStep<S>, String>) -> Result<AppOutcome, CallError> {
    let step = step.map_err(CallError::Tool)?;
    let state = match step.next {
        Some(state) => {
            Some(serde_json::to_value(state).map_err(|e| CallError::InvalidOutput(e.to_string()))?)
        }
        None => None,
    };
    Ok(AppOutcome { ui: step.ui, state })
}

impl<A: App> ErasedApp for Typed<A> {
    fn start(&self, params: Value, token: Option<AuthToken>) -> AppFuture {
        let app = self.0.clone();
        Box::pin(async move {
            let params: A::Params =
                serde_json::from_value(params).map_err(|e| CallError::InvalidParameter {
                    name: "params".to_owned(),
                    reason: e.to_string(),
                })?;
            outcome(app.start(params, token).await)
        })
    }

    fn action(&self, action: Value, state: Value) -> AppFuture {
        let app = self.0.clone();
        Box::pin(async move {
            let action: A::Action = serde_json::from_value(action)
                .map_err(|e| CallError::InvalidAction(e.to_string()))?;
            let state: A::State = serde_json::from_value(state)
                .map_err(|e| CallError::InvalidOutput(format!("the kept state: {e}")))?;
            outcome(app.action(action, state).await)
        })
    }
}

/// An app with its name and what is announced about it; add it with
/// [`ToolKitClientBuilder::app`](crate::ToolKitClientBuilder::app).
///
/// It is announced like a tool (same `register_tool`, its parameters from
/// [`App::Params`]) with `"app": true` in its metadata.
#[must_use = "add the app with ToolKitClientBuilder::app"]
pub struct AppDef {
    name: String,
    description: String,
    params: Vec<ParamSpec>,
    auth: Option<OwnedAuth>,
    timeout: Option<Duration>,
    app: Arc<dyn ErasedApp>,
}

impl fmt::Debug for AppDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppDef")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl AppDef {
    /// The app `app`, announced as `name`.
    pub fn new<A: App>(name: impl Into<String>, app: A) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            params: params_of::<A::Params>(),
            auth: None,
            timeout: None,
            app: Arc::new(Typed(Arc::new(app))),
        }
    }

    /// What the app does, for the agent.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// AppSessions need a token from `provider` (as
    /// [`DynamicTool::auth`](crate::DynamicTool::auth)); starting one
    /// without a token is answered `Missing auth_token for authenticated
    /// tool`.
    pub fn auth(
        mut self,
        provider: impl Into<String>,
        auth_type: impl Into<String>,
        auth_with: Option<&str>,
    ) -> Self {
        self.auth = Some((
            provider.into(),
            auth_type.into(),
            auth_with.map(str::to_owned),
        ));
        self
    }

    /// The time limit of each start and action, instead of the client's
    /// [`call_timeout`](crate::ToolKitClientBuilder::call_timeout).
    /// Clamped to 1 ms … 365 days, like the builder's limits.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(crate::config::clamp(limit));
        self
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the platform is told about the app.
    pub(crate) fn announced(&self) -> Announced {
        let meta = metadata(
            &self.params,
            &self.description,
            self.auth
                .as_ref()
                .map(|(p, k, w)| (p.as_str(), k.as_str(), w.as_deref())),
            "",
        );
        let location = format!(
            "an app added with ToolKitClientBuilder::app (`{}`)",
            self.name
        );
        announce_run_time(&self.name, location, meta, true)
    }
}

/// The apps of a toolkit, by name, and their open sessions: owned by the
/// dispatcher.
pub(crate) struct Apps {
    table: HashMap<String, AppEntry>,
    pub(crate) sessions: AppSessions,
}

impl fmt::Debug for Apps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Apps")
            .field("apps", &self.table.keys().collect::<Vec<_>>())
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl Apps {
    pub(crate) fn new(defs: Vec<AppDef>, limits: SessionLimits) -> Self {
        let table = defs
            .into_iter()
            .map(|def| {
                let entry = AppEntry {
                    required: def
                        .params
                        .iter()
                        .filter(|p| p.kind.is_required())
                        .map(|p| p.name.clone())
                        .collect(),
                    needs_token: def.auth.is_some(),
                    timeout: def.timeout.map(crate::config::clamp),
                    app: def.app,
                };
                (def.name, entry)
            })
            .collect();
        Self {
            table,
            sessions: AppSessions::new(limits),
        }
    }

    /// An app by name.
    pub(crate) fn get(&self, name: &str) -> Option<&AppEntry> {
        self.table.get(name)
    }
}

/// What an app's turn takes from the dispatcher: the time limit for apps
/// that set none, and the running slots it shares with the tools.
pub(crate) struct AppTurns<'a> {
    pub(crate) call_timeout: Duration,
    pub(crate) running: &'a Arc<Semaphore>,
}

/// Waits for one of `running`'s slots until `deadline`.
pub(crate) async fn running_slot(
    running: &Arc<Semaphore>,
    deadline: Instant,
) -> Option<OwnedSemaphorePermit> {
    timeout_at(deadline, running.clone().acquire_owned())
        .await
        .ok()
        .map(|permit| permit.expect("the running semaphore is never closed"))
}

impl Apps {
    /// Ends an app session at the server's request (a session still
    /// starting included: its start then keeps nothing).
    pub(crate) fn terminate(&self, id: &RequestId) -> CallResult {
        if self.sessions.close(id) {
            tracing::debug!(session = %id, "app session ended by the server");
            Ok(Output::Json(terminated()))
        } else {
            Err(CallError::UnknownSession(id.to_string()))
        }
    }

    /// Starts an app session: validates like a tool call, runs the app's
    /// start, keeps the state unless the app finished at once or the
    /// session was ended meanwhile.
    pub(crate) async fn start(&self, request: ToolRequest, turns: &AppTurns<'_>) -> CallResult {
        let admitted = Instant::now();
        let ToolRequest {
            request_id,
            tool_name,
            params,
            auth_token,
        } = request;
        let Some(entry) = self.get(&tool_name) else {
            return Err(CallError::UnknownApp(tool_name));
        };
        let future = entry.start(params, auth_token)?;
        let limit = entry.timeout.unwrap_or(turns.call_timeout);
        let deadline = admitted + limit;
        let (slot, mut turn) = self.sessions.begin(request_id.clone(), &tool_name);
        let outcome = match running_slot(turns.running, deadline).await {
            Some(permit) => run_turn(future, deadline, limit, permit).await,
            None => Err(CallError::TimedOut(limit)),
        };
        match outcome {
            Ok(AppOutcome {
                ui,
                state: Some(state),
            }) if !slot.is_ended() => {
                *turn = Some(state);
                tracing::debug!(app = %tool_name, session = %request_id, "app session started");
                Ok(Output::Json(ui))
            }
            Ok(AppOutcome { ui, .. }) => {
                self.sessions.end(&request_id, &slot);
                Ok(Output::Json(ui))
            }
            Err(err) => {
                self.sessions.end(&request_id, &slot);
                Err(err)
            }
        }
    }

    /// One user action in a session, in its turn: the app gets the kept
    /// state; the new state is kept, or the session ends.
    pub(crate) async fn act(
        &self,
        id: RequestId,
        action: Value,
        turns: &AppTurns<'_>,
    ) -> CallResult {
        let admitted = Instant::now();
        let unknown = || CallError::UnknownSession(id.to_string());
        let Some((app, slot)) = self.sessions.get(&id) else {
            return Err(unknown());
        };
        let Some(entry) = self.get(&app) else {
            return Err(CallError::UnknownApp(app));
        };
        let limit = entry.timeout.unwrap_or(turns.call_timeout);
        let deadline = admitted + limit;
        // The start and earlier actions first, in order.
        let Ok(mut turn) = timeout_at(deadline, slot.turn()).await else {
            return Err(CallError::TimedOut(limit));
        };
        if slot.is_ended() {
            return Err(unknown());
        }
        let Some(current) = turn.clone() else {
            return Err(unknown());
        };
        let Some(permit) = running_slot(turns.running, deadline).await else {
            return Err(CallError::TimedOut(limit));
        };
        let outcome = run_turn(entry.app.action(action, current), deadline, limit, permit).await?;
        match outcome.state {
            Some(next) if !slot.is_ended() => *turn = Some(next),
            // Ended while it ran: nothing to keep.
            Some(_) => {}
            None => {
                self.sessions.end(&id, &slot);
                tracing::debug!(%app, session = %id, "app session finished");
            }
        }
        Ok(Output::Json(outcome.ui))
    }
}

/// Runs an app's start or action like an async tool (time limit, panic
/// caught).
async fn run_turn(
    future: AppFuture,
    deadline: Instant,
    limit: Duration,
    permit: OwnedSemaphorePermit,
) -> Result<AppOutcome, CallError> {
    use futures_util::FutureExt;
    let _permit = permit;
    match timeout_at(
        deadline,
        std::panic::AssertUnwindSafe(future).catch_unwind(),
    )
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => Err(CallError::Panicked(crate::error::panic_message(payload))),
        Err(_) => Err(CallError::TimedOut(limit)),
    }
}

/// An app ready to start sessions.
pub(crate) struct AppEntry {
    pub(crate) app: Arc<dyn ErasedApp>,
    pub(crate) required: Vec<String>,
    pub(crate) needs_token: bool,
    pub(crate) timeout: Option<Duration>,
}

impl AppEntry {
    /// Validates a start request like a tool call (the documented texts),
    /// then starts the session.
    pub(crate) fn start(
        &self,
        params: Value,
        token: Option<AuthToken>,
    ) -> Result<AppFuture, CallError> {
        let args = CallArgs::from_request(params, token)?;
        args.validate(&self.required, self.needs_token)?;
        let (params, token) = args.into_parts();
        Ok(self.app.start(Value::Object(params), token))
    }
}

/// One session's kept state, and whether the session ended. Its lock is
/// held by whatever runs in the session (its start, then one action at a
/// time), so actions queue in order behind it.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    ended: AtomicBool,
    state: Arc<tokio::sync::Mutex<Option<Value>>>,
}

impl Slot {
    /// Whether the session was ended (terminated, finished, dropped to make
    /// room, expired, or its start failed).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Waits for the session's turn: its start and earlier actions first.
    pub(crate) async fn turn(self: &Arc<Self>) -> OwnedMutexGuard<Option<Value>> {
        Arc::clone(&self.state).lock_owned().await
    }
}

struct AppSession {
    app: String,
    slot: Arc<Slot>,
    last_used: Instant,
}

/// The sessions of a toolkit, by session id (the id of the request that
/// started each: a string and a number are different ids).
pub(crate) struct AppSessions {
    limits: SessionLimits,
    map: Mutex<HashMap<RequestId, AppSession>>,
}

impl fmt::Debug for AppSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSessions")
            .field("limits", &self.limits)
            .field("open", &self.len())
            .finish()
    }
}

impl AppSessions {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Self {
            limits,
            map: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, AppSession>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// AppSessions kept now (those starting included).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Opens a session whose start is about to run: drops the expired
    /// sessions, then the least recently used one if the toolkit is at
    /// its limit. The start holds the returned turn until it is done, so
    /// an action or a terminate that comes meanwhile sees it.
    pub(crate) fn begin(
        &self,
        id: RequestId,
        app: &str,
    ) -> (Arc<Slot>, OwnedMutexGuard<Option<Value>>) {
        let slot = Arc::new(Slot::default());
        let turn = Arc::clone(&slot.state)
            .try_lock_owned()
            .expect("a new slot is free");
        let mut map = self.lock();
        let ttl = self.limits.idle_ttl;
        map.retain(|_, s| {
            let keep = s.last_used.elapsed() < ttl;
            if !keep {
                s.slot.end();
            }
            keep
        });
        while map.len() >= self.limits.max_sessions.max(1) {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            tracing::debug!(session = %oldest, "app session dropped: too many open");
            if let Some(dropped) = map.remove(&oldest) {
                dropped.slot.end();
            }
        }
        let previous = map.insert(
            id,
            AppSession {
                app: app.to_owned(),
                slot: Arc::clone(&slot),
                last_used: Instant::now(),
            },
        );
        if let Some(previous) = previous {
            previous.slot.end();
        }
        (slot, turn)
    }

    /// The app and slot of a live session (and marks it used).
    pub(crate) fn get(&self, id: &RequestId) -> Option<(String, Arc<Slot>)> {
        let mut map = self.lock();
        let expired = map
            .get(id)
            .is_some_and(|s| s.last_used.elapsed() >= self.limits.idle_ttl);
        if expired {
            tracing::debug!(session = %id, "app session expired");
            if let Some(session) = map.remove(id) {
                session.slot.end();
            }
            return None;
        }
        let session = map.get_mut(id)?;
        session.last_used = Instant::now();
        Some((session.app.clone(), Arc::clone(&session.slot)))
    }

    /// Ends a session; `false` if there was none.
    pub(crate) fn close(&self, id: &RequestId) -> bool {
        match self.lock().remove(id) {
            Some(session) => {
                session.slot.end();
                true
            }
            None => false,
        }
    }

    /// Ends the session `slot` belongs to, if it is still the one under
    /// `id` (a session started again under the same id is left alone).
    pub(crate) fn end(&self, id: &RequestId, slot: &Arc<Slot>) {
        slot.end();
        let mut map = self.lock();
        if map.get(id).is_some_and(|s| Arc::ptr_eq(&s.slot, slot)) {
            map.remove(id);
        }
    }
}

/// What the toolkit answers to a session that was ended.
pub(crate) fn terminated() -> Value {
    json!({ "terminated": true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(max: usize, ttl: Duration) -> AppSessions {
        AppSessions::new(SessionLimits {
            max_sessions: max,
            idle_ttl: ttl,
        })
    }

    fn open(store: &AppSessions, id: &str, state: Value) -> Arc<Slot> {
        let (slot, mut turn) = store.begin(id.into(), "app");
        *turn = Some(state);
        slot
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_their_idle_time() {
        let store = sessions(10, Duration::from_secs(60));
        let slot = open(&store, "a", json!(1));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(store.get(&"a".into()).is_some(), "used at 59 s: kept");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(
            store.get(&"a".into()).is_some(),
            "59 s after its last use: kept"
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(store.get(&"a".into()).is_none(), "60 s idle: gone");
        assert!(slot.is_ended(), "and ended for whoever holds it");
        assert_eq!(store.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_session_makes_room() {
        let store = sessions(2, Duration::from_secs(3600));
        let a = open(&store, "a", json!(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        let b = open(&store, "b", json!(2));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(
            store.get(&"a".into()).is_some(),
            "a is now more recent than b"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        open(&store, "c", json!(3));
        assert_eq!(store.len(), 2);
        assert!(
            store.get(&"b".into()).is_none(),
            "b, the least recently used, went"
        );
        assert!(b.is_ended(), "an action waiting on b sees it ended");
        assert!(store.get(&"a".into()).is_some() && store.get(&"c".into()).is_some());
        assert!(store.close(&"a".into()));
        assert!(a.is_ended());
        assert!(!store.close(&"a".into()), "closed once");
    }

    #[tokio::test]
    async fn a_session_ended_during_its_start_is_seen_ended() {
        let store = sessions(10, Duration::from_secs(60));
        let id = RequestId::from("s");
        let (slot, turn) = store.begin(id.clone(), "app");
        assert!(store.close(&id), "a terminate finds the starting session");
        drop(turn);
        assert!(slot.is_ended(), "the start must not keep it");
        assert!(store.get(&id).is_none());
    }

    #[test]
    fn a_number_id_and_a_string_id_are_two_sessions() {
        let store = sessions(10, Duration::from_secs(60));
        let number: RequestId = serde_json::from_str("7").unwrap();
        let (_slot, _turn) = store.begin(number.clone(), "app");
        assert!(store.get(&RequestId::from("7")).is_none());
        assert!(store.get(&number).is_some());
    }

    #[derive(serde::Deserialize, JsonSchema)]
    struct P {
        /// The title.
        title: String,
        #[allow(dead_code)]
        pages: Option<u32>,
    }

    #[test]
    fn app_params_come_from_the_params_struct() {
        let params = params_of::<P>();
        let names: Vec<(&str, bool)> = params
            .iter()
            .map(|p| (p.name.as_str(), p.kind.is_required()))
            .collect();
        assert_eq!(names, [("pages", false), ("title", true)]);
        let title = params.iter().find(|p| p.name == "title").unwrap();
        assert_eq!(title.description.as_deref(), Some("The title."));
        let _ = P {
            title: String::new(),
            pages: None,
        }
        .title;
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize, JsonSchema)]
    struct Outline {
        heading: String,
        sections: Vec<Outline>,
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize, JsonSchema)]
    struct WithOutline {
        outline: Outline,
    }

    /// A params struct whose property refers to a definition (a
    /// recursive type stays a `$ref`): the definition is announced too.
    #[test]
    fn the_definitions_of_app_params_are_announced_with_them() {
        let schema = crate::tool::parameters_schema(&params_of::<WithOutline>());
        let text = schema.to_string();
        assert!(text.contains("\"$ref\":\"#/$defs/Outline\""), "{text}");
        assert!(
            schema["$defs"]["Outline"]["properties"]["sections"].is_object(),
            "{text}"
        );
        assert!(
            schema["properties"]["outline"].get("$defs").is_none(),
            "{text}"
        );
    }
}
