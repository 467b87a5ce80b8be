//! Source upload is a choice: `register_tool` carries each tool's source
//! text by default (as the reference client sends it); with
//! `send_source(false)` or `ATP_SEND_SOURCE=0` the hashes still go (they
//! say when a tool changed) but the source text does not.

use atp_tests::*;
use serde_json::json;

/// The `register_tool` bodies the server got for `tool`.
fn registered(
    server: &atp_dev::DevServer,
    tool: &str,
) -> Vec<atp_sdk::protocol::RegisterToolRequest> {
    server
        .registrations()
        .into_iter()
        .filter(|r| r.function_id == tool)
        .collect()
}

#[tokio::test]
async fn the_source_is_sent_unless_told_not_to() {
    let server = start_server().await;
    let with = start_toolkit(&server, "with-source", Some(&["echo"])).await;
    let sent = registered(&server, "echo");
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].metadata.source_code.contains("fn echo"),
        "{:?}",
        sent[0].metadata.source_code
    );
    let hash = sent[0].code_hash.clone();
    with.shutdown().await.unwrap();

    let server = start_server().await;
    let client = builder(&server, "without-source", Some(&["echo"]))
        .send_source(false)
        .build()
        .unwrap();
    let without = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let sent = registered(&server, "echo");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].metadata.source_code, "", "no source text");
    assert_eq!(sent[0].code_hash, hash, "the same hash as with the source");
    assert!(
        sent[0]
            .toolkit_hash
            .as_deref()
            .is_some_and(|h| !h.is_empty())
    );
    // Still served as ever.
    let answer = server
        .call("echo", json!({"text": "x"}), None)
        .await
        .unwrap();
    assert_eq!(answer.result, json!({"echo": "x"}));
    without.stop.stop();
    tokio::time::timeout(WAIT, without.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn atp_send_source_0_in_the_environment_keeps_it_home() {
    let server = start_server().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_BASE_URL", server.base_url())
        .env("ATP_API_KEY", "k")
        .env("ATP_APP_NAME", "env-no-source")
        .env("ATP_SEND_SOURCE", "0")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let sent = registered(&server, "echo");
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|r| r.metadata.source_code.is_empty()));
    child.kill().await.unwrap();

    // And a value it can't read is refused, not guessed.
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
            .env("ATP_BASE_URL", server.base_url())
            .env("ATP_API_KEY", "k")
            .env("ATP_SEND_SOURCE", "maybe")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ATP_SEND_SOURCE"), "{stderr}");
}
