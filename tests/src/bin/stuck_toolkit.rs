//! Review fault 2: what `atp_sdk::run()` does — a toolkit configured from
//! the environment, served on a current-thread tokio runtime until Ctrl-C
//! or SIGTERM — with a shutdown timeout of 1 s (`ATP_SHUTDOWN_MS` sets
//! another). The end-to-end tests start it as a process, stop it with
//! signals and time its exit.
//!
//! (When the builder gets a `run()` of its own, this becomes
//! `builder_from_env()?.shutdown_timeout(..).run()`.)

use std::time::Duration;

// Links the test tools (`stuck_blocking`, `wait_gate`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    // run()'s default logging: RUST_LOG (default info), to stderr.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    let shutdown_ms = std::env::var("ATP_SHUTDOWN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    let client = atp_sdk::ToolKitClient::builder_from_env()?
        .shutdown_timeout(Duration::from_millis(shutdown_ms))
        .build()?;
    // run()'s runtime: one thread for the connection and async tools,
    // the blocking pool for plain `fn` tools.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(atp_sdk::Error::Runtime)?;
    runtime.block_on(client.serve_until_signal())
}
