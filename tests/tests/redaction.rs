//! Neither the API key (it is part of the WebSocket URL) nor an auth token
//! reaches a log line at any level, an error message or a `Debug` output,
//! over a full run: announce, connect, calls with a token, a rejected key,
//! a drop and a stop.

use std::time::Duration;

use atp_dev::DevServer;
use atp_tests::*;
use serde_json::json;

const KEY: &str = "sk-live-REDACTION-CANARY-KEY-8f3a";
const TOKEN: &str = "tok-REDACTION-CANARY-TOKEN-77c1";

#[tokio::test]
async fn no_key_or_token_in_logs_errors_or_debug_output() {
    let capture = LogCapture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = DevServer::start().await.unwrap();
    let client = atp_sdk::ToolKitClient::builder(KEY, "redaction")
        .base_url(server.base_url())
        .tools(["whoami", "echo"])
        .build()
        .unwrap();
    let mut seen = vec![format!("{client:?}")];
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["whoami", "echo"], WAIT)
        .await
        .unwrap();
    // The tool itself returns the token (a test tool): the answer carries it,
    // the logs must not.
    let answer = call_with_token(&server, "whoami", json!({}), Some(TOKEN)).await;
    assert_eq!(answer, json!(TOKEN));
    let outcome = server
        .call("echo", json!({"text": "x"}), Some(TOKEN))
        .await
        .unwrap();
    seen.push(format!("{outcome:?}"));
    server.drop_connections();
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    toolkit.shutdown().await.unwrap();
    seen.push(format!("{:?}", server.registrations()));
    seen.push(format!("{:?}", server.announce_log()));

    // The same over the HTTP inbox (the key is in every poll's URL),
    // including polls that fail once the server is gone.
    let polled = DevServer::start().await.unwrap();
    let client = atp_sdk::ToolKitClient::builder(KEY, "redaction-inbox")
        .base_url(polled.base_url())
        .transport(atp_sdk::Transport::Http)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .tools(["whoami"])
        .build()
        .unwrap();
    let toolkit = spawn(client);
    polled.wait_for_tools(&["whoami"], WAIT).await.unwrap();
    let answer = call_with_token(&polled, "whoami", json!({}), Some(TOKEN)).await;
    assert_eq!(answer, json!(TOKEN));
    polled.shutdown().await;
    tokio::time::timeout(WAIT, async {
        while !capture.text().contains("inbox unreachable") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("failed polls are logged");
    toolkit.shutdown().await.unwrap();

    // A rejected key: the error and its Debug.
    let strict = DevServer::builder()
        .api_key("another-key")
        .start()
        .await
        .unwrap();
    let rejected = atp_sdk::ToolKitClient::builder(KEY, "redaction")
        .base_url(strict.base_url())
        .tools(["echo"])
        .build()
        .unwrap();
    let err = tokio::time::timeout(WAIT, rejected.serve())
        .await
        .unwrap()
        .unwrap_err();
    seen.push(format!("{err} {err:?}"));

    // Every public value that holds a key or a token.
    let builder = atp_sdk::ToolKitClient::builder(KEY, "redaction");
    seen.push(format!("{builder:?}"));
    seen.push(format!(
        "{:?}",
        atp_dev::CallOptions {
            auth_token: Some(TOKEN.to_owned()),
            ..Default::default()
        }
    ));
    let request: atp_sdk::protocol::ServerMessage = serde_json::from_value(json!({
        "message_type": "atp_tool_request",
        "payload": {"request_id": "r", "tool_name": "t", "params": {}, "auth_token": TOKEN}
    }))
    .unwrap();
    seen.push(format!("{request:?}"));
    let args = atp_sdk::CallArgs::new(serde_json::Map::new(), Some(atp_sdk::AuthToken::new(TOKEN)));
    seen.push(format!("{args:?}"));
    // Protocol values that hold secrets.
    seen.push(format!("{:?}", atp_sdk::ApiKey::new(KEY)));
    seen.push(format!("{}", atp_sdk::AuthToken::new(TOKEN)));
    seen.push(format!("{:?}", atp_sdk::AuthToken::new(TOKEN)));

    let logs = capture.text();
    assert!(logs.contains("connected"), "the capture works: {logs}");
    assert!(logs.lines().count() > 20, "a full run was logged");
    for text in seen.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(KEY), "the API key leaked: {text}");
        assert!(!text.contains(TOKEN), "a token leaked: {text}");
    }
}
