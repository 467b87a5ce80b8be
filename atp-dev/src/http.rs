//! The router: every route of the server and its handler, in one table.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;

use crate::api::{ApiError, AppState};
use crate::{announce, call_api, guard, inbox, llm_api, playground, toolkit_ws};

/// Every route of the server, behind the guard (see `guard.rs`).
pub(crate) fn router(state: AppState, max_body_bytes: usize) -> Router {
    let guarded = axum::middleware::from_fn_with_state(state.guard.clone(), guard::guard);
    Router::new()
        .route("/api/v1/toolkit/verify_hash", post(announce::verify_hash))
        .route(
            "/api/v1/toolkit/verify_tool_hash",
            post(announce::verify_tool_hash),
        )
        .route("/api/v1/register_tool", post(announce::register_tool))
        .route(
            "/ws/v1/atp/toolkit-client/{api_key}/",
            get(toolkit_ws::upgrade),
        )
        .route(
            "/ws/v1/atp/toolkit-client/{api_key}",
            get(toolkit_ws::upgrade),
        )
        .route("/ws/v1/atp/llm-client/{api_key}/", get(llm_api::upgrade))
        .route("/ws/v1/atp/llm-client/{api_key}", get(llm_api::upgrade))
        .route("/api/v1/atp/llm-client/process/", post(llm_api::process))
        .route("/api/v1/atp/llm-client/process", post(llm_api::process))
        .route("/api/dev/toolkits/{name}/context", get(call_api::context))
        .route("/api/v1/toolkit/{api_key}/inbox", get(inbox::poll))
        .route(
            "/api/v1/toolkit/{api_key}/inbox/respond",
            post(inbox::respond),
        )
        .route("/", get(playground::page))
        .route("/api/dev/events", get(playground::events))
        .route("/api/dev/events/ws", get(playground::events_ws))
        .route("/api/dev/calls", get(playground::calls))
        .route("/api/dev/tools", get(call_api::tools))
        .route(
            "/api/dev/ping",
            get(|| async { axum::Json(json!({ "pong": true })) }),
        )
        .route("/api/dev/tools/{name}/call", post(call_api::call))
        .route("/api/dev/apps/{name}/start", post(call_api::app_start))
        .route(
            "/api/dev/apps/sessions/{id}/action",
            post(call_api::app_action),
        )
        .route(
            "/api/dev/apps/sessions/{id}",
            axum::routing::delete(call_api::app_end),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(guarded)
        .with_state(state)
}
