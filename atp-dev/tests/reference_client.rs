//! The unmodified reference client (the Python package AgentToolProtocol
//! 0.2.5) registers with atp-dev and answers calls made through the
//! library handle, the HTTP call API and the `atp-dev call` CLI.
//!
//! Needs a Python with the package: `ATP_REF_PYTHON=/path/to/python`, or a
//! `.venv` at the workspace root (`.ci/run` makes one). The test is
//! `#[ignore]`d with that reason and runs with `--include-ignored` (as
//! `.ci/run` does), where a missing Python fails it.

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use atp_dev::DevServer;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::*;

/// The Python with the reference client: `ATP_REF_PYTHON`, or `.venv`;
/// the test fails without one (it only runs when asked for).
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ATP_REF_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with AgentToolProtocol 0.2.5: set ATP_REF_PYTHON, or run \
         python3 -m venv .venv && .venv/bin/pip install AgentToolProtocol==0.2.5"
    );
    venv
}

/// Starts `tests/reference/toolkit.py` against `server` with `key`, in
/// `protocol` mode (`ws` or `http`).
fn start_reference(
    python: &std::path::Path,
    server: &DevServer,
    key: &str,
    protocol: &str,
) -> tokio::process::Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/toolkit.py");
    tokio::process::Command::new(python)
        .arg(&script)
        .arg(server.base_url())
        .arg(key)
        .arg(protocol)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts")
}

#[tokio::test]
#[ignore = "needs the reference Python client (AgentToolProtocol 0.2.5 in .venv or ATP_REF_PYTHON); run with --include-ignored"]
async fn the_reference_python_client_works_with_atp_dev() {
    let python = python();
    let server = DevServer::start().await.unwrap();
    let mut toolkit = start_reference(&python, &server, "py-key", "ws");
    server
        .wait_for_tools(
            &["add_numbers", "show_token"],
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("the reference client registers and connects");

    // Through the library handle.
    let outcome = server
        .call("add_numbers", json!({"a": 2, "b": 40}), None)
        .await
        .unwrap();
    assert_eq!(outcome.result, json!({"sum": 42}));
    let outcome = server
        .call("show_token", json!({"label": "x"}), Some("secret-token"))
        .await
        .unwrap();
    assert_eq!(outcome.result, json!({"label": "x", "token_length": 12}));
    // The reference client's own error texts for a failing tool.
    let outcome = server
        .call("add_numbers", json!({"a": 1}), None)
        .await
        .unwrap();
    let error = outcome.result["error"].as_str().unwrap();
    assert!(
        error.contains("missing 1 required positional argument: 'b'"),
        "{error}"
    );

    // Through the HTTP call API.
    let body = json!({"params": {"a": 1.5, "b": 1}});
    let (status, answer) = post(&server, "/api/dev/tools/add_numbers/call", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], json!({"sum": 2.5}));

    // Through the CLI.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_atp-dev"))
        .args([
            "call",
            "show_token",
            "label=cli",
            "--token",
            "abc",
            "--server",
            &server.base_url(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result, json!({"label": "cli", "token_length": 3}));

    // What it registered: one registration per tool, Python's shape.
    let registrations = server.registrations();
    let add = registrations
        .iter()
        .find(|r| r.function_id == "add_numbers")
        .unwrap();
    assert_eq!(add.programming_language, "Python");
    assert_eq!(add.app_name, "py-reference");
    assert_eq!(add.api_key.expose(), "py-key");
    assert_eq!(add.metadata.params, ["a", "b"]);
    assert_eq!(add.metadata.required_params, ["a", "b"]);
    assert_eq!(add.metadata.description, "Adds two numbers.");
    assert_eq!(add.metadata.sample_response, json!(""));
    assert!(add.metadata.source_code.contains("def add_numbers(a, b):"));
    let digest: String = Sha256::digest(add.metadata.source_code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(add.code_hash, digest);
    let token_tool = registrations
        .iter()
        .find(|r| r.function_id == "show_token")
        .unwrap();
    assert_eq!(
        token_tool.metadata.auth_provider.as_deref(),
        Some("hubspot")
    );
    assert_eq!(
        token_tool.metadata.auth_with.as_deref(),
        Some("access_token")
    );

    toolkit.kill().await.unwrap();
}

/// In `protocol="http"` mode the reference client polls atp-dev's inbox
/// (every 30 s: the call waits for its next poll) and posts the answer.
#[tokio::test]
#[ignore = "needs the reference Python client (AgentToolProtocol 0.2.5 in .venv or ATP_REF_PYTHON); run with --include-ignored"]
async fn the_reference_client_in_http_mode_polls_the_inbox() {
    let python = python();
    let server = DevServer::start().await.unwrap();
    let _toolkit = start_reference(&python, &server, "py-http-key", "http");
    server
        .wait_for_tools(
            &["add_numbers", "show_token"],
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("the reference client registers and polls");
    assert!(
        server.tools().iter().all(|t| t.transport == "inbox"),
        "{:?}",
        server.tools()
    );
    // The reference client waits 30 s between polls.
    let outcome = server
        .call_with(
            "add_numbers",
            json!({"a": 2, "b": 40}),
            atp_dev::CallOptions {
                timeout: Some(std::time::Duration::from_secs(75)),
                ..Default::default()
            },
        )
        .await
        .expect("answered through the inbox");
    assert_eq!(outcome.result, json!({"sum": 42}));
    eprintln!(
        "the reference client answered through the inbox in {:?}",
        outcome.latency
    );
    server.shutdown().await;
}
