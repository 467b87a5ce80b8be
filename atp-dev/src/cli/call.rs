//! `atp-dev call TOOL key=value ...`: one call, its answer printed.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::{ServerArg, client_error, parse_params};

/// Calls a tool and prints its answer.
pub(super) async fn run(
    server: &ServerArg,
    tool: &str,
    pairs: &[String],
    token: Option<&str>,
    timeout: Option<f64>,
    app_name: Option<&str>,
) -> ExitCode {
    let params = match parse_params(pairs) {
        Ok(params) => params,
        Err(err) => {
            eprintln!("atp-dev: {err}");
            return ExitCode::from(2);
        }
    };
    let timeout = match timeout {
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(_) => {
            eprintln!("atp-dev: --timeout must be a positive number of seconds");
            return ExitCode::from(2);
        }
        None => None,
    };
    let client = server.client();
    match client
        .call(tool, Value::Object(params), token, timeout, app_name)
        .await
    {
        Ok(reply) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&reply.result).expect("JSON always serializes")
            );
            eprintln!("({tool} answered in {:.1} ms)", reply.latency_ms);
            ExitCode::SUCCESS
        }
        Err(err) => client_error(&err),
    }
}
