//! Review fault 6: a toolkit in a program that installs the common
//! `tracing` setup — `tracing_subscriber::fmt()...init()` with the
//! `tracing-log` feature (a default feature of tracing-subscriber), which
//! also bridges the `log` crate's records into `tracing` — at TRACE, to
//! stderr, then serves with `atp_sdk::run()` from the environment.
//! No secret may reach its log.

// Links the test tools (`echo`, `whoami`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    atp_sdk::run()
}
