//! `verify_hash`, `verify_tool_hash` and `register_tool` (protocol section 1).

use atp_sdk::protocol::{
    RegisterToolRequest, RegisterToolResponse, UpToDate, VerifyHashRequest, VerifyToolHashRequest,
};
use axum::Json;
use axum::extract::State;

use crate::api::{ApiError, AppState, JsonBody};

pub(crate) async fn verify_hash(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<VerifyHashRequest>,
) -> Result<Json<UpToDate>, ApiError> {
    if !state.hub.accepts(body.api_key.expose()) {
        return Err(ApiError::unauthorized());
    }
    let up_to_date = state.hub.verify_hash(body);
    Ok(Json(UpToDate { up_to_date }))
}

pub(crate) async fn verify_tool_hash(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<VerifyToolHashRequest>,
) -> Result<Json<UpToDate>, ApiError> {
    if !state.hub.accepts(body.api_key.expose()) {
        return Err(ApiError::unauthorized());
    }
    let up_to_date = state.hub.verify_tool_hash(body);
    Ok(Json(UpToDate { up_to_date }))
}

pub(crate) async fn register_tool(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterToolRequest>,
) -> Result<Json<RegisterToolResponse>, ApiError> {
    if !state.hub.accepts(body.api_key.expose()) {
        return Err(ApiError::unauthorized());
    }
    let exchange_token = state.hub.register_tool(body);
    Ok(Json(RegisterToolResponse { exchange_token }))
}
