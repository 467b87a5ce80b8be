//! App sessions (protocol section 5) at their end: actions queued behind
//! a terminate or an eviction, a terminate during the start, and session
//! ids of different JSON types. The server's side is played with raw
//! frames ([`DevServer::send_raw`]); their answers are stray answers.
//!
//! Every wait is bounded, so a fault that shows as a hang fails the test
//! instead of hanging it.

use std::time::Duration;

use atp_dev::{CallOptions, DevServer, RawFrame};
use atp_sdk::{App, AppDef, AppStep, AuthToken};
use atp_tests::stand_in::tool_request;
use atp_tests::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A counter: each action sleeps `ms`, then counts one more. It reports
/// each start and action as it begins.
struct Counter {
    events: mpsc::UnboundedSender<&'static str>,
}

/// How a counter session starts.
#[derive(Deserialize, JsonSchema)]
struct CounterStart {
    /// How long the start takes, in milliseconds.
    start_ms: Option<u64>,
}

/// One action: work for `ms`, then count.
#[derive(Deserialize)]
struct Work {
    ms: u64,
}

impl App for Counter {
    type Params = CounterStart;
    type State = u64;
    type Action = Work;

    async fn start(
        &self,
        params: CounterStart,
        _token: Option<AuthToken>,
    ) -> Result<AppStep<u64>, String> {
        let _ = self.events.send("start");
        if let Some(ms) = params.start_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(AppStep::show(json!({"n": 0}), 0))
    }

    async fn action(&self, work: Work, n: u64) -> Result<AppStep<u64>, String> {
        let _ = self.events.send("action");
        tokio::time::sleep(Duration::from_millis(work.ms)).await;
        Ok(AppStep::show(json!({"n": n + 1}), n + 1))
    }
}

/// A toolkit serving the counter app as `counter`, keeping at most
/// `max_sessions`; and the events of the app.
async fn start_counter(
    server: &DevServer,
    app: &str,
    max_sessions: usize,
) -> (Toolkit, mpsc::UnboundedReceiver<&'static str>) {
    let (events, rx) = mpsc::unbounded_channel();
    let client = builder(server, app, Some(&["echo"]))
        .app(AppDef::new("counter", Counter { events }))
        .app_sessions(max_sessions, Duration::from_secs(3600))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["echo", "counter"], WAIT)
        .await
        .unwrap();
    (toolkit, rx)
}

/// Waits until the app reports `event`.
async fn app_event(events: &mut mpsc::UnboundedReceiver<&'static str>, event: &str) {
    let wait = async {
        while let Some(seen) = events.recv().await {
            if seen == event {
                return;
            }
        }
        panic!("the app's events ended");
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("the app reports {event:?}"));
}

fn app_action(session: &Value, ms: u64) -> RawFrame {
    RawFrame::Text(
        json!({"message_type": "atp_app_action",
               "payload": {"request_id": session, "action_data": {"ms": ms}}})
        .to_string(),
    )
}

fn app_terminate(session: &Value) -> RawFrame {
    RawFrame::Text(
        json!({"message_type": "atp_app_terminate", "payload": {"request_id": session}})
            .to_string(),
    )
}

fn app_request(session: &Value, params: Value) -> RawFrame {
    RawFrame::Text(
        json!({"message_type": "atp_app_request",
               "payload": {"request_id": session, "tool_name": "counter", "params": params}})
        .to_string(),
    )
}

/// The stray answers (answers to raw frames) whose request id is `id`
/// (compared as JSON: the string "7" is not the number 7), once there
/// are `n` of them, in arrival order.
async fn answers_for(server: &DevServer, id: &Value, n: usize) -> Vec<Value> {
    let wait = async {
        loop {
            // One snapshot for both the answers and the count waited past,
            // so an answer arriving in between is not waited for again.
            let all = server.stray_answers();
            let total = all.len();
            let answers: Vec<Value> = all
                .into_iter()
                .filter(|(rid, _)| serde_json::to_value(rid).unwrap() == *id)
                .map(|(_, answer)| answer)
                .collect();
            if answers.len() >= n {
                return answers;
            }
            let _ = server.wait_for_stray_answers(total + 1, WAIT).await;
        }
    };
    tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| {
        panic!(
            "{n} answers for {id}; stray answers so far: {:?}",
            server.stray_answers()
        )
    })
}

/// Returns once the toolkit has read and dispatched every frame sent to
/// it before this call: it sends an `echo` request tagged `tag` after them
/// and waits for its answer (the toolkit reads a connection's frames in
/// order, and starts each call's task as it reads its frame).
async fn toolkit_has_read(server: &DevServer, tag: &str) {
    let id = json!(tag);
    server.send_raw(RawFrame::Text(tool_request(
        id.clone(),
        "echo",
        json!({"text": tag}),
    )));
    let answers = answers_for(server, &id, 1).await;
    assert_eq!(
        answers[0],
        json!({"echo": tag}),
        "the probe {tag} is answered"
    );
}

fn unknown_session(session: &str) -> Value {
    json!({"error": format!("Unknown app session: {session}")})
}

/// Review fault 4: app sessions outlive their end (a terminate). A
/// session's slow action runs, a second one waits behind it, then the
/// server ends the session: after the terminate, every action still
/// queued must be answered `Unknown app session: <id>`, and none may run
/// on the ended session (no `{"n": 2}`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_queued_behind_a_terminate_find_no_session() {
    let server = start_server().await;
    let (toolkit, mut events) = start_counter(&server, "fault4-terminate", 100).await;
    let started = server
        .app_start("counter", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(started.result, json!({"n": 0}));
    let session = started.request_id.clone();
    let id = json!(session);

    server.send_raw(app_action(&id, 300));
    app_event(&mut events, "action").await;
    server.send_raw(app_action(&id, 0));
    // The scenario: the terminate comes while the second action waits
    // for the first (the toolkit has taken it in, well within the first's
    // 300 ms).
    toolkit_has_read(&server, "fault4-terminate-probe").await;
    server.send_raw(app_terminate(&id));

    let answers = answers_for(&server, &id, 3).await;
    assert!(
        answers.contains(&json!({"terminated": true})),
        "the terminate is answered: {answers:?}"
    );
    assert!(
        !answers.contains(&json!({"n": 2})),
        "an action queued before the terminate ran on the ended session: \
         answers in arrival order (terminate, action 1, action 2): {answers:?}"
    );
    assert_eq!(
        answers.last(),
        Some(&unknown_session(&session)),
        "the queued action is answered Unknown app session: {answers:?}"
    );
    // And the session stays gone.
    server.send_raw(app_action(&id, 0));
    let answers = answers_for(&server, &id, 4).await;
    assert_eq!(answers[3], unknown_session(&session), "{answers:?}");
    toolkit.shutdown().await.unwrap();
}

/// Review fault 4 (LRU eviction): with room for one session, session A's
/// slow action runs and a second action of A waits; then session B
/// starts and evicts A. A's queued action must be answered `Unknown app
/// session: <A>` (not run on the evicted state: no `{"n": 2}`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_queued_on_an_evicted_session_find_no_session() {
    let server = start_server().await;
    let (toolkit, mut events) = start_counter(&server, "fault4-evict", 1).await;
    let a = server
        .app_start("counter", json!({}), CallOptions::default())
        .await
        .unwrap()
        .request_id;
    let a_id = json!(a);
    server.send_raw(app_action(&a_id, 300));
    app_event(&mut events, "action").await;
    server.send_raw(app_action(&a_id, 0));
    // The scenario: B starts while A's second action waits for its first
    // (the toolkit has taken it in, well within the first's 300 ms).
    toolkit_has_read(&server, "fault4-evict-probe").await;
    let b = server
        .app_start("counter", json!({}), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(b.result, json!({"n": 0}));

    let answers = answers_for(&server, &a_id, 2).await;
    assert!(
        !answers.contains(&json!({"n": 2})),
        "an action of the evicted session ran on its old state: \
         answers in arrival order (action 1, action 2): {answers:?}"
    );
    assert_eq!(
        answers[1],
        unknown_session(&a),
        "the queued action of the evicted session is answered Unknown app session: {answers:?}"
    );
    toolkit.shutdown().await.unwrap();
}

/// Review fault 4 (terminate during the start): a terminate that comes
/// while the app's start still runs ends the session: it must never be
/// stored, so a later action is answered `Unknown app session`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminate_during_the_start_leaves_no_session() {
    let server = start_server().await;
    let (toolkit, mut events) = start_counter(&server, "fault4-early-end", 100).await;
    let session = "fault4-early-end-1";
    let id = json!(session);
    server.send_raw(app_request(&id, json!({"start_ms": 300})));
    app_event(&mut events, "start").await;
    server.send_raw(app_terminate(&id));
    // The terminate's answer and the start's.
    let answers = answers_for(&server, &id, 2).await;
    assert!(
        answers.contains(&json!({"n": 0})),
        "the start is answered: {answers:?}"
    );
    server.send_raw(app_action(&id, 0));
    let answers = answers_for(&server, &id, 3).await;
    assert_eq!(
        answers[2],
        unknown_session(session),
        "a session ended during its start was stored anyway \
         (answers in arrival order: terminate, start, action): {answers:?}"
    );
    toolkit.shutdown().await.unwrap();
}

/// Review fault 8: session ids collide across JSON types. A session
/// started with the number 7 as its id is not the session "7" (a string):
/// an action for "7" must be answered `Unknown app session`; likewise a
/// session "8" for an action with the number 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_and_a_string_id_are_different_sessions() {
    let server = start_server().await;
    let (toolkit, _events) = start_counter(&server, "fault8", 100).await;
    for (started_as, acted_as) in [(json!(7), json!("7")), (json!("8"), json!(8))] {
        server.send_raw(app_request(&started_as, json!({})));
        let started = answers_for(&server, &started_as, 1).await;
        assert_eq!(
            started[0],
            json!({"n": 0}),
            "the session {started_as} starts"
        );
        server.send_raw(app_action(&acted_as, 0));
        let acted = answers_for(&server, &acted_as, 1).await;
        let error = acted[0]["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("Unknown app session"),
            "an action for the session {acted_as} acted on the session {started_as}: \
             answered {}",
            acted[0]
        );
    }
    toolkit.shutdown().await.unwrap();
}
