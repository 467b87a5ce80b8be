//! MCP over streamable HTTP scaled out: three replicas of one toolkit
//! process, each serving without sessions (`ATP_MCP_STATELESS=1`), behind
//! a real load balancer (Debian's HAProxy, started here on loopback, round
//! robin, no stickiness), called by the official Python MCP client
//! (`tests/python/mcp_load.py`, `ClientSession`, protocol 2025-11-25).
//!
//! Needs the `mcp` feature, `haproxy` (`/usr/sbin/haproxy`, or the one
//! `ATP_HAPROXY` names) and a Python with `mcp` 2.x; `cargo xtask test`
//! sets both up. Ignored unless asked for; asked for without them, the
//! test fails saying what to install.
#![cfg(feature = "mcp")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atp_tests::WAIT;
use atp_tests::mcp_process::McpHttpProcess;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How long one run of the load script may take before it is killed.
const LOAD_WAIT: Duration = Duration::from_secs(120);

/// A replica: the toolkit process serving MCP over HTTP without sessions
/// on 127.0.0.1:0, killed when dropped.
struct Replica {
    process: McpHttpProcess,
    pid: u32,
}

impl Replica {
    async fn start() -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"));
        command
            .env("ATP_TRANSPORT", "mcp-http")
            .env("ATP_MCP_ADDR", "127.0.0.1:0")
            .env("ATP_MCP_STATELESS", "1")
            .env("ATP_APP_NAME", "scale-out-kit")
            .env_remove("ATP_API_KEY");
        let process = McpHttpProcess::start(command).await;
        let pid = process.child.id().expect("a running child");
        Self { process, pid }
    }
}

/// HAProxy in front of `backends`, on a loopback port of its own; killed
/// when dropped.
struct Balancer {
    /// Killed when dropped.
    _process: tokio::process::Child,
    url: String,
    _dir: TempDir,
}

/// The configuration the README's deploy section shows, with loopback
/// addresses: round robin over every replica, health-checked, and a
/// request whose replica can't be reached sent to another.
fn haproxy_config(listen: &str, backends: &[&str]) -> String {
    let mut config = format!(
        "global\n    maxconn 4096\n\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    \
         timeout server 60s\n    retries 2\n    option redispatch 1\n\n\
         frontend mcp\n    bind {listen}\n    default_backend toolkits\n\n\
         backend toolkits\n    balance roundrobin\n    \
         default-server check inter 200ms fall 1 rise 1\n"
    );
    for (i, addr) in backends.iter().enumerate() {
        config.push_str(&format!("    server replica{} {addr}\n", i + 1));
    }
    config
}

impl Balancer {
    async fn start(backends: &[&str]) -> Self {
        let haproxy = std::env::var_os("ATP_HAPROXY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/haproxy"));
        assert!(
            haproxy.exists(),
            "no HAProxy at {}: install Debian's (apt-get install haproxy) or set ATP_HAPROXY; \
             `cargo xtask test` installs it",
            haproxy.display()
        );
        // A free port: HAProxy can't report the one it got for :0.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let dir = TempDir::new();
        let config = dir.0.join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(&listen, backends)).unwrap();
        let child = tokio::process::Command::new(&haproxy)
            // In the foreground, the configuration as given.
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy starts");
        // Up once it accepts connections.
        tokio::time::timeout(WAIT, async {
            while tokio::net::TcpStream::connect(&listen).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("haproxy listens");
        Self {
            _process: child,
            url: format!("http://{listen}/mcp"),
            _dir: dir,
        }
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "atp-haproxy-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One call the load script made.
#[derive(Debug)]
struct Call {
    start: f64,
    end: f64,
    /// The replica's process id, if it answered.
    pid: Option<u64>,
    raised: Option<String>,
    hung: bool,
}

/// What one run of the load script saw.
struct Load {
    calls: Vec<Call>,
    /// When the test said it had done its part (the script's clock).
    marked: Option<f64>,
    stderr: String,
}

impl Load {
    fn answered_by(&self) -> BTreeMap<u64, usize> {
        let mut by = BTreeMap::new();
        for pid in self.calls.iter().filter_map(|c| c.pid) {
            *by.entry(pid).or_default() += 1;
        }
        by
    }

    fn failed(&self) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.raised.is_some()).collect()
    }

    fn calls_per_second(&self) -> f64 {
        let first = self.calls.iter().map(|c| c.start).fold(f64::MAX, f64::min);
        let last = self.calls.iter().map(|c| c.end).fold(0.0, f64::max);
        self.calls.len() as f64 / (last - first).max(1e-9)
    }
}

/// Runs the load script against `url`; when it signals (after
/// `config.signal_after` calls), runs `under_load`, then tells it.
async fn load<F, Fut>(url: &str, config: Value, under_load: F) -> Load
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/mcp_load.py");
    let mut child = tokio::process::Command::new(atp_tests::reference_python("'mcp==2.3.0'"))
        .arg(&script)
        .arg(url)
        .arg(config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn({
        let stderr = stderr.clone();
        async move {
            let mut signal_tx = Some(signal_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "signal" {
                    if let Some(tx) = signal_tx.take() {
                        let _ = tx.send(());
                    }
                    continue;
                }
                let mut stderr = stderr.lock().unwrap();
                stderr.push_str(&line);
                stderr.push('\n');
            }
        }
    });
    let run = async {
        if config.get("signal_after").is_some() {
            signal_rx
                .await
                .expect("the load script signalled before it ended");
            under_load().await;
            stdin.write_all(b"marked\n").await.unwrap();
            stdin.flush().await.unwrap();
        }
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out)
            .await
            .unwrap();
        let status = child.wait().await.unwrap();
        (status, out)
    };
    let (status, out) = tokio::time::timeout(LOAD_WAIT, run)
        .await
        .unwrap_or_else(|_| panic!("the load script did not end within {LOAD_WAIT:?}"));
    let _ = tokio::time::timeout(WAIT, reader).await;
    let stderr = stderr.lock().unwrap().clone();
    assert!(status.success(), "the load script failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out)
        .unwrap_or_else(|err| panic!("{err}: {}\n{stderr}", String::from_utf8_lossy(&out)));
    let calls = report["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| Call {
            start: c["start"].as_f64().unwrap(),
            end: c["end"].as_f64().unwrap(),
            pid: c["ok"].as_u64().or_else(|| c["ok"].as_str()?.parse().ok()),
            raised: c["raised"].as_str().map(str::to_owned),
            hung: c["hung"].as_bool().unwrap_or(false),
        })
        .collect();
    Load {
        calls,
        marked: report["marked"].as_f64(),
        stderr,
    }
}

/// What the replicas logged, for a failure's message.
fn logs(replicas: &[Replica]) -> String {
    replicas
        .iter()
        .map(|r| format!("replica {}:\n{}", r.pid, r.process.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
#[ignore = "needs haproxy and the official Python MCP SDK (mcp 2.x): `cargo xtask test` sets them up and runs it"]
async fn three_stateless_replicas_behind_haproxy_share_calls_and_survive_losing_one() {
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start().await);
    }
    let addrs: Vec<&str> = replicas.iter().map(|r| r.process.addr()).collect();
    let balancer = Balancer::start(&addrs).await;
    let pids: Vec<u64> = replicas.iter().map(|r| u64::from(r.pid)).collect();

    // Spread: every call answered, by all three, about a third each.
    let spread = load(
        &balancer.url,
        json!({"workers": 6, "calls": 300, "tool": "process_id", "arguments": {"ms": 5}}),
        || async {},
    )
    .await;
    let by = spread.answered_by();
    assert!(
        spread.failed().is_empty(),
        "{:?}\n{}\n{}",
        spread.failed(),
        spread.stderr,
        logs(&replicas)
    );
    assert_eq!(spread.calls.len(), 300);
    for pid in &pids {
        let n = by.get(pid).copied().unwrap_or(0);
        assert!(
            (70..=130).contains(&n),
            "replica {pid} answered {n} of 300 calls (round robin gives each 100): {by:?}"
        );
    }
    println!(
        "three replicas: {:.0} calls/s, answered {by:?}",
        spread.calls_per_second()
    );

    // One replica killed under load: only its calls in flight fail, at
    // once; the two others take every call after.
    let victim = replicas.remove(1);
    let victim_pid = u64::from(victim.pid);
    let victim = Arc::new(tokio::sync::Mutex::new(Some(victim)));
    let workers = 8;
    let lost = load(
        &balancer.url,
        json!({
            "workers": workers, "calls": 600, "tool": "process_id",
            "arguments": {"ms": 10}, "signal_after": 150, "call_timeout": 15,
        }),
        || {
            let victim = victim.clone();
            async move {
                let mut replica = victim.lock().await.take().unwrap();
                replica
                    .process
                    .child
                    .kill()
                    .await
                    .expect("the replica is killed");
            }
        },
    )
    .await;
    let marked = lost.marked.expect("the kill was marked");
    let failed = lost.failed();
    let hung: Vec<&&Call> = failed.iter().filter(|c| c.hung).collect();
    assert!(
        hung.is_empty(),
        "calls hung: {hung:?}\n{}\n{}",
        lost.stderr,
        logs(&replicas)
    );
    assert!(
        failed.len() <= workers,
        "{} calls failed; at most the {workers} in flight could have been on the killed \
         replica: {failed:?}\n{}",
        failed.len(),
        lost.stderr
    );
    for call in &failed {
        assert!(
            call.start <= marked && call.end - call.start < 5.0,
            "a failed call was not one in flight at the kill, or did not fail promptly: \
             {call:?} (killed at {marked:.3} s)"
        );
    }
    let after: Vec<&Call> = lost.calls.iter().filter(|c| c.start > marked).collect();
    assert!(after.len() >= 300, "{} calls after the kill", after.len());
    assert!(
        after.iter().all(|c| c.raised.is_none()),
        "a call after the kill failed: {:?}",
        after.iter().find(|c| c.raised.is_some())
    );
    let survivors: BTreeMap<u64, usize> =
        after
            .iter()
            .filter_map(|c| c.pid)
            .fold(BTreeMap::new(), |mut by, pid| {
                *by.entry(pid).or_default() += 1;
                by
            });
    assert!(
        !survivors.contains_key(&victim_pid) && survivors.len() == 2,
        "after the kill the calls went to {survivors:?} (killed: {victim_pid})"
    );
    println!(
        "one of three killed: {} failed (in flight), {} answered after by {survivors:?}",
        failed.len(),
        after.len()
    );
    drop(balancer);
}
