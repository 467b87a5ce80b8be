//! The HTTP inbox transport (protocol section 4) end to end: a real
//! toolkit polling a real atp-dev over loopback, with the same call
//! contract as over the WebSocket, concurrency, adaptive polling, answers
//! retried through a server outage, and a clean stop.

use std::time::Duration;

use atp_dev::{CallOptions, DevServer};
use atp_sdk::Transport;
use atp_tests::front::{Front, Mode};
use atp_tests::*;
use serde_json::{Value, json};

/// A toolkit with `tools` that polls the inbox of `server` (or `base`).
async fn start_polling(
    server: &DevServer,
    base: Option<&str>,
    app: &str,
    tools: &[&str],
) -> Toolkit {
    let mut builder = builder(server, app, Some(tools)).transport(Transport::Http);
    if let Some(base) = base {
        builder = builder.base_url(base);
    }
    let toolkit = spawn(builder.build().unwrap());
    server.wait_for_tools(tools, WAIT).await.unwrap();
    toolkit
}

/// Calls `wait_gate` with `gate` closed, and returns once the toolkit
/// runs it: the call stays in flight until the test opens the gate.
async fn call_held_at_gate(
    server: &DevServer,
    gate: &'static str,
) -> tokio::task::JoinHandle<Result<atp_dev::CallOutcome, atp_dev::CallError>> {
    set_gate(gate, false);
    let pending = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .call_with("wait_gate", json!({"gate": gate}), CallOptions::default())
                .await
        }
    });
    gate_entered(gate, 1).await;
    pending
}

#[tokio::test]
async fn tools_over_the_inbox_follow_the_same_contract() {
    let server = start_server().await;
    let toolkit = start_polling(
        &server,
        None,
        "polling",
        &[
            "echo", "add", "greet", "whoami", "fail", "explode", "search",
        ],
    )
    .await;
    let tools = server.tools();
    assert!(tools.iter().all(|t| t.transport == "inbox"), "{tools:?}");

    assert_eq!(
        call(&server, "echo", json!({"text": "hi"})).await,
        json!({"echo": "hi"})
    );
    assert_eq!(
        call(&server, "add", json!({"a": 1.5, "b": 2})).await,
        json!(3.5)
    );
    assert_eq!(
        call(&server, "greet", json!({"name": "Ada"})).await,
        json!("Hello, Ada!")
    );
    assert_eq!(
        call(&server, "search", json!({"query": "q"})).await,
        json!({"query": "q", "limit": 0, "exact": false, "tags": null})
    );
    // The same error texts as over the WebSocket.
    assert_eq!(
        call(&server, "echo", json!({})).await,
        json!({"error": "Missing required parameter: text"})
    );
    assert_eq!(
        call(&server, "add", json!({"a": "x", "b": 1})).await["error"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("Invalid parameter 'a'")
    );
    assert_eq!(
        call(&server, "whoami", json!({})).await,
        json!({"error": "Missing auth_token for authenticated tool"})
    );
    assert_eq!(
        call_with_token(&server, "whoami", json!({}), Some("tok-inbox")).await,
        json!("tok-inbox")
    );
    assert_eq!(
        call(&server, "fail", json!({"reason": "r"})).await,
        json!({"error": "boom: r"})
    );
    let panicked = call(&server, "explode", json!({})).await;
    assert!(
        panicked["error"]
            .as_str()
            .unwrap()
            .starts_with("Tool panicked"),
        "{panicked}"
    );
    // Through the HTTP call API (what the CLI and the playground use).
    let res = http()
        .post(format!("{}/api/dev/tools/echo/call", server.base_url()))
        .json(&json!({"params": {"text": "api"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"], json!({"echo": "api"}));

    toolkit.shutdown().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn inbox_calls_run_concurrently() {
    let server = start_server().await;
    let toolkit = start_polling(
        &server,
        None,
        "concurrent",
        &["meet_async", "meet_blocking"],
    )
    .await;
    // Each call waits until all of its group have arrived: they can only
    // finish if they run at the same time.
    let calls = (0..4).map(|i| {
        let tool = if i % 2 == 0 {
            "meet_async"
        } else {
            "meet_blocking"
        };
        call(&server, tool, json!({"group": "inbox-4", "size": 4}))
    });
    let mut arrived: Vec<Value> = futures_util::future::join_all(calls).await;
    arrived.sort_by_key(|v| v.as_u64());
    assert_eq!(
        arrived,
        [json!(1), json!(2), json!(3), json!(4)],
        "each call's arrival order"
    );
    toolkit.shutdown().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn polling_is_quick_when_busy_and_quiet_when_idle() {
    let server = start_server().await;
    let toolkit = start_polling(&server, None, "adaptive", &["echo"]).await;

    // Idle: the wait doubles from 50 ms to 2 s, so 3 s hold at most 7
    // polls (50+100+...+1600 ms is 3.15 s), however fast the machine.
    let before = server.inbox_polls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = server.inbox_polls() - before;
    assert!((1..=8).contains(&idle), "{idle} polls in 3 s of idleness");

    // Busy: 200 calls at once are answered, taken one poll each (plus the
    // few empty polls between bursts), not one per idle interval.
    let before = server.inbox_polls();
    let calls = (0..200).map(|i| call(&server, "echo", json!({"text": format!("m{i}")})));
    let answers = futures_util::future::join_all(calls).await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &json!({"echo": format!("m{i}")}));
    }
    let busy = server.inbox_polls() - before;
    assert!(busy >= 200, "{busy} polls for 200 calls");
    eprintln!("idle: {idle} polls in 3 s; busy: {busy} polls for 200 calls");
    toolkit.shutdown().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn an_answer_is_retried_through_an_outage_and_delivered() {
    let server = start_server().await;
    let front = Front::start(server.local_addr(), None).await;
    let toolkit = start_polling(&server, Some(&front.url()), "retrying", &["wait_gate"]).await;

    let gate = "inbox-outage";
    let pending = call_held_at_gate(&server, gate).await;

    // The server becomes unreachable; then the tool finishes. Its answer
    // can't be posted until the server is back.
    front.set_mode(Mode::Refuse);
    front.cut_all();
    let refused_before = front.accepts().len();
    set_gate(gate, true);
    // Wait until several attempts (posts and polls) have been refused.
    tokio::time::timeout(WAIT, async {
        while front.accepts().len() < refused_before + 6 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the toolkit keeps trying");
    assert!(!pending.is_finished(), "no answer can have arrived yet");
    front.set_mode(Mode::Forward);

    let answer = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the answer arrives once the server is back")
        .unwrap()
        .expect("the call is answered");
    assert_eq!(answer.result, json!("through"));
    toolkit.shutdown().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_stop_lets_the_call_in_flight_finish_and_posts_its_answer() {
    let server = start_server().await;
    let toolkit = start_polling(&server, None, "stopping", &["wait_gate"]).await;
    let gate = "inbox-stop";
    let pending = call_held_at_gate(&server, gate).await;
    toolkit.stop.stop();
    set_gate(gate, true);
    let stopped = tokio::time::timeout(WAIT, toolkit.task)
        .await
        .expect("the toolkit stops")
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");
    let answer = pending
        .await
        .unwrap()
        .expect("answered before the stop ended");
    assert_eq!(answer.result, json!("through"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_key_stops_a_polling_toolkit_with_a_clear_error() {
    let server = DevServer::builder().api_key("right").start().await.unwrap();
    let client = atp_sdk::ToolKitClient::builder("wrong", "refused")
        .base_url(server.base_url())
        .transport(Transport::Http)
        .tools(["echo"])
        .build()
        .unwrap();
    let result = tokio::time::timeout(WAIT, client.serve())
        .await
        .expect("a refused key is fatal, not retried");
    let err = result.unwrap_err();
    assert!(matches!(err, atp_sdk::Error::Unauthorized(_)), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the key is not in the error: {err}"
    );
    server.shutdown().await;
}
