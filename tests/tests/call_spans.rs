//! A span per call: a tool's own log lines carry the tool's name and the
//! call's request id; an argument the tool does not take is said at debug
//! level; over ATP, a `Context`'s progress and log lines to the caller are
//! `tracing` events of the call (MCP's are in `mcp_conformance.rs`).
//!
//! This file holds one test, alone in its process, and installs its
//! subscriber process-wide: with a thread-local subscriber beside tests on
//! other threads, tracing can cache a callsite as disabled before the
//! subscriber is registered (seen once in CI), and the line goes missing.

use atp_sdk::{Context, LogLevel, atp_tool};
use atp_tests::*;
use serde_json::json;

/// Logs from inside the tool.
#[atp_tool]
async fn log_inside(word: String) -> String {
    tracing::info!(%word, "the tool speaks");
    word
}

/// Talks to its caller: progress (one value that goes back, dropped) and
/// a warning. A plain fn: the calls are the same as from an async one.
#[atp_tool]
fn talk_back(ctx: Context) -> String {
    ctx.progress(1.0, Some(3.0), Some("first shard"));
    ctx.progress(0.5, Some(3.0), Some("went back"));
    ctx.progress(3.0, Some(3.0), None);
    ctx.log(LogLevel::Warning, "shard 2 was slow");
    "talked".to_owned()
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
    let client = builder(&server, "context-span", Some(&["log_inside", "talk_back"]))
        .build()
        .expect("the toolkit builds");
    let kit = spawn(client);
    server
        .wait_for_tools(&["log_inside", "talk_back"], WAIT)
        .await
        .unwrap();
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
    let talked = server.call("talk_back", json!({}), None).await.unwrap();
    assert_eq!(
        talked.result,
        json!("talked"),
        "over ATP the tool just answers"
    );
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
    // Over ATP, which carries neither, they are the call's events.
    let talk: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("tool=talk_back"))
        .collect();
    let progress: Vec<&&str> = talk.iter().filter(|l| l.contains(" progress ")).collect();
    assert_eq!(
        progress.len(),
        2,
        "a value that goes back is dropped: {talk:#?}"
    );
    assert!(
        progress[0].contains("DEBUG") && progress[0].contains("progress=1.0"),
        "{progress:?}"
    );
    assert!(
        progress[0].contains("total=3.0") && progress[0].contains("first shard"),
        "{progress:?}"
    );
    assert!(progress[1].contains("progress=3.0"), "{progress:?}");
    let warning = talk
        .iter()
        .find(|l| l.contains("shard 2 was slow"))
        .unwrap_or_else(|| panic!("the line to the caller is logged: {log}"));
    assert!(
        warning.contains("WARN") && warning.contains("level=warning"),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("request_id={}", talked.request_id)),
        "{warning}"
    );
}
