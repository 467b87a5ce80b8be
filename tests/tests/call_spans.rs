//! A span per call: a tool's own log lines carry the tool's name and the
//! call's request id; an argument the tool does not take is said at debug
//! level.
//!
//! This file holds one test, alone in its process, and installs its
//! subscriber process-wide: with a thread-local subscriber beside tests on
//! other threads, tracing can cache a callsite as disabled before the
//! subscriber is registered (seen once in CI), and the line goes missing.

use atp_sdk::atp_tool;
use atp_tests::*;
use serde_json::json;

/// Logs from inside the tool.
#[atp_tool]
async fn log_inside(word: String) -> String {
    tracing::info!(%word, "the tool speaks");
    word
}

/// Each call runs in a span with `tool` and `request_id`: a tool's own
/// log line carries both.
#[tokio::test]
async fn a_tools_log_lines_carry_its_call() {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("info,atp_sdk=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let server = start_server().await;
    let client = builder(&server, "context-span", Some(&["log_inside"]))
        .build()
        .expect("the toolkit builds");
    let kit = spawn(client);
    server.wait_for_tools(&["log_inside"], WAIT).await.unwrap();
    let outcome = server
        .call("log_inside", json!({"word": "hello"}), None)
        .await
        .unwrap();
    // An argument the tool does not take: the call runs, and the toolkit
    // says so at debug level.
    let misspelt = server
        .call("log_inside", json!({"word": "w", "wrod": "y"}), None)
        .await
        .unwrap();
    assert_eq!(misspelt.result, json!("w"));
    kit.shutdown().await.unwrap();
    let log = capture.text();
    let line = log
        .lines()
        .find(|l| l.contains("the tool speaks"))
        .unwrap_or_else(|| panic!("the tool's line is logged: {log}"));
    assert!(line.contains("tool=log_inside"), "{line}");
    assert!(
        line.contains(&format!("request_id={}", outcome.request_id)),
        "{line}"
    );
    let ignored = log
        .lines()
        .find(|l| l.contains("arguments the tool does not take are ignored"))
        .unwrap_or_else(|| panic!("the ignored argument is said: {log}"));
    assert!(ignored.contains("DEBUG"), "{ignored}");
    assert!(ignored.contains(r#"ignored=["wrod"]"#), "{ignored}");
    assert!(ignored.contains("tool=log_inside"), "{ignored}");
}
