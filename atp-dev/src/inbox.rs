//! The HTTP inbox (protocol section 4): a toolkit that can't hold a
//! WebSocket polls for requests (written here as inbox items) and posts
//! the answers (read here).

use atp_sdk::protocol::InboxResponse;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{ApiError, AppState, JsonBody};

/// `GET /api/v1/toolkit/{api_key}/inbox`: one waiting request, or `{}`.
/// A tool request is `{"request_id", "tool_name", "params", "auth_token"}`
/// (section 4); app session messages carry their `message_type` besides
/// (`atp_app_request`, `atp_app_action`, `atp_app_terminate`).
pub(crate) async fn poll(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.hub.accepts(&key) {
        return Err(ApiError::unauthorized());
    }
    let item = state.hub.poll_inbox(&key);
    Ok(Json(item.map_or_else(|| json!({}), |m| m.to_inbox_item())))
}

/// `POST /api/v1/toolkit/{api_key}/inbox/respond`: the answer to a request.
pub(crate) async fn respond(
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody<InboxResponse>,
) -> Result<Json<Value>, ApiError> {
    if !state.hub.accepts(&key) {
        return Err(ApiError::unauthorized());
    }
    let message = format!("no call is waiting for request_id {}", body.request_id);
    if state
        .hub
        .answered(None, &key, body.request_id, body.response)
    {
        Ok(Json(json!({ "status": "ok" })))
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, message))
    }
}
