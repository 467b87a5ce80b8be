//! The call API for people and programs: list the connected tools, call one.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, AppState, JsonBody};
use crate::hub::{CallError, CallOptions, CallOutcome};

/// `GET /api/dev/tools`.
pub(crate) async fn tools(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "tools": state.hub.tools() }))
}

/// Body of `POST /api/dev/tools/{name}/call` and of
/// `POST /api/dev/apps/{name}/start`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallBody {
    /// Sent as the request's `params`, as given (default `{}`).
    #[serde(default = "empty_object")]
    params: Value,
    #[serde(default)]
    /// Redacted in `Debug`, like every token.
    auth_token: Option<atp_sdk::AuthToken>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    app_name: Option<String>,
}

impl CallBody {
    fn into_parts(self) -> (Value, CallOptions) {
        let options = CallOptions {
            auth_token: self.auth_token.map(atp_sdk::AuthToken::into_string),
            timeout: self.timeout_ms.map(Duration::from_millis),
            app_name: self.app_name,
        };
        (self.params, options)
    }
}

fn empty_object() -> Value {
    json!({})
}

/// `POST /api/dev/tools/{name}/call`.
pub(crate) async fn call(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<CallBody>,
) -> Result<Json<Value>, ApiError> {
    let (params, options) = body.into_parts();
    match state.hub.call(&name, params, options).await {
        Ok(outcome) => Ok(Json(json!({
            "request_id": outcome.request_id,
            "result": outcome.result,
            "latency_ms": outcome.latency.as_secs_f64() * 1000.0,
        }))),
        Err(err) => Err(error_response(&err)),
    }
}

/// The HTTP status and JSON error for a call that got no answer.
pub(crate) fn error_response(err: &CallError) -> ApiError {
    let status = match err {
        CallError::UnknownTool(_)
        | CallError::UnknownSession(_)
        | CallError::UnknownToolkit { .. } => StatusCode::NOT_FOUND,
        CallError::NotConnected(_) | CallError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        CallError::SessionBusy(_) => StatusCode::CONFLICT,
        CallError::SessionLost(_) => StatusCode::GONE,
        CallError::ToolkitGone { .. } => StatusCode::BAD_GATEWAY,
    };
    ApiError::new(status, err.to_string())
}

/// `POST /api/dev/apps/{name}/start`: starts a session →
/// `{"session_id", "result", "latency_ms"}`.
pub(crate) async fn app_start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<CallBody>,
) -> Result<Json<Value>, ApiError> {
    let (params, options) = body.into_parts();
    let outcome = state
        .hub
        .app_start(&name, params, options)
        .await
        .map_err(|err| error_response(&err))?;
    Ok(session_reply(&outcome))
}

/// `{"session_id", "result", "latency_ms"}` for a session's answer.
fn session_reply(outcome: &CallOutcome) -> Json<Value> {
    Json(json!({
        "session_id": outcome.request_id,
        "result": outcome.result,
        "latency_ms": outcome.latency.as_secs_f64() * 1000.0,
    }))
}

/// Body of `POST /api/dev/apps/sessions/{id}/action`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppActionBody {
    #[serde(default)]
    action_data: Value,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// `POST /api/dev/apps/sessions/{id}/action` → `{"session_id", "result",
/// "latency_ms"}`.
pub(crate) async fn app_action(
    State(state): State<AppState>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody<AppActionBody>,
) -> Result<Json<Value>, ApiError> {
    let outcome = state
        .hub
        .app_action(
            &session,
            body.action_data,
            body.timeout_ms.map(Duration::from_millis),
        )
        .await
        .map_err(|err| error_response(&err))?;
    Ok(session_reply(&outcome))
}

/// `DELETE /api/dev/apps/sessions/{id}`: ends a session →
/// `{"session_id", "result"}` (`result` is null if the toolkit did not
/// answer within 5 s).
pub(crate) async fn app_end(
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let result = state
        .hub
        .app_end(&session, Duration::from_secs(5))
        .await
        .map_err(|err| error_response(&err))?;
    Ok(Json(json!({ "session_id": session, "result": result })))
}

/// Query of `GET /api/dev/toolkits/{name}/context`.
#[derive(Debug, Deserialize)]
pub(crate) struct ContextQuery {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    user_prompt: Option<String>,
}

/// `GET /api/dev/toolkits/{name}/context?provider=openai`: what an LLM is
/// shown of a toolkit (the same as the LLM-client API's context; `gemini`
/// too), plus `not_strict`: for each tool the provider could take in its
/// strict form but that can't be written in it, why.
pub(crate) async fn context(
    State(state): State<AppState>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ContextQuery>,
) -> Result<Json<Value>, ApiError> {
    crate::llm_api::rendered_context(
        &state.hub,
        &name,
        query.provider.as_deref(),
        query.user_prompt.as_deref().unwrap_or_default(),
    )
    .map(|(mut context, not_strict)| {
        context["not_strict"] = Value::Object(
            not_strict
                .into_iter()
                .map(|(tool, reason)| (tool, Value::String(reason)))
                .collect(),
        );
        Json(context)
    })
    .map_err(|err| ApiError::new(err.status(), err.to_string()))
}
