//! `atp_sdk::run()` in a real process: configuration from the environment,
//! serving, and a clean stop on SIGTERM and Ctrl-C (SIGINT) that lets a
//! call in flight finish.

use std::process::Stdio;

use atp_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn toolkit(server: &atp_dev::DevServer, app: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_API_KEY", format!("key-{app}"))
        .env("ATP_APP_NAME", app)
        .env("ATP_BASE_URL", server.base_url())
        .env("RUST_LOG", "atp_sdk=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the toolkit starts")
}

#[tokio::test]
async fn run_serves_from_the_environment_and_stops_cleanly_on_signals() {
    for signal_name in ["TERM", "INT"] {
        let server = start_server().await;
        let mut child = toolkit(&server, "from-env");
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        server
            .wait_for_tools(&["echo", "wait_gate"], WAIT)
            .await
            .unwrap();
        assert_eq!(
            call(&server, "echo", json!({"text": "env"})).await,
            json!({"echo": "env"})
        );
        let registration = server
            .registrations()
            .into_iter()
            .find(|r| r.function_id == "echo")
            .unwrap();
        assert_eq!(registration.app_name, "from-env");
        assert_eq!(registration.api_key.expose(), "key-from-env");

        // A call in flight, then the signal once the toolkit has started
        // it: the process lets it finish, answers, and exits 0.
        let in_flight = call(&server, "sleep_async", json!({"ms": 300}));
        let stopper = async {
            wait_for_log(&mut log, &["call started", "tool=sleep_async"]).await;
            signal(&child, signal_name);
        };
        let (answer, ()) = tokio::join!(in_flight, stopper);
        assert_eq!(
            answer,
            json!(300),
            "{signal_name}: the call in flight is answered"
        );
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{signal_name}: exit status {status}");
        server.wait_for_connections(0, WAIT).await.unwrap();
    }
}

#[tokio::test]
async fn run_without_a_key_says_which_variable_is_missing_and_the_ways_out() {
    let output = Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env_remove("ATP_API_KEY")
        .env_remove("ATP_TRANSPORT")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the environment variable ATP_API_KEY is not set: run the toolkit under atp-dev \
             for a local server and key (`atp-dev -- cargo run`), give the platform's key, \
             or set ATP_TRANSPORT=mcp to serve MCP clients, which need none"
        ),
        "{stderr}"
    );
}

/// Runs `bin` against `server` with `rust_log` (None: unset), makes one
/// call, stops it with SIGTERM, and returns everything it logged.
async fn log_of_one_call(bin: &str, rust_log: Option<&str>) -> String {
    let server = start_server().await;
    let mut command = Command::new(bin);
    command
        .env("ATP_API_KEY", "key-logging")
        .env("ATP_APP_NAME", "logging")
        .env("ATP_BASE_URL", server.base_url())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().expect("the toolkit starts");
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    server.wait_for_connections(1, WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "log"})).await,
        json!({"echo": "log"})
    );
    signal(&child, "TERM");
    let mut stderr = String::new();
    tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr),
    )
    .await
    .expect("the toolkit exits and closes its stderr")
    .unwrap();
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}: {stderr}");
    server.shutdown().await;
    stderr
}

#[tokio::test]
async fn the_default_log_is_short_and_rust_log_is_respected() {
    // Default: connected, tools announced, stop; calls only at debug.
    let log = log_of_one_call(env!("CARGO_BIN_EXE_env_toolkit"), None).await;
    for needle in ["tools announced", "connected", "toolkit stopped"] {
        assert!(
            log.contains(needle),
            "no {needle:?} in the default log:\n{log}"
        );
    }
    assert!(
        !log.contains("call started") && !log.contains("call answered"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no colours when stderr is not a terminal"
    );
    assert!(log.lines().count() <= 8, "a short log:\n{log}");

    // RUST_LOG=atp_sdk=debug: every call, one line when it starts and one
    // when it is answered.
    let log = log_of_one_call(env!("CARGO_BIN_EXE_env_toolkit"), Some("atp_sdk=debug")).await;
    // (Each line inside the call's span: `call{tool=echo request_id=..}: call started`.)
    let line = |event: &str| {
        log.lines()
            .any(|l| l.contains(event) && l.contains("tool=echo"))
    };
    assert!(line("call started"), "{log}");
    assert!(line("call answered"), "{log}");

    // RUST_LOG=warn: nothing at all on a run without trouble.
    let log = log_of_one_call(env!("CARGO_BIN_EXE_env_toolkit"), Some("warn")).await;
    assert_eq!(log.trim(), "", "{log}");
}

#[tokio::test]
async fn a_rust_log_that_does_not_read_is_reported_and_the_default_used() {
    // A span filter (`EnvFilter` syntax, not `target=level`), then a level
    // that is none.
    for (rust_log, said) in [
        (
            "[call]=debug",
            "left out: [call]=debug; logging at info,rmcp=warn",
        ),
        ("atp_sdk=loud", "logging at info,rmcp=warn"),
    ] {
        let log = log_of_one_call(env!("CARGO_BIN_EXE_env_toolkit"), Some(rust_log)).await;
        let first = log.lines().next().unwrap_or_default();
        assert!(
            first.contains("WARN") && first.contains("RUST_LOG: ") && first.ends_with(said),
            "{rust_log}: the first line says so:\n{log}"
        );
        // Then the default log: info lines, no debug ones.
        assert!(log.contains("tools announced"), "{rust_log}: {log}");
        assert!(!log.contains("call started"), "{rust_log}: {log}");
    }
}

#[tokio::test]
async fn run_keeps_a_subscriber_the_program_installed() {
    let log = log_of_one_call(env!("CARGO_BIN_EXE_own_subscriber"), Some("warn")).await;
    // The program's own format (targets shown) and filter (debug, whatever
    // RUST_LOG says), not run()'s default.
    assert!(log.contains("atp_sdk::ws: connected"), "{log}");
    assert!(log.contains("call answered"), "{log}");
}

#[tokio::test]
async fn atp_transport_http_makes_run_poll_the_inbox() {
    let server = start_server().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_API_KEY", "key-transport")
        .env("ATP_APP_NAME", "transport")
        .env("ATP_BASE_URL", server.base_url())
        .env("ATP_TRANSPORT", "http")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the toolkit starts");
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    wait_for_log(&mut log, &["polling the inbox"]).await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert!(
        server
            .tools()
            .iter()
            .filter(|t| t.app_name == "transport")
            .all(|t| t.transport == "inbox")
    );
    assert_eq!(
        call(&server, "echo", json!({"text": "polled"})).await,
        json!({"echo": "polled"})
    );
    signal(&child, "TERM");
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_atp_transport_is_an_error_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_API_KEY", "key")
        .env("ATP_TRANSPORT", "pigeon")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ATP_TRANSPORT") && stderr.contains("pigeon"),
        "{stderr}"
    );
}
