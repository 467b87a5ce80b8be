//! What every route shares: the state ([`AppState`]), and JSON bodies
//! with JSON errors (from `api_error`).

use std::sync::Arc;

pub(crate) use crate::api_error::{ApiError, JsonBody};
use crate::guard::{GuardConfig, StreamSlots};
use crate::hub::Hub;

/// What the routes share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Arc<Hub>,
    pub(crate) max_frame_bytes: usize,
    /// Who may ask what.
    pub(crate) guard: Arc<GuardConfig>,
    /// Event streams and WebSockets open, per client address.
    pub(crate) streams: Arc<StreamSlots>,
}
