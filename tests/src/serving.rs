//! For tests that watch a toolkit serve: a call's time limit, and what
//! ended its `serve()` task, for failure messages.

use std::time::Duration;

use atp_dev::CallOptions;

/// How a toolkit's `serve()` task ended.
pub type Ended = Result<Result<(), atp_sdk::Error>, tokio::task::JoinError>;

/// Call options with the time limit `timeout`.
pub fn options(timeout: Duration) -> CallOptions {
    CallOptions {
        timeout: Some(timeout),
        ..CallOptions::default()
    }
}

/// What ended a task, for a failure message.
pub fn describe_end(ended: &Ended) -> String {
    match ended {
        Ok(Ok(())) => "returned Ok(())".to_owned(),
        Ok(Err(err)) => format!("returned the error {err}"),
        Err(err) if err.is_panic() => "panicked".to_owned(),
        Err(err) => format!("was cancelled: {err}"),
    }
}

/// Like [`describe_end`], with a panic's message.
pub fn describe_panic(ended: Ended) -> String {
    match ended {
        Err(err) if err.is_panic() => {
            let payload = err.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            format!("panicked: {message:?}")
        }
        other => describe_end(&other),
    }
}
