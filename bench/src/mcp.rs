//! The MCP rows: echo over stdio and streamable HTTP (with sessions, and
//! without), served by atp-sdk (`ATP_TRANSPORT=mcp` / `mcp-http`,
//! `ATP_MCP_STATELESS=1`), by rmcp alone (`atp-bench-rmcp`: the limit) and
//! by the official Python server (`mcp` 2.x, `MCPServer`), driven by the
//! same client (rmcp's), with the server process's CPU time per call.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use atp_dev::bench::{BenchOptions, BenchReport, Outcome, drive};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::cpu_time;

/// Calls in flight in the MCP rows.
pub(crate) const MCP_CONCURRENCY: [usize; 2] = [1, 16];

/// One MCP server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Server {
    Rmcp,
    Sdk,
    /// atp-sdk's `echo_inline`: a plain `fn` run in the call's task, as
    /// rmcp runs its own.
    SdkInline,
    Python,
}

impl Server {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Server::Rmcp => "limit (bare rmcp 3.11 `#[tool]`)",
            Server::Sdk => "atp-sdk",
            Server::SdkInline => "atp-sdk, `inline` fn",
            Server::Python => "Python MCPServer (mcp 2.x)",
        }
    }
}

/// Over what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Over {
    Stdio,
    Http,
    /// Streamable HTTP without sessions, answered as JSON.
    HttpStateless,
}

impl Over {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Over::Stdio => "stdio",
            Over::Http => "streamable HTTP",
            Over::HttpStateless => "streamable HTTP, stateless",
        }
    }
}

/// One measured load.
pub(crate) struct McpRow {
    pub(crate) server: Server,
    pub(crate) over: Over,
    pub(crate) concurrency: usize,
    pub(crate) report: BenchReport,
    pub(crate) cpu_per_call: Option<Duration>,
}

type Client = RunningService<RoleClient, ()>;

/// Runs every row it can: atp-sdk always, the Python server when
/// `python` has `mcp` 2.x.
pub(crate) async fn rows(
    toolkit: &Path,
    python: Option<&Path>,
    quick: bool,
    notes: &mut Vec<String>,
) -> Vec<McpRow> {
    let mut rows = Vec::new();
    let mut servers = vec![Server::Rmcp, Server::Sdk, Server::SdkInline];
    match python {
        Some(python) if has_mcp(python) => servers.push(Server::Python),
        _ => notes.push(
            "The Python MCP server was not measured: no Python with `mcp` 2.x (set ATP_REF_PYTHON or create .venv with mcp==2.3.0)."
                .to_owned(),
        ),
    }
    for server in servers {
        for over in [Over::Stdio, Over::Http, Over::HttpStateless] {
            if server == Server::Python && over == Over::HttpStateless {
                continue;
            }
            eprintln!("== MCP: {} over {}", server.label(), over.label());
            match measure(toolkit, python, server, over, quick).await {
                Ok(mut measured) => rows.append(&mut measured),
                Err(err) => notes.push(format!(
                    "MCP, {} over {}: not measured ({err}).",
                    server.label(),
                    over.label()
                )),
            }
        }
    }
    rows
}

fn has_mcp(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import mcp.server.mcpserver"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp_server.py")
}

/// A free loopback port (bound, then let go).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn measure(
    toolkit: &Path,
    python: Option<&Path>,
    server: Server,
    over: Over,
    quick: bool,
) -> Result<Vec<McpRow>, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut command = match server {
        Server::Rmcp => {
            let mut c = tokio::process::Command::new(toolkit.with_file_name("atp-bench-rmcp"));
            match over {
                Over::Stdio => c.arg("stdio"),
                Over::Http => c.args(["http", &port.to_string()]),
                Over::HttpStateless => c.args(["http", &port.to_string(), "stateless"]),
            };
            c
        }
        Server::Sdk | Server::SdkInline => {
            let mut c = tokio::process::Command::new(toolkit);
            c.arg("--sdk")
                .env("ATP_APP_NAME", "bench-mcp")
                .env("RUST_LOG", "warn");
            match over {
                Over::Stdio => c.env("ATP_TRANSPORT", "mcp"),
                Over::Http => c
                    .env("ATP_TRANSPORT", "mcp-http")
                    .env("ATP_MCP_ADDR", format!("127.0.0.1:{port}")),
                Over::HttpStateless => c
                    .env("ATP_TRANSPORT", "mcp-http")
                    .env("ATP_MCP_STATELESS", "1")
                    .env("ATP_MCP_ADDR", format!("127.0.0.1:{port}")),
            };
            c
        }
        Server::Python => {
            let mut c = tokio::process::Command::new(python.expect("checked"));
            c.arg(script());
            match over {
                Over::Stdio => c.arg("stdio"),
                Over::Http | Over::HttpStateless => c.args(["http", &port.to_string()]),
            };
            c
        }
    };
    command
        .env_remove("ATP_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let pid = child.id();
    let client: Client = match over {
        Over::Stdio => {
            let stdout = child.stdout.take().expect("piped");
            let stdin = child.stdin.take().expect("piped");
            tokio::time::timeout(Duration::from_secs(30), ().serve((stdout, stdin)))
                .await
                .map_err(|_| "no MCP handshake within 30 s".to_owned())?
                .map_err(|e| e.to_string())?
        }
        // The server needs a moment to listen.
        Over::Http | Over::HttpStateless => {
            connect_http(&format!("http://127.0.0.1:{port}/mcp")).await?
        }
    };
    let mut rows = Vec::new();
    for concurrency in MCP_CONCURRENCY {
        let requests = match (server, concurrency) {
            (Server::Python, 1) => 1_000,
            (Server::Python, _) => 2_000,
            (_, 1) => 3_000,
            (_, _) => 20_000,
        };
        let requests = if quick {
            (requests / 10).max(50)
        } else {
            requests
        };
        let tool = if server == Server::SdkInline {
            "echo_inline"
        } else {
            "echo"
        };
        let args = json!({"text": "hello"});
        let _ = load_tool(
            &client,
            tool,
            args.clone(),
            (requests / 10).max(concurrency),
            concurrency,
        )
        .await;
        let before = pid.and_then(cpu_time);
        let report = load_tool(&client, tool, args, requests, concurrency).await;
        let cpu_per_call = pid
            .and_then(cpu_time)
            .zip(before)
            .map(|(after, before)| after.since(&before) / report.requests.max(1) as u32);
        eprintln!(
            "  echo c={concurrency:<3} {:>8.0}/s  p50 {:>7.3} ms  cpu {:>7.1} µs/call  errors {}",
            report.throughput_per_s,
            report.p50_ms,
            cpu_per_call.map_or(f64::NAN, |d| d.as_secs_f64() * 1e6),
            report.errors + report.timeouts
        );
        rows.push(McpRow {
            server,
            over,
            concurrency,
            report,
            cpu_per_call,
        });
    }
    let _ = client.cancel().await;
    let _ = child.kill().await;
    Ok(rows)
}

/// `requests` calls of `tool` with `arguments`, `concurrency` at a time.
async fn load_tool(
    client: &Client,
    tool: &'static str,
    arguments: serde_json::Value,
    requests: usize,
    concurrency: usize,
) -> BenchReport {
    let peer = client.peer().clone();
    drive(
        BenchOptions {
            requests,
            concurrency,
        },
        None,
        move || {
            let peer = peer.clone();
            let arguments = arguments.clone();
            async move {
                let args = arguments.as_object().cloned().unwrap_or_default();
                let call = peer.call_tool(CallToolRequestParams::new(tool).with_arguments(args));
                match tokio::time::timeout(Duration::from_secs(60), call).await {
                    Ok(Ok(result)) if !result.is_error.unwrap_or(false) => {
                        Outcome::Answered(result.structured_content.unwrap_or_default())
                    }
                    Ok(Ok(result)) => Outcome::Failed(format!("{:?}", result.content)),
                    Ok(Err(err)) => Outcome::Failed(err.to_string()),
                    Err(_) => Outcome::TimedOut,
                }
            }
        },
    )
    .await
}

/// In flight per replica in the scale-out rows: each replica runs at most
/// this many calls at once (`max_in_flight`), as a deployment bounds what
/// one process takes on; the load is three times as many.
pub(crate) const REPLICA_IN_FLIGHT: usize = 8;

/// The scale-out rows: the same load through HAProxy to one replica and to
/// three, each serving MCP over HTTP without sessions.
pub(crate) struct ScaleOut {
    pub(crate) one: BenchReport,
    pub(crate) three: BenchReport,
}

/// `sleep_blocking` (10 ms) at `3 * REPLICA_IN_FLIGHT` in flight through
/// HAProxy (round robin, no stickiness) to one replica, then to three.
pub(crate) async fn scale_out(
    toolkit: &Path,
    quick: bool,
    notes: &mut Vec<String>,
) -> Option<ScaleOut> {
    let haproxy = std::env::var_os("ATP_HAPROXY")
        .map_or_else(|| PathBuf::from("/usr/sbin/haproxy"), PathBuf::from);
    if !haproxy.exists() {
        notes.push(format!(
            "The scale-out rows were not measured: no HAProxy at {} (apt-get install haproxy, or set ATP_HAPROXY).",
            haproxy.display()
        ));
        return None;
    }
    let mut reports = Vec::new();
    for n in [1, 3] {
        eprintln!("== MCP: {n} stateless replica(s) behind HAProxy");
        match behind_haproxy(toolkit, &haproxy, n, quick).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                notes.push(format!("The scale-out rows were not measured: {err}."));
                return None;
            }
        }
    }
    let three = reports.pop()?;
    let one = reports.pop()?;
    Some(ScaleOut { one, three })
}

async fn behind_haproxy(
    toolkit: &Path,
    haproxy: &Path,
    replicas: usize,
    quick: bool,
) -> Result<BenchReport, String> {
    let mut children = Vec::new();
    let mut servers = String::new();
    for i in 0..replicas {
        let port = free_port().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(toolkit)
            .arg("--sdk")
            .env("ATP_APP_NAME", "bench-scale-out")
            .env("ATP_TRANSPORT", "mcp-http")
            .env("ATP_MCP_STATELESS", "1")
            .env("ATP_MCP_ADDR", format!("127.0.0.1:{port}"))
            .env("ATP_BENCH_MAX_IN_FLIGHT", REPLICA_IN_FLIGHT.to_string())
            .env("RUST_LOG", "warn")
            .env_remove("ATP_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        children.push(child);
        servers.push_str(&format!("    server replica{i} 127.0.0.1:{port}\n"));
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let config = format!(
        "global\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout connect 2s\n    \
         timeout client 60s\n    timeout server 60s\n    retries 2\n    option redispatch 1\n\n\
         frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend toolkits\n\n\
         backend toolkits\n    balance roundrobin\n    default-server check inter 200ms\n{servers}"
    );
    let config_path =
        std::env::temp_dir().join(format!("atp-bench-haproxy-{}.cfg", std::process::id()));
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let mut balancer = tokio::process::Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("haproxy: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let client = connect_http(&url).await;
    let _ = std::fs::remove_file(&config_path);
    let client = client?;
    let concurrency = 3 * REPLICA_IN_FLIGHT;
    let requests = if quick { 600 } else { 3_000 };
    let args = json!({"ms": 10});
    let _ = load_tool(
        &client,
        "sleep_blocking",
        args.clone(),
        concurrency * 4,
        concurrency,
    )
    .await;
    let report = load_tool(&client, "sleep_blocking", args, requests, concurrency).await;
    eprintln!(
        "  sleep_blocking (10 ms) c={concurrency} over {replicas}: {:>8.0}/s  p50 {:>7.3} ms  errors {}",
        report.throughput_per_s,
        report.p50_ms,
        report.errors + report.timeouts
    );
    let _ = client.cancel().await;
    let _ = balancer.kill().await;
    for mut child in children {
        let _ = child.kill().await;
    }
    Ok(report)
}

/// rmcp's client over streamable HTTP at `url`, once the server answers.
async fn connect_http(url: &str) -> Result<Client, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
            .max_concurrent_requests(64);
        let transport = StreamableHttpClientTransport::from_config(config);
        match ().serve(transport).await {
            Ok(client) => return Ok(client),
            Err(err) if tokio::time::Instant::now() > deadline => {
                return Err(format!("no MCP handshake at {url}: {err}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
