//! atp-sdk (work in progress).
#![forbid(unsafe_code)]

pub mod protocol;
mod secret;

pub use secret::{ApiKey, AuthToken};
