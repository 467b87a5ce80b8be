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
use crate::client::ClientError;

/// The tool answered an error.
const TOOL_ERROR: u8 = 1;
/// The call got no answer.
const NO_ANSWER: u8 = 3;

/// What a tool that needs a token answers without one (protocol §3).
const MISSING_TOKEN: &str = "Missing auth_token for authenticated tool";

/// Says which of `params` the tool does not take: it ignores them (models
/// add arguments of their own, so they are no error), which is rarely what
/// a person who typed `lmit=1` meant. Nothing when the tool is not found
/// (the call says so).
fn warn_unknown_params(
    tools: &[crate::hub::ToolInfo],
    tool: &str,
    app_name: Option<&str>,
    params: &serde_json::Map<String, Value>,
) {
    let Some(info) = tools
        .iter()
        .find(|t| t.name == tool && app_name.is_none_or(|a| t.app_name == a))
    else {
        return;
    };
    let known = &info.metadata.params;
    let mut unknown: Vec<String> = params
        .keys()
        .filter(|k| !known.contains(k))
        .map(|k| format!("`{k}`"))
        .collect();
    unknown.sort();
    if unknown.is_empty() {
        return;
    }
    let takes = if known.is_empty() {
        "it takes none".to_owned()
    } else {
        format!("its parameters: {}", known.join(", "))
    };
    eprintln!(
        "warning: {tool} has no parameter {} ({takes}); the tool ignores {}",
        unknown.join(", "),
        if unknown.len() == 1 { "it" } else { "them" }
    );
}

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
    let tools = client.tools().await.unwrap_or_default();
    warn_unknown_params(&tools, tool, app_name, &params);
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
                if reply.result["error"] == MISSING_TOKEN {
                    eprintln!(
                        "hint: {tool} needs the user's token: give one with --token TOKEN (in the playground, the token field)"
                    );
                }
                ExitCode::from(TOOL_ERROR)
            } else {
                eprintln!("({tool} answered in {:.1} ms)", reply.latency_ms);
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("atp-dev: {err}");
            if matches!(&err, ClientError::Status { status: 404, message } if message.starts_with("unknown tool"))
                && let Some(near) = nearest(tool, tools.iter().map(|t| t.name.as_str()))
            {
                eprintln!("hint: did you mean `{near}`?");
            }
            ExitCode::from(NO_ANSWER)
        }
    }
}

/// The name among `names` closest to `typed`, if one is close: at most a
/// third of its letters apart (and at least two), or one inside the other.
fn nearest<'a>(typed: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (typed.chars().count() / 3).max(2);
    names
        .filter(|name| *name != typed)
        .map(|name| (distance(typed, name), name))
        .filter(|(d, name)| *d <= allowed || name.contains(typed) || typed.contains(*name))
        .min()
        .map(|(_, name)| name)
}

/// Levenshtein distance, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_name_is_found() {
        let names = ["search_notes", "add_note", "echo"];
        assert_eq!(
            nearest("serch_notes", names.into_iter()),
            Some("search_notes")
        );
        assert_eq!(nearest("search", names.into_iter()), Some("search_notes"));
        assert_eq!(nearest("ecoh", names.into_iter()), Some("echo"));
        assert_eq!(nearest("frobnicate", names.into_iter()), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
