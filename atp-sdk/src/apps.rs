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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::dynamic::DynamicTool;
use crate::params::CallArgs;
use crate::registry::{ParamSpec, SchemaSource};
use crate::secret::AuthToken;
use crate::tool::{CallError, ParamKind};

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
    /// What is announced: a tool of the app's name, parameters and auth.
    pub(crate) spec: DynamicTool,
    pub(crate) app: Arc<dyn ErasedApp>,
}

impl fmt::Debug for AppDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppDef")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl AppDef {
    /// The app `app`, announced as `name`.
    pub fn new<A: App>(name: impl Into<String>, app: A) -> Self {
        Self {
            spec: DynamicTool::app_announcement(name.into(), params_of::<A::Params>()),
            app: Arc::new(Typed(Arc::new(app))),
        }
    }

    /// What the app does, for the agent.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.spec = self.spec.description(description);
        self
    }

    /// Sessions need a token from `provider` (as
    /// [`DynamicTool::auth`]); starting one without a token is answered
    /// `Missing auth_token for authenticated tool`.
    pub fn auth(
        mut self,
        provider: impl Into<String>,
        auth_type: impl Into<String>,
        auth_with: Option<&str>,
    ) -> Self {
        self.spec = self.spec.auth(provider, auth_type, auth_with);
        self
    }

    /// The time limit of each start and action, instead of the client's
    /// [`call_timeout`](crate::ToolKitClientBuilder::call_timeout).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.spec = self.spec.timeout(limit);
        self
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        self.spec.name()
    }
}

/// The parameters of an app: the properties of `P`'s JSON Schema.
fn params_of<P: JsonSchema>() -> Vec<ParamSpec> {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<P>()
        .to_value();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"))
                .and_then(|d| d.as_str().map(str::to_owned));
            ParamSpec {
                name: name.clone(),
                kind: if required.contains(&name.as_str()) {
                    ParamKind::Required
                } else {
                    ParamKind::Optional
                },
                description,
                schema: SchemaSource::Json(property),
            }
        })
        .collect()
}

/// An app ready to start sessions.
pub(crate) struct AppEntry {
    pub(crate) app: Arc<dyn ErasedApp>,
    pub(crate) required: Vec<String>,
    pub(crate) needs_token: bool,
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for AppEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppEntry")
            .field("required", &self.required)
            .field("needs_token", &self.needs_token)
            .finish_non_exhaustive()
    }
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

/// How many sessions a toolkit keeps, and for how long after their last
/// use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub(crate) max_sessions: usize,
    pub(crate) idle_ttl: Duration,
}

/// One session's kept state. `None` once the session ended while an
/// action waited for it.
type Slot = Arc<tokio::sync::Mutex<Option<Value>>>;

struct Session {
    app: String,
    state: Slot,
    last_used: Instant,
}

/// The sessions of a toolkit, by session id.
pub(crate) struct Sessions {
    limits: SessionLimits,
    map: Mutex<HashMap<String, Session>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("limits", &self.limits)
            .field("open", &self.len())
            .finish()
    }
}

impl Sessions {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Self {
            limits,
            map: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions kept now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Keeps a new session: drops the expired ones, then the least
    /// recently used one if the toolkit is at its limit.
    pub(crate) fn open(&self, id: String, app: &str, state: Value) {
        let mut map = self.lock();
        let ttl = self.limits.idle_ttl;
        map.retain(|_, s| s.last_used.elapsed() < ttl);
        while map.len() >= self.limits.max_sessions.max(1) {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            tracing::debug!(session = %oldest, "app session dropped: too many open");
            map.remove(&oldest);
        }
        map.insert(
            id,
            Session {
                app: app.to_owned(),
                state: Arc::new(tokio::sync::Mutex::new(Some(state))),
                last_used: Instant::now(),
            },
        );
    }

    /// The app and state of a live session (and marks it used).
    pub(crate) fn get(&self, id: &str) -> Option<(String, Slot)> {
        let mut map = self.lock();
        let expired = map
            .get(id)
            .is_some_and(|s| s.last_used.elapsed() >= self.limits.idle_ttl);
        if expired {
            tracing::debug!(session = %id, "app session expired");
            map.remove(id);
            return None;
        }
        let session = map.get_mut(id)?;
        session.last_used = Instant::now();
        Some((session.app.clone(), session.state.clone()))
    }

    /// Ends a session; `false` if there was none.
    pub(crate) fn close(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }
}

/// What the toolkit answers to a session that was ended.
pub(crate) fn terminated() -> Value {
    json!({ "terminated": true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(max: usize, ttl: Duration) -> Sessions {
        Sessions::new(SessionLimits {
            max_sessions: max,
            idle_ttl: ttl,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_their_idle_time() {
        let store = sessions(10, Duration::from_secs(60));
        store.open("a".into(), "app", json!(1));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(store.get("a").is_some(), "used at 59 s: kept");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(store.get("a").is_some(), "59 s after its last use: kept");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(store.get("a").is_none(), "60 s idle: gone");
        assert_eq!(store.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_session_makes_room() {
        let store = sessions(2, Duration::from_secs(3600));
        store.open("a".into(), "app", json!(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        store.open("b".into(), "app", json!(2));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(store.get("a").is_some(), "a is now more recent than b");
        tokio::time::advance(Duration::from_millis(1)).await;
        store.open("c".into(), "app", json!(3));
        assert_eq!(store.len(), 2);
        assert!(store.get("b").is_none(), "b, the least recently used, went");
        assert!(store.get("a").is_some() && store.get("c").is_some());
        assert!(store.close("a"));
        assert!(!store.close("a"), "closed once");
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
}
