//! `atp-dev bench TOOL ...`: a load test through the call API, with a
//! report of throughput and latency.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::{ServerArg, client_error};
use crate::bench::{BenchOptions, BenchReport, Outcome, drive};
use crate::client::ClientError;

/// One `atp-dev bench` run.
pub(super) struct BenchRun {
    pub(super) tool: String,
    pub(super) params: Value,
    pub(super) options: BenchOptions,
    pub(super) token: Option<String>,
    pub(super) timeout: Duration,
    pub(super) app_name: Option<String>,
}

/// Load-tests a tool and prints the report.
pub(super) async fn run(server: &ServerArg, run: BenchRun, json: bool, ceiling: bool) -> ExitCode {
    let client = server.client();
    match client.tools().await {
        Ok(tools) if tools.iter().any(|t| t.name == run.tool) => {}
        Ok(_) => {
            eprintln!("atp-dev: unknown tool: {} (see `atp-dev tools`)", run.tool);
            return ExitCode::FAILURE;
        }
        Err(err) => return client_error(&err),
    }
    let driver_ceiling = if ceiling {
        let client = client.clone();
        let report = drive(run.options, None, move || {
            let client = client.clone();
            async move {
                match client.ping().await {
                    Ok(()) => Outcome::Answered(Value::Null),
                    Err(err) => Outcome::Failed(err.to_string()),
                }
            }
        })
        .await;
        Some(report.throughput_per_s)
    } else {
        None
    };
    let done = Arc::new(AtomicUsize::new(0));
    let bar = progress_bar(json, run.options.requests);
    let ticker = tokio::spawn(follow(bar.clone(), done.clone()));
    let BenchRun {
        tool,
        params,
        options,
        token,
        timeout,
        app_name,
    } = run;
    let tool_name = tool.clone();
    let call_client = client.clone();
    let mut report = drive(options, Some(done), move || {
        let client = call_client.clone();
        let tool = tool.clone();
        let params = params.clone();
        let token = token.clone();
        let app_name = app_name.clone();
        async move {
            match client
                .call(
                    &tool,
                    params,
                    token.as_deref(),
                    Some(timeout),
                    app_name.as_deref(),
                )
                .await
            {
                Ok(reply) => Outcome::Answered(reply.result),
                Err(ClientError::Status { status: 504, .. }) => Outcome::TimedOut,
                Err(err) => Outcome::Failed(err.to_string()),
            }
        }
    })
    .await;
    report.driver_ceiling_per_s = driver_ceiling;
    ticker.abort();
    bar.finish_and_clear();
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report always serializes")
        );
    } else {
        print_report(&tool_name, &report);
    }
    if report.ok == 0 && report.errors + report.timeouts == report.requests {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The progress bar on stderr, with the rate and the time left; hidden
/// for `--json` and when stderr is not a terminal.
fn progress_bar(json: bool, total: usize) -> ProgressBar {
    let target = if json {
        ProgressDrawTarget::hidden()
    } else {
        // Hidden by indicatif itself when stderr is not a terminal.
        ProgressDrawTarget::stderr_with_hz(10)
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} calls  {per_sec:>10}  ETA {eta}")
            .expect("the template is valid")
            .progress_chars("##."),
    );
    bar
}

/// Moves the bar as calls are answered, until aborted.
async fn follow(bar: ProgressBar, done: Arc<AtomicUsize>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        bar.set_position(done.load(Ordering::Relaxed) as u64);
    }
}

fn print_report(tool: &str, r: &BenchReport) {
    println!(
        "bench {tool}: {} requests, {} in flight, {:.2} s",
        r.requests, r.concurrency, r.elapsed_s
    );
    println!(
        "  ok {}   errors {}   timeouts {}",
        r.ok, r.errors, r.timeouts
    );
    println!("  throughput  {:.0} calls/s", r.throughput_per_s);
    println!(
        "  latency     p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
    );
    if let Some(ceiling) = r.driver_ceiling_per_s {
        println!(
            "  driver ceiling {ceiling:.0} calls/s (the same load against the no-op route): {:.0}% used",
            100.0 * r.throughput_per_s / ceiling.max(f64::MIN_POSITIVE)
        );
    }
    if let Some(why) = &r.first_failure {
        println!("  first failure: {why}");
    }
}
