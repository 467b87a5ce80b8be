//! `atp_sdk::run()` in a real process: configuration from the environment,
//! serving, and a clean stop on SIGTERM and Ctrl-C (SIGINT) that lets a
//! call in flight finish.

use std::process::Stdio;

use atp_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

fn toolkit(server: &atp_dev::DevServer, app: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_API_KEY", format!("key-{app}"))
        .env("ATP_APP_NAME", app)
        .env("ATP_BASE_URL", server.base_url())
        .env("RUST_LOG", "atp_sdk=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the toolkit starts")
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", name, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads the toolkit's log until a line contains `needle`.
async fn wait_for_log(lines: &mut tokio::io::Lines<BufReader<ChildStderr>>, needle: &str) {
    let find = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(needle) {
                return;
            }
        }
        panic!("the toolkit's log ended before {needle:?}");
    };
    tokio::time::timeout(WAIT, find)
        .await
        .expect("the log line comes");
}

#[tokio::test]
async fn run_serves_from_the_environment_and_stops_cleanly_on_signals() {
    for signal_name in ["TERM", "INT"] {
        let server = start_server().await;
        let mut child = toolkit(&server, "from-env");
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        server
            .wait_for_tools(&["echo", "wait_gate"], WAIT)
            .await
            .unwrap();
        assert_eq!(
            call(&server, "echo", json!({"text": "env"})).await,
            json!({"echo": "env"})
        );
        let registration = server
            .registrations()
            .into_iter()
            .find(|r| r.function_id == "echo")
            .unwrap();
        assert_eq!(registration.app_name, "from-env");
        assert_eq!(registration.api_key.expose(), "key-from-env");

        // A call in flight, then the signal once the toolkit has started
        // it: the process lets it finish, answers, and exits 0.
        let in_flight = call(&server, "sleep_async", json!({"ms": 300}));
        let stopper = async {
            wait_for_log(&mut log, "call started tool=sleep_async").await;
            signal(&child, signal_name);
        };
        let (answer, ()) = tokio::join!(in_flight, stopper);
        assert_eq!(
            answer,
            json!(300),
            "{signal_name}: the call in flight is answered"
        );
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{signal_name}: exit status {status}");
        server.wait_for_connections(0, WAIT).await.unwrap();
    }
}

#[tokio::test]
async fn run_without_a_key_says_which_variable_is_missing() {
    let output = Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env_remove("ATP_API_KEY")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ATP_API_KEY"), "{stderr}");
}
