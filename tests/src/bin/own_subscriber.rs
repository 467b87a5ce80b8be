//! A toolkit that installs its own `tracing` subscriber before calling
//! `atp_sdk::run()`: run() must keep it (the test looks for this
//! subscriber's format: targets shown, debug level for the SDK).

// Links the test tools (`echo`, `wait_gate`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("atp_sdk=debug"))
        .with_target(true)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    atp_sdk::run()
}
