//! The test in atp-sdk's guide ("Testing your toolkit with atp-dev"),
//! verbatim: keep the two the same.

// Links the crate (its tools are registered too; the client serves `shout` only).
use atp_tests as _;

use std::time::Duration;

use atp_sdk::atp_tool;
use serde_json::json;

/// Shouts the text back.
#[atp_tool]
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[tokio::test]
async fn shout_answers() -> Result<(), Box<dyn std::error::Error>> {
    let server = atp_dev::DevServer::start().await?; // 127.0.0.1, any free port
    let client = atp_sdk::ToolKitClient::builder("test-key", "my-toolkit")
        .base_url(server.base_url())
        .tools(["shout"])
        .build()?;
    let stop = client.stop_handle();
    let serving = tokio::spawn(client.serve());
    server
        .wait_for_tools(&["shout"], Duration::from_secs(10))
        .await?;

    let answer = server.call("shout", json!({"text": "hi"}), None).await?;
    assert_eq!(answer.result, json!("HI"));
    let missing = server.call("shout", json!({}), None).await?;
    assert_eq!(
        missing.result,
        json!({"error": "Missing required parameter: text"})
    );

    stop.stop();
    serving.await??;
    server.shutdown().await;
    Ok(())
}

#[test]
fn this_file_is_what_the_guide_shows() {
    let guide = include_str!("../../atp-sdk/src/guide.md");
    let block = guide
        .split("```ignore\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the guide's test block");
    let this = include_str!("guide.rs");
    assert!(
        this.contains(block),
        "tests/tests/guide.rs and the test in atp-sdk/src/guide.md differ"
    );
}
