//! atp-dev against raw protocol peers: every endpoint and message, bad
//! bodies, unknown keys and tools, timeouts, replicas, the inbox, late
//! answers and fault injection.

mod support;

use std::time::Duration;

use atp_dev::{AnnounceRecord, CallError, CallOptions, DevServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn verify_and_register_follow_what_the_server_holds() {
    let server = DevServer::start().await.unwrap();
    let verify = json!({"api_key": "k1", "app_name": "demo", "toolkit_hash": "toolkit-demo"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_hash", &verify).await,
        (200, json!({"up_to_date": false}))
    );
    let tool = json!({"api_key": "k1", "tool_hash": "hash-add", "tool_name": "add"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_tool_hash", &tool).await,
        (200, json!({"up_to_date": false}))
    );

    let (status, body) = post(
        &server,
        "/api/v1/register_tool",
        &registration("k1", "demo", "add"),
    )
    .await;
    assert_eq!(status, 200);
    let token = body["exchange_token"].as_str().unwrap();
    assert!(
        token.len() >= 16 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "{token}"
    );

    // Now the server holds exactly these hashes for this key.
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_hash", &verify)
            .await
            .1,
        json!({"up_to_date": true})
    );
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_tool_hash", &tool)
            .await
            .1,
        json!({"up_to_date": true})
    );
    // Another hash, another tool, another key: not up to date.
    let other_hash = json!({"api_key": "k1", "app_name": "demo", "toolkit_hash": "changed"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_hash", &other_hash)
            .await
            .1,
        json!({"up_to_date": false})
    );
    let other_key = json!({"api_key": "k2", "app_name": "demo", "toolkit_hash": "toolkit-demo"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_hash", &other_key)
            .await
            .1,
        json!({"up_to_date": false})
    );
    let changed_tool = json!({"api_key": "k1", "tool_hash": "edited", "tool_name": "add"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_tool_hash", &changed_tool)
            .await
            .1,
        json!({"up_to_date": false})
    );
    let unknown_tool = json!({"api_key": "k1", "tool_hash": "hash-add", "tool_name": "sub"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_tool_hash", &unknown_tool)
            .await
            .1,
        json!({"up_to_date": false})
    );

    // The registration is kept as sent, unknown metadata fields included.
    let registrations = server.registrations();
    assert_eq!(registrations.len(), 1);
    assert_eq!(
        serde_json::to_value(&registrations[0]).unwrap(),
        registration("k1", "demo", "add")
    );
    assert_eq!(
        registrations[0].metadata.extra["parameters"]["properties"]["x"]["type"],
        "string"
    );

    let log = server.announce_log();
    assert_eq!(log.len(), 9);
    assert!(matches!(&log[0], AnnounceRecord::VerifyHash(v) if v.toolkit_hash == "toolkit-demo"));
    assert!(matches!(&log[1], AnnounceRecord::VerifyToolHash(v) if v.tool_name == "add"));
    assert!(matches!(&log[2], AnnounceRecord::RegisterTool(r) if r.function_id == "add"));
}

#[tokio::test]
async fn a_tool_call_goes_over_the_websocket_and_back() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();

    let call = server.call("echo", json!({"x": "hi"}), Some("tok"));
    let answer = async {
        let request = toolkit.next_request().await;
        assert_eq!(request["tool_name"], "echo");
        assert_eq!(request["params"], json!({"x": "hi"}));
        assert_eq!(request["auth_token"], "tok");
        assert!(request["request_id"].is_string());
        toolkit
            .respond(&request["request_id"], json!({"ok": 1}))
            .await;
    };
    let (outcome, ()) = tokio::join!(call, answer);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.result, json!({"ok": 1}));
    assert!(outcome.latency > Duration::ZERO);

    // Through the HTTP call API: same path, JSON in and out.
    let body = json!({"params": {"x": "y"}});
    let call = post(&server, "/api/dev/tools/echo/call", &body);
    let answer = async {
        let request = toolkit.next_request().await;
        assert_eq!(request["auth_token"], Value::Null);
        toolkit.respond(&request["request_id"], json!("fine")).await;
    };
    let ((status, body), ()) = tokio::join!(call, answer);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "fine");
    assert!(body["request_id"].is_string());
    assert!(body["latency_ms"].as_f64().unwrap() > 0.0);

    // Params are passed through as given, even when not an object.
    let body = json!({"params": ""});
    let call = post(&server, "/api/dev/tools/echo/call", &body);
    let answer = async {
        let request = toolkit.next_request().await;
        assert_eq!(request["params"], "");
        toolkit.respond(&request["request_id"], json!(null)).await;
    };
    let ((status, body), ()) = tokio::join!(call, answer);
    assert_eq!((status, body["result"].clone()), (200, Value::Null));
}

#[tokio::test]
async fn the_tool_list_shows_connected_toolkits_only() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k1", "one", "alpha").await;
    register(&server, "k2", "two", "beta").await;
    assert_eq!(
        get(&server, "/api/dev/tools").await,
        (200, json!({"tools": []}))
    );
    let _toolkit = RawToolkit::connect(&server, "k2").await;
    server.wait_for_tools(&["beta"], WAIT).await.unwrap();
    let (status, body) = get(&server, "/api/dev/tools").await;
    assert_eq!(status, 200);
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "beta");
    assert_eq!(tools[0]["app_name"], "two");
    assert_eq!(tools[0]["connections"], 1);
    assert_eq!(tools[0]["transport"], "websocket");
    assert_eq!(tools[0]["metadata"]["description"], "The beta tool.");
    assert_eq!(tools[0]["metadata"]["parameters"]["type"], "object");
}

#[tokio::test]
async fn call_errors_have_clear_statuses() {
    let server = DevServer::builder()
        .max_body_bytes(4096)
        .start()
        .await
        .unwrap();
    // Unknown tool.
    let (status, body) = post(&server, "/api/dev/tools/nope/call", &json!({})).await;
    assert_eq!(
        (status, body),
        (404, json!({"error": "unknown tool: nope"}))
    );
    assert_eq!(
        server.call("nope", json!({}), None).await.unwrap_err(),
        CallError::UnknownTool("nope".into())
    );
    // Registered, but no toolkit connected.
    register(&server, "k", "demo", "idle").await;
    let (status, body) = post(&server, "/api/dev/tools/idle/call", &json!({})).await;
    assert_eq!(status, 503);
    assert!(
        body["error"].as_str().unwrap().contains("not connected"),
        "{body}"
    );
    // Connected but silent: a timeout.
    let _toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["idle"], WAIT).await.unwrap();
    let (status, body) = post(
        &server,
        "/api/dev/tools/idle/call",
        &json!({"timeout_ms": 50}),
    )
    .await;
    assert_eq!(status, 504);
    assert!(
        body["error"].as_str().unwrap().contains("did not answer"),
        "{body}"
    );
    let err = server
        .call_with(
            "idle",
            json!({}),
            CallOptions {
                timeout: Some(Duration::from_millis(20)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    // Malformed bodies: bad JSON, wrong types, unknown fields.
    for body in [
        "{",
        "[]",
        r#"{"params": {}, "timeout_ms": "soon"}"#,
        r#"{"parms": {}}"#,
    ] {
        let (status, answer) = post_raw(&server, "/api/dev/tools/idle/call", body.to_owned()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // Oversized.
    let big = json!({"params": {"x": "y".repeat(10_000)}});
    let (status, answer) = post(&server, "/api/dev/tools/idle/call", &big).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"].is_string());
    // Announce endpoints answer bad bodies the same way.
    for path in [
        "/api/v1/toolkit/verify_hash",
        "/api/v1/toolkit/verify_tool_hash",
        "/api/v1/register_tool",
    ] {
        let (status, answer) = post_raw(&server, path, r#"{"api_key": 1}"#.to_owned()).await;
        assert_eq!(status, 400, "{path}: {answer}");
    }
    // An unknown endpoint.
    assert_eq!(get(&server, "/api/v2/nothing").await.0, 404);
}

#[tokio::test]
async fn a_server_started_with_a_key_refuses_the_others() {
    let server = DevServer::builder().api_key("right").start().await.unwrap();
    let wrong = registration("wrong", "demo", "t");
    let (status, body) = post(&server, "/api/v1/register_tool", &wrong).await;
    assert_eq!((status, body), (401, json!({"error": "invalid API key"})));
    let verify = json!({"api_key": "wrong", "app_name": "demo", "toolkit_hash": "h"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_hash", &verify)
            .await
            .0,
        401
    );
    let verify_tool = json!({"api_key": "wrong", "tool_hash": "h", "tool_name": "t"});
    assert_eq!(
        post(&server, "/api/v1/toolkit/verify_tool_hash", &verify_tool)
            .await
            .0,
        401
    );
    assert_eq!(get(&server, "/api/v1/toolkit/wrong/inbox").await.0, 401);
    let respond = json!({"request_id": "r", "response": 1});
    assert_eq!(
        post(&server, "/api/v1/toolkit/wrong/inbox/respond", &respond)
            .await
            .0,
        401
    );

    // The WebSocket closes at once with a policy-violation code.
    let url = format!(
        "ws://{}/ws/v1/atp/toolkit-client/wrong/",
        server.local_addr()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::Policy);
            assert_eq!(frame.reason.as_str(), "invalid API key");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    // The right key works.
    register(&server, "right", "demo", "t").await;
    let _toolkit = RawToolkit::connect(&server, "right").await;
    server.wait_for_tools(&["t"], WAIT).await.unwrap();
    assert!(
        server
            .registrations()
            .iter()
            .all(|r| r.api_key.expose() == "right")
    );
}

#[tokio::test]
async fn replicas_of_one_toolkit_share_the_calls() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut a = RawToolkit::connect(&server, "k").await;
    let mut b = RawToolkit::connect(&server, "k").await;
    server.wait_for_connections(2, WAIT).await.unwrap();
    let calls =
        futures_util::future::join_all((0..10).map(|i| server.call("echo", json!({"i": i}), None)));
    let (results, (), ()) = tokio::join!(calls, a.serve(5, "a"), b.serve(5, "b"));
    let mut by = [0, 0];
    for (i, result) in results.into_iter().enumerate() {
        let result = result.unwrap().result;
        assert_eq!(result["echo"], json!({"i": i}));
        by[usize::from(result["by"] == "b")] += 1;
    }
    assert_eq!(by, [5, 5], "round robin over both replicas");
}

#[tokio::test]
async fn several_toolkits_at_once() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k1", "one", "alpha").await;
    register(&server, "k2", "two", "beta").await;
    register(&server, "k2", "two", "shared").await;
    register(&server, "k1", "one", "shared").await;
    let mut one = RawToolkit::connect(&server, "k1").await;
    let mut two = RawToolkit::connect(&server, "k2").await;
    server
        .wait_for_tools(&["alpha", "beta", "shared"], WAIT)
        .await
        .unwrap();

    let (alpha, ()) = tokio::join!(server.call("alpha", json!({}), None), one.serve(1, "one"));
    assert_eq!(alpha.unwrap().result["by"], "one");
    let (beta, ()) = tokio::join!(server.call("beta", json!({}), None), two.serve(1, "two"));
    assert_eq!(beta.unwrap().result["by"], "two");
    // A name both offer: `app_name` picks the toolkit.
    let options = CallOptions {
        app_name: Some("two".into()),
        ..Default::default()
    };
    let (shared, ()) = tokio::join!(
        server.call_with("shared", json!({}), options),
        two.serve(1, "two")
    );
    assert_eq!(shared.unwrap().result["by"], "two");
    let body = json!({"app_name": "one"});
    let ((status, shared), ()) = tokio::join!(
        post(&server, "/api/dev/tools/shared/call", &body),
        one.serve(1, "one")
    );
    assert_eq!(
        (status, shared["result"]["by"].clone()),
        (200, json!("one"))
    );
}

#[tokio::test]
async fn the_inbox_serves_toolkits_that_poll() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "poller", "slow").await;
    // Empty inbox: `{}`; the poll marks the key as connected via inbox.
    assert_eq!(
        get(&server, "/api/v1/toolkit/k/inbox").await,
        (200, json!({}))
    );
    server.wait_for_tools(&["slow"], WAIT).await.unwrap();
    assert_eq!(server.tools()[0].transport, "inbox");

    let call = server.call("slow", json!({"x": 1}), Some("t"));
    let toolkit = async {
        // Poll until the request is there (the call is made concurrently).
        let request = loop {
            let (status, item) = get(&server, "/api/v1/toolkit/k/inbox").await;
            assert_eq!(status, 200);
            if item != json!({}) {
                break item;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(request["tool_name"], "slow");
        assert_eq!(request["params"], json!({"x": 1}));
        assert_eq!(request["auth_token"], "t");
        let answer = json!({"request_id": request["request_id"], "response": {"done": true}});
        assert_eq!(
            post(&server, "/api/v1/toolkit/k/inbox/respond", &answer).await,
            (200, json!({"status": "ok"}))
        );
        // The same answer again: nobody waits for it any more.
        assert_eq!(
            post(&server, "/api/v1/toolkit/k/inbox/respond", &answer)
                .await
                .0,
            404
        );
    };
    let (outcome, ()) = tokio::join!(call, toolkit);
    assert_eq!(outcome.unwrap().result, json!({"done": true}));

    let (status, body) = post_raw(
        &server,
        "/api/v1/toolkit/k/inbox/respond",
        "{\"response\": 1}".into(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_late_answer_after_a_reconnect_still_resolves_the_call() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let call = server.call("echo", json!({}), None);
    let toolkit_side = async {
        let request = toolkit.next_request().await;
        // The connection drops while the call is in flight...
        assert_eq!(server.drop_connections(), 1);
        // ...the toolkit sees it end without a close frame...
        match tokio::time::timeout(WAIT, toolkit.ws.next()).await.unwrap() {
            None | Some(Err(_)) => {}
            other => panic!("expected the connection to drop, got {other:?}"),
        }
        // ...reconnects, and answers on the new connection.
        let mut again = RawToolkit::connect(&server, "k").await;
        again
            .respond(&request["request_id"], json!("late but here"))
            .await;
    };
    let (outcome, ()) = tokio::join!(call, toolkit_side);
    assert_eq!(outcome.unwrap().result, json!("late but here"));
}

#[tokio::test]
async fn after_a_drop_the_tool_is_unavailable_until_the_toolkit_returns() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_connections(1, WAIT).await.unwrap();
    assert_eq!(server.drop_connections(), 1);
    // Taken out of service at once, before the socket task even ends.
    assert_eq!(server.connection_count(), 0);
    assert!(server.tools().is_empty());
    assert!(matches!(
        server.call("echo", json!({}), None).await,
        Err(CallError::NotConnected(_))
    ));
    drop(toolkit);
    let mut again = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let (outcome, ()) = tokio::join!(
        server.call("echo", json!({"n": 1}), None),
        again.serve(1, "again")
    );
    assert_eq!(outcome.unwrap().result["by"], "again");
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_connections(1, WAIT).await.unwrap();
    server.shutdown().await;
    // The toolkit is told the server is going away.
    match tokio::time::timeout(WAIT, toolkit.ws.next()).await.unwrap() {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        None | Some(Err(_)) => {}
        other => panic!("expected a close, got {other:?}"),
    }
    let again = DevServer::builder().bind(addr).start().await.unwrap();
    assert_eq!(again.local_addr(), addr);
    // A fresh server holds nothing.
    assert!(again.registrations().is_empty());
    again.shutdown().await;
}
