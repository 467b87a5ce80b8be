//! The benchmark suite (see BENCHMARKS.md): in one run on one machine, the
//! bare protocol limit, the SDK and the reference Python client, driven
//! through an in-process atp-dev at several concurrencies; plus idle
//! memory, start-to-serving time with 100 tools and time back to serving
//! after a dropped connection. Prints the tables and the ratios, and with
//! `--write FILE` puts them into BENCHMARKS.md.
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use atp_dev::bench::{BenchOptions, BenchReport, Outcome, ceiling, drive};
use atp_dev::{CallError, CallOptions, DevServer};
use serde_json::{Value, json};

const CONCURRENCY: [usize; 4] = [1, 16, 64, 256];
const MANY: usize = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--help" | "-h") => {
            println!("usage: atp-bench [--quick] [--write BENCHMARKS.md] [--no-reference]");
            ExitCode::SUCCESS
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
    Reference,
}

impl Impl {
    fn label(self) -> &'static str {
        match self {
            Impl::Limit => "limit (bare tokio-tungstenite)",
            Impl::Sdk => "atp-sdk",
            Impl::Reference => "reference (Python 0.2.5)",
        }
    }

    fn app(self) -> &'static str {
        match self {
            Impl::Limit => "bench-limit",
            Impl::Sdk => "bench-sdk",
            Impl::Reference => "bench-reference",
        }
    }

    fn tools(self) -> &'static [&'static str] {
        match self {
            Impl::Limit => &["echo"],
            Impl::Sdk => &["echo", "echo_async", "wait_async", "sleep_blocking"],
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

/// The toolkit binary beside this one, built (with cargo) if needed.
fn toolkit_binary() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?.with_file_name("atp-bench-toolkit");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "-p", "atp-bench", "--bin", "atp-bench-toolkit"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.stdout(Stdio::null()).status();
    match status {
        Ok(status) if status.success() => Ok(exe),
        _ if exe.exists() => Ok(exe),
        _ => Err(std::io::Error::other(
            "could not build atp-bench-toolkit: run `cargo build --release -p atp-bench`",
        )),
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

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn params_for(tool: &str) -> Value {
    match tool {
        "echo" | "echo_async" => json!({"text": "hello"}),
        _ => json!({"ms": 10}),
    }
}

/// How many requests a run makes.
fn requests_for(which: Impl, tool: &str, concurrency: usize, quick: bool) -> usize {
    let n = match (which, tool) {
        (Impl::Reference, "echo") => 2_000,
        // One call at a time, 10 ms each: 100 per second at best.
        (Impl::Reference, _) => 200,
        (_, "echo" | "echo_async") if concurrency == 1 => 5_000,
        (_, "echo" | "echo_async") => 30_000,
        (_, _) => (concurrency * 40).max(400),
    };
    if quick { (n / 10).max(20) } else { n }
}

async fn run_load(server: &DevServer, app: &str, tool: &str, options: BenchOptions) -> BenchReport {
    let server = server.clone();
    let app = app.to_owned();
    let tool = tool.to_owned();
    let params = params_for(&tool);
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
    idle_rss_kib: BTreeMap<Impl, u64>,
    start_many: BTreeMap<Impl, Duration>,
    reconnect: BTreeMap<Impl, Duration>,
    ceilings: BTreeMap<usize, f64>,
    notes: Vec<String>,
}

async fn suite(options: SuiteOptions) -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let toolkit = match toolkit_binary() {
        Ok(path) => path,
        Err(err) => {
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
    let mut impls = vec![Impl::Limit, Impl::Sdk];
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
        let mut child = match spawn_toolkit(&toolkit, which, &server, app, None) {
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
        for &tool in which.tools() {
            for c in CONCURRENCY {
                let requests = requests_for(which, tool, c, options.quick);
                // Warm up (connections, caches, the blocking pool).
                let warm = BenchOptions {
                    requests: (requests / 10).clamp(c.min(requests), 1_000),
                    concurrency: c,
                };
                let _ = run_load(&server, app, tool, warm).await;
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
                eprintln!(
                    "  {tool:<15} c={c:<4} {:>9.0}/s  p50 {:>8.3} ms  p99 {:>8.3} ms  errors {} timeouts {}",
                    report.throughput_per_s,
                    report.p50_ms,
                    report.p99_ms,
                    report.errors,
                    report.timeouts
                );
                results.loads.insert((which, tool, c), report);
            }
        }
        // Back to serving after a drop: the only toolkit connected now.
        // (The bare limit client does not reconnect: it is not measured.)
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
    for &which in impls.iter().filter(|w| **w != Impl::Limit) {
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
    server.shutdown().await;

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
        "Command: `cargo run --release -p atp-bench{}`; atp-dev in process, each toolkit its own process, all on loopback.\n",
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
    let _ = writeln!(
        out,
        "| toolkit | idle RSS | start to serving, {MANY} tools | serving again after a drop |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for which in [Impl::Limit, Impl::Sdk, Impl::Reference] {
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
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    let times = |v: f64| format!("{v:.2}×");
    let mb = |v: f64| format!("{v:.1} MB");
    let secs = |v: f64| format!("{v:.3} s");
    // (target, value, how to show it, whether it is met)
    type Show = fn(f64) -> String;
    let targets: [(&str, Option<f64>, Show, bool); 8] = {
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
        ];
        rows.map(|(name, (value, met), show)| (name, value, show, met))
    };
    for (name, value, show, met) in targets {
        let _ = match value {
            Some(v) => writeln!(out, "| {name} | {} | {} |", show(v), verdict(met)),
            None => writeln!(out, "| {name} | not measured | |"),
        };
    }
    for note in &r.notes {
        let _ = writeln!(out, "\n{note}");
    }
    out
}

const START: &str = "<!-- results:start -->";
const END: &str = "<!-- results:end -->";

/// Replaces what stands between the result markers of `path`.
fn write_into(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let doc = std::fs::read_to_string(path)?;
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        return Err(std::io::Error::other(format!(
            "no {START} ... {END} markers in the file"
        )));
    };
    let updated = format!("{}{START}\n{text}\n{}", &doc[..start], &doc[end..]);
    std::fs::write(path, updated)
}
