//! The toolkit's limits: an oversized frame, a call past its time limit,
//! and a flood of 10,000 requests against a slow tool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atp_dev::{CallError, CallOptions};
use atp_tests::*;
use serde_json::json;

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_toolkit_stays_up() {
    let server = start_server().await;
    let client = builder(&server, "limits-frame", Some(&["echo"]))
        .max_frame_bytes(64 * 1024)
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let connects = server.connects();

    let huge = "x".repeat(1024 * 1024);
    let options = CallOptions {
        timeout: Some(Duration::from_secs(1)),
        ..CallOptions::default()
    };
    let err = server
        .call_with("echo", json!({"text": huge}), options)
        .await
        .expect_err("a frame over the limit gets no answer");
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");

    server
        .wait_for_connects(connects + 1, WAIT)
        .await
        .expect("the toolkit dropped the connection and made a new one");
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert!(!toolkit.task.is_finished(), "the toolkit is still up");
    let text = "y".repeat(32 * 1024);
    assert_eq!(
        call(&server, "echo", json!({"text": text})).await,
        json!({"echo": text}),
        "a frame under the limit is served"
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_call_past_its_time_limit_is_answered_with_an_error() {
    let server = start_server().await;
    let client = builder(
        &server,
        "limits-timeout",
        Some(&["stuck_async", "stuck_blocking", "sleep_async", "echo"]),
    )
    .call_timeout(Duration::from_millis(300))
    .build()
    .unwrap();
    let toolkit = spawn(client);
    server
        .wait_for_tools(
            &["stuck_async", "stuck_blocking", "sleep_async", "echo"],
            WAIT,
        )
        .await
        .unwrap();

    // The attribute's limit (200 ms) over the client's (300 ms).
    let started = Instant::now();
    assert_eq!(
        call(&server, "stuck_async", json!({"ms": 60_000})).await,
        json!({"error": "Tool timed out after 200ms"})
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not the full minute"
    );
    assert_eq!(
        call(&server, "stuck_blocking", json!({"ms": 1_000})).await,
        json!({"error": "Tool timed out after 200ms"})
    );
    // The client's default for a tool without one.
    assert_eq!(
        call(&server, "sleep_async", json!({"ms": 60_000})).await,
        json!({"error": "Tool timed out after 300ms"})
    );
    // Within the limits, all is normal, and the toolkit serves on.
    assert_eq!(
        call(&server, "stuck_async", json!({"ms": 1})).await,
        json!(1)
    );
    assert_eq!(
        call(&server, "echo", json!({"text": "on"})).await,
        json!({"echo": "on"})
    );
    toolkit.shutdown().await.unwrap();
}

/// Resident memory of this process, from /proc (Linux), in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_at_once_are_all_answered_within_the_limits() {
    let server = Arc::new(start_server().await);
    let client = builder(&server, "limits-flood", Some(&["busy"]))
        .max_in_flight(64)
        .max_queued(512)
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["busy"], WAIT).await.unwrap();
    let rss_before = rss_kib();

    let calls: Vec<_> = (0..10_000)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                let options = CallOptions {
                    timeout: Some(Duration::from_secs(120)),
                    ..CallOptions::default()
                };
                server
                    .call_with("busy", json!({"group": "flood", "ms": 20}), options)
                    .await
                    .expect("every request is answered")
                    .result
            })
        })
        .collect();
    let (mut served, mut refused) = (0, 0);
    for call in calls {
        let result = call.await.unwrap();
        if result == json!(20) {
            served += 1;
        } else {
            let error = result["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with("Toolkit overloaded: 576 calls"),
                "{result}"
            );
            refused += 1;
        }
    }
    let peak = max_running("flood");
    println!(
        "10,000 at once: {served} served, {refused} refused as overloaded, at most {peak} running; \
         RSS {rss_before:?} KiB before, {:?} KiB after (whole test process, atp-dev included)",
        rss_kib()
    );
    assert_eq!(served + refused, 10_000, "every request answered");
    assert!(served >= 576, "at least the limit was served: {served}");
    assert!(peak <= 64, "never more than max_in_flight running: {peak}");
    toolkit.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// Waiting for a running slot (review fault 5)
// ---------------------------------------------------------------------------

/// Review fault 5: waiting for a running slot has no time limit. With
/// `max_in_flight(1)`, a blocking tool past its 200 ms limit keeps the
/// only slot for 3 s; a call of an async tool with a 200 ms limit that
/// needs 10 ms must then be answered within its limit, waiting included
/// (say under 1 s; an answer "timed out" is fine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_a_running_slot_counts_against_the_time_limit() {
    let server = start_server().await;
    let quick = atp_sdk::DynamicTool::new("quick", |_args| async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(json!("done"))
    })
    .timeout(Duration::from_millis(200));
    let client = builder(&server, "fault5", Some(&["stuck_blocking"]))
        .tool(quick)
        .max_in_flight(1)
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["stuck_blocking", "quick"], WAIT)
        .await
        .unwrap();
    let stuck = call(&server, "stuck_blocking", json!({"ms": 3000})).await;
    assert!(
        stuck["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{stuck}"
    );
    // Its thread runs on for ~2.8 s, holding the only running slot.
    let asked = Instant::now();
    let outcome = server
        .call_with(
            "quick",
            json!({}),
            atp_tests::serving::options(Duration::from_secs(10)),
        )
        .await
        .expect("answered");
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a call with a 200 ms limit was answered after {took:?} ({}): \
         its wait for a running slot had no limit",
        outcome.result
    );
    toolkit.shutdown().await.unwrap();
}
