//! Stopping a toolkit: a stop while disconnected still delivers the
//! answers owed, and `run()` (a process stopped by signals) exits within
//! its shutdown timeout despite a stuck plain `fn`, or at once on a second
//! Ctrl-C.
//!
//! The process tests run the `stuck_toolkit` bin, which does what `run()`
//! does (a current-thread runtime, serve until a signal) with the shutdown
//! timeout `ATP_SHUTDOWN_MS`; they stop it with signals and time its exit.
//! Every wait is bounded, so a fault that shows as a hang fails the test
//! instead of hanging it.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atp_dev::DevServer;
use atp_tests::serving::{describe_end, options};
use atp_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

// ---------------------------------------------------------------------------
// A stop while disconnected (review fault 3)
// ---------------------------------------------------------------------------

/// Review fault 3: a stop while disconnected loses responses. Two calls
/// in flight (1 s and 4 s), the connection drops, and the toolkit is
/// stopped 1 s later, while it waits to reconnect (backoff 1.5 to 3 s).
/// Within its `shutdown_timeout` (10 s) it must connect again, deliver the
/// finished answer, wait for the call still running and deliver it too:
/// both callers get their results (`1000` and `4000`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_disconnected_still_delivers_the_answers_owed() {
    init_logging();
    // The server keeps a lost connection's calls waiting for longer than
    // the toolkit's backoff (its default grace, 2 s, is shorter).
    let server = DevServer::builder()
        .lost_call_grace(Duration::from_secs(15))
        .start()
        .await
        .expect("atp-dev starts");
    let server = Arc::new(server);
    let client = builder(&server, "fault3", Some(&["slow_echo"]))
        .backoff(Duration::from_secs(3), Duration::from_secs(3))
        .shutdown_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut toolkit = spawn(client);
    server.wait_for_tools(&["slow_echo"], WAIT).await.unwrap();
    let group = "fault3";
    let calls: Vec<_> = [1000u64, 4000]
        .into_iter()
        .map(|ms| {
            let server = server.clone();
            tokio::spawn(async move {
                let params = json!({"group": group, "id": ms, "ms": ms});
                server
                    .call_with("slow_echo", params, options(Duration::from_secs(15)))
                    .await
            })
        })
        .collect();
    wait_received(group, &[1000, 4000]).await;
    let connects = server.connects();
    assert_eq!(server.drop_connections(), 1);
    // The scenario: stopped 1 s after the drop, before the reconnect.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server.connects(),
        connects,
        "precondition: not reconnected yet"
    );
    toolkit.stop.stop();
    let stopped_at = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), &mut toolkit.task)
        .await
        .expect("serve() returns within the shutdown timeout and a margin");
    let stop_took = stopped_at.elapsed();
    let mut results = Vec::new();
    for call in calls {
        results.push(match call.await.unwrap() {
            Ok(outcome) => Ok(outcome.result),
            Err(err) => Err(err.to_string()),
        });
    }
    assert_eq!(
        results,
        [Ok(json!(1000)), Ok(json!(4000))],
        "both answers are delivered after a stop while disconnected \
         (serve() {} {stop_took:?} after stop())",
        describe_end(&ended)
    );
    assert!(ended.is_ok(), "serve() {}", describe_end(&ended));
}

// ---------------------------------------------------------------------------
// `run()` stopped by signals (review fault 2)
// ---------------------------------------------------------------------------

fn stuck_toolkit(server: &DevServer, app: &str, shutdown_ms: u64, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stuck_toolkit"))
        .env("ATP_API_KEY", format!("key-{app}"))
        .env("ATP_APP_NAME", app)
        .env("ATP_BASE_URL", server.base_url())
        .env("ATP_SHUTDOWN_MS", shutdown_ms.to_string())
        .env("RUST_LOG", "atp_sdk=debug")
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the toolkit starts")
}

/// Review fault 2 (a stuck plain `fn`): a plain `fn` tool past its limit
/// (`stuck_blocking`, 200 ms, asked to sleep 15 s) is answered "timed out",
/// but its thread runs on. On SIGINT, the process must exit within its
/// `shutdown_timeout` (1 s) and a margin — under 4 s — whatever blocking
/// threads still run. (Bounded at 8 s.)
#[tokio::test]
async fn run_exits_within_its_shutdown_timeout_despite_a_stuck_fn() {
    let server = start_server().await;
    let mut child = stuck_toolkit(&server, "fault2-stuck", 1000, Stdio::null());
    server
        .wait_for_tools(&["stuck_blocking"], WAIT)
        .await
        .unwrap();
    let answer = call(&server, "stuck_blocking", json!({"ms": 15_000})).await;
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{answer}"
    );
    signal(&child, "INT");
    let signalled = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(8), child.wait()).await;
    let took = signalled.elapsed();
    let Ok(status) = status else {
        panic!(
            "the process is still running 8 s after SIGINT (shutdown_timeout 1 s): \
             it waits for the thread of a plain fn that runs past its limit"
        );
    };
    let status = status.unwrap();
    assert!(
        took < Duration::from_secs(4),
        "the process exited {took:?} after SIGINT (shutdown_timeout 1 s), status {status}"
    );
}

/// Review fault 2 (a second Ctrl-C): a toolkit with a call in flight that
/// never ends (`wait_gate`, never opened) and a long shutdown timeout
/// (60 s). The first SIGINT starts the drain (the process waits for the
/// call); a second SIGINT must make it exit at once (under 2 s) with a
/// non-zero status.
#[tokio::test]
async fn a_second_sigint_exits_at_once_with_a_failure_status() {
    let server = start_server().await;
    let mut child = stuck_toolkit(&server, "fault2-twice", 60_000, Stdio::piped());
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    server.wait_for_tools(&["wait_gate"], WAIT).await.unwrap();
    set_gate("fault2-never", false);
    let _in_flight = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .call_with(
                    "wait_gate",
                    json!({"gate": "fault2-never"}),
                    options(Duration::from_secs(60)),
                )
                .await
        }
    });
    wait_for_log(&mut log, &["call started", "tool=wait_gate"]).await;
    // Keep reading the log, so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });

    signal(&child, "INT");
    // The scenario: the second Ctrl-C half a second after the first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "precondition: after the first SIGINT the process waits for the call in flight"
    );
    signal(&child, "INT");
    let signalled = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    let Ok(status) = status else {
        panic!(
            "the process is still running 2 s after a second SIGINT (the first one started a \
             drain of up to 60 s): the second Ctrl-C does nothing"
        );
    };
    let status = status.unwrap();
    eprintln!(
        "exited {:?} after the second SIGINT: {status}",
        signalled.elapsed()
    );
    assert!(
        !status.success(),
        "a process ended by a second Ctrl-C exits with a failure status, not {status}"
    );
}
