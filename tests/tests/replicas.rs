//! Three processes of one toolkit under one key on one atp-dev: calls are
//! spread across them, and one killed under load costs only its own calls
//! in flight — answered as failed by atp-dev after its grace, none left
//! hanging — while the other two keep serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atp_dev::{CallError, CallOptions, DevServer};
use atp_tests::*;
use serde_json::json;

const KEY: &str = "replica-key";
const APP: &str = "replicas";

fn replica(server: &DevServer) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_BASE_URL", server.base_url())
        .env("ATP_API_KEY", KEY)
        .env("ATP_APP_NAME", APP)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("a replica starts")
}

/// `n` calls of `process_id` (`ms` each), `concurrency` at a time; each
/// call's outcome: the pid that served it, or the error.
async fn calls(
    server: &Arc<DevServer>,
    n: usize,
    concurrency: usize,
    ms: u64,
) -> Vec<Result<u64, CallError>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|_| {
            let server = server.clone();
            async move {
                let options = CallOptions {
                    timeout: Some(Duration::from_secs(20)),
                    app_name: Some(APP.to_owned()),
                    ..CallOptions::default()
                };
                server
                    .call_with("process_id", json!({ "ms": ms }), options)
                    .await
                    .map(|outcome| outcome.result.as_u64().expect("a pid"))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn served_by(results: &[Result<u64, CallError>]) -> BTreeMap<u64, usize> {
    let mut shares = BTreeMap::new();
    for pid in results.iter().filter_map(|r| r.as_ref().ok()) {
        *shares.entry(*pid).or_default() += 1;
    }
    shares
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_replicas_and_a_killed_one_costs_only_its_calls_in_flight() {
    let server = Arc::new(start_server().await);
    let mut replicas: Vec<_> = (0..3).map(|_| replica(&server)).collect();
    let pids: Vec<u64> = replicas
        .iter()
        .map(|r| u64::from(r.id().unwrap()))
        .collect();
    server
        .wait_for_connections(3, WAIT)
        .await
        .expect("three replicas connect");
    server.wait_for_tools(&["process_id"], WAIT).await.unwrap();

    // Spread: every replica serves a share.
    let results = calls(&server, 60, 12, 10).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let shares = served_by(&results);
    assert_eq!(
        shares.keys().copied().collect::<Vec<_>>(),
        {
            let mut p = pids.clone();
            p.sort_unstable();
            p
        },
        "each replica served calls: {shares:?}"
    );

    // Under load, one replica is killed (SIGKILL: no goodbye).
    let load = tokio::spawn({
        let server = server.clone();
        async move { calls(&server, 90, 30, 300).await }
    });
    // The load is under way: calls are waiting on every replica.
    tokio::time::timeout(WAIT, async {
        while server.stats().waiting_calls < 30 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("30 calls in flight");
    let victim = pids[0];
    replicas[0].kill().await.unwrap();
    let results = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("every call of the load is answered")
        .unwrap();
    let failed: Vec<&CallError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed
            .iter()
            .all(|e| matches!(e, CallError::ToolkitGone { .. })),
        "only the killed replica's calls fail, as gone: {failed:?}"
    );
    assert!(
        !failed.is_empty() && failed.len() <= 12,
        "the killed replica had about a third of the 30 calls in flight: {} failed",
        failed.len()
    );
    let shares = served_by(&results);
    assert!(
        shares.keys().filter(|p| **p != victim).count() == 2,
        "the two others kept serving: {shares:?}"
    );

    // Afterwards only the two are served, and nothing fails.
    let results = calls(&server, 30, 10, 5).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let shares = served_by(&results);
    assert!(!shares.contains_key(&victim), "{shares:?}");
    assert_eq!(shares.len(), 2, "{shares:?}");
    for mut r in replicas {
        let _ = r.kill().await;
    }
}
