//! Review fault 2: a toolkit started with `builder_from_env()?.run()` — as
//! `atp_sdk::run()` does, configured from the environment, served on a
//! current-thread runtime until Ctrl-C or SIGTERM — with a shutdown timeout
//! of 1 s (`ATP_SHUTDOWN_MS` sets another). The end-to-end tests start it
//! as a process, stop it with signals and time its exit.

use std::time::Duration;

// Links the test tools (`stuck_blocking`, `wait_gate`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    let shutdown_ms = std::env::var("ATP_SHUTDOWN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    atp_sdk::ToolKitClient::builder_from_env()?
        .shutdown_timeout(Duration::from_millis(shutdown_ms))
        .run()
}
