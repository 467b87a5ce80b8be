//! [`run`]: a program's whole toolkit life in one call, configured from
//! the environment.

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
/// runtime; plain `fn` tools run on the SDK's worker threads, in parallel.
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
    crate::process::init_tracing();
    ToolKitClient::from_env()?.serve_on_own_runtime()
}
