//! `atp-dev [OPTIONS] [-- COMMAND ...]`: serve, and run a toolkit command
//! beside the server with its environment set.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use super::child::Child;
use super::signals::Signals;
use super::{DEV_API_KEY, ServeArgs, init_logging};
use crate::client::DEFAULT_SERVER;
use crate::server::DevServer;

/// Serves until a signal, or until the toolkit command exits.
pub(super) async fn run(args: ServeArgs, command: Vec<OsString>) -> ExitCode {
    init_logging();
    if let Err(code) = check_args(&args) {
        return code;
    }
    let mut signals = Signals::new();
    // Listening beyond this machine with no key would open the dev API
    // (tools, tokens in calls, the call log) to the network: make a key.
    let generated = (args.api_key.is_none() && !args.host.is_loopback()).then(generate_key);
    let key = args.api_key.clone().or_else(|| generated.clone());
    let server = match start_server(&args, key.as_ref()).await {
        Ok(server) => server,
        Err(code) => return code,
    };
    let base_url = server.base_url();
    announce(&args, &base_url, generated.as_deref());

    let code = if let Some(paths) = args.watch {
        if command.is_empty() {
            eprintln!("atp-dev: --watch needs a command to run: atp-dev --watch -- cargo run");
            server.shutdown().await;
            return ExitCode::from(2);
        }
        super::watch::run(
            paths,
            &command,
            &base_url,
            key.as_deref().unwrap_or(DEV_API_KEY),
            &mut signals,
        )
        .await
    } else if command.is_empty() {
        signals.recv().await;
        eprintln!("atp-dev: stopping");
        ExitCode::SUCCESS
    } else {
        run_command(
            &command,
            &base_url,
            key.as_deref().unwrap_or(DEV_API_KEY),
            &mut signals,
        )
        .await
    };
    server.shutdown().await;
    code
}

/// Refuses (exit code 2, said why) a call timeout that is not a positive
/// number and an empty API key.
fn check_args(args: &ServeArgs) -> Result<(), ExitCode> {
    if !(args.call_timeout.is_finite() && args.call_timeout > 0.0) {
        eprintln!("atp-dev: --call-timeout must be a positive number of seconds");
        return Err(ExitCode::from(2));
    }
    if args.api_key.as_deref().is_some_and(str::is_empty) {
        eprintln!("atp-dev: --api-key must not be empty");
        return Err(ExitCode::from(2));
    }
    Ok(())
}

/// Starts the server `args` describe, asking for `key` if there is one;
/// the exit code, said why, when it can't listen.
async fn start_server(args: &ServeArgs, key: Option<&String>) -> Result<DevServer, ExitCode> {
    let mut builder = DevServer::builder()
        .bind(SocketAddr::new(args.host, args.port))
        .call_timeout(Duration::from_secs_f64(args.call_timeout))
        .max_streams_per_client(args.max_streams_per_client);
    if let Some(key) = key {
        builder = builder.api_key(key.clone());
    }
    for host in &args.allow_host {
        builder = builder.allow_host(host.clone());
    }
    for origin in &args.allow_origin {
        builder = builder.allow_origin(origin.clone());
    }
    match builder.start().await {
        Ok(server) => Ok(server),
        Err(err) => {
            eprintln!(
                "atp-dev: could not listen on {}:{}: {err}",
                args.host, args.port
            );
            if err.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!(
                    "hint: another program (another atp-dev?) has port {}: choose one with --port N (--port 0 takes any free one)",
                    args.port
                );
            }
            Err(ExitCode::FAILURE)
        }
    }
}

/// Says where the server listens, the key it needs (the `generated` one
/// in full), and how toolkits and the CLI reach it.
fn announce(args: &ServeArgs, base_url: &str, generated: Option<&str>) {
    eprintln!("atp-dev listening on {base_url}");
    if let Some(key) = generated {
        eprintln!(
            "atp-dev: WARNING: listening on {} reaches beyond this machine, and no --api-key was given.",
            args.host
        );
        eprintln!(
            "  Every API needs this key now (made up for this run; give --api-key to choose one):"
        );
        eprintln!("    {key}");
        eprintln!("  toolkits: ATP_API_KEY=<it>   the CLI: ATP_DEV_KEY=<it> or --key");
        eprintln!("  playground: {base_url}/#key={key}");
    } else {
        eprintln!("  playground: {base_url}/   (open it in a browser)");
    }
    eprintln!("  ATP_BASE_URL={base_url}");
    if args.api_key.is_some() {
        eprintln!("  ATP_API_KEY=<the key given with --api-key>");
    } else if generated.is_none() {
        eprintln!("  ATP_API_KEY={DEV_API_KEY}   (any key is accepted)");
    }
    eprintln!("  list tools: atp-dev tools    call one: atp-dev call TOOL key=value");
    if base_url != DEFAULT_SERVER {
        eprintln!("  (point them here with --server {base_url} or ATP_DEV_URL={base_url})");
    }
}

/// A random key: 128 bits from the system's secure random source, as hex.
fn generate_key() -> String {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .expect("the system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the toolkit command until it exits or a signal comes.
async fn run_command(
    command: &[OsString],
    base_url: &str,
    api_key: &str,
    signals: &mut Signals,
) -> ExitCode {
    let mut child = match Child::spawn(command, base_url, api_key) {
        Ok(child) => child,
        Err(err) => {
            eprintln!("atp-dev: {err}");
            return ExitCode::from(127);
        }
    };
    tokio::select! {
        status = child.wait() => {
            let code = match status {
                Ok(status) => {
                    eprintln!("atp-dev: {} exited ({status})", child.program());
                    ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
                }
                Err(err) => {
                    eprintln!("atp-dev: waiting for {}: {err}", child.program());
                    ExitCode::FAILURE
                }
            };
            // What it started and left behind goes with it.
            child.stop().await;
            code
        }
        () = signals.recv() => {
            eprintln!("atp-dev: stopping {} and the server", child.program());
            child.stop().await;
            ExitCode::from(130)
        }
    }
}
