//! [`run`]: a program's whole toolkit life in one call — a tokio runtime
//! of its own, a default log, Ctrl-C/SIGTERM for a graceful stop (a second
//! one for an immediate exit), and an exit that waits for no stuck thread.

use std::time::Duration;

use crate::client::ToolKitClient;
use crate::error::Error;

/// Serves every `#[atp_tool]` of the program until Ctrl-C or SIGTERM.
///
/// Reads `ATP_API_KEY` (required), `ATP_APP_NAME` (default: the
/// executable's name), `ATP_BASE_URL` (default
/// `https://api.chat-atp.com`), `ATP_TRANSPORT` (`ws`, the default, or
/// `http` to poll the inbox) and `ATP_SEND_SOURCE`, starts a tokio runtime,
/// announces the tools, serves calls (reconnecting after drops), and
/// returns after a signal once the calls in flight have finished and their
/// replies are delivered (within the shutdown timeout, 30 s). A second
/// signal exits at once, with status 130 (SIGINT) or 143 (SIGTERM). Plain
/// `fn` tools still running past their time limit don't hold the exit up:
/// they are named in the log and abandoned. Installs a `tracing`
/// subscriber (honouring `RUST_LOG`, default `info`) unless the program
/// already set one.
///
/// To give the tools shared [`State`](crate::State) or other settings, use
/// [`ToolKitClientBuilder::run`](crate::ToolKitClientBuilder::run).
///
/// # Runtime
///
/// The connection and `async fn` tools run on a single-threaded tokio
/// runtime; plain `fn` tools run on its blocking thread pool, in parallel.
/// A toolkit spends its time waiting on sockets, and one thread does that
/// with the least latency (no hand-offs between worker threads: see
/// BENCHMARKS.md). So keep CPU-heavy work out of `async fn` tools — make
/// such a tool a plain `fn`, or call `tokio::task::spawn_blocking` in it.
/// To serve from a multi-threaded runtime instead, start one yourself:
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), atp_sdk::Error> {
///     atp_sdk::ToolKitClient::from_env()?.serve_until_signal().await
/// }
/// # #[atp_sdk::atp_tool] fn echo(text: String) -> String { text }
/// ```
///
/// ```no_run
/// /// Echoes the input text.
/// #[atp_sdk::atp_tool]
/// fn echo(text: String) -> String { text }
///
/// fn main() -> Result<(), atp_sdk::Error> {
///     atp_sdk::run()
/// }
/// ```
pub fn run() -> Result<(), Error> {
    init_tracing();
    serve_on_own_runtime(ToolKitClient::from_env()?)
}

/// Serves `client` on a current-thread runtime until a signal; a second
/// signal exits the process at once.
pub(crate) fn serve_on_own_runtime(client: ToolKitClient) -> Result<(), Error> {
    let dispatcher = client.dispatcher.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let stop = client.stop_handle();
    let result = runtime.block_on(async move {
        tokio::spawn(async move {
            let first = shutdown_signal().await;
            tracing::info!(
                signal = first.name(),
                "signal received; stopping (send it again to exit at once)"
            );
            stop.stop();
            let second = shutdown_signal().await;
            tracing::warn!(signal = second.name(), "second signal: exiting at once");
            std::process::exit(second.exit_code());
        });
        client.serve().await
    });
    let stuck = dispatcher.blocking_still_running();
    if !stuck.is_empty() {
        tracing::warn!(
            tools = ?stuck,
            "plain fn tools still running past their time limit are abandoned"
        );
    }
    // Don't wait for blocking threads (a plain fn stuck past its limit):
    // the serve above already gave the calls their time.
    runtime.shutdown_timeout(Duration::ZERO);
    result
}

/// Installs a default `tracing` subscriber unless one is already set.
pub(crate) fn init_tracing() {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The signal that asked for a stop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention: 128 + the signal's number.
    fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                Signal::Interrupt
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}
