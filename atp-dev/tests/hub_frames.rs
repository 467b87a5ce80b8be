//! atp-dev never sends a toolkit the frame of a call whose caller gave up
//! (it timed out or was cancelled), whether the frame was parked for the
//! key's next connection or queued on a live one; app starts included.
//! Review fault 11, cases A, B(a) and B(b); how a test jams a connection
//! to get a parked or queued frame is in `support/hub.rs`.

mod support;

use std::time::Duration;

use atp_dev::CallError;
use serde_json::json;
use support::hub::*;
use support::*;

/// Review fault 11, case A (cancelled call). A call's request is parked for the key's next
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

/// Review fault 11, case A (timed-out call), the case the code already handles: a parked
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

/// Review fault 11, case A (timed-out app start; also B(a): the toolkit would open a
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

/// Review fault 11, case A (cancelled app start). An app start parked for the key's next
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

/// Review fault 11, case B(a), through the HTTP API: `POST /api/dev/apps/{name}/start`
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

/// Review fault 11, case B(b) (timed-out call). A call times out while its request still
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

/// Review fault 11, case B(b) (cancelled call). As above, but the caller goes away (the
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

/// Review fault 11, case B(b) (timed-out app start). An app start times out while its
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
