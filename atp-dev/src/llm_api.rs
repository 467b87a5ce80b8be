//! The caller side (protocol section 6): the LLM-client API an agent uses
//! to learn a toolkit's tools and to run the calls its LLM picks — over a
//! WebSocket (`/ws/v1/atp/llm-client/{api_key}/`: `auth`, then
//! `get_toolkit_context` and `task_request`, replies matched by
//! `request_id`, many in flight) or HTTP
//! (`POST /api/v1/atp/llm-client/process/`, `Authorization: ApiKey K`).
//!
//! `toolkit_id` is a connected toolkit's `app_name`. A task runs through the
//! same routing, time limits and call log as every other call. What an LLM
//! must see — an unknown toolkit or tool, a toolkit not connected, a time
//! limit, a tool's own error — comes back inside `result.tool.result` as
//! `{"error": "..."}`, which the unmodified reference client passes on.

use std::time::Duration;

use atp_sdk::llm::{Provider, ToolSpec};
use atp_sdk::protocol::{LlmReply, LlmRequest, TaskPayload};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_websockets::{CloseCode, Message};

use crate::api::{ApiError, AppState, JsonBody};
use crate::credentials::{authorization, constant_time_eq};
use crate::hub::{CallError, CallOptions, Hub, ToolInfo};
use crate::ws_upgrade::{WebSocket, WsUpgrade};

/// How long a WebSocket client has to send `auth` (the reference client
/// sends it at once).
const AUTH_WAIT: Duration = Duration::from_secs(10);

/// Requests of one WebSocket client answered at once; past that its
/// socket is not read until one is answered and its reply written, so a
/// client that sends and never reads holds at most this many.
pub(crate) const MAX_IN_FLIGHT_PER_CLIENT: usize = 64;

/// Why there is no context for a toolkit; its text is what callers see.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    /// The provider named is none of those known.
    #[error("{0}")]
    UnknownProvider(String),
    /// No such toolkit, or not connected.
    #[error(transparent)]
    Toolkit(#[from] CallError),
}

impl ContextError {
    /// The HTTP status of the dev API's answer.
    pub(crate) fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::UnknownProvider(_) => StatusCode::BAD_REQUEST,
            Self::Toolkit(CallError::UnknownToolkit { .. }) => StatusCode::NOT_FOUND,
            Self::Toolkit(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What an LLM is shown of `toolkit`, shaped for `provider`.
pub(crate) fn context(
    hub: &Hub,
    toolkit: &str,
    provider: Option<&str>,
    user_prompt: &str,
) -> Result<Value, ContextError> {
    Ok(rendered_context(hub, toolkit, provider, user_prompt)?.0)
}

/// The context, and for each tool that is not strict in a provider with a
/// strict form, why (what `atp-dev context` prints beside it).
pub(crate) fn rendered_context(
    hub: &Hub,
    toolkit: &str,
    provider: Option<&str>,
    user_prompt: &str,
) -> Result<(Value, Vec<(String, String)>), ContextError> {
    let provider: Provider = provider
        .unwrap_or("openai")
        .parse()
        .map_err(ContextError::UnknownProvider)?;
    let tools = hub.toolkit_tools(toolkit)?;
    let mut specs = Vec::new();
    let mut not_strict = Vec::new();
    for tool in tools.iter().filter(|t| !is_app(t)) {
        let (spec, reason) = spec(tool, provider);
        if let Some(reason) = reason {
            not_strict.push((spec.name.clone(), reason));
        }
        specs.push(spec);
    }
    let names: Vec<&str> = specs.iter().map(|t| t.name.as_str()).collect();
    let context = json!({
        "toolkit_id": toolkit,
        "toolkit_name": toolkit,
        "caption": format!("The tools of the toolkit '{toolkit}': {}.", names.join(", ")),
        "provider": provider,
        "tools": specs.iter().map(|t| t.shaped(provider)).collect::<Vec<_>>(),
        "user_prompt": user_prompt,
    });
    Ok((context, not_strict))
}

/// An app is announced like a tool but started as a session: not a tool
/// for an LLM.
fn is_app(tool: &ToolInfo) -> bool {
    tool.metadata.extra.get("app") == Some(&Value::Bool(true))
}

/// A tool as an LLM is shown it, rendered for `provider`: from its JSON
/// Schema when the toolkit sent one (the SDK does; its `required` filled in
/// from `required_params` when the schema has none), else from one made of
/// its parameter names (the reference client sends only those); and why
/// it is not strict, if so.
fn spec(tool: &ToolInfo, provider: Provider) -> (ToolSpec, Option<String>) {
    let parameters = match tool.metadata.extra.get("parameters") {
        Some(Value::Object(schema)) => {
            let mut schema = schema.clone();
            if !schema.contains_key("required") && !tool.metadata.required_params.is_empty() {
                schema.insert("required".to_owned(), json!(tool.metadata.required_params));
            }
            Value::Object(schema)
        }
        _ => {
            let properties: serde_json::Map<String, Value> = tool
                .metadata
                .params
                .iter()
                .map(|p| (p.clone(), json!({})))
                .collect();
            json!({
                "type": "object",
                "properties": properties,
                "required": tool.metadata.required_params,
            })
        }
    };
    ToolSpec::rendered(
        tool.name.clone(),
        tool.metadata.description.clone(),
        &parameters,
        provider,
    )
}

/// Runs a task: `{"tool": {"name", "result"}}`, the result an
/// `{"error": ...}` when the call could not be made.
pub(crate) async fn task(
    hub: &Hub,
    toolkit: &str,
    token: Option<String>,
    payload: TaskPayload,
) -> Value {
    let options = CallOptions {
        auth_token: token
            .or_else(|| payload.auth_token.map(atp_sdk::AuthToken::into_string))
            .filter(|t| !t.is_empty()),
        timeout: None,
        app_name: Some(toolkit.to_owned()),
    };
    let known = hub.toolkit_tools(toolkit);
    let result = match known {
        Err(err) => json!({ "error": describe(&err) }),
        Ok(tools)
            if !tools
                .iter()
                .any(|t| t.name == payload.function && !is_app(t)) =>
        {
            json!({ "error": format!("Unknown tool: {} (toolkit '{toolkit}')", payload.function) })
        }
        Ok(_) => match hub
            .call(&payload.function, payload.parameters, options)
            .await
        {
            Ok(outcome) => outcome.result,
            Err(err) => json!({ "error": describe(&err) }),
        },
    };
    json!({ "tool": { "name": payload.function, "result": result } })
}

/// A call error as the LLM reads it.
fn describe(err: &CallError) -> String {
    match err {
        CallError::UnknownToolkit { name, .. } => format!("Unknown toolkit: {name}"),
        CallError::NotConnected(name) => format!("The toolkit '{name}' is not connected"),
        CallError::Timeout { timeout, .. } => format!("Tool timed out after {timeout:?}"),
        other => other.to_string(),
    }
}

/// Whether the caller's key is accepted: with a server key, it must be
/// that one.
fn key_ok(hub: &Hub, given: Option<&str>) -> bool {
    match hub.api_key() {
        None => true,
        Some(key) => given.is_some_and(|given| constant_time_eq(given, key)),
    }
}

// -- HTTP ---------------------------------------------------------------------

/// `POST /api/v1/atp/llm-client/process/`.
pub(crate) async fn process(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LlmRequest>,
) -> Result<Json<Value>, ApiError> {
    let hub = &state.hub;
    if !key_ok(hub, authorization(&headers, "apikey")) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid API key: send `Authorization: ApiKey <key>`",
        ));
    }
    match request {
        LlmRequest::Auth { api_key } => Ok(Json(
            json!({ "success": key_ok(hub, Some(api_key.expose())) }),
        )),
        LlmRequest::GetToolkitContext {
            toolkit_id,
            provider,
            user_prompt,
            ..
        } => match context(
            hub,
            &toolkit_id,
            provider.as_deref(),
            user_prompt.as_deref().unwrap_or_default(),
        ) {
            Ok(payload) => Ok(Json(json!({ "payload": payload }))),
            Err(err) => Ok(Json(
                json!({ "status": "error", "message": err.to_string() }),
            )),
        },
        LlmRequest::TaskRequest {
            toolkit_id,
            auth_token,
            payload,
            ..
        } => {
            let token = auth_token.map(atp_sdk::AuthToken::into_string);
            Ok(Json(
                json!({ "result": task(hub, &toolkit_id, token, payload).await }),
            ))
        }
    }
}

// -- WebSocket ------------------------------------------------------------------

/// `GET /ws/v1/atp/llm-client/{api_key}/`.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ws: WsUpgrade,
) -> Response {
    let max = state.max_frame_bytes;
    ws.on_upgrade(max, move |socket| serve(state, key, socket))
}

/// Serves one LLM client's WebSocket: its `auth` first, then its requests
/// until it leaves or atp-dev shuts down.
async fn serve(state: AppState, path_key: String, mut socket: WebSocket) {
    let hub = state.hub.clone();
    if !authenticate(&hub, &path_key, &mut socket).await {
        return;
    }
    tracing::info!("LLM client connected");
    answer_requests(&hub, &mut socket).await;
    tracing::info!("LLM client disconnected");
}

/// Reads and answers the client's first message, which must be `auth`
/// with `path_key`, the key in the path; false, the socket closed, when it
/// is not accepted (or the answer can't be sent).
async fn authenticate(hub: &Hub, path_key: &str, socket: &mut WebSocket) -> bool {
    // First: `{"type": "auth", "api_key": K}`, K the key in the path.
    let first = tokio::time::timeout(AUTH_WAIT, socket.next()).await;
    let given = match &first {
        Ok(Some(Ok(message))) => message
            .as_text()
            .and_then(|text| serde_json::from_str::<LlmRequest>(text).ok()),
        _ => None,
    };
    let accepted = match &given {
        Some(LlmRequest::Auth { api_key }) => {
            constant_time_eq(api_key.expose(), path_key) && key_ok(hub, Some(path_key))
        }
        _ => false,
    };
    let answer = auth_answer(accepted, given.as_ref());
    let text = serde_json::to_string(&answer).expect("a reply always serializes");
    if socket.send(Message::text(text)).await.is_err() || !accepted {
        let _ = socket
            .send(Message::close(
                Some(CloseCode::POLICY_VIOLATION),
                "invalid API key",
            ))
            .await;
        return false;
    }
    true
}

/// The answer to the first message `given`: success if `accepted`, else
/// why not.
fn auth_answer(accepted: bool, given: Option<&LlmRequest>) -> LlmReply {
    if accepted {
        LlmReply::AuthResponse {
            success: true,
            error: None,
        }
    } else {
        LlmReply::AuthResponse {
            success: false,
            error: Some(if matches!(given, Some(LlmRequest::Auth { .. })) {
                "invalid API key".to_owned()
            } else {
                "the first message must be {\"type\": \"auth\", \"api_key\": ...}".to_owned()
            }),
        }
    }
}

/// Answers an authenticated client's requests, many at once, until it
/// leaves or the hub closes.
async fn answer_requests(hub: &Arc<Hub>, socket: &mut WebSocket) {
    // Requests run at once, each in a task holding one of the client's
    // slots until its reply is written; replies come back here.
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_CLIENT));
    let (replies, mut outbox) =
        mpsc::channel::<(String, OwnedSemaphorePermit)>(MAX_IN_FLIGHT_PER_CLIENT);
    let mut held: Option<OwnedSemaphorePermit> = None;
    // The hub closing (a shutdown) ends the connection, as a toolkit's.
    let mut changes = hub.subscribe();
    loop {
        if hub.is_closed() {
            let _ = socket
                .send(Message::close(
                    Some(CloseCode::GOING_AWAY),
                    "atp-dev is shutting down",
                ))
                .await;
            break;
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            reply = outbox.recv() => {
                let Some((reply, _slot)) = reply else { break };
                if socket.send(Message::text(reply)).await.is_err() {
                    break;
                }
            }
            // Read only with a slot in hand: a client that does not read
            // its replies stops being read.
            slot = slots.clone().acquire_owned(), if held.is_none() => {
                held = Some(slot.expect("the semaphore is never closed"));
            }
            message = socket.next(), if held.is_some() => match message {
                Some(Ok(message)) if message.is_close() => break,
                Some(Ok(message)) => {
                    let Some(text) = message.as_text() else { continue };
                    let slot = held.take().expect("a slot is held");
                    spawn_answer(hub, &replies, text, slot);
                }
                Some(Err(_)) | None => break,
            },
        }
    }
}

/// Answers the message `text` in a task of its own, sending the reply to
/// `replies` with the client's `slot`.
fn spawn_answer(
    hub: &Arc<Hub>,
    replies: &mpsc::Sender<(String, OwnedSemaphorePermit)>,
    text: &str,
    slot: OwnedSemaphorePermit,
) {
    let hub = hub.clone();
    let replies = replies.clone();
    let text = text.to_owned();
    tokio::spawn(async move {
        if let Some(reply) = answer_message(&hub, &text).await {
            let _ = replies.send((reply, slot)).await;
        }
    });
}

/// The reply to one WebSocket message, if it has one.
async fn answer_message(hub: &Hub, text: &str) -> Option<String> {
    let reply = match serde_json::from_str::<LlmRequest>(text) {
        Ok(LlmRequest::Auth { .. }) => LlmReply::AuthResponse {
            success: true,
            error: None,
        },
        Ok(LlmRequest::GetToolkitContext {
            request_id,
            toolkit_id,
            provider,
            user_prompt,
            ..
        }) => match context(
            hub,
            &toolkit_id,
            provider.as_deref(),
            user_prompt.as_deref().unwrap_or_default(),
        ) {
            Ok(payload) => LlmReply::ToolkitContext {
                request_id,
                payload: Some(payload),
                status: None,
                message: None,
            },
            Err(err) => LlmReply::ToolkitContext {
                request_id,
                payload: None,
                status: Some("error".to_owned()),
                message: Some(err.to_string()),
            },
        },
        Ok(LlmRequest::TaskRequest {
            request_id,
            toolkit_id,
            auth_token,
            payload,
            ..
        }) => {
            let token = auth_token.map(atp_sdk::AuthToken::into_string);
            LlmReply::TaskResponse {
                request_id,
                result: Some(task(hub, &toolkit_id, token, payload).await),
                status: None,
                message: None,
            }
        }
        Err(err) => {
            // Answer under its id if it has one — a string or a number, as
            // it was sent — so the caller is not left waiting.
            let request_id = serde_json::from_str::<Value>(text)
                .ok()?
                .get("request_id")
                .filter(|id| id.is_string() || id.is_number())?
                .clone();
            let kind = match serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                .as_deref()
            {
                Some("get_toolkit_context") => "toolkit_context",
                _ => "task_response",
            };
            let reply = json!({
                "type": kind,
                "request_id": request_id,
                "status": "error",
                "message": format!("could not read the request: {err}"),
            });
            return Some(reply.to_string());
        }
    };
    Some(serde_json::to_string(&reply).expect("a reply always serializes"))
}
