//! `atp-dev call TOOL key=value ...`: one call, its answer printed, and an
//! exit status a script can act on:
//!
//! | status | when |
//! |---|---|
//! | 0 | the tool answered a result |
//! | 1 | the tool answered an error (`{"error": ...}`: its own, refused arguments, no token) |
//! | 2 | the command line is wrong |
//! | 3 | no answer: atp-dev unreachable, no toolkit serves the tool, the time limit passed, the toolkit went away |

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::{ServerArg, parse_params};

/// The tool answered an error.
const TOOL_ERROR: u8 = 1;
/// The call got no answer.
const NO_ANSWER: u8 = 3;

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
            if crate::call_log::is_error(&reply.result) {
                eprintln!("({tool} answered an error in {:.1} ms)", reply.latency_ms);
                ExitCode::from(TOOL_ERROR)
            } else {
                eprintln!("({tool} answered in {:.1} ms)", reply.latency_ms);
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("atp-dev: {err}");
            ExitCode::from(NO_ANSWER)
        }
    }
}
