//! The `atp-dev` command line: serve (optionally running a toolkit
//! command beside the server), and the client subcommands, one file each:
//! `tools`, `call`, `context`, `app`, `bench`.

mod app;
mod bench;
mod call;
mod child;
mod context;
mod serve;
mod signals;
mod tools;
mod watch;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value};

use crate::bench::BenchOptions;
use crate::client::{ClientError, DEFAULT_SERVER, DevClient};

/// The API key `atp-dev` hands a toolkit when none is configured. Any key
/// is accepted then, so this one is no secret.
pub const DEV_API_KEY: &str = "dev";

/// A local ATP server to run, call and test toolkits.
///
/// With no subcommand it serves. Give a command (after `--`, or directly)
/// to run it beside the server with ATP_BASE_URL, ATP_API_KEY and
/// ATP_APP_NAME set, e.g. `atp-dev -- cargo run --example quickstart`.
#[derive(Debug, Parser)]
#[command(
    name = "atp-dev",
    version,
    about,
    long_about = None,
    allow_external_subcommands = true,
    after_help = "Run a toolkit beside the server:\n  atp-dev [OPTIONS] -- COMMAND [ARGS...]   (or: atp-dev [OPTIONS] COMMAND [ARGS...])\n  e.g. atp-dev -- cargo run --example quickstart\nThe command gets ATP_BASE_URL and ATP_API_KEY (the toolkit names itself: ATP_APP_NAME, else its executable); Ctrl-C stops both.\n\nThe client subcommands reach --server URL or $ATP_DEV_URL (default http://127.0.0.1:8787)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// How to serve.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(super) host: IpAddr,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8787)]
    pub(super) port: u16,
    /// Accept only this key, on every API: toolkits send it as their API
    /// key, the dev API and CLI as `Authorization: Bearer` (--key,
    /// ATP_DEV_KEY). Default: any toolkit key, and the dev API open to
    /// this machine. With a --host other than loopback and no key, atp-dev
    /// makes one up and prints it.
    #[arg(long, env = "ATP_DEV_API_KEY", hide_env_values = true)]
    pub(super) api_key: Option<String>,
    /// How long a call waits for the toolkit's answer, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub(super) call_timeout: f64,
    /// Answer requests for this host name too (repeatable); by default
    /// only `localhost` and IP addresses, which stops DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub(super) allow_host: Vec<String>,
    /// Accept browser requests from this origin too (repeatable), e.g.
    /// `http://localhost:3000`; by default only atp-dev's own pages.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub(super) allow_origin: Vec<String>,
    /// At most this many event streams and WebSockets open at once per
    /// client address (toolkits included).
    #[arg(long, default_value_t = 64)]
    pub(super) max_streams_per_client: usize,
    /// Restart the command (after `--`) when a file under PATH changes;
    /// with no PATH: src/, examples/, Cargo.toml and build.rs of the
    /// current directory (target/ never). `atp-dev --watch -- cargo run`.
    #[arg(long, value_name = "PATH", num_args = 0..)]
    pub(super) watch: Option<Vec<std::path::PathBuf>>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the tools of every connected toolkit.
    Tools {
        #[command(flatten)]
        server: ServerArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Call a tool: `atp-dev call TOOL key=value ...` (values are JSON when
    /// they parse as JSON, else strings). Exits 0 on a result, 1 when the
    /// tool answers an error, 2 on a bad command line, 3 without an answer
    /// (unreachable, no such tool, timed out).
    Call {
        /// The tool's name.
        tool: String,
        /// The parameters, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// The auth token to send.
        #[arg(long)]
        token: Option<String>,
        /// How long to wait for the answer, in seconds.
        #[arg(long)]
        timeout: Option<f64>,
        /// The toolkit to call, when several offer the tool.
        #[arg(long = "app")]
        app_name: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Print what an LLM is shown of a toolkit: its tools as the
    /// provider's function definitions, as JSON.
    Context {
        /// The toolkit (its app name, as `atp-dev tools` lists it).
        toolkit: String,
        /// Whose tool format: openai (Responses API), anthropic, mistral,
        /// gemini (its OpenAPI subset; the platform's API has no Gemini).
        #[arg(long, default_value = "openai", value_parser = ["openai", "anthropic", "mistral", "gemini"])]
        provider: String,
        /// The user prompt to put in the context.
        #[arg(long, default_value = "")]
        user_prompt: String,
        /// Print the whole context, not only its tools.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Load-test a tool: `atp-dev bench TOOL key=value ... --requests N
    /// --concurrency C`; prints throughput and latency percentiles.
    Bench {
        /// The tool's name.
        tool: String,
        /// The parameters, as key=value.
        #[arg(value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Calls in all.
        #[arg(long, short = 'n', default_value_t = 1000)]
        requests: usize,
        /// Calls in flight at once.
        #[arg(long, short = 'c', default_value_t = 16)]
        concurrency: usize,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
        /// Also measure the driver's own ceiling: the same load against
        /// atp-dev's no-op route.
        #[arg(long)]
        ceiling: bool,
        /// The auth token to send with every call.
        #[arg(long)]
        token: Option<String>,
        /// How long each call may wait for its answer, in seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        /// The toolkit to call, when several offer the tool.
        #[arg(long = "app")]
        app_name: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Drive an app session: `atp-dev app start APP key=value ...`, then
    /// `atp-dev app action SESSION key=value ...`, `atp-dev app end
    /// SESSION`.
    App {
        #[command(subcommand)]
        step: app::AppStep,
    },
    /// Any other word starts a command beside the server, as after `--`.
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Debug, Args)]
struct ServerArg {
    /// The atp-dev server to talk to.
    #[arg(long = "server", env = "ATP_DEV_URL", default_value = DEFAULT_SERVER)]
    pub(super) url: String,
    /// The server's key (its --api-key, or the one it generated).
    #[arg(long = "key", env = "ATP_DEV_KEY", hide_env_values = true)]
    pub(super) key: Option<String>,
}

impl ServerArg {
    /// A client of the server, with its key.
    pub(super) fn client(&self) -> DevClient {
        DevClient::new(&self.url).with_key(self.key.clone())
    }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    // `atp-dev [OPTIONS] -- COMMAND ARGS...`: what follows `--` is the
    // toolkit command, untouched by the option parser.
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let command = match args.iter().position(|a| a == "--") {
        Some(at) => {
            let command = args.split_off(at + 1);
            args.pop();
            command
        }
        None => Vec::new(),
    };
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("atp-dev: could not start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, command))
}

async fn run(cli: Cli, command: Vec<OsString>) -> ExitCode {
    if cli.command.is_some() && !command.is_empty() {
        eprintln!("atp-dev: a command after `--` goes with serving, not with a subcommand");
        return ExitCode::from(2);
    }
    match cli.command {
        Some(Command::Tools { server, json }) => tools::run(&server, json).await,
        Some(Command::App { step }) => app::run(step).await,
        Some(Command::Context {
            toolkit,
            provider,
            user_prompt,
            full,
            server,
        }) => context::run(&server, &toolkit, &provider, &user_prompt, full).await,
        Some(Command::Call {
            tool,
            params,
            token,
            timeout,
            app_name,
            server,
        }) => {
            call::run(
                &server,
                &tool,
                &params,
                token.as_deref(),
                timeout,
                app_name.as_deref(),
            )
            .await
        }
        Some(Command::Bench {
            tool,
            params,
            requests,
            concurrency,
            json,
            ceiling,
            token,
            timeout,
            app_name,
            server,
        }) => {
            let params = match parse_params(&params) {
                Ok(params) => params,
                Err(err) => {
                    eprintln!("atp-dev: {err}");
                    return ExitCode::from(2);
                }
            };
            if !(timeout.is_finite() && timeout > 0.0) || requests == 0 || concurrency == 0 {
                eprintln!(
                    "atp-dev: --requests and --concurrency must be positive, --timeout a positive number of seconds"
                );
                return ExitCode::from(2);
            }
            let run = bench::BenchRun {
                tool,
                params: Value::Object(params),
                options: BenchOptions {
                    requests,
                    concurrency,
                },
                token,
                timeout: Duration::from_secs_f64(timeout),
                app_name,
            };
            bench::run(&server, run, json, ceiling).await
        }
        Some(Command::External(command)) => serve::run(cli.serve, command).await,
        None => serve::run(cli.serve, command).await,
    }
}

pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("atp_dev=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// `key=value` pairs → a params object. Values are JSON when they parse as
/// JSON (`n=3`, `ok=true`, `tags=["a"]`), else strings (`name=Acme`).
pub fn parse_params(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut params = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("parameter `{pair}` is not key=value"));
        };
        if key.is_empty() {
            return Err(format!("parameter `{pair}` has no name"));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        params.insert(key.to_owned(), value);
    }
    Ok(params)
}

pub(super) fn client_error(err: &ClientError) -> ExitCode {
    eprintln!("atp-dev: {err}");
    ExitCode::FAILURE
}
