//! The `atp-dev` command line: serve (optionally running a toolkit
//! command beside the server), and the client subcommands `tools` and
//! `call`.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value};

use crate::bench::{BenchOptions, BenchReport, Outcome, drive};
use crate::client::{ClientError, DEFAULT_SERVER, DevClient};
use crate::server::DevServer;

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
    after_help = "Run a toolkit beside the server:\n  atp-dev [OPTIONS] -- COMMAND [ARGS...]   (or: atp-dev [OPTIONS] COMMAND [ARGS...])\n  e.g. atp-dev -- cargo run --example quickstart\nThe command gets ATP_BASE_URL, ATP_API_KEY and ATP_APP_NAME; Ctrl-C stops both.\n\nThe client subcommands reach --server URL or $ATP_DEV_URL (default http://127.0.0.1:8787)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// How to serve.
#[derive(Debug, Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Accept only this API key (default: any key).
    #[arg(long, env = "ATP_DEV_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// How long a call waits for the toolkit's answer, in seconds.
    #[arg(long, default_value_t = 30.0)]
    call_timeout: f64,
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
    /// they parse as JSON, else strings).
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
        step: AppStep,
    },
    /// Any other word starts a command beside the server, as after `--`.
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Debug, Subcommand)]
enum AppStep {
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

#[derive(Debug, Args)]
struct ServerArg {
    /// The atp-dev server to talk to.
    #[arg(long = "server", env = "ATP_DEV_URL", default_value = DEFAULT_SERVER)]
    url: String,
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
        Some(Command::Tools { server, json }) => tools(&server.url, json).await,
        Some(Command::App { step }) => app(step).await,
        Some(Command::Call {
            tool,
            params,
            token,
            timeout,
            app_name,
            server,
        }) => {
            call(
                &server.url,
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
            let run = BenchRun {
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
            bench(&server.url, run, json, ceiling).await
        }
        Some(Command::External(command)) => serve(cli.serve, command).await,
        None => serve(cli.serve, command).await,
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("atp_dev=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: ServeArgs, command: Vec<OsString>) -> ExitCode {
    init_logging();
    if !(args.call_timeout.is_finite() && args.call_timeout > 0.0) {
        eprintln!("atp-dev: --call-timeout must be a positive number of seconds");
        return ExitCode::from(2);
    }
    let mut signals = Signals::new();
    let mut builder = DevServer::builder()
        .bind(SocketAddr::new(args.host, args.port))
        .call_timeout(Duration::from_secs_f64(args.call_timeout));
    if let Some(key) = &args.api_key {
        builder = builder.api_key(key.clone());
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(err) => {
            eprintln!(
                "atp-dev: could not listen on {}:{}: {err}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let base_url = server.base_url();
    eprintln!("atp-dev listening on {base_url}");
    eprintln!("  playground: {base_url}/   (open it in a browser)");
    eprintln!("  ATP_BASE_URL={base_url}");
    if args.api_key.is_some() {
        eprintln!("  ATP_API_KEY=<the key given with --api-key>");
    } else {
        eprintln!("  ATP_API_KEY={DEV_API_KEY}   (any key is accepted)");
    }
    eprintln!("  list tools: atp-dev tools    call one: atp-dev call TOOL key=value");
    if base_url != DEFAULT_SERVER {
        eprintln!("  (point them here with --server {base_url} or ATP_DEV_URL={base_url})");
    }

    let code = if command.is_empty() {
        signals.recv().await;
        eprintln!("atp-dev: stopping");
        ExitCode::SUCCESS
    } else {
        run_command(
            &command,
            &base_url,
            args.api_key.as_deref().unwrap_or(DEV_API_KEY),
            &mut signals,
        )
        .await
    };
    server.shutdown().await;
    code
}

/// Runs the toolkit command until it exits or a signal comes.
async fn run_command(
    command: &[OsString],
    base_url: &str,
    api_key: &str,
    signals: &mut Signals,
) -> ExitCode {
    let program = &command[0];
    let mut child = tokio::process::Command::new(program);
    child
        .args(&command[1..])
        .env("ATP_BASE_URL", base_url)
        .env("ATP_API_KEY", api_key);
    if std::env::var_os("ATP_APP_NAME").is_none() {
        child.env("ATP_APP_NAME", app_name(command));
    }
    child.kill_on_drop(true);
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!(
                "atp-dev: could not run {}: {err}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    tokio::select! {
        status = child.wait() => match status {
            Ok(status) => {
                let code = status.code().unwrap_or(1);
                eprintln!("atp-dev: {} exited ({status})", program.to_string_lossy());
                ExitCode::from(u8::try_from(code).unwrap_or(1))
            }
            Err(err) => {
                eprintln!("atp-dev: waiting for {}: {err}", program.to_string_lossy());
                ExitCode::FAILURE
            }
        },
        () = signals.recv() => {
            eprintln!("atp-dev: stopping {} and the server", program.to_string_lossy());
            let _ = child.start_kill();
            let _ = child.wait().await;
            ExitCode::from(130)
        }
    }
}

/// The toolkit's name for a command: the target of `cargo run --example
/// X` / `--bin X` / `-p X`, else the program's file name.
pub fn app_name(command: &[OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let program = std::path::Path::new(&words[0]).file_stem().map_or_else(
        || "toolkit".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    if program == "cargo" {
        for flag in ["--example", "--bin", "-p", "--package"] {
            if let Some(at) = words.iter().position(|w| w == flag)
                && let Some(name) = words.get(at + 1)
            {
                return name.clone();
            }
            let prefix = format!("{flag}=");
            if let Some(name) = words.iter().find_map(|w| w.strip_prefix(&prefix)) {
                return name.to_owned();
            }
        }
    }
    program
}

/// Ctrl-C and SIGTERM, listened for from creation on: made before the
/// server says it is listening, so a signal sent right after that line is
/// never left to the default action (which would kill the process without
/// stopping the command).
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves at the next Ctrl-C or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn tools(server: &str, json: bool) -> ExitCode {
    let client = DevClient::new(server);
    let tools = match client.tools().await {
        Ok(tools) => tools,
        Err(err) => return client_error(&err),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tools).expect("JSON always serializes")
        );
        return ExitCode::SUCCESS;
    }
    if tools.is_empty() {
        println!("no toolkit is connected to {server}");
        return ExitCode::SUCCESS;
    }
    let rows: Vec<[String; 5]> = tools
        .iter()
        .map(|tool| {
            let params = tool
                .metadata
                .params
                .iter()
                .map(|p| {
                    if tool.metadata.required_params.contains(p) {
                        format!("{p}*")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let description = tool
                .metadata
                .description
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            [
                tool.name.clone(),
                tool.app_name.clone(),
                params,
                tool.metadata
                    .auth_provider
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                description,
            ]
        })
        .collect();
    print_table(
        [
            "TOOL",
            "TOOLKIT",
            "PARAMS (* required)",
            "AUTH",
            "DESCRIPTION",
        ],
        &rows,
    );
    ExitCode::SUCCESS
}

fn print_table(header: [&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str));
    }
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

async fn call(
    server: &str,
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
    let client = DevClient::new(server);
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

async fn app(step: AppStep) -> ExitCode {
    let reply = match step {
        AppStep::Start {
            app,
            params,
            token,
            app_name,
            server,
        } => {
            let client = DevClient::new(&server.url);
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
            let client = DevClient::new(&server.url);
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
        AppStep::End { session, server } => DevClient::new(&server.url).app_end(&session).await,
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

fn client_error(err: &ClientError) -> ExitCode {
    eprintln!("atp-dev: {err}");
    ExitCode::FAILURE
}

/// One `atp-dev bench` run.
struct BenchRun {
    tool: String,
    params: Value,
    options: BenchOptions,
    token: Option<String>,
    timeout: Duration,
    app_name: Option<String>,
}

async fn bench(server: &str, run: BenchRun, json: bool, ceiling: bool) -> ExitCode {
    let client = DevClient::new(server);
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
    let bar = (!json && std::io::stderr().is_terminal())
        .then(|| tokio::spawn(progress_bar(done.clone(), run.options.requests)));
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
    if let Some(bar) = bar {
        bar.abort();
        eprint!("\r\x1b[2K");
    }
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

/// Redraws `[#####.....] done/total` on stderr until aborted.
async fn progress_bar(done: Arc<AtomicUsize>, total: usize) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let n = done.load(Ordering::Relaxed).min(total);
        let filled = n * 30 / total.max(1);
        eprint!(
            "\r[{}{}] {n}/{total}",
            "#".repeat(filled),
            ".".repeat(30 - filled)
        );
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
