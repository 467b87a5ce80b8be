//! Review fault 2: `run()` hangs on a stuck plain `fn`, and a second
//! Ctrl-C does nothing. The `stuck_toolkit` bin does what `run()` does (a
//! current-thread runtime, serve until a signal) with a shutdown timeout
//! of 1 s (`ATP_SHUTDOWN_MS`); these tests stop it with signals and time
//! its exit. Every wait is bounded.

use std::process::Stdio;
use std::time::{Duration, Instant};

use atp_dev::{CallOptions, DevServer};
use atp_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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
async fn fault2_run_exits_within_its_shutdown_timeout_despite_a_stuck_fn() {
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
async fn fault2_a_second_sigint_exits_at_once_with_a_failure_status() {
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
                    CallOptions {
                        timeout: Some(Duration::from_secs(60)),
                        ..CallOptions::default()
                    },
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
