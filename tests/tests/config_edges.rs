//! Configuration edges: durations of zero or `Duration::MAX` for the
//! ping interval and timeout, the backoff and the poll interval. The
//! builder clamps every duration into 1 ms ..= 365 days, so `build()`
//! takes each of them, and the toolkit must serve sanely with it.
//!
//! Every wait is bounded, so a fault that shows as a hang fails the test
//! instead of hanging it.

use std::time::Duration;

use atp_dev::DevServer;
use atp_sdk::Transport;
use atp_tests::serving::{describe_panic, options};
use atp_tests::*;
use serde_json::json;

/// Builds `builder`, which must take the setting (clamped), and checks
/// that the toolkit serves sanely: it connects, answers a call, keeps
/// serving for 1 s without ending (no panic), and stops cleanly.
async fn served_sanely(server: &DevServer, what: &str, builder: atp_sdk::ToolKitClientBuilder) {
    let client = builder
        .tools(["echo"])
        .build()
        .unwrap_or_else(|err| panic!("{what}: build() takes the value, clamped; it said: {err}"));
    let mut toolkit = spawn(client);
    tokio::select! {
        ready = server.wait_for_tools(&["echo"], WAIT) => ready.unwrap(),
        ended = &mut toolkit.task => panic!("{what}: serve() {} before connecting", describe_panic(ended)),
    }
    let answer = tokio::select! {
        answer = server.call_with("echo", json!({"text": "edge"}), options(Duration::from_secs(10))) => answer,
        ended = &mut toolkit.task => panic!("{what}: serve() {} during a call", describe_panic(ended)),
    };
    assert_eq!(
        answer.map(|a| a.result),
        Ok(json!({"echo": "edge"})),
        "{what}: a call is answered"
    );
    // The scenario: serving for a second.
    if let Ok(ended) = tokio::time::timeout(Duration::from_secs(1), &mut toolkit.task).await {
        panic!("{what}: serve() {} while serving", describe_panic(ended));
    }
    toolkit.stop.stop();
    let ended = tokio::time::timeout(WAIT, &mut toolkit.task)
        .await
        .unwrap_or_else(|_| panic!("{what}: serve() returns after stop()"));
    assert!(ended.is_ok(), "{what}: serve() {}", describe_panic(ended));
}

/// Review fault 10: `ping_interval(Duration::ZERO)` panicked the serve
/// task. It is clamped to 1 ms: `build()` takes it and the toolkit serves
/// sanely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_ping_interval_is_clamped_and_served_sanely() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-ping-zero", None).ping_interval(Duration::ZERO);
    served_sanely(&server, "ping_interval(0)", builder).await;
}

/// Review fault 10: `ping_interval(Duration::MAX)` overflowed
/// `Instant + Duration`. It is clamped to 365 days: `build()` takes it and
/// the toolkit serves sanely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_ping_interval_is_clamped_and_served_sanely() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-ping-max", None).ping_interval(Duration::MAX);
    served_sanely(&server, "ping_interval(MAX)", builder).await;
}

/// Review fault 10: `ping_timeout(Duration::MAX)` (with a short ping
/// interval) overflowed the deadline `ping_interval + ping_timeout` at the
/// first ping. It is clamped to 365 days: `build()` takes it and the
/// toolkit serves sanely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_ping_timeout_is_clamped_and_served_sanely() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-ping-timeout-max", None)
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::MAX);
    served_sanely(&server, "ping_timeout(MAX)", builder).await;
}

/// Review fault 10: `backoff(Duration::MAX, Duration::MAX)`. Both are
/// clamped to 365 days: `build()` takes them and the toolkit serves
/// sanely: after a drop it backs off without a panic, and a stop during
/// the backoff ends `serve()` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_backoff_is_clamped_and_served_sanely() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-backoff-max", Some(&["echo"]))
        .backoff(Duration::MAX, Duration::MAX);
    let client = builder
        .build()
        .expect("backoff(MAX, MAX): build() takes the value, clamped");
    let mut toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "x"})).await,
        json!({"echo": "x"})
    );
    assert_eq!(server.drop_connections(), 1);
    // The scenario: one second after the drop (backing off, or back).
    if let Ok(ended) = tokio::time::timeout(Duration::from_secs(1), &mut toolkit.task).await {
        panic!(
            "backoff(MAX): serve() {} after a drop",
            describe_panic(ended)
        );
    }
    toolkit.stop.stop();
    let ended = tokio::time::timeout(Duration::from_secs(5), &mut toolkit.task)
        .await
        .expect("backoff(MAX): serve() returns after stop()");
    assert!(
        ended.is_ok(),
        "backoff(MAX): serve() {}",
        describe_panic(ended)
    );
}

/// Review fault 10: `poll_interval(Duration::ZERO, max)` never backed
/// off: an idle inbox was polled in a tight loop. The zero is clamped to
/// 1 ms: `build()` takes it and the toolkit polls an idle inbox at most
/// ~50 times in 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_poll_interval_is_clamped_and_backs_off() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-poll-zero", Some(&["echo"]))
        .transport(Transport::Http)
        .poll_interval(Duration::ZERO, Duration::from_secs(2));
    let client = builder
        .build()
        .expect("poll_interval(0, 2 s): build() takes the value, clamped");
    let toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "x"})).await,
        json!({"echo": "x"})
    );
    let before = server.inbox_polls();
    // The scenario: two idle seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let polls = server.inbox_polls() - before;
    toolkit.shutdown().await.unwrap();
    assert!(
        polls <= 50,
        "an idle inbox was polled {polls} times in 2 s with poll_interval(0, 2 s)"
    );
}

/// Review fault 10: `poll_interval(50 ms, Duration::MAX)`. The maximum is
/// clamped to 365 days: `build()` takes it and the toolkit serves sanely:
/// calls answered, an idle inbox polled without a panic, a stop honoured
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_poll_interval_is_clamped_and_served_sanely() {
    let server = start_server().await;
    let builder = builder(&server, "fault10-poll-max", None)
        .transport(Transport::Http)
        .poll_interval(Duration::from_millis(50), Duration::MAX);
    served_sanely(&server, "poll_interval(50 ms, MAX)", builder).await;
}
