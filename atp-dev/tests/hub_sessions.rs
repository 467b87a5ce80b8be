//! App sessions in atp-dev's hub: a session lives on the connection that
//! answered its start, its actions are never sent to another one, a
//! cancelled action or start leaves nothing behind, and once its
//! connection closes its actions fail at once. Review fault 11, cases
//! B(c), B(d), B(e) and C (sessions not pruned); how a test jams a
//! connection is in `support/hub.rs`.

mod support;

use std::time::Duration;

use atp_dev::CallError;
use serde_json::{Value, json};
use support::hub::*;
use support::*;

/// Review fault 11, case B(c). An app start is parked (its connection dropped before
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

/// Review fault 11, case B(d) (action). A session lives on connection 1; an action for it
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

/// Review fault 11, case B(d) (terminate). As above with `app_end`: the
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

/// Review fault 11, case B(e) (cancelled action). The caller of an action goes away
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

/// Review fault 11, case B(e) (cancelled start). The caller of an app start goes away
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

/// Review fault 11, case C (sessions not pruned), after the close. Once the connection
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

/// Review fault 11, case C (sessions not pruned), during the close. An action already
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
