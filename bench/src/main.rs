//! The benchmark suite (see BENCHMARKS.md): in one run on one machine, the
//! bare protocol limit, the SDK (over WebSocket and over the HTTP inbox)
//! and the reference Python client, driven through an in-process atp-dev
//! at several concurrencies, with each toolkit's CPU time per call (user +
//! system, from `/proc`); a 1 MiB echo; idle memory; start-to-serving time
//! with 100 and with 10,000 tools (and again with every hash unchanged);
//! time back to serving after a dropped connection; and three replicas of
//! one toolkit, one killed under load. Prints the tables and the ratios,
//! and with `--write FILE` puts them into BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p atp-bench                        # the full suite
//! cargo run --release -p atp-bench -- --quick             # a tenth of the requests
//! cargo run --release -p atp-bench -- --write BENCHMARKS.md
//! ```
//!
//! The toolkit processes it measures are `atp-bench-toolkit` (built by the
//! suite with cargo if needed): `--sdk` (the SDK's tools, as
//! `atp_sdk::run()` serves them), `--sdk-many N` (N tools), `--limit` (a
//! bare tokio-tungstenite client that answers every request with a fixed
//! response, no SDK).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atp_dev::bench::{BenchOptions, BenchReport, Outcome, ceiling, drive};
use atp_dev::{CallError, CallOptions, DevServer};
use serde_json::{Value, json};

mod footprint;
#[cfg(feature = "mcp")]
mod mcp;

const CONCURRENCY: [usize; 4] = [1, 16, 64, 256];
const MANY: usize = 100;
const VERY_MANY: usize = 10_000;
/// The concurrency of the cost table.
const COST_AT: usize = 16;
/// The big echo's text.
const BIG: usize = 1 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--help" | "-h") => {
            println!("usage: atp-bench [--quick] [--write BENCHMARKS.md] [--no-reference]");
            println!("       atp-bench footprint [--write BENCHMARKS.md]");
            ExitCode::SUCCESS
        }
        Some("footprint") => {
            let write = args
                .iter()
                .position(|a| a == "--write")
                .and_then(|at| args.get(at + 1))
                .map(PathBuf::from);
            match footprint::footprint() {
                Ok(text) => {
                    println!("{text}");
                    if let Some(path) = write {
                        if let Err(err) = write_between(&path, FOOTPRINT, &text) {
                            eprintln!("atp-bench: could not write {}: {err}", path.display());
                            return ExitCode::FAILURE;
                        }
                        eprintln!("atp-bench: wrote the footprint into {}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("atp-bench: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            let options = SuiteOptions::parse(&args);
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(suite(options))
        }
    }
}

struct SuiteOptions {
    quick: bool,
    write: Option<PathBuf>,
    reference: bool,
}

impl SuiteOptions {
    fn parse(args: &[String]) -> Self {
        let mut options = SuiteOptions {
            quick: false,
            write: None,
            reference: true,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-reference" => options.reference = false,
                "--write" => options.write = args.next().map(PathBuf::from),
                other => eprintln!("atp-bench: ignoring unknown argument {other}"),
            }
        }
        options
    }
}

/// One toolkit implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Impl {
    Limit,
    Sdk,
    /// The SDK with a metrics recorder installed (Prometheus).
    SdkMetrics,
    SdkInbox,
    Reference,
}

impl Impl {
    fn label(self) -> &'static str {
        match self {
            Impl::Limit => "limit (bare tokio-websockets)",
            Impl::Sdk => "atp-sdk",
            Impl::SdkMetrics => "atp-sdk, Prometheus recorder",
            Impl::SdkInbox => "atp-sdk, HTTP inbox",
            Impl::Reference => "reference (Python 0.2.5)",
        }
    }

    fn app(self) -> &'static str {
        match self {
            Impl::Limit => "bench-limit",
            Impl::Sdk => "bench-sdk",
            Impl::SdkMetrics => "bench-sdk-metrics",
            Impl::SdkInbox => "bench-sdk-inbox",
            Impl::Reference => "bench-reference",
        }
    }

    fn tools(self) -> &'static [&'static str] {
        match self {
            Impl::Limit => &["echo"],
            Impl::Sdk => &[
                "echo",
                "echo_inline",
                "echo_async",
                "wait_async",
                "sleep_blocking",
            ],
            Impl::SdkMetrics => &["echo"],
            Impl::SdkInbox => &["echo", "echo_async"],
            Impl::Reference => &["echo", "wait_async", "sleep_blocking"],
        }
    }
}

/// A Python with the reference client: `ATP_REF_PYTHON`, or `.venv`.
fn reference_python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ATP_REF_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    venv.exists().then_some(venv)
}

/// A build of the toolkit binary: what it links decides its memory, so
/// each measurement gets the build it needs and no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    /// What a toolkit links: the SDK with its default features.
    Lean,
    /// With a Prometheus recorder (the metrics row).
    Recorder,
    /// With atp-sdk's `mcp` feature (the MCP rows).
    #[cfg(feature = "mcp")]
    Mcp,
}

impl Build {
    fn name(self) -> &'static str {
        match self {
            Build::Lean => "lean",
            Build::Recorder => "recorder",
            #[cfg(feature = "mcp")]
            Build::Mcp => "mcp",
        }
    }
}

/// The toolkit binary of `build`, built with cargo (each build in a target
/// directory of its own, so none overwrites another).
fn toolkit_binary(build: Build) -> std::io::Result<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from)
        .join(format!("bench-{}", build.name()));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let exe = target.join(profile).join("atp-bench-toolkit");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .args([
            "build",
            "-p",
            "atp-bench",
            "--bin",
            "atp-bench-toolkit",
            "--target-dir",
        ])
        .arg(&target);
    match build {
        Build::Lean => {}
        Build::Recorder => {
            command.args(["--features", "recorder"]);
        }
        #[cfg(feature = "mcp")]
        Build::Mcp => {
            // And the bare rmcp server beside it.
            command.args(["--features", "mcp", "--bin", "atp-bench-rmcp"]);
        }
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    eprintln!("atp-bench: building the toolkit ({} build)", build.name());
    let status = command.stdout(Stdio::null()).status();
    match status {
        Ok(status) if status.success() => Ok(exe),
        _ => Err(std::io::Error::other(format!(
            "could not build atp-bench-toolkit ({} build)",
            build.name()
        ))),
    }
}

fn spawn_toolkit(
    toolkit: &std::path::Path,
    which: Impl,
    server: &DevServer,
    app: &str,
    many: Option<usize>,
) -> std::io::Result<tokio::process::Child> {
    let exe = toolkit;
    let mut command = match which {
        Impl::Limit => {
            let mut c = tokio::process::Command::new(exe);
            c.arg("--limit");
            c
        }
        Impl::Sdk => {
            let mut c = tokio::process::Command::new(exe);
            match many {
                Some(n) => c.args(["--sdk-many", &n.to_string()]),
                None => c.arg("--sdk"),
            };
            c
        }
        Impl::SdkInbox => {
            let mut c = tokio::process::Command::new(exe);
            c.arg("--sdk").env("ATP_TRANSPORT", "http");
            c
        }
        Impl::SdkMetrics => {
            let mut c = tokio::process::Command::new(exe);
            c.arg("--sdk").env("ATP_BENCH_RECORDER", "1");
            c
        }
        Impl::Reference => {
            let python = reference_python().expect("checked before");
            let mut c = tokio::process::Command::new(python);
            c.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference_toolkit.py"));
            if let Some(n) = many {
                c.arg(n.to_string());
            }
            c
        }
    };
    command
        .env("ATP_BASE_URL", server.base_url())
        .env("ATP_API_KEY", format!("key-{app}"))
        .env("ATP_APP_NAME", app)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// A reading of a process's CPU time: each thread's run time in
/// nanoseconds (`/proc/PID/task/*/schedstat`), or, where that is not
/// available, user + system time from `/proc/PID/stat` (in clock ticks, 10
/// ms each).
#[derive(Debug, Clone)]
enum CpuSample {
    Threads(BTreeMap<u32, u64>),
    Ticks(Duration),
}

fn cpu_time(pid: u32) -> Option<CpuSample> {
    schedstat_times(pid)
        .map(CpuSample::Threads)
        .or_else(|| stat_time(pid).map(CpuSample::Ticks))
}

impl CpuSample {
    /// The CPU time used from `before` to `self`. Thread by thread: a
    /// thread that ended in between (an idle worker leaving) is left out,
    /// one that started counts whole, so a pool whose threads come and go
    /// never makes the total run backwards.
    fn since(&self, before: &CpuSample) -> Duration {
        match (self, before) {
            (CpuSample::Threads(after), CpuSample::Threads(before)) => Duration::from_nanos(
                after
                    .iter()
                    .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
                    .sum(),
            ),
            (CpuSample::Ticks(after), CpuSample::Ticks(before)) => after.saturating_sub(*before),
            _ => Duration::ZERO,
        }
    }
}

/// Each thread's run time; a thread that ends while being read is skipped.
fn schedstat_times(pid: u32) -> Option<BTreeMap<u32, u64>> {
    let mut times = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok()) {
            times.insert(tid, ns);
        }
    }
    (!times.is_empty()).then_some(times)
}

fn stat_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks();
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn params_for(tool: &str) -> Value {
    match tool {
        "echo" | "echo_inline" | "echo_async" => json!({"text": "hello"}),
        _ => json!({"ms": 10}),
    }
}

/// How many requests a run makes.
fn requests_for(which: Impl, tool: &str, concurrency: usize, quick: bool) -> usize {
    let n = match (which, tool) {
        (Impl::Reference, "echo") => 2_000,
        // One call at a time, 10 ms each: 100 per second at best.
        (Impl::Reference, _) => 200,
        // One call at a time: each waits for the next poll (50 ms).
        (Impl::SdkInbox, _) if concurrency == 1 => 100,
        (_, "echo" | "echo_inline" | "echo_async") if concurrency == 1 => 5_000,
        // Enough CPU time for a clock-tick counter (10 ms) to measure.
        (_, "echo" | "echo_inline" | "echo_async") if concurrency == COST_AT => 60_000,
        (_, "echo" | "echo_inline" | "echo_async") => 30_000,
        (_, _) => (concurrency * 40).max(400),
    };
    if quick { (n / 10).max(20) } else { n }
}

async fn run_load(server: &DevServer, app: &str, tool: &str, options: BenchOptions) -> BenchReport {
    run_load_with(server, app, tool, params_for(tool), options).await
}

async fn run_load_with(
    server: &DevServer,
    app: &str,
    tool: &str,
    params: Value,
    options: BenchOptions,
) -> BenchReport {
    let server = server.clone();
    let app = app.to_owned();
    let tool = tool.to_owned();
    drive(options, None, move || {
        let server = server.clone();
        let app = app.clone();
        let tool = tool.clone();
        let params = params.clone();
        async move {
            let options = CallOptions {
                timeout: Some(Duration::from_secs(60)),
                app_name: Some(app),
                ..CallOptions::default()
            };
            match server.call_with(&tool, params, options).await {
                Ok(outcome) => Outcome::Answered(outcome.result),
                Err(CallError::Timeout { .. }) => Outcome::TimedOut,
                Err(err) => Outcome::Failed(err.to_string()),
            }
        }
    })
    .await
}

/// Everything one run measured.
#[derive(Default)]
struct Results {
    loads: BTreeMap<(Impl, &'static str, usize), BenchReport>,
    /// The toolkit's CPU time per call of each load.
    cpu_per_call: BTreeMap<(Impl, &'static str, usize), Duration>,
    /// The 1 MiB echo: (calls/s, MB/s).
    big_echo: BTreeMap<Impl, (f64, f64)>,
    idle_rss_kib: BTreeMap<Impl, u64>,
    start_many: BTreeMap<Impl, Duration>,
    /// 10,000 tools from start to serving: the first start, then again
    /// with every hash unchanged.
    start_very_many: Option<(Duration, Option<Duration>)>,
    reconnect: BTreeMap<Impl, Duration>,
    replicas: Option<Replicas>,
    ceilings: BTreeMap<usize, f64>,
    /// MCP: (server, over, in flight) → the load and the server's CPU per call.
    mcp: BTreeMap<(&'static str, &'static str, usize), (BenchReport, Option<Duration>)>,
    /// MCP over HTTP without sessions through HAProxy: one replica, three.
    #[cfg(feature = "mcp")]
    scale_out: Option<mcp::ScaleOut>,
    notes: Vec<String>,
}

/// Three replicas of one toolkit under one key.
struct Replicas {
    /// The load spread over three.
    spread: BenchReport,
    /// Calls each replica served, most first.
    shares: Vec<usize>,
    /// The same load with one replica killed a third of the way in.
    killed: BenchReport,
    /// The calls answered after the kill (by the two left).
    after_kill_ok: usize,
}

async fn suite(options: SuiteOptions) -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (toolkit, with_recorder) =
        match (toolkit_binary(Build::Lean), toolkit_binary(Build::Recorder)) {
            (Ok(lean), Ok(recorder)) => (lean, recorder),
            (Err(err), _) | (_, Err(err)) => {
                eprintln!("atp-bench: {err}");
                return ExitCode::FAILURE;
            }
        };
    let server = match DevServer::builder()
        .call_timeout(Duration::from_secs(60))
        .start()
        .await
    {
        Ok(server) => server,
        Err(err) => {
            eprintln!("atp-bench: atp-dev did not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut impls = vec![Impl::Limit, Impl::Sdk, Impl::SdkMetrics, Impl::SdkInbox];
    let mut results = Results::default();
    if options.reference && reference_python().is_some() {
        impls.push(Impl::Reference);
    } else {
        results.notes.push(
            "The reference client was not measured: no Python with AgentToolProtocol 0.2.5 \
             (set ATP_REF_PYTHON or create .venv)."
                .to_owned(),
        );
    }
    let wait = Duration::from_secs(60);

    // The driver's own ceiling, against a call answered at once.
    for c in CONCURRENCY {
        let n = if options.quick { 20_000 } else { 200_000 };
        let ceiling = ceiling(BenchOptions {
            requests: n,
            concurrency: c,
        })
        .await;
        results.ceilings.insert(c, ceiling);
    }

    for &which in &impls {
        eprintln!("== {}", which.label());
        let app = which.app();
        let binary = if which == Impl::SdkMetrics {
            &with_recorder
        } else {
            &toolkit
        };
        let mut child = match spawn_toolkit(binary, which, &server, app, None) {
            Ok(child) => child,
            Err(err) => {
                eprintln!("atp-bench: could not start {}: {err}", which.label());
                return ExitCode::FAILURE;
            }
        };
        if let Err(err) = server.wait_for_tools(which.tools(), wait).await {
            eprintln!("atp-bench: {} did not connect: {err}", which.label());
            return ExitCode::FAILURE;
        }
        // Idle: connected, nothing to do for a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(rss) = child.id().and_then(rss_kib) {
            results.idle_rss_kib.insert(which, rss);
        }
        // Serving: every tool answers a call (a toolkit whose connection
        // is still settling would have its first loads fail at once).
        for &tool in which.tools() {
            let one = BenchOptions {
                requests: 1,
                concurrency: 1,
            };
            let mut tries = 0;
            while run_load(&server, app, tool, one).await.errors > 0 && tries < 100 {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for &tool in which.tools() {
            for c in CONCURRENCY {
                let requests = requests_for(which, tool, c, options.quick);
                // Warm up (connections, caches, the blocking pool).
                let warm = BenchOptions {
                    requests: (requests / 10).clamp(c.min(requests), 1_000),
                    concurrency: c,
                };
                let _ = run_load(&server, app, tool, warm).await;
                let pid = child.id();
                let cpu_before = pid.and_then(cpu_time);
                let report = run_load(
                    &server,
                    app,
                    tool,
                    BenchOptions {
                        requests,
                        concurrency: c,
                    },
                )
                .await;
                let cpu = pid
                    .and_then(cpu_time)
                    .zip(cpu_before)
                    .map(|(after, before)| after.since(&before) / report.requests.max(1) as u32);
                eprintln!(
                    "  {tool:<15} c={c:<4} {:>9.0}/s  p50 {:>8.3} ms  p99 {:>8.3} ms  cpu {:>7.1} µs/call  errors {} timeouts {}",
                    report.throughput_per_s,
                    report.p50_ms,
                    report.p99_ms,
                    cpu.map_or(f64::NAN, |d| d.as_secs_f64() * 1e6),
                    report.errors,
                    report.timeouts
                );
                if let Some(cpu) = cpu {
                    results.cpu_per_call.insert((which, tool, c), cpu);
                }
                results.loads.insert((which, tool, c), report);
            }
        }
        // A 1 MiB echo: how fast big payloads go through.
        if matches!(which, Impl::Limit | Impl::Sdk) {
            let text = "x".repeat(BIG);
            let requests = if options.quick { 40 } else { 300 };
            let big = BenchOptions {
                requests,
                concurrency: 8,
            };
            let params = json!({ "text": text });
            let _ = run_load_with(
                &server,
                app,
                "echo",
                params.clone(),
                BenchOptions {
                    requests: 16,
                    concurrency: 8,
                },
            )
            .await;
            let report = run_load_with(&server, app, "echo", params, big).await;
            let mb_per_s = report.throughput_per_s * BIG as f64 / 1e6;
            eprintln!(
                "  echo 1 MiB       c=8    {:>9.0}/s  {mb_per_s:.0} MB/s  errors {}",
                report.throughput_per_s,
                report.errors + report.timeouts
            );
            results
                .big_echo
                .insert(which, (report.throughput_per_s, mb_per_s));
        }
        // Back to serving after a drop: the only toolkit connected now.
        // (The bare limit client does not reconnect: it is not measured;
        // the inbox has no connection to drop.)
        if matches!(which, Impl::SdkInbox | Impl::SdkMetrics) {
            let _ = child.kill().await;
            continue;
        }
        if which == Impl::Limit {
            let _ = child.kill().await;
            server.drop_connections();
            continue;
        }
        let connects = server.connects();
        let started = Instant::now();
        server.drop_connections();
        let back = async {
            server.wait_for_connects(connects + 1, wait).await.ok()?;
            loop {
                let options = CallOptions {
                    app_name: Some(app.to_owned()),
                    ..CallOptions::default()
                };
                match server
                    .call_with("echo", json!({"text": "back"}), options)
                    .await
                {
                    Ok(_) => return Some(started.elapsed()),
                    Err(CallError::NotConnected(_)) => tokio::task::yield_now().await,
                    Err(_) => return None,
                }
            }
        };
        match tokio::time::timeout(wait, back).await {
            Ok(Some(elapsed)) => {
                results.reconnect.insert(which, elapsed);
            }
            _ => results.notes.push(format!(
                "{} did not serve again within {wait:?} of a drop.",
                which.label()
            )),
        }
        let _ = child.kill().await;
        server.drop_connections();
    }

    // From start to serving with 100 tools (a fresh key: all are registered).
    for &which in impls
        .iter()
        .filter(|w| matches!(**w, Impl::Sdk | Impl::Reference))
    {
        let app = match which {
            Impl::Sdk => "bench-sdk-many",
            _ => "bench-reference-many",
        };
        let names: Vec<String> = ["echo", "wait_async", "sleep_blocking"]
            .into_iter()
            .map(str::to_owned)
            .chain((3..MANY).map(|i| format!("tool_{i:03}")))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let started = Instant::now();
        let mut child = match spawn_toolkit(&toolkit, which, &server, app, Some(MANY)) {
            Ok(child) => child,
            Err(err) => {
                eprintln!("atp-bench: could not start {}: {err}", which.label());
                return ExitCode::FAILURE;
            }
        };
        match server.wait_for_tools(&names, wait).await {
            Ok(()) => {
                results.start_many.insert(which, started.elapsed());
            }
            Err(err) => results
                .notes
                .push(format!("{} with {MANY} tools: {err}", which.label())),
        }
        let _ = child.kill().await;
        server.drop_connections();
    }

    eprintln!("== {VERY_MANY} tools, from start to serving");
    results.start_very_many = very_many(&toolkit, &server, &mut results.notes).await;
    eprintln!("== three replicas of one toolkit");
    results.replicas = replicas(&toolkit, &server, &options, &mut results.notes).await;
    server.shutdown().await;

    #[cfg(feature = "mcp")]
    {
        let python = reference_python().filter(|_| options.reference);
        let rows = match toolkit_binary(Build::Mcp) {
            Ok(toolkit) => {
                let rows = mcp::rows(
                    &toolkit,
                    python.as_deref(),
                    options.quick,
                    &mut results.notes,
                )
                .await;
                results.scale_out =
                    mcp::scale_out(&toolkit, options.quick, &mut results.notes).await;
                rows
            }
            Err(err) => {
                results.notes.push(format!("MCP was not measured: {err}."));
                Vec::new()
            }
        };
        for row in rows {
            results.mcp.insert(
                (row.server.label(), row.over.label(), row.concurrency),
                (row.report, row.cpu_per_call),
            );
        }
    }
    #[cfg(not(feature = "mcp"))]
    results
        .notes
        .push("MCP was not measured: build atp-bench with `--features mcp`.".to_owned());

    let text = render(&results, &options);
    println!("{text}");
    if let Some(path) = &options.write {
        if let Err(err) = write_into(path, &text) {
            eprintln!("atp-bench: could not write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("atp-bench: wrote the results into {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Starts the SDK with 10,000 run-time tools under a fresh key and times
/// it to serving (its last tool answers a call); then again, the server
/// holding every hash already.
async fn very_many(
    toolkit: &std::path::Path,
    server: &DevServer,
    notes: &mut Vec<String>,
) -> Option<(Duration, Option<Duration>)> {
    let app = "bench-sdk-10k";
    let last = format!("tool_{:03}", VERY_MANY - 1);
    let mut times = Vec::new();
    for round in 0..2 {
        let started = Instant::now();
        let mut child = spawn_toolkit(toolkit, Impl::Sdk, server, app, Some(VERY_MANY)).ok()?;
        let serving = async {
            loop {
                let options = CallOptions {
                    app_name: Some(app.to_owned()),
                    ..CallOptions::default()
                };
                match server.call_with(&last, json!({}), options).await {
                    Ok(_) => return started.elapsed(),
                    Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(120), serving).await {
            Ok(elapsed) => {
                eprintln!("  start {}: {:.3} s", round + 1, elapsed.as_secs_f64());
                times.push(elapsed);
            }
            Err(_) => notes.push(format!(
                "{VERY_MANY} tools: not serving within 120 s (start {})",
                round + 1
            )),
        }
        let _ = child.kill().await;
        server.drop_connections();
        // Until atp-dev has seen it go.
        let _ = server
            .wait_for_connections(0, Duration::from_secs(10))
            .await;
    }
    let mut times = times.into_iter();
    Some((times.next()?, times.next()))
}

/// Three SDK processes of one toolkit under one key: the load spreads over
/// them; then the same load with one killed a third of the way in.
async fn replicas(
    toolkit: &std::path::Path,
    server: &DevServer,
    options: &SuiteOptions,
    notes: &mut Vec<String>,
) -> Option<Replicas> {
    let app = "bench-replicas";
    let mut children = Vec::new();
    for _ in 0..3 {
        children.push(spawn_toolkit(toolkit, Impl::Sdk, server, app, None).ok()?);
    }
    if server
        .wait_for_connections(3, Duration::from_secs(60))
        .await
        .is_err()
    {
        notes.push("the three replicas did not all connect".to_owned());
        return None;
    }
    let requests = if options.quick { 2_000 } else { 20_000 };
    let shares: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let load = |shares: Arc<Mutex<HashMap<u64, usize>>>,
                done: Option<Arc<std::sync::atomic::AtomicUsize>>| {
        let server = server.clone();
        drive(
            BenchOptions {
                requests,
                concurrency: 64,
            },
            done,
            move || {
                let server = server.clone();
                let shares = shares.clone();
                async move {
                    let options = CallOptions {
                        app_name: Some(app.to_owned()),
                        timeout: Some(Duration::from_secs(60)),
                        ..CallOptions::default()
                    };
                    match server.call_with("replica", json!({"ms": 2}), options).await {
                        Ok(outcome) => {
                            if let Some(pid) = outcome.result.as_u64() {
                                *shares.lock().unwrap().entry(pid).or_default() += 1;
                            }
                            Outcome::Answered(outcome.result)
                        }
                        Err(CallError::Timeout { .. }) => Outcome::TimedOut,
                        Err(err) => Outcome::Failed(err.to_string()),
                    }
                }
            },
        )
    };
    let spread = load(shares.clone(), None).await;
    let mut counts: Vec<usize> = shares.lock().unwrap().values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!(
        "  spread: {:.0}/s, shares {counts:?}, errors {}",
        spread.throughput_per_s,
        spread.errors + spread.timeouts
    );
    // Again, one killed a third of the way in.
    let after: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let victim = children.remove(0);
    let killer = {
        let done = done.clone();
        let after = after.clone();
        tokio::spawn(async move {
            let mut victim = victim;
            while done.load(std::sync::atomic::Ordering::Relaxed) < requests / 3 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = victim.start_kill();
            after.lock().unwrap().clear();
            let _ = victim.wait().await;
        })
    };
    let killed = load(after.clone(), Some(done)).await;
    let _ = killer.await;
    let after_kill_ok = after.lock().unwrap().values().sum();
    eprintln!(
        "  one killed: {:.0}/s, ok {}, failed {}, timed out {}, max {:.1} ms; {after_kill_ok} answered after the kill",
        killed.throughput_per_s, killed.ok, killed.errors, killed.timeouts, killed.max_ms
    );
    for mut child in children {
        let _ = child.kill().await;
    }
    server.drop_connections();
    Some(Replicas {
        spread,
        shares: counts,
        killed,
        after_kill_ok,
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| format!(", {} GiB", kib / (1024 * 1024)));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!(", Linux {}", k.trim()))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{memory}{kernel}")
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".to_owned()
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// The results as Markdown.
fn render(r: &Results, options: &SuiteOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Machine: {}.", machine());
    let _ = writeln!(
        out,
        "Command: `cargo run --release -p atp-bench --features mcp{}`; atp-dev in process, each toolkit its own process, all on loopback.\n",
        if options.quick { " -- --quick" } else { "" }
    );
    let _ = writeln!(
        out,
        "| toolkit | tool | in flight | calls | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ((which, tool, c), report) in &r.loads {
        let _ = writeln!(
            out,
            "| {} | {tool} | {c} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            which.label(),
            report.requests,
            report.throughput_per_s,
            report.p50_ms,
            report.p90_ms,
            report.p99_ms,
            report.max_ms,
            report.errors + report.timeouts
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Driver ceiling (the same in-process driver against a call answered at once): {}.\n",
        r.ceilings
            .iter()
            .map(|(c, v)| format!("{v:.0}/s at {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let get = |w: Impl, t: &'static str, c: usize| r.loads.get(&(w, t, c));
    let cpu = |w: Impl, t: &'static str| {
        r.cpu_per_call
            .get(&(w, t, COST_AT))
            .map(|d| d.as_secs_f64() * 1e6)
    };
    let limit_cpu = cpu(Impl::Limit, "echo");
    let _ = writeln!(
        out,
        "The cost of a call, at {COST_AT} in flight: the toolkit process's CPU time (all its threads' run time, from `/proc/PID/task/*/schedstat`) divided by the calls it answered.\n"
    );
    let _ = writeln!(
        out,
        "| toolkit | tool | calls/s | CPU µs per call | × the limit's CPU |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for (which, tool, what) in [
        (Impl::Limit, "echo", "echo (no SDK)"),
        (Impl::Sdk, "echo", "echo (plain `fn`)"),
        (
            Impl::Sdk,
            "echo_inline",
            "echo_inline (plain `fn`, `#[atp_tool(inline)]`)",
        ),
        (Impl::Sdk, "echo_async", "echo_async (`async fn`)"),
        (
            Impl::SdkMetrics,
            "echo",
            "echo (plain `fn`), metrics recorded",
        ),
        (Impl::SdkInbox, "echo", "echo (plain `fn`)"),
        (Impl::SdkInbox, "echo_async", "echo_async (`async fn`)"),
        (Impl::Reference, "echo", "echo"),
    ] {
        let Some(report) = get(which, tool, COST_AT) else {
            continue;
        };
        let c = cpu(which, tool);
        let _ = writeln!(
            out,
            "| {} | {what} | {:.0} | {} | {} |",
            which.label(),
            report.throughput_per_s,
            c.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
            match (c, limit_cpu) {
                (Some(c), Some(l)) => ratio(c, l),
                _ => "–".to_owned(),
            }
        );
    }
    let _ = writeln!(out);
    if let (Some(with), Some(without)) = (
        get(Impl::SdkMetrics, "echo", COST_AT),
        get(Impl::Sdk, "echo", COST_AT),
    ) {
        let cpu_with = cpu(Impl::SdkMetrics, "echo");
        let cpu_without = cpu(Impl::Sdk, "echo");
        let _ = writeln!(
            out,
            "Metrics: with a Prometheus recorder installed (`metrics-exporter-prometheus`), the SDK's echo at {COST_AT} in flight made {:.0} calls/s against {:.0} without one ({}), at {} against {} µs of CPU per call. Without a recorder the `metrics` calls are no-ops: the plain rows above are that case.\n",
            with.throughput_per_s,
            without.throughput_per_s,
            ratio(with.throughput_per_s, without.throughput_per_s),
            cpu_with.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
            cpu_without.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
        );
    }
    if !r.mcp.is_empty() {
        let _ = writeln!(
            out,
            "MCP: echo served by atp-sdk (`ATP_TRANSPORT=mcp` / `mcp-http`, with `ATP_MCP_STATELESS=1` for the stateless rows; the same `#[atp_tool]` plain `fn` as the ATP rows, and as `#[atp_tool(inline)]`), by rmcp 3.11 alone (its own `#[tool]`, a plain `fn` rmcp runs in the request's task: the limit) and by the official Python MCP server (`mcp` 2.x, `MCPServer`, returning `dict[str, Any]`), all as processes, driven by the same client (rmcp's, in process); CPU is the server process's per call.\n"
        );
        let _ = writeln!(
            out,
            "| server | over | in flight | calls | calls/s | p50 ms | p99 ms | CPU µs per call | errors |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for ((server, over, c), (report, cpu)) in &r.mcp {
            let _ = writeln!(
                out,
                "| {server} | {over} | {c} | {} | {:.0} | {:.3} | {:.3} | {} | {} |",
                report.requests,
                report.throughput_per_s,
                report.p50_ms,
                report.p99_ms,
                cpu.map_or_else(
                    || "–".to_owned(),
                    |d| format!("{:.1}", d.as_secs_f64() * 1e6)
                ),
                report.errors + report.timeouts
            );
        }
        let _ = writeln!(out);
    }
    #[cfg(feature = "mcp")]
    if let Some(s) = &r.scale_out {
        let _ = writeln!(
            out,
            "MCP over HTTP scaled out: `sleep_blocking` (10 ms) at {} in flight through HAProxy (round robin, no stickiness) to stateless replicas of at most {} calls at once each: {:.0} calls/s to one replica (p50 {:.1} ms), {:.0} calls/s to three (p50 {:.1} ms), {} errors.\n",
            3 * mcp::REPLICA_IN_FLIGHT,
            mcp::REPLICA_IN_FLIGHT,
            s.one.throughput_per_s,
            s.one.p50_ms,
            s.three.throughput_per_s,
            s.three.p50_ms,
            s.one.errors + s.one.timeouts + s.three.errors + s.three.timeouts,
        );
    }
    if !r.big_echo.is_empty() {
        let _ = writeln!(out, "| 1 MiB echo, 8 in flight | calls/s | MB/s |");
        let _ = writeln!(out, "|---|---:|---:|");
        for (which, (calls, mb)) in &r.big_echo {
            let _ = writeln!(out, "| {} | {calls:.0} | {mb:.0} |", which.label());
        }
        let _ = writeln!(out);
    }
    if let Some(rep) = &r.replicas {
        let _ = writeln!(
            out,
            "Three replicas of one toolkit under one key, `replica` (2 ms) at 64 in flight: {:.0} calls/s, served {} (calls per replica), {} errors. The same load with one replica killed a third of the way in: {:.0} calls/s, {} answered, {} failed (the killed replica's calls in flight, answered as failed by atp-dev 2 s (its grace) after its connection closed), {} timed out, slowest {:.0} ms; {} calls answered after the kill by the two left.\n",
            rep.spread.throughput_per_s,
            rep.shares
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            rep.spread.errors + rep.spread.timeouts,
            rep.killed.throughput_per_s,
            rep.killed.ok,
            rep.killed.errors,
            rep.killed.timeouts,
            rep.killed.max_ms,
            rep.after_kill_ok,
        );
    }
    let _ = writeln!(
        out,
        "| in flight | SDK / limit, echo calls/s | SDK / limit, echo p50 | SDK / reference, echo calls/s | SDK / reference, wait_async calls/s | SDK / reference, sleep_blocking calls/s |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    for c in CONCURRENCY {
        let cell = |a: Option<&BenchReport>,
                    b: Option<&BenchReport>,
                    f: fn(&BenchReport) -> f64| match (a, b) {
            (Some(a), Some(b)) => ratio(f(a), f(b)),
            _ => "–".to_owned(),
        };
        let tput = |x: &BenchReport| x.throughput_per_s;
        let p50 = |x: &BenchReport| x.p50_ms;
        let _ = writeln!(
            out,
            "| {c} | {} | {} | {} | {} | {} |",
            cell(get(Impl::Sdk, "echo", c), get(Impl::Limit, "echo", c), tput),
            cell(get(Impl::Sdk, "echo", c), get(Impl::Limit, "echo", c), p50),
            cell(
                get(Impl::Sdk, "echo", c),
                get(Impl::Reference, "echo", c),
                tput
            ),
            cell(
                get(Impl::Sdk, "wait_async", c),
                get(Impl::Reference, "wait_async", c),
                tput
            ),
            cell(
                get(Impl::Sdk, "sleep_blocking", c),
                get(Impl::Reference, "sleep_blocking", c),
                tput
            ),
        );
    }
    let _ = writeln!(out);
    if let Some((first, unchanged)) = r.start_very_many {
        let _ = writeln!(
            out,
            "{VERY_MANY} run-time tools (`DynamicTool`), from start to serving: {:.3} s under a fresh key; {} again with every hash unchanged.\n",
            first.as_secs_f64(),
            unchanged.map_or_else(
                || "not measured".to_owned(),
                |d| format!("{:.3} s", d.as_secs_f64())
            )
        );
    }
    let _ = writeln!(
        out,
        "| toolkit | idle RSS | start to serving, {MANY} tools | serving again after a drop |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for which in [Impl::Limit, Impl::Sdk, Impl::SdkInbox, Impl::Reference] {
        let rss = r
            .idle_rss_kib
            .get(&which)
            .map(|k| format!("{:.1} MB", *k as f64 / 1024.0));
        let start = r
            .start_many
            .get(&which)
            .map(|d| format!("{:.3} s", d.as_secs_f64()));
        let back = r
            .reconnect
            .get(&which)
            .map(|d| format!("{:.3} s", d.as_secs_f64()));
        if rss.is_none() && start.is_none() && back.is_none() {
            continue;
        }
        let dash = || "–".to_owned();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            which.label(),
            rss.unwrap_or_else(dash),
            start.unwrap_or_else(dash),
            back.unwrap_or_else(dash)
        );
    }
    let _ = writeln!(out);

    // The targets, from this run.
    let _ = writeln!(out, "| target | this run | |");
    let _ = writeln!(out, "|---|---|---|");
    let ratio_of = |tool: &'static str, c: usize, of: Impl, f: fn(&BenchReport) -> f64| {
        get(Impl::Sdk, tool, c)
            .zip(get(of, tool, c))
            .map(|(a, b)| f(a) / f(b))
    };
    let tput: fn(&BenchReport) -> f64 = |x| x.throughput_per_s;
    let p50: fn(&BenchReport) -> f64 = |x| x.p50_ms;
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let times = |v: f64| format!("{v:.2}×");
    let mb = |v: f64| format!("{v:.1} MB");
    let secs = |v: f64| format!("{v:.3} s");
    // (target, value, how to show it, whether it is met)
    type Show = fn(f64) -> String;
    let cpu_ratio = |w: Impl, t: &'static str| cpu(w, t).zip(limit_cpu).map(|(c, l)| c / l);
    let inbox_share = get(Impl::SdkInbox, "echo", COST_AT)
        .zip(get(Impl::Sdk, "echo", COST_AT))
        .map(|(i, w)| i.throughput_per_s / w.throughput_per_s);
    let big_share = r
        .big_echo
        .get(&Impl::Sdk)
        .zip(r.big_echo.get(&Impl::Limit))
        .map(|(s, l)| s.1 / l.1);
    let targets: [(&str, Option<f64>, Show, bool); 16] = {
        let t = |v: Option<f64>, ok: fn(f64) -> bool| (v, v.is_some_and(ok));
        let rows = [
            (
                "SDK echo throughput ≥ 80% of the limit at 64 in flight",
                t(ratio_of("echo", 64, Impl::Limit, tput), |v| v >= 0.8),
                pct as Show,
            ),
            (
                "SDK echo p50 at 1 in flight ≤ 1.5× the limit's",
                t(ratio_of("echo", 1, Impl::Limit, p50), |v| v <= 1.5),
                times,
            ),
            (
                "≥ 10× the reference on echo at 16 in flight",
                t(ratio_of("echo", 16, Impl::Reference, tput), |v| v >= 10.0),
                times,
            ),
            (
                "≥ 50× the reference on wait_async (10 ms) at 64 in flight",
                t(ratio_of("wait_async", 64, Impl::Reference, tput), |v| {
                    v >= 50.0
                }),
                times,
            ),
            (
                "≥ 50× the reference on sleep_blocking (10 ms) at 64 in flight",
                t(ratio_of("sleep_blocking", 64, Impl::Reference, tput), |v| {
                    v >= 50.0
                }),
                times,
            ),
            (
                "idle toolkit RSS ≤ 5 MB",
                t(
                    r.idle_rss_kib.get(&Impl::Sdk).map(|k| *k as f64 / 1024.0),
                    |v| v <= 5.0,
                ),
                mb,
            ),
            (
                "100 tools from start to serving ≤ 0.5 s",
                t(
                    r.start_many.get(&Impl::Sdk).map(Duration::as_secs_f64),
                    |v| v <= 0.5,
                ),
                secs,
            ),
            (
                "serving again ≤ 1 s after a drop",
                t(
                    r.reconnect.get(&Impl::Sdk).map(Duration::as_secs_f64),
                    |v| v <= 1.0,
                ),
                secs,
            ),
            (
                "plain `fn` CPU per call ≤ 1.5× the limit's (16 in flight)",
                t(cpu_ratio(Impl::Sdk, "echo"), |v| v <= 1.5),
                times,
            ),
            (
                "`async fn` CPU per call ≤ 1.25× the limit's (16 in flight)",
                t(cpu_ratio(Impl::Sdk, "echo_async"), |v| v <= 1.25),
                times,
            ),
            (
                "HTTP inbox CPU per call ≤ 4× the limit's (plain `fn`, 16 in flight)",
                t(cpu_ratio(Impl::SdkInbox, "echo"), |v| v <= 4.0),
                times,
            ),
            (
                "HTTP inbox throughput ≥ 0.5× the WebSocket's (plain `fn`, 16 in flight)",
                t(inbox_share, |v| v >= 0.5),
                times,
            ),
            (
                "1 MiB echo ≥ 80% of the limit's MB/s",
                t(big_share, |v| v >= 0.8),
                pct,
            ),
            (
                "10,000 tools from start to serving ≤ 1 s",
                t(
                    r.start_very_many.map(|(first, _)| first.as_secs_f64()),
                    |v| v <= 1.0,
                ),
                secs,
            ),
            (
                "10,000 tools serving again, hashes unchanged, ≤ 0.3 s",
                t(
                    r.start_very_many
                        .and_then(|(_, again)| again)
                        .map(|d| d.as_secs_f64()),
                    |v| v <= 0.3,
                ),
                secs,
            ),
            (
                "a killed replica: no call left hanging (timeouts)",
                t(
                    r.replicas.as_ref().map(|rep| rep.killed.timeouts as f64),
                    |v| v == 0.0,
                ),
                |v| format!("{v:.0}"),
            ),
        ];
        rows.map(|(name, (value, met), show)| (name, value, show, met))
    };
    for (name, value, show, met) in targets {
        let _ = match value {
            Some(v) => writeln!(out, "| {name} | {} | {} |", show(v), verdict(met)),
            None => writeln!(out, "| {name} | not measured | |"),
        };
    }
    #[cfg(feature = "mcp")]
    for (name, value, limit) in mcp_targets(r) {
        let _ = match value {
            Some(v) => writeln!(out, "| {name} | {} | {} |", times(v), verdict(v <= limit)),
            None => writeln!(out, "| {name} | not measured | |"),
        };
    }
    #[cfg(feature = "mcp")]
    {
        let name = "3 replicas behind HAProxy ≥ 2× one replica's throughput (10 ms tool)";
        let _ = match &r.scale_out {
            Some(s) => {
                let v = s.three.throughput_per_s / s.one.throughput_per_s;
                writeln!(out, "| {name} | {} | {} |", times(v), verdict(v >= 2.0))
            }
            None => writeln!(out, "| {name} | not measured | |"),
        };
    }
    for note in &r.notes {
        let _ = writeln!(out, "\n{note}");
    }
    out
}

/// The MCP targets, each (name, this run's ratio, the most it may be).
#[cfg(feature = "mcp")]
fn mcp_targets(r: &Results) -> [(&'static str, Option<f64>, f64); 3] {
    let cpu = |server: &str, over: &str| {
        r.mcp
            .get(&(server, over, COST_AT))
            .and_then(|(_, cpu)| *cpu)
            .map(|d| d.as_secs_f64())
    };
    let sdk = mcp::Server::Sdk.label();
    let stdio = mcp::Over::Stdio.label();
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    [
        (
            "MCP streamable HTTP, stateless, CPU per call ≤ 2× MCP stdio's (16 in flight)",
            ratio(cpu(sdk, mcp::Over::HttpStateless.label()), cpu(sdk, stdio)),
            2.0,
        ),
        (
            "MCP over stdio CPU per call ≤ 1.3× the bare rmcp server's (plain `fn`, 16 in flight)",
            ratio(cpu(sdk, stdio), cpu(mcp::Server::Rmcp.label(), stdio)),
            1.3,
        ),
        (
            "MCP over stdio CPU per call ≤ 1.3× the bare rmcp server's (`inline` fn, 16 in flight)",
            ratio(
                cpu(mcp::Server::SdkInline.label(), stdio),
                cpu(mcp::Server::Rmcp.label(), stdio),
            ),
            1.3,
        ),
    ]
}

/// The markers the suite's results stand between.
const RESULTS: (&str, &str) = ("<!-- results:start -->", "<!-- results:end -->");
/// The markers the footprint's stand between.
const FOOTPRINT: (&str, &str) = ("<!-- footprint:start -->", "<!-- footprint:end -->");

/// Replaces what stands between the result markers of `path`.
fn write_into(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    write_between(path, RESULTS, text)
}

/// Replaces what stands between `markers` in `path`.
fn write_between(
    path: &std::path::Path,
    (open, close): (&str, &str),
    text: &str,
) -> std::io::Result<()> {
    let doc = std::fs::read_to_string(path)?;
    let (Some(start), Some(end)) = (doc.find(open), doc.find(close)) else {
        return Err(std::io::Error::other(format!(
            "no {open} ... {close} markers in the file"
        )));
    };
    let updated = format!("{}{open}\n{text}\n{}", &doc[..start], &doc[end..]);
    std::fs::write(path, updated)
}
