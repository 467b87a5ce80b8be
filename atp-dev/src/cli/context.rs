//! `atp-dev context TOOLKIT --provider openai`: the tool definitions an
//! LLM would be given for a toolkit, printed as JSON.

use std::process::ExitCode;

use serde_json::Value;

use super::{ServerArg, client_error};

/// Prints the toolkit's tools as `provider` shapes them (with `full`, the
/// whole context: toolkit name, caption, user prompt, tools, and
/// `not_strict`), and on stderr why a tool is not strict.
pub(super) async fn run(
    server: &ServerArg,
    toolkit: &str,
    provider: &str,
    user_prompt: &str,
    full: bool,
) -> ExitCode {
    match server
        .client()
        .context(toolkit, provider, user_prompt)
        .await
    {
        Ok(context) => {
            // Why a tool is not strict goes beside the JSON, where a
            // person reads it.
            if let Some(reasons) = context.get("not_strict").and_then(Value::as_object) {
                for (tool, reason) in reasons {
                    let reason = reason.as_str().unwrap_or_default();
                    eprintln!("note: `{tool}` is not strict for {provider}: {reason}");
                }
            }
            let shown = if full {
                context
            } else {
                context
                    .get("tools")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new()))
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).expect("JSON always serializes")
            );
            ExitCode::SUCCESS
        }
        Err(err) => client_error(&err),
    }
}
