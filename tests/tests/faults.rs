//! Fault injection: the toolkit keeps serving, and loses no response it
//! owes, through dropped connections, a restarted server, a server that
//! never finishes the handshake, one that stops answering pings, one that
//! reads slowly, and one that is down for ten seconds.
//!
//! Every wait is bounded; the only sleep is the ten-second outage itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use atp_dev::{CallOptions, DevServer};
use atp_tests::front::{Front, Mode};
use atp_tests::*;
use serde_json::{Value, json};

fn options(timeout: Duration) -> CallOptions {
    CallOptions {
        timeout: Some(timeout),
        ..CallOptions::default()
    }
}

fn slow_echo_call(
    server: &Arc<DevServer>,
    group: &'static str,
    id: u64,
    limit: Duration,
) -> tokio::task::JoinHandle<(u64, Result<atp_dev::CallOutcome, atp_dev::CallError>)> {
    let server = server.clone();
    tokio::spawn(async move {
        let params = json!({"group": group, "id": id, "ms": 150});
        (
            id,
            server.call_with("slow_echo", params, options(limit)).await,
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_drops_with_calls_in_flight_lose_no_received_response() {
    let server = Arc::new(start_server().await);
    let toolkit = start_toolkit(&server, "faults-drops", Some(&["slow_echo"])).await;
    let group = "drops";
    let mut answered = BTreeSet::new();
    let mut unanswered = BTreeSet::new();
    for round in 0..10u64 {
        let connects = server.connects();
        let mut calls = Vec::new();
        // Ten calls the toolkit surely holds when the connection drops...
        let held: Vec<u64> = (0..10).map(|i| round * 100 + i).collect();
        for &id in &held {
            calls.push(slow_echo_call(&server, group, id, WAIT));
        }
        wait_received(group, &held).await;
        // ... and a few racing the drop: received or not, whichever.
        for i in 50..53 {
            calls.push(slow_echo_call(
                &server,
                group,
                round * 100 + i,
                Duration::from_secs(2),
            ));
        }
        assert_eq!(server.drop_connections(), 1, "round {round}");
        server
            .wait_for_connects(connects + 1, WAIT)
            .await
            .expect("the toolkit reconnects");
        // The answers come over the new connection. (The next drop waits
        // for them: a response written into a socket in the instant it
        // dies is lost on the wire, which no protocol without
        // acknowledgements can prevent; see RELIABILITY.md.)
        for call in calls {
            let (id, outcome) = call.await.unwrap();
            match outcome {
                Ok(outcome) => {
                    assert_eq!(
                        outcome.result,
                        json!(id),
                        "call {id} answered with its own result"
                    );
                    answered.insert(id);
                }
                Err(_) => {
                    unanswered.insert(id);
                }
            }
        }
    }
    let received: BTreeSet<u64> = received(group).into_iter().collect();
    let lost: Vec<_> = received.difference(&answered).collect();
    assert!(lost.is_empty(), "received but never answered: {lost:?}");
    assert!(
        answered.iter().filter(|id| *id % 100 < 10).count() == 100,
        "every call the toolkit held at a drop was answered after the reconnect"
    );
    println!(
        "{} calls answered across 10 drops, {} racing calls never reached the toolkit",
        answered.len(),
        unanswered.len()
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restarted_server_on_the_same_port_is_announced_to_and_served_again() {
    init_logging();
    let first = DevServer::start().await.unwrap();
    let addr = first.local_addr();
    let toolkit = start_toolkit(&first, "faults-restart", Some(&["echo"])).await;
    assert_eq!(
        call(&first, "echo", json!({"text": "one"})).await,
        json!({"echo": "one"})
    );
    first.shutdown().await;
    drop(first);

    let second = DevServer::builder().bind(addr).start().await.unwrap();
    second
        .wait_for_tools(&["echo"], WAIT)
        .await
        .expect("the toolkit comes back to the new server");
    assert_eq!(
        second.registrations().len(),
        1,
        "the new server was told about the tool again"
    );
    assert_eq!(
        call(&second, "echo", json!({"text": "two"})).await,
        json!({"echo": "two"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_handshake_that_never_completes_is_timed_out_and_retried() {
    let server = start_server().await;
    let front = Front::start(server.local_addr(), None).await;
    front.set_mode(Mode::HoldUpgrades);
    let client = builder(&server, "faults-handshake", Some(&["echo"]))
        .base_url(front.url())
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    front.wait_held(3).await;
    assert!(!toolkit.task.is_finished(), "the toolkit keeps trying");
    front.set_mode(Mode::Forward);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "in"})).await,
        json!({"echo": "in"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_that_stops_answering_pings_is_left_for_a_new_connection() {
    let server = start_server().await;
    let front = Front::start(server.local_addr(), None).await;
    let client = builder(&server, "faults-ping", Some(&["echo"]))
        .base_url(front.url())
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(200))
        // The pooled HTTP connection of the last announce is frozen too.
        .request_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let connects = server.connects();
    // The connection stays open but nothing comes through any more.
    front.freeze_all();
    server
        .wait_for_connects(connects + 1, WAIT)
        .await
        .expect("the toolkit gives up on the silent connection and makes a new one");
    server.wait_for_connections(1, WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "back"})).await,
        json!({"echo": "back"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_every_answer_and_the_toolkit_holds_only_its_limit() {
    let server = Arc::new(start_server().await);
    // The server side reads 1 KiB per millisecond at most.
    let front = Front::start(server.local_addr(), Some((1024, Duration::from_millis(1)))).await;
    let client = builder(&server, "faults-slow", Some(&["big"]))
        .base_url(front.url())
        .max_in_flight(4)
        .max_queued(16)
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["big"], WAIT).await.unwrap();
    let size = 32 * 1024;
    let flood = |n: usize| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move {
                    server
                        .call_with("big", json!({"bytes": size}), options(WAIT))
                        .await
                        .expect("every call is answered")
                        .result
                })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for call in calls {
                results.push(call.await.unwrap());
            }
            results
        }
    };
    // Within the limit (4 running + 16 waiting): all served in full.
    for result in flood(20).await {
        assert_eq!(result.as_str().map(str::len), Some(size));
    }
    // Three times the limit at once: the responses the server has not read
    // yet hold their slots, so the toolkit refuses the excess at once
    // instead of piling up answers.
    let results = flood(60).await;
    let full = results
        .iter()
        .filter(|r| r.as_str().map(str::len) == Some(size))
        .count();
    let refused = results
        .iter()
        .filter(|r| {
            r["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("Toolkit overloaded"))
        })
        .count();
    assert_eq!(
        full + refused,
        60,
        "each call got its result or an overload answer"
    );
    assert!(
        full >= 20 && refused > 0,
        "{full} served, {refused} refused"
    );
    println!("slow reader: {full} served in full, {refused} refused as overloaded");
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_down_for_ten_seconds_is_retried_a_handful_of_times_then_served() {
    let server = start_server().await;
    let front = Front::start(server.local_addr(), None).await;
    let client = builder(&server, "faults-down", Some(&["echo"]))
        .base_url(front.url())
        // The default first delay; a 4 s cap keeps the test short.
        .backoff(Duration::from_millis(500), Duration::from_secs(4))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let connects = server.connects();

    front.set_mode(Mode::Refuse);
    front.cut_all();
    let before = front.accepts().len();
    // The outage itself: the one deliberate sleep of this suite.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let attempts: Vec<_> = front.accepts()[before..].to_vec();
    front.set_mode(Mode::Forward);

    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    println!(
        "server down 10 s: {} attempts, gaps {gaps:?} (the reference client: ~37,000)",
        attempts.len()
    );
    assert!(
        (3..=12).contains(&attempts.len()),
        "a handful of attempts, not a storm and not a give-up: {}",
        attempts.len()
    );
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(200)),
        "attempts are spaced by the backoff: {gaps:?}"
    );
    server
        .wait_for_connects(connects + 1, WAIT)
        .await
        .expect("the toolkit is back once the server is");
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let back: Value = call(&server, "echo", json!({"text": "up"})).await;
    assert_eq!(back, json!({"echo": "up"}));
    toolkit.shutdown().await.unwrap();
}
