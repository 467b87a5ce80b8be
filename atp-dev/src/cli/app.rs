//! `atp-dev app start|action|end`: drive an app session by hand.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use super::{ServerArg, client_error, parse_params};

#[derive(Debug, Subcommand)]
pub(super) enum AppStep {
    /// Start a session; prints its id and the first UI.
    Start {
        /// The app's name.
        app: String,
        /// The parameters, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// The auth token to send.
        #[arg(long)]
        token: Option<String>,
        /// The toolkit to use, when several offer the app.
        #[arg(long = "app")]
        app_name: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Send a user action; prints the next UI. The action data is the
    /// key=value pairs as an object, or `--json` as it is.
    Action {
        /// The session's id (printed by `start`).
        session: String,
        /// The action data, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        data: Vec<String>,
        /// The action data as JSON, instead of key=value pairs.
        #[arg(long, conflicts_with = "data")]
        json: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// End a session.
    End {
        /// The session's id.
        session: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

/// Runs one step of an app session.
pub(super) async fn run(step: AppStep) -> ExitCode {
    let reply = match step {
        AppStep::Start {
            app,
            params,
            token,
            app_name,
            server,
        } => {
            let client = server.client();
            let params = match parse_params(&params) {
                Ok(params) => params,
                Err(err) => {
                    eprintln!("atp-dev: {err}");
                    return ExitCode::from(2);
                }
            };
            client
                .app_start(
                    &app,
                    Value::Object(params),
                    token.as_deref(),
                    app_name.as_deref(),
                )
                .await
        }
        AppStep::Action {
            session,
            data,
            json,
            server,
        } => {
            let client = server.client();
            let action = match json {
                Some(text) => match serde_json::from_str(&text) {
                    Ok(value) => value,
                    Err(err) => {
                        eprintln!("atp-dev: --json is not JSON: {err}");
                        return ExitCode::from(2);
                    }
                },
                None => match parse_params(&data) {
                    Ok(map) => Value::Object(map),
                    Err(err) => {
                        eprintln!("atp-dev: {err}");
                        return ExitCode::from(2);
                    }
                },
            };
            client.app_action(&session, action).await
        }
        AppStep::End { session, server } => server.client().app_end(&session).await,
    };
    match reply {
        Ok(reply) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&reply.result).expect("JSON always serializes")
            );
            match reply.latency_ms {
                Some(ms) => eprintln!("(session {} answered in {ms:.1} ms)", reply.session_id),
                None => eprintln!("(session {} ended)", reply.session_id),
            }
            ExitCode::SUCCESS
        }
        Err(err) => client_error(&err),
    }
}
