//! The toolkit processes of the benchmark suite (`atp-bench` starts them):
//!
//! - `--sdk`: the SDK's tools, served as `atp_sdk::run()` serves them
//!   (`ATP_BENCH_MULTI_THREAD=1`: on a multi-threaded runtime instead);
//! - `--sdk-many N`: N tools (the same three and fillers);
//! - `--limit`: the least a toolkit can do, without the SDK.
//!
//! `ATP_BENCH_MAX_IN_FLIGHT=N` bounds the calls it runs at once (the
//! scale-out rows' replicas). `ATP_BENCH_RECORDER=1` installs a Prometheus recorder first (built
//! `--features recorder`); with `ATP_TRANSPORT=mcp` or `mcp-http` (built
//! `--features mcp`), `--sdk` serves MCP instead. atp-bench builds each
//! variant on its own, so the plain one links only what a toolkit links.
//!
//! A binary of its own, linking only what a toolkit links, so its memory
//! is a toolkit's.

use std::process::ExitCode;
use std::time::Duration;

use atp_sdk::{DynamicTool, ToolKitClient, atp_tool};
use serde_json::{Value, json};

#[path = "../limit.rs"]
mod limit;

/// Echoes the text back.
#[atp_tool]
fn echo(text: String) -> Value {
    json!({ "echo": text })
}

/// Echoes the text back, as a plain `fn` run in the call's task.
#[atp_tool(inline)]
fn echo_inline(text: String) -> Value {
    json!({ "echo": text })
}

/// Echoes the text back, as an `async fn`.
#[atp_tool]
async fn echo_async(text: String) -> Value {
    json!({ "echo": text })
}

/// Waits `ms` milliseconds without holding a thread.
#[atp_tool]
async fn wait_async(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Sleeps `ms` milliseconds on its thread.
#[atp_tool]
fn sleep_blocking(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Waits `ms` milliseconds, then answers this process's id (which replica
/// served the call).
#[atp_tool]
async fn replica(ms: u64) -> u32 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    std::process::id()
}

fn main() -> ExitCode {
    // For the metrics row: the same toolkit with a Prometheus recorder
    // installed (nothing scrapes it: the cost is in recording).
    if std::env::var_os("ATP_BENCH_RECORDER").is_some() {
        #[cfg(feature = "recorder")]
        if let Err(err) = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
            eprintln!("no recorder: {err}");
            return ExitCode::FAILURE;
        }
        #[cfg(not(feature = "recorder"))]
        {
            eprintln!("ATP_BENCH_RECORDER needs the `recorder` build (--features recorder)");
            return ExitCode::FAILURE;
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        // For comparison: the same toolkit on a multi-threaded runtime.
        Some("--sdk") if std::env::var_os("ATP_BENCH_MULTI_THREAD").is_some() => {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            match runtime.block_on(async { ToolKitClient::from_env()?.serve_until_signal().await })
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
        // The scale-out rows: a replica that runs at most N calls at once.
        Some("--sdk") if std::env::var_os("ATP_BENCH_MAX_IN_FLIGHT").is_some() => {
            let n = std::env::var("ATP_BENCH_MAX_IN_FLIGHT")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(8);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let served = runtime.block_on(async {
                ToolKitClient::builder_from_env()?
                    .max_in_flight(n)
                    .build()?
                    .serve_until_signal()
                    .await
            });
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("--sdk") => match atp_sdk::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        },
        Some("--sdk-many") => many_toolkit(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100)),
        Some("--limit") => limit::main(),
        _ => {
            eprintln!("usage: atp-bench-toolkit --sdk | --sdk-many N | --limit");
            ExitCode::from(2)
        }
    }
}

/// A toolkit with `n` tools: the three above and fillers.
fn many_toolkit(n: usize) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let result = runtime.block_on(async {
        let mut builder =
            ToolKitClient::builder_from_env()?.tools(["echo", "wait_async", "sleep_blocking"]);
        let n = n.max(3);
        for i in 3..n {
            builder = builder.tool(
                DynamicTool::new(format!("tool_{i:03}"), move |_| async move { Ok(json!(i)) })
                    .description("A filler tool."),
            );
        }
        builder.build()?.serve_until_signal().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
