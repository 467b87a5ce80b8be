//! Review fault 6: secrets through the `log` crate. tungstenite logs the
//! handshake request (whose path holds the API key) and every frame (the
//! payload in hex, or the message's text, with the auth token) at TRACE
//! through `log`, not `tracing`: whatever `atp-sdk` does with its own
//! `tracing` events, a program whose logger takes `log` records prints
//! them. Each test runs a toolkit process with a distinctive API key,
//! makes one call with a distinctive token, stops it, and reads all it
//! logged: neither secret, nor its hex encoding, may be there.

use std::process::Stdio;

use atp_tests::*;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const KEY: &str = "sk-live-LOGBRIDGE-CANARY-KEY-41d9";
const TOKEN: &str = "tok-LOGBRIDGE-CANARY-TOKEN-9e2b";

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Runs `bin` (with `RUST_LOG=trace`) against a fresh atp-dev, makes one
/// `whoami` call with the token, stops it with SIGTERM and returns
/// everything it wrote to stderr.
async fn log_of_a_run(bin: &str, app: &str) -> String {
    let server = start_server().await;
    let mut child = Command::new(bin)
        .env("ATP_API_KEY", KEY)
        .env("ATP_APP_NAME", app)
        .env("ATP_BASE_URL", server.base_url())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the toolkit starts");
    // Read all of it as it comes (TRACE is a lot: the pipe must not fill).
    let mut stderr = child.stderr.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut log = Vec::new();
        let _ = stderr.read_to_end(&mut log).await;
        String::from_utf8_lossy(&log).into_owned()
    });
    server.wait_for_tools(&["whoami"], WAIT).await.unwrap();
    assert_eq!(
        call_with_token(&server, "whoami", json!({}), Some(TOKEN)).await,
        json!(TOKEN),
        "the call went through"
    );
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the toolkit exits")
        .unwrap();
    let log = tokio::time::timeout(WAIT, reader)
        .await
        .expect("its stderr closes")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    server.shutdown().await;
    log
}

/// Fails with the lines that hold a secret (never the secret itself).
fn assert_no_secret(log: &str, setup: &str) {
    assert!(
        log.lines().count() > 5,
        "{setup}: the capture works: {} lines",
        log.lines().count()
    );
    let needles = [
        ("the API key", KEY.to_owned()),
        ("the API key in hex", hex(KEY)),
        ("the auth token", TOKEN.to_owned()),
        ("the auth token in hex", hex(TOKEN)),
    ];
    let mut leaks = Vec::new();
    for (what, needle) in &needles {
        let lines: Vec<String> = log
            .lines()
            .filter(|line| line.contains(needle.as_str()))
            .map(|line| {
                // Say where, without repeating any secret.
                let line = needles.iter().fold(line.to_owned(), |line, (_, n)| {
                    line.replace(n.as_str(), "<SECRET>")
                });
                line.chars().take(160).collect()
            })
            .collect();
        if !lines.is_empty() {
            leaks.push(format!(
                "{what} in {} lines, e.g. {:?}",
                lines.len(),
                &lines[..lines.len().min(2)]
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{setup}: secrets in the log ({} lines): {}",
        log.lines().count(),
        leaks.join("; ")
    );
}

/// Review fault 6 (env_logger): a program that logs through env_logger
/// with `RUST_LOG=trace` must not get the API key or an auth token (nor
/// their hex) in its log.
#[tokio::test]
async fn no_secret_reaches_an_env_logger_log_at_trace() {
    let log = log_of_a_run(env!("CARGO_BIN_EXE_log_env_logger"), "fault6-env-logger").await;
    assert_no_secret(&log, "env_logger, RUST_LOG=trace");
}

/// Review fault 6 (tracing with the log bridge): a program that installs
/// `tracing_subscriber::fmt().with_max_level(TRACE).init()` with the
/// `tracing-log` feature (a default feature: `init()` then also bridges
/// `log` records) must not get the API key or an auth token (nor their
/// hex) in its log.
#[tokio::test]
async fn no_secret_reaches_a_tracing_log_with_the_log_bridge() {
    let log = log_of_a_run(env!("CARGO_BIN_EXE_log_tracing"), "fault6-tracing").await;
    assert_no_secret(&log, "tracing_subscriber fmt at TRACE with tracing-log");
}

/// Review fault 6 (`run()` itself): `atp_sdk::run()` installs its own
/// subscriber with `RUST_LOG`; in a program whose build has
/// tracing-subscriber's `tracing-log` feature (the default features of a
/// direct dependency on it, as in this package), that subscriber bridges
/// `log` records too. With `RUST_LOG=trace`, no secret may reach the log.
#[tokio::test]
async fn no_secret_reaches_runs_own_log_at_trace() {
    let log = log_of_a_run(env!("CARGO_BIN_EXE_env_toolkit"), "fault6-run").await;
    assert_no_secret(&log, "run(), RUST_LOG=trace");
}
