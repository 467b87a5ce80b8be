//! JSON in and out: request bodies read as JSON objects ([`JsonBody`]) and
//! errors answered as `{"error": message}` with a status ([`ApiError`]: 400
//! for a malformed body, 413 for an oversized one, 401 for a refused key).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

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

/// A JSON body (the guard has checked it is declared JSON), with JSON
/// errors.
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
