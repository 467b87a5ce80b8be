//! Hostile frames over a real socket: garbage, binary frames, deep
//! nesting, huge numbers and wrong types are answered when they carry a
//! request id and ignored otherwise; the connection stays up throughout.
//! (The frame handler itself is property-tested with 100,000 cases in
//! `atp-sdk`'s `dispatch::hostile`.)

use atp_dev::RawFrame;
use atp_tests::*;
use serde_json::{Value, json};

fn request(id: &str, tool: Value, params: Value) -> String {
    json!({"message_type": "atp_tool_request", "payload": {"request_id": id, "tool_name": tool, "params": params}})
        .to_string()
}

/// A request for `echo` whose `text` is an array nested `depth` deep.
fn nested_text_param(id: &str, depth: usize) -> String {
    format!(
        r#"{{"message_type":"atp_tool_request","payload":{{"request_id":"{id}","tool_name":"echo","params":{{"text":{}1{}}}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[tokio::test]
async fn hostile_frames_are_answered_or_ignored_and_the_connection_holds() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "hostile", Some(&["echo", "add"])).await;
    let connects = server.connects();

    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let ignored = [
        RawFrame::Text("not json at all".to_owned()),
        RawFrame::Text(deep.clone()),
        RawFrame::Text("[1, 2, 3]".to_owned()),
        RawFrame::Text(r#"{"message_type": 7}"#.to_owned()),
        RawFrame::Text(
            r#"{"message_type": "atp_tool_request", "payload": {"request_id": [1]}}"#.to_owned(),
        ),
        RawFrame::Text(
            r#"{"message_type": "atp_tool_request", "payload": {"request_id": 1e99999}}"#
                .to_owned(),
        ),
        RawFrame::Binary(vec![0xff, 0xfe, 0xfd, 0x00]),
        RawFrame::Binary(Vec::new()),
    ];
    for frame in ignored {
        assert_eq!(server.send_raw(frame), 1);
    }
    let answered = [
        (
            "h1",
            RawFrame::Binary(request("h1", json!("echo"), json!({"text": "bin"})).into_bytes()),
        ),
        ("h2", RawFrame::Text(request("h2", json!(42), json!({})))),
        (
            "h3",
            RawFrame::Text(request("h3", json!("add"), json!({"a": "one", "b": 2}))),
        ),
        (
            "h4",
            RawFrame::Text(request("h4", json!("add"), json!({"a": 1e308, "b": 1e308}))),
        ),
        (
            "h5",
            RawFrame::Text(request("h5", json!("echo"), json!("params as a string"))),
        ),
        ("h6", RawFrame::Text(nested_text_param("h6", 100))),
        // Nested past serde_json's depth limit: the payload can't be read
        // as a request, but its id can, so it is answered.
        ("h8", RawFrame::Text(nested_text_param("h8", 50_000))),
        (
            "h7",
            RawFrame::Text(
                r#"{"message_type": "atp_app_request", "payload": {"request_id": "h7"}}"#
                    .to_owned(),
            ),
        ),
    ];
    for (_, frame) in answered.iter().cloned() {
        assert_eq!(server.send_raw(frame), 1);
    }
    let stray = server
        .wait_for_stray_answers(answered.len(), WAIT)
        .await
        .expect("every frame with a request id is answered");
    let by_id = |id: &str| {
        stray
            .iter()
            .find(|(rid, _)| rid.to_string() == id)
            .map(|(_, result)| result.clone())
            .unwrap_or_else(|| panic!("{id} answered: {stray:?}"))
    };
    assert_eq!(by_id("h1"), json!({"echo": "bin"}));
    assert_eq!(
        by_id("h2"),
        json!({"error": "Unknown tool: <missing tool_name>"})
    );
    let h3 = by_id("h3")["error"].as_str().unwrap().to_owned();
    assert!(h3.starts_with("Invalid parameter 'a'"), "{h3}");
    assert!(
        by_id("h4").is_number() || by_id("h4").is_null(),
        "{:?}",
        by_id("h4")
    );
    assert_eq!(
        by_id("h5"),
        json!({"error": "Invalid params: expected a JSON object, got a string"})
    );
    assert!(
        by_id("h6")["error"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter 'text'")
    );
    assert_eq!(
        by_id("h7"),
        json!({"error": "Unknown app: <missing tool_name>"})
    );
    let h8 = by_id("h8")["error"].as_str().unwrap().to_owned();
    assert!(
        h8.starts_with("Malformed request: recursion limit exceeded"),
        "{h8}"
    );

    // Still the same connection, still serving.
    assert_eq!(server.connects(), connects, "no reconnect was needed");
    assert_eq!(
        call(&server, "echo", json!({"text": "ok"})).await,
        json!({"echo": "ok"})
    );
    // By now every frame sent before that call has been read: nothing
    // else was answered, and nothing twice.
    let stray = server.wait_for_stray_answers(0, WAIT).await.unwrap();
    assert_eq!(stray.len(), answered.len(), "each answered once: {stray:?}");
    toolkit.shutdown().await.unwrap();
}
