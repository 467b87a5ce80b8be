//! Faults of atp-dev's shared state (the hub), shown through the public
//! API only: `DevServer`, the HTTP routes and raw WebSocket peers.
//!
//! Several tests need a request that atp-dev has routed to a connection
//! but not yet written to it. They get one by *jamming* the connection:
//! [`DevServer::send_raw`] sends it a 64 MiB frame while the raw toolkit
//! does not read, so atp-dev's connection task is stuck writing that frame
//! (far more than the loopback socket buffers hold) and every request
//! routed to the connection afterwards waits in atp-dev's own queue. From
//! there either the toolkit drops its TCP connection (atp-dev's write
//! fails, and the queued requests are handed on: *parked* for the key's
//! next connection, or sent to another open one), or the toolkit starts
//! reading again (the queued requests are written after the noise).
//!
//! To show that a stale request does *not* reach a toolkit, a test makes a
//! fresh call and checks that the fresh request is the first one the
//! toolkit reads (queued and parked frames are sent in order, before
//! it), then waits a short, bounded [`SILENCE`] for anything after it.

mod support;

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

use atp_dev::{AnnounceRecord, CallError, CallOptions, DevServer, RawFrame};
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::*;

/// The size of the frame that jams a connection: well above what the
/// loopback socket buffers of both ends can hold (here at most 4 MiB sent
/// plus 32 MiB received, and the receive side only grows while the peer
/// reads).
const NOISE_BYTES: usize = 64 << 20;
const NOISE_PREFIX: &str = r#"{"message_type":"noise""#;
/// How long a test waits to show that nothing (more) arrives.
const SILENCE: Duration = Duration::from_millis(500);

/// Jams every open toolkit connection (see the module doc); returns how
/// many.
fn jam(server: &DevServer) -> usize {
    let noise = format!(
        r#"{NOISE_PREFIX},"payload":"{}"}}"#,
        "n".repeat(NOISE_BYTES)
    );
    server.send_raw(RawFrame::Text(noise))
}

/// Drives a call until atp-dev has routed its request (it waits for an
/// answer) and checks that it is still waiting.
async fn under_way<F>(server: &DevServer, call: &mut F)
where
    F: Future + Unpin,
    F::Output: Debug,
{
    let waiting = server.stats().waiting_calls;
    let routed = async {
        loop {
            if let Ok(out) = tokio::time::timeout(Duration::from_millis(10), &mut *call).await {
                panic!("expected the call to be waiting for its toolkit, it ended: {out:?}");
            }
            if server.stats().waiting_calls > waiting {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, routed)
        .await
        .expect("atp-dev routes the request");
}

/// Drops a jammed toolkit's TCP connection (no close frame; its unread
/// data makes it a reset) and waits until atp-dev has removed the
/// connection, `remaining` staying open: by then the requests left in its
/// queue have been handed on.
async fn break_off(server: &DevServer, jammed: RawToolkit, remaining: usize) {
    drop(jammed);
    server
        .wait_for_connections(remaining, WAIT)
        .await
        .expect("atp-dev notices the dropped connection");
}

/// Registers the tool `name` of toolkit "demo" under key "k", and the
/// `probe` tool that [`expect_no_stale_request`] calls.
async fn setup(name: &str) -> DevServer {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", name).await;
    register(&server, "k", "demo", "probe").await;
    server
}

/// Reads the jam's noise frame off a toolkit that reads again.
async fn read_noise(toolkit: &mut RawToolkit) {
    let text = toolkit
        .next_text_within(WAIT)
        .await
        .expect("the noise frame");
    assert!(
        text.starts_with(NOISE_PREFIX),
        "expected the noise frame first, got {}",
        &text[..text.len().min(300)]
    );
}

/// Calls `probe` now: the first frame the toolkit reads must be that fresh
/// request, not an older one, and nothing may follow it within
/// [`SILENCE`].
async fn expect_no_stale_request(server: &DevServer, toolkit: &mut RawToolkit) {
    let options = CallOptions {
        timeout: Some(WAIT),
        ..CallOptions::default()
    };
    let fresh = server.call_with("probe", json!({"x": "fresh"}), options);
    let toolkit_side = async {
        let text = toolkit
            .next_text_within(WAIT)
            .await
            .expect("a frame: the fresh call's request");
        let frame: Value = serde_json::from_str(&text).unwrap();
        assert!(
            frame["message_type"] == "atp_tool_request"
                && frame["payload"]["params"] == json!({"x": "fresh"}),
            "a stale frame reached the toolkit before the fresh request: {frame}"
        );
        toolkit
            .respond(&frame["payload"]["request_id"], json!("fresh"))
            .await;
    };
    let (outcome, ()) = tokio::join!(fresh, toolkit_side);
    assert_eq!(outcome.unwrap().result, json!("fresh"));
    if let Some(text) = toolkit.next_text_within(SILENCE).await {
        panic!("a stale frame reached the toolkit after the fresh request: {text}");
    }
}

fn timeout(t: Duration) -> CallOptions {
    CallOptions {
        timeout: Some(t),
        ..CallOptions::default()
    }
}

/// Starts a session of app `app` on `toolkit` (which answers the start)
/// and returns its id.
async fn open_session(server: &DevServer, toolkit: &mut RawToolkit, app: &str) -> String {
    let start = server.app_start(app, json!({}), timeout(WAIT));
    let toolkit_side = async {
        let frame = toolkit.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_request", "{frame}");
        let id = frame["payload"]["request_id"].clone();
        toolkit
            .send_json(json!({"type": "app_response", "request_id": id, "result": {"screen": 1}}))
            .await;
    };
    let (outcome, ()) = tokio::join!(start, toolkit_side);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.result, json!({"screen": 1}));
    outcome.request_id
}

// -- A: a call its caller gave up on never reaches a toolkit later ---------

/// Fault A (cancelled call). A call's request is parked for the key's next
/// connection (its connection dropped before writing it), then the caller
/// goes away (the call's future is dropped). The request must be
/// forgotten with the call: the toolkit's next connection must not
/// receive it (a side-effecting tool would run after its caller gave up).
#[tokio::test]
async fn a_cancelled_call_parked_for_the_next_connection_never_reaches_it() {
    let server = setup("charge").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["charge"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let mut call = Box::pin(server.call("charge", json!({"x": "stale"}), None));
    under_way(&server, &mut call).await;
    break_off(&server, jammed, 0).await; // the request is parked now
    drop(call); // the caller goes away
    let mut next = RawToolkit::connect(&server, "k").await;
    expect_no_stale_request(&server, &mut next).await;
}

/// Fault A (timed-out call), the case the code already handles: a parked
/// request whose call times out must not reach the key's next connection.
/// Kept as a guard for the restructuring.
#[tokio::test]
async fn a_timed_out_call_parked_for_the_next_connection_never_reaches_it() {
    let server = setup("charge").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["charge"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let options = timeout(Duration::from_millis(1500));
    let mut call = Box::pin(server.call_with("charge", json!({"x": "stale"}), options));
    under_way(&server, &mut call).await;
    break_off(&server, jammed, 0).await;
    let err = tokio::time::timeout(WAIT, call).await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    let mut next = RawToolkit::connect(&server, "k").await;
    expect_no_stale_request(&server, &mut next).await;
}

/// Fault A (timed-out app start; also B(a): the toolkit would open a
/// session nobody knows). An app start parked for the key's next
/// connection times out: its `atp_app_request` must not reach the next
/// connection.
#[tokio::test]
async fn a_timed_out_app_start_parked_for_the_next_connection_never_reaches_it() {
    let server = setup("ticket").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let options = timeout(Duration::from_millis(1500));
    let mut start = Box::pin(server.app_start("ticket", json!({"x": "stale"}), options));
    under_way(&server, &mut start).await;
    break_off(&server, jammed, 0).await;
    let err = tokio::time::timeout(WAIT, start)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    let mut next = RawToolkit::connect(&server, "k").await;
    expect_no_stale_request(&server, &mut next).await;
}

/// Fault A (cancelled app start). An app start parked for the key's next
/// connection is dropped by its caller: its `atp_app_request` must not
/// reach the next connection.
#[tokio::test]
async fn a_cancelled_app_start_parked_for_the_next_connection_never_reaches_it() {
    let server = setup("ticket").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let mut start = Box::pin(server.app_start("ticket", json!({"x": "stale"}), timeout(WAIT)));
    under_way(&server, &mut start).await;
    break_off(&server, jammed, 0).await;
    drop(start);
    let mut next = RawToolkit::connect(&server, "k").await;
    expect_no_stale_request(&server, &mut next).await;
}

// -- B: app sessions and queued frames ---------------------------------------

/// Fault B(a), through the HTTP API: `POST /api/dev/apps/{name}/start`
/// with `timeout_ms` answers 504 while the start is parked; the toolkit's
/// next connection must then not receive that `atp_app_request` (it would
/// start a session that no caller knows, an orphan).
#[tokio::test]
async fn a_timed_out_app_start_over_http_opens_no_orphan_session() {
    let server = setup("ticket").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let body = json!({"params": {"x": "stale"}, "timeout_ms": 1500});
    let mut start = Box::pin(post(&server, "/api/dev/apps/ticket/start", &body));
    under_way(&server, &mut start).await;
    break_off(&server, jammed, 0).await;
    let (status, answer) = tokio::time::timeout(WAIT, start).await.unwrap();
    assert_eq!(status, 504, "{answer}");
    let mut next = RawToolkit::connect(&server, "k").await;
    expect_no_stale_request(&server, &mut next).await;
}

/// Fault B(b) (timed-out call). A call times out while its request still
/// waits in atp-dev's queue for a live connection (the connection is busy
/// writing a huge frame the toolkit doesn't read yet). Once the toolkit
/// reads again, the stale request must not be written to it.
#[tokio::test]
async fn a_timed_out_call_still_queued_on_a_live_connection_is_not_sent() {
    let server = setup("charge").await;
    let mut toolkit = RawToolkit::connect_unlimited(&server, "k").await;
    server.wait_for_tools(&["charge"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let options = timeout(Duration::from_millis(100));
    let err = server
        .call_with("charge", json!({"x": "stale"}), options)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    read_noise(&mut toolkit).await;
    expect_no_stale_request(&server, &mut toolkit).await;
}

/// Fault B(b) (cancelled call). As above, but the caller goes away (the
/// call's future is dropped) while the request waits in atp-dev's queue
/// for the connection: it must not be written once the toolkit reads.
#[tokio::test]
async fn a_cancelled_call_still_queued_on_a_live_connection_is_not_sent() {
    let server = setup("charge").await;
    let mut toolkit = RawToolkit::connect_unlimited(&server, "k").await;
    server.wait_for_tools(&["charge"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let mut call = Box::pin(server.call("charge", json!({"x": "stale"}), None));
    under_way(&server, &mut call).await;
    drop(call);
    read_noise(&mut toolkit).await;
    expect_no_stale_request(&server, &mut toolkit).await;
}

/// Fault B(b) (timed-out app start). An app start times out while its
/// `atp_app_request` waits in atp-dev's queue for a live connection: it
/// must not be written once the toolkit reads (it would open an orphan
/// session).
#[tokio::test]
async fn a_timed_out_app_start_still_queued_on_a_live_connection_is_not_sent() {
    let server = setup("ticket").await;
    let mut toolkit = RawToolkit::connect_unlimited(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let options = timeout(Duration::from_millis(100));
    let err = server
        .app_start("ticket", json!({"x": "stale"}), options)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    read_noise(&mut toolkit).await;
    expect_no_stale_request(&server, &mut toolkit).await;
}

/// Fault B(c). An app start is parked (its connection dropped before
/// writing it), the toolkit reconnects, receives the start and answers
/// it: the session now lives on that new connection, so the session's next
/// action must be sent there and answered (not lost in an inbox nobody
/// polls, nor failed as lost).
#[tokio::test]
async fn a_parked_app_start_keeps_its_session_on_the_connection_that_answered_it() {
    let server = setup("ticket").await;
    let jammed = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    assert_eq!(jam(&server), 1);
    let mut start = Box::pin(server.app_start("ticket", json!({"x": 1}), timeout(WAIT)));
    under_way(&server, &mut start).await;
    break_off(&server, jammed, 0).await;
    let mut next = RawToolkit::connect(&server, "k").await;
    let toolkit_side = async {
        let frame = next.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_request", "{frame}");
        let id = frame["payload"]["request_id"].clone();
        next.send_json(json!({"type": "app_response", "request_id": id, "result": {"screen": 1}}))
            .await;
    };
    let (outcome, ()) = tokio::join!(start, toolkit_side);
    let session = outcome.unwrap().request_id;

    let action = server.app_action(&session, json!({"click": 1}), Some(Duration::from_secs(2)));
    let toolkit_side = async {
        let text = next.next_text_within(Duration::from_secs(2)).await?;
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["message_type"] == "atp_app_action" {
            next.send_json(
                json!({"type": "app_response", "request_id": session, "result": {"screen": 2}}),
            )
            .await;
        }
        Some(frame)
    };
    let (answer, seen) = tokio::join!(action, toolkit_side);
    assert!(
        matches!(&answer, Ok(outcome) if outcome.result == json!({"screen": 2})),
        "the action on the session started by the parked start was not delivered to the \
         connection that answered the start: got {answer:?}; the toolkit saw {seen:?}"
    );
}

/// Fault B(d) (action). A session lives on connection 1; an action for it
/// waits in atp-dev's queue for connection 1 when that connection drops.
/// The action must not be re-sent to connection 2 of the same key (it
/// doesn't hold the session); it fails as `SessionLost`.
#[tokio::test]
async fn an_action_queued_on_a_dropped_connection_is_not_resent_to_another_one() {
    let server = setup("ticket").await;
    let mut one = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let session = open_session(&server, &mut one, "ticket").await;
    assert_eq!(jam(&server), 1);
    let mut two = RawToolkit::connect(&server, "k").await;
    server.wait_for_connections(2, WAIT).await.unwrap();
    let mut action =
        Box::pin(server.app_action(&session, json!({"click": 1}), Some(Duration::from_secs(2))));
    under_way(&server, &mut action).await;
    break_off(&server, one, 1).await;
    if let Some(text) = two.next_text_within(SILENCE).await {
        panic!("connection 2, which doesn't hold the session, was sent: {text}");
    }
    let answer = tokio::time::timeout(WAIT, action).await.unwrap();
    assert!(
        matches!(answer, Err(CallError::SessionLost(_))),
        "expected SessionLost, got {answer:?}"
    );
}

/// Fault B(d) (terminate). As above with `app_end`: the
/// `atp_app_terminate` queued for connection 1 when it drops must not be
/// re-sent to connection 2.
#[tokio::test]
async fn a_terminate_queued_on_a_dropped_connection_is_not_resent_to_another_one() {
    let server = setup("ticket").await;
    let mut one = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let session = open_session(&server, &mut one, "ticket").await;
    assert_eq!(jam(&server), 1);
    let mut two = RawToolkit::connect(&server, "k").await;
    server.wait_for_connections(2, WAIT).await.unwrap();
    let mut end = Box::pin(server.app_end(&session, Duration::from_secs(2)));
    under_way(&server, &mut end).await;
    break_off(&server, one, 1).await;
    if let Some(text) = two.next_text_within(SILENCE).await {
        panic!("connection 2, which doesn't hold the session, was sent: {text}");
    }
    let ended = tokio::time::timeout(WAIT, end).await.unwrap();
    assert!(
        matches!(ended, Ok(None) | Err(CallError::SessionLost(_))),
        "{ended:?}"
    );
}

/// Fault B(e) (cancelled action). The caller of an action goes away
/// before the toolkit answers (its future is dropped): the action is
/// forgotten, so the session's next action is accepted and answered, not
/// refused as busy forever.
#[tokio::test]
async fn a_cancelled_app_action_does_not_leave_its_session_busy() {
    let server = setup("ticket").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let session = open_session(&server, &mut toolkit, "ticket").await;
    let first = tokio::time::timeout(
        Duration::from_millis(200),
        server.app_action(&session, json!({"n": 1}), None),
    )
    .await;
    assert!(first.is_err(), "the toolkit doesn't answer: {first:?}");
    let second = server.app_action(&session, json!({"n": 2}), Some(WAIT));
    let toolkit_side = async {
        // The first action's frame, then (if accepted) the second's.
        let mut seen = Vec::new();
        while let Some(text) = toolkit.next_text_within(Duration::from_secs(1)).await {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["payload"]["action_data"] == json!({"n": 2}) {
                toolkit
                    .send_json(json!({"type": "app_response", "request_id": session,
                                      "result": {"screen": 2}}))
                    .await;
                break;
            }
            seen.push(frame);
        }
        seen
    };
    let (answer, seen) = tokio::join!(second, toolkit_side);
    assert!(
        matches!(&answer, Ok(outcome) if outcome.result == json!({"screen": 2})),
        "the action after a cancelled one was not accepted: {answer:?} (toolkit saw {seen:?})"
    );
}

/// Fault B(e) (cancelled start). The caller of an app start goes away
/// after the toolkit got the request but before it answered: the start is
/// forgotten with its session, so the session id is unknown (not busy,
/// nor open to actions).
#[tokio::test]
async fn a_cancelled_app_start_opens_no_session() {
    let server = setup("ticket").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let mut start = Box::pin(server.app_start("ticket", json!({}), timeout(WAIT)));
    under_way(&server, &mut start).await;
    let frame = toolkit.next_json().await;
    assert_eq!(frame["message_type"], "atp_app_request", "{frame}");
    let id = frame["payload"]["request_id"].as_str().unwrap().to_owned();
    drop(start);
    let answer = server
        .app_action(&id, json!({}), Some(Duration::from_secs(1)))
        .await;
    assert!(
        matches!(answer, Err(CallError::UnknownSession(_))),
        "expected UnknownSession for a start its caller dropped, got {answer:?}"
    );
}

// -- C: memory ---------------------------------------------------------------

/// The five posts of one full announce of toolkit "demo" (tools "a" and
/// "b") under key "k", as a reference client makes them.
fn announce_round() -> Vec<(&'static str, Value)> {
    let mut posts = vec![(
        "/api/v1/toolkit/verify_hash",
        json!({"api_key": "k", "app_name": "demo", "toolkit_hash": "toolkit-demo"}),
    )];
    for tool in ["a", "b"] {
        posts.push((
            "/api/v1/toolkit/verify_tool_hash",
            json!({"api_key": "k", "tool_hash": format!("hash-{tool}"), "tool_name": tool}),
        ));
    }
    for tool in ["a", "b"] {
        posts.push(("/api/v1/register_tool", registration("k", "demo", tool)));
    }
    posts
}

async fn post_ok(client: &reqwest::Client, server: &DevServer, path: &str, body: &Value) {
    let response = client
        .post(format!("{}{path}", server.base_url()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
}

/// Fault C (registrations). Re-announcing the same toolkit (a toolkit that
/// restarts, a watcher that re-runs it) must not grow `registrations`: it
/// holds one entry per (key, tool), the latest.
#[tokio::test]
async fn re_announcing_keeps_one_registration_per_tool() {
    let server = DevServer::start().await.unwrap();
    let client = http();
    for _ in 0..50 {
        for (path, body) in announce_round() {
            post_ok(&client, &server, path, &body).await;
        }
    }
    let registrations = server.registrations();
    let mut tools: Vec<&str> = registrations
        .iter()
        .map(|r| r.function_id.as_str())
        .collect();
    tools.sort_unstable();
    assert!(
        tools == ["a", "b"],
        "expected one registration per (key, tool) after 50 re-announces, got {} entries",
        registrations.len()
    );
}

/// Fault C (announce log). 5000 announce posts (1000 re-announces) must
/// leave a bounded log: at most 1000 entries, the latest kept.
#[tokio::test]
async fn the_announce_log_stays_bounded() {
    let server = DevServer::start().await.unwrap();
    let client = http();
    let posts: Vec<(&str, Value)> = (0..1000).flat_map(|_| announce_round()).collect();
    assert_eq!(posts.len(), 5000);
    futures_util::stream::iter(&posts)
        .for_each_concurrent(16, |(path, body)| post_ok(&client, &server, path, body))
        .await;
    let last = json!({"api_key": "k", "app_name": "demo", "toolkit_hash": "the-last"});
    post_ok(&client, &server, "/api/v1/toolkit/verify_hash", &last).await;
    let log = server.announce_log();
    assert!(
        log.len() <= 1000,
        "the announce log holds {} entries after 5001 posts",
        log.len()
    );
    assert!(
        matches!(log.last(), Some(AnnounceRecord::VerifyHash(v)) if v.toolkit_hash == "the-last"),
        "the latest announce is kept"
    );
}

/// Fault C (stray answers). 50 stray answers of 1 MiB each (answers for
/// no waiting call) must not all be kept: the kept stray answers stay
/// under 16 MiB in all, the latest among them.
#[tokio::test]
async fn stray_answers_stay_bounded_in_bytes() {
    let server = setup("unused").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["probe"], WAIT).await.unwrap();
    let big = "s".repeat(1 << 20);
    for i in 0..50 {
        toolkit
            .respond(&json!(format!("stray-{i}")), json!(big))
            .await;
    }
    // A call answered after them on the same connection: atp-dev handles a
    // connection's frames in order, so by its answer every stray one is in.
    let (outcome, ()) = tokio::join!(server.call("probe", json!({}), None), toolkit.serve(1, "t"));
    outcome.unwrap();
    let stray = server.stray_answers();
    let bytes: usize = stray
        .iter()
        .map(|(id, result)| id.to_string().len() + serde_json::to_string(result).unwrap().len())
        .sum();
    assert!(
        bytes <= 16 << 20,
        "{} stray answers kept, {bytes} bytes in all",
        stray.len()
    );
    assert_eq!(
        stray.last().map(|(id, _)| id.to_string()),
        Some("stray-49".to_owned()),
        "the latest stray answer is kept"
    );
}

/// Fault C (sessions not pruned), after the close. Once the connection
/// that holds a session has closed, an action on the session fails at
/// once as lost (`SessionLost`, HTTP 410), and keeps failing so: it
/// neither hangs nor goes to the key's next connection.
#[tokio::test]
async fn an_action_after_its_sessions_connection_closed_fails_at_once() {
    let server = setup("ticket").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let session = open_session(&server, &mut toolkit, "ticket").await;
    toolkit.ws.close(None).await.unwrap();
    server.wait_for_connections(0, WAIT).await.unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(1),
        server.app_action(&session, json!({}), Some(WAIT)),
    )
    .await
    .expect("an answer at once");
    assert!(
        matches!(answer, Err(CallError::SessionLost(_))),
        "{answer:?}"
    );
    let mut next = RawToolkit::connect(&server, "k").await;
    let path = format!("/api/dev/apps/sessions/{session}/action");
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(1),
        post(&server, &path, &json!({"action_data": {}})),
    )
    .await
    .expect("an answer at once");
    assert!(matches!(status, 404 | 410), "{status} {body}");
    expect_no_stale_request(&server, &mut next).await;
}

/// Fault C (sessions not pruned), during the close. An action already
/// written to the connection that holds its session waits for the
/// answer; when that connection closes, the session is gone with it, so
/// the action fails at once as lost instead of hanging until its time
/// limit (here 30 s).
#[tokio::test]
async fn an_action_in_flight_when_its_sessions_connection_closes_fails_at_once() {
    let server = setup("ticket").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let session = open_session(&server, &mut toolkit, "ticket").await;
    let mut action =
        Box::pin(server.app_action(&session, json!({"click": 1}), Some(Duration::from_secs(30))));
    under_way(&server, &mut action).await;
    let frame = toolkit.next_json().await;
    assert_eq!(frame["message_type"], "atp_app_action", "{frame}");
    toolkit.ws.close(None).await.unwrap();
    server.wait_for_connections(0, WAIT).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(2), action).await;
    assert!(
        matches!(answer, Ok(Err(CallError::SessionLost(_)))),
        "the action was still waiting 2 s after its session's connection closed: {answer:?}"
    );
}

// -- D: answers at the moment of the timeout -----------------------------------

/// Fault D (suspected, confirmed). An answer that arrives just as its call
/// times out must not be lost: it is either the call's result or a stray
/// answer (`stray_answers`, which keeps the latest thousand).
///
/// 30 rounds of 400 calls with a 100 ms time limit, made at once; the toolkit
/// answers them spread from 3 ms before to 3 ms after the moment the
/// timeouts fire (each round centres the spread on what the last one
/// showed), so many answers are handled by atp-dev's connection task on
/// one worker thread while the calls' timeouts fire on the other. The race
/// is a matter of timing, so this test catches it in some runs only (4 to
/// 5 runs in 10 here, about 3.5 s each); fixed, it always passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_at_the_timeout_is_a_result_or_a_stray_answer() {
    const CALLS: usize = 400;
    const ROUNDS: usize = 30;
    const LIMIT: Duration = Duration::from_millis(100);
    /// The answers go from SWEEP_MS before the time limit to SWEEP_MS after.
    const SWEEP_MS: f64 = 3.0;
    let server = setup("unused").await;
    // With no Nagle delay (as `connect_unlimited` sets), so that each
    // answer leaves when the toolkit sends it.
    let mut toolkit = RawToolkit::connect_unlimited(&server, "k").await;
    server.wait_for_tools(&["probe"], WAIT).await.unwrap();
    let (mut answered, mut timed_out) = (0u32, 0u32);
    // Where the timeouts fire, relative to the time limit (they fire a
    // little late): each round centres the sweep as the last one suggests.
    let mut centre_ms = 0.0;
    for round in 0..ROUNDS {
        let (answered_before, timed_out_before) = (answered, timed_out);
        let started = tokio::time::Instant::now();
        let calls =
            futures_util::future::join_all((0..CALLS).map(|i| {
                server.call_with("probe", json!({"round": round, "i": i}), timeout(LIMIT))
            }));
        let toolkit_side = async {
            let mut due = Vec::new();
            let mut ids = vec![Value::Null; CALLS];
            for n in 0..CALLS {
                let request = toolkit.next_request().await;
                let i = usize::try_from(request["params"]["i"].as_u64().unwrap()).unwrap();
                ids[i] = request["request_id"].clone();
                // Relative to when the calls started (their time limits
                // start within a few ms of that).
                let offset = centre_ms + (n as f64 / (CALLS - 1) as f64 * 2.0 - 1.0) * SWEEP_MS;
                let at = started + LIMIT;
                let at = if offset < 0.0 {
                    at - Duration::from_secs_f64(-offset / 1000.0)
                } else {
                    at + Duration::from_secs_f64(offset / 1000.0)
                };
                due.push((at, request["request_id"].clone()));
            }
            due.sort_by_key(|(at, _)| *at);
            for (at, id) in due {
                tokio::time::sleep_until(at).await;
                toolkit.respond(&id, json!("answer")).await;
            }
            ids
        };
        let (results, ids) = tokio::join!(calls, toolkit_side);
        // Every answer sent is handled before this one's (same connection).
        let sentinel = server.call_with("probe", json!({"sentinel": round}), timeout(WAIT));
        let (sentinel, ()) = tokio::join!(sentinel, toolkit.serve(1, "t"));
        sentinel.unwrap();
        let stray: HashSet<String> = server
            .stray_answers()
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        let mut lost = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            let id = ids[i].as_str().unwrap().to_owned();
            match result {
                Ok(outcome) => {
                    assert_eq!(outcome.result, json!("answer"));
                    assert_eq!(outcome.request_id, id);
                    answered += 1;
                }
                // A timed-out call's answer must be among the stray ones.
                Err(CallError::Timeout { .. }) => {
                    timed_out += 1;
                    if !stray.contains(&id) {
                        lost.push(id);
                    }
                }
                Err(err) => panic!("{err:?}"),
            }
        }
        assert!(
            lost.is_empty(),
            "answers lost in round {round}: these calls timed out and their answers, sent, \
             are not among the stray answers: {lost:?}"
        );
        let in_time = f64::from(answered - answered_before);
        let late = f64::from(timed_out - timed_out_before);
        centre_ms += (in_time - late) / (in_time + late) * SWEEP_MS;
    }
    eprintln!("{answered} answered in time, {timed_out} timed out (their answers kept as stray)");
    assert!(
        answered > 0 && timed_out > 0,
        "the answers did not straddle the timeouts"
    );
}
