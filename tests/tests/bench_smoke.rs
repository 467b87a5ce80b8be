//! A small run of the load driver against a real toolkit, so the
//! benchmark harness can't rot. It checks counts, never timings.

use std::sync::Arc;
use std::time::Duration;

use atp_dev::CallOptions;
use atp_dev::bench::{BenchOptions, Outcome, ceiling, drive};
use atp_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_runs_calls_through_atp_dev_and_counts_them() {
    let server = Arc::new(start_server().await);
    let toolkit = start_toolkit(&server, "bench-smoke", Some(&["echo", "fail"])).await;
    let run = |tool: &'static str, params: serde_json::Value| {
        let server = server.clone();
        drive(
            BenchOptions {
                requests: 200,
                concurrency: 8,
            },
            None,
            move || {
                let server = server.clone();
                let params = params.clone();
                async move {
                    let options = CallOptions {
                        timeout: Some(Duration::from_secs(10)),
                        ..CallOptions::default()
                    };
                    match server.call_with(tool, params, options).await {
                        Ok(outcome) => Outcome::Answered(outcome.result),
                        Err(atp_dev::CallError::Timeout { .. }) => Outcome::TimedOut,
                        Err(err) => Outcome::Failed(err.to_string()),
                    }
                }
            },
        )
    };
    let report = run("echo", json!({"text": "x"})).await;
    assert_eq!(
        (report.requests, report.ok, report.errors, report.timeouts),
        (200, 200, 0, 0)
    );
    assert!(
        report.p50_ms <= report.p90_ms
            && report.p90_ms <= report.p99_ms
            && report.p99_ms <= report.max_ms
    );
    assert!(report.throughput_per_s > 0.0);

    let report = run("fail", json!({"reason": "r"})).await;
    assert_eq!(
        (report.ok, report.errors),
        (0, 200),
        "tool errors count as errors"
    );
    assert!(report.first_failure.unwrap().contains("boom: r"));

    assert!(
        ceiling(BenchOptions {
            requests: 1000,
            concurrency: 8
        })
        .await
            > 0.0
    );
    toolkit.shutdown().await.unwrap();
}
