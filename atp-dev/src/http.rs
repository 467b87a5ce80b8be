//! The router, and what every route shares: JSON bodies with JSON errors
//! (400 for a malformed body, 413 for an oversized one, 401 for a refused
//! key).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::hub::Hub;
use crate::{announce, call_api, inbox, playground, toolkit_ws};

/// What the routes share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Arc<Hub>,
    pub(crate) max_frame_bytes: usize,
}

/// Every route of the server.
pub(crate) fn router(state: AppState, max_body_bytes: usize) -> Router {
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
        .route("/api/v1/toolkit/{api_key}/inbox", get(inbox::poll))
        .route(
            "/api/v1/toolkit/{api_key}/inbox/respond",
            post(inbox::respond),
        )
        .route("/", get(playground::page))
        .route("/api/dev/events", get(playground::events))
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
        .with_state(state)
}

/// An error answered as `{"error": message}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid API key")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

/// A JSON body, whatever its content type, with JSON errors.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "request body too large")
            } else {
                ApiError::new(status, rejection.body_text())
            }
        })?;
        let bad = |err: serde_json::Error| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {err}"))
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(bad)?;
        if !value.is_object() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid JSON body: expected an object",
            ));
        }
        serde_json::from_value(value).map(JsonBody).map_err(bad)
    }
}
