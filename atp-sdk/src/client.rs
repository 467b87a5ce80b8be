//! `ToolKitClient`, its builder, configuration from the environment, and
//! `run()`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::announce::Announcer;
use crate::apps::{AppDef, SessionLimits};
use crate::connection::Session;
use crate::dispatch::Limits;
use crate::dynamic::DynamicTool;
use crate::error::Error;
use crate::inbox::InboxSession;
use crate::protocol::{DEFAULT_BASE_URL, websocket_base};
use crate::registry::Registry;
use crate::secret::ApiKey;

/// Environment variable holding the API key (required by [`run`]).
pub const ENV_API_KEY: &str = "ATP_API_KEY";
/// Environment variable holding the toolkit's name (default: the executable's name).
pub const ENV_APP_NAME: &str = "ATP_APP_NAME";
/// Environment variable holding the server's base URL (default `https://api.chat-atp.com`).
pub const ENV_BASE_URL: &str = "ATP_BASE_URL";
/// Environment variable choosing the [`Transport`]: `ws` (default) or `http`.
pub const ENV_TRANSPORT: &str = "ATP_TRANSPORT";

/// How a toolkit receives its calls.
///
/// ```
/// use atp_sdk::Transport;
/// assert_eq!("http".parse::<Transport>(), Ok(Transport::Http));
/// assert_eq!("ws".parse::<Transport>(), Ok(Transport::WebSocket));
/// assert!("carrier-pigeon".parse::<Transport>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket held open to the server (`ws://` or `wss://`): calls
    /// arrive as they are made. The default.
    #[default]
    WebSocket,
    /// Polling the server's HTTP(S) inbox, for hosts that can't hold a
    /// WebSocket open (serverless platforms, strict proxies). Polls again
    /// at once after a call and backs off while idle (see
    /// [`ToolKitClientBuilder::poll_interval`]).
    Http,
}

impl std::str::FromStr for Transport {
    type Err = String;

    /// `ws`/`websocket` or `http`/`https`/`inbox`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ws" | "wss" | "websocket" => Ok(Transport::WebSocket),
            "http" | "https" | "inbox" => Ok(Transport::Http),
            other => Err(format!(
                "unknown transport {other:?}: use \"ws\" (WebSocket) or \"http\" (inbox polling)"
            )),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::WebSocket => "websocket",
            Transport::Http => "http",
        })
    }
}

/// Resolved settings of a client.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) api_key: ApiKey,
    pub(crate) app_name: String,
    pub(crate) base_url: String,
    pub(crate) ws_base: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_cap: Duration,
    pub(crate) max_frame_bytes: usize,
    pub(crate) limits: Limits,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) transport: Transport,
    pub(crate) poll_min: Duration,
    pub(crate) poll_max: Duration,
}

/// A toolkit: the tools of this program, served to an ATP server.
///
/// [`run`] covers the usual case (configuration from the environment, a
/// runtime of its own, Ctrl-C to stop). Build a client yourself to
/// configure it in code or to serve from a tokio runtime you already run:
///
/// ```no_run
/// use atp_sdk::ToolKitClient;
///
/// /// Echoes the input text.
/// #[atp_sdk::atp_tool]
/// fn echo(text: String) -> String { text }
///
/// #[tokio::main]
/// async fn main() -> Result<(), atp_sdk::Error> {
///     let client = ToolKitClient::builder("my-api-key", "my-toolkit")
///         .base_url("http://127.0.0.1:8787")
///         .build()?;
///     let stop = client.stop_handle();
///     tokio::spawn(async move {
///         tokio::signal::ctrl_c().await.ok();
///         stop.stop();
///     });
///     client.serve().await
/// }
/// ```
#[derive(Debug)]
pub struct ToolKitClient {
    config: Arc<Config>,
    registry: Arc<Registry>,
    stop: Arc<watch::Sender<bool>>,
}

/// Builds a [`ToolKitClient`]; see [`ToolKitClient::builder`].
#[derive(Debug)]
#[must_use = "call .build() to get a client"]
pub struct ToolKitClientBuilder {
    api_key: ApiKey,
    app_name: String,
    base_url: String,
    tools: Option<Vec<String>>,
    dynamic: Vec<DynamicTool>,
    apps: Vec<AppDef>,
    connect_timeout: Duration,
    request_timeout: Duration,
    ping_interval: Duration,
    ping_timeout: Duration,
    shutdown_timeout: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    max_frame_bytes: usize,
    limits: Limits,
    root_certificates: Vec<Vec<u8>>,
    transport: Transport,
    poll_min: Duration,
    poll_max: Duration,
}

impl ToolKitClientBuilder {
    /// Trusts the certificate(s) of a PEM document as roots, besides the
    /// Mozilla roots: for an ATP server behind a private certificate
    /// authority. Certificates are always verified; this only widens whom
    /// to trust. A bad PEM is reported by [`build`](Self::build).
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// The server's base URL (`https://...` or `http://...`); default
    /// `https://api.chat-atp.com`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Serve only the named tools instead of every `#[atp_tool]` of the
    /// program (handy to run several toolkits from one binary).
    pub fn tools<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tools = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Adds an interactive app (see [`App`](crate::App)): announced like
    /// a tool, its sessions started with `atp_app_request` and driven with
    /// `atp_app_action`.
    pub fn app(mut self, app: AppDef) -> Self {
        self.apps.push(app);
        self
    }

    /// How many app sessions are kept at once (default 1000; past it the
    /// least recently used one is dropped), and how long a session is kept
    /// after its last use (default 30 min). An action for a dropped
    /// session is answered `Unknown app session: ...`.
    pub fn app_sessions(mut self, max_sessions: usize, idle_ttl: Duration) -> Self {
        self.limits.sessions = SessionLimits {
            max_sessions: max_sessions.max(1),
            idle_ttl,
        };
        self
    }

    /// How calls arrive: over a WebSocket (the default) or by polling the
    /// HTTP inbox. [`run`] reads it from `ATP_TRANSPORT` (`ws` or `http`).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// With [`Transport::Http`]: the shortest and longest wait between
    /// polls of an empty inbox; default 50 ms and 2 s. After a call the
    /// inbox is polled again at once; while it stays empty the wait
    /// doubles from `min` up to `max`.
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.poll_min = min;
        self.poll_max = max.max(min);
        self
    }

    /// Adds a tool defined at run time (see [`DynamicTool`]). It is served
    /// next to the `#[atp_tool]` functions (or next to those picked with
    /// [`tools`](Self::tools)).
    pub fn tool(mut self, tool: DynamicTool) -> Self {
        self.dynamic.push(tool);
        self
    }

    /// How long a WebSocket handshake may take; default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an announce HTTP request may take; default 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How often to ping the server; default 30 s.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How long past a ping the server may stay silent before the
    /// connection counts as dead; default 10 s.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// How long a stop waits for calls in flight; default 30 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Reconnection backoff: the first delay (jittered down to half) and
    /// the cap; defaults 500 ms and 30 s.
    pub fn backoff(mut self, first: Duration, cap: Duration) -> Self {
        self.backoff_base = first;
        self.backoff_cap = cap;
        self
    }

    /// The largest inbound frame accepted; default 16 MiB. A larger frame
    /// is refused from its header, before its payload is read: the
    /// connection is dropped and made again (its request can't be
    /// answered, since its id is never read).
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame_bytes = bytes;
        self
    }

    /// How many calls run at once; default 256. Further calls wait for a
    /// free slot, in a queue of [`max_queued`](Self::max_queued).
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.limits.max_in_flight = calls.max(1);
        self
    }

    /// How many calls may wait for a free slot; default 1024. Past
    /// `max_in_flight + max_queued` a request is answered at once with
    /// `{"error": "Toolkit overloaded: ..."}`, so memory stays flat under
    /// a flood. A response not yet written to the server still holds its
    /// call's slot.
    pub fn max_queued(mut self, calls: usize) -> Self {
        self.limits.max_queued = calls;
        self
    }

    /// The time limit of a call, for tools that set none with
    /// `#[atp_tool(timeout = "...")]`; default 5 minutes. A call that runs
    /// longer is answered `{"error": "Tool timed out after ..."}`: an
    /// `async fn` tool's future is dropped; a plain `fn` can't be stopped,
    /// so its thread runs on and keeps its running slot until it returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = atp_sdk::ToolKitClient::builder("key", "app")
    ///     .call_timeout(Duration::from_secs(30))
    ///     .max_in_flight(64)
    ///     .max_queued(256)
    ///     .build();
    /// # let _ = client;
    /// ```
    pub fn call_timeout(mut self, limit: Duration) -> Self {
        self.limits.call_timeout = limit;
        self
    }

    /// Checks the configuration and collects the tools.
    ///
    /// Fails when the base URL is not `http(s)://`, when the program has
    /// no tools, when two tools share a name, or when a tool picked with
    /// [`tools`](Self::tools) does not exist.
    pub fn build(self) -> Result<ToolKitClient, Error> {
        if self.api_key.expose().is_empty() {
            return Err(Error::Config("the API key is empty".to_owned()));
        }
        if self.app_name.is_empty() {
            return Err(Error::Config("the app name is empty".to_owned()));
        }
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "the base URL must start with http:// or https:// (got {base_url:?})"
            )));
        }
        let ws_base = websocket_base(&base_url).unwrap_or_default();
        let mut roots = Vec::new();
        for pem in &self.root_certificates {
            roots.extend(crate::tls::parse_pem(pem)?);
        }
        let tls = crate::tls::client_config(&roots)?;
        let registry = Registry::build_with_apps(self.tools.as_deref(), self.dynamic, self.apps)?;
        let config = Config {
            api_key: self.api_key,
            app_name: self.app_name,
            base_url,
            ws_base,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            shutdown_timeout: self.shutdown_timeout,
            backoff_base: self.backoff_base,
            backoff_cap: self.backoff_cap,
            max_frame_bytes: self.max_frame_bytes,
            limits: self.limits,
            tls,
            transport: self.transport,
            poll_min: self.poll_min,
            poll_max: self.poll_max,
        };
        let (stop, _) = watch::channel(false);
        Ok(ToolKitClient {
            config: Arc::new(config),
            registry: Arc::new(registry),
            stop: Arc::new(stop),
        })
    }
}

impl ToolKitClient {
    /// Starts configuring a client for `api_key` and a toolkit named
    /// `app_name`.
    pub fn builder(
        api_key: impl Into<ApiKey>,
        app_name: impl Into<String>,
    ) -> ToolKitClientBuilder {
        ToolKitClientBuilder {
            api_key: api_key.into(),
            app_name: app_name.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            tools: None,
            dynamic: Vec::new(),
            apps: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_frame_bytes: 16 << 20,
            limits: Limits {
                max_in_flight: 256,
                max_queued: 1024,
                call_timeout: Duration::from_secs(300),
                sessions: SessionLimits {
                    max_sessions: 1000,
                    idle_ttl: Duration::from_secs(30 * 60),
                },
            },
            root_certificates: Vec::new(),
            transport: Transport::WebSocket,
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(2),
        }
    }

    /// A builder configured from the environment: `ATP_API_KEY`
    /// (required), `ATP_APP_NAME` (default: the executable's name),
    /// `ATP_BASE_URL` (default `https://api.chat-atp.com`) and
    /// `ATP_TRANSPORT` (`ws`, the default, or `http`; anything else is an
    /// [`Error::Config`]).
    pub fn builder_from_env() -> Result<ToolKitClientBuilder, Error> {
        let api_key = std::env::var(ENV_API_KEY)
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or(Error::MissingEnv(ENV_API_KEY))?;
        let app_name = std::env::var(ENV_APP_NAME)
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(executable_name);
        let mut builder = Self::builder(api_key, app_name);
        if let Ok(url) = std::env::var(ENV_BASE_URL)
            && !url.is_empty()
        {
            builder = builder.base_url(url);
        }
        if let Ok(transport) = std::env::var(ENV_TRANSPORT)
            && !transport.is_empty()
        {
            let transport = transport
                .parse()
                .map_err(|why| Error::Config(format!("{ENV_TRANSPORT}: {why}")))?;
            builder = builder.transport(transport);
        }
        Ok(builder)
    }

    /// A client configured from the environment (see
    /// [`builder_from_env`](Self::builder_from_env)).
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// The names of the tools this client serves, sorted.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.registry.tools().iter().map(|tool| tool.name.as_str())
    }

    /// The toolkit's name.
    pub fn app_name(&self) -> &str {
        &self.config.app_name
    }

    /// A handle that stops [`serve`](Self::serve) from anywhere.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
        }
    }

    /// Announces the tools and serves calls until stopped: reconnects
    /// after a drop, and on stop lets the calls in flight finish and
    /// closes the connection properly.
    ///
    /// Returns `Ok(())` after a stop, or the fatal error that ended it (a
    /// rejected API key).
    pub async fn serve(self) -> Result<(), Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.config.tls).clone())
            .timeout(self.config.request_timeout)
            .connect_timeout(self.config.connect_timeout)
            .build()
            .map_err(|err| Error::Config(format!("could not build the HTTP client: {err}")))?;
        let announcer = Announcer {
            http,
            base_url: self.config.base_url.clone(),
            api_key: self.config.api_key.clone(),
            app_name: self.config.app_name.clone(),
        };
        tracing::info!(
            app = %self.config.app_name,
            server = %self.config.base_url,
            tools = self.registry.tools().len(),
            transport = %self.config.transport,
            "starting toolkit"
        );
        let result = match self.config.transport {
            Transport::WebSocket => {
                Session {
                    config: self.config.clone(),
                    registry: self.registry.clone(),
                    announcer,
                    stop: self.stop.subscribe(),
                }
                .run()
                .await
            }
            Transport::Http => {
                InboxSession {
                    config: self.config.clone(),
                    registry: self.registry.clone(),
                    announcer,
                    stop: self.stop.subscribe(),
                }
                .run()
                .await
            }
        };
        match &result {
            Ok(()) => tracing::info!("toolkit stopped"),
            Err(err) => tracing::error!(error = %err, "toolkit stopped"),
        }
        result
    }

    /// [`serve`](Self::serve) until Ctrl-C or SIGTERM.
    pub async fn serve_until_signal(self) -> Result<(), Error> {
        let stop = self.stop_handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("signal received; stopping");
            stop.stop();
        });
        self.serve().await
    }
}

/// Stops a running [`ToolKitClient::serve`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle {
    stop: Arc<watch::Sender<bool>>,
}

impl StopHandle {
    /// Asks the client to stop: no new calls, the calls in flight finish
    /// (up to the shutdown timeout), then the connection is closed.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// Serves every `#[atp_tool]` of the program until Ctrl-C or SIGTERM.
///
/// Reads `ATP_API_KEY` (required), `ATP_APP_NAME` (default: the
/// executable's name), `ATP_BASE_URL` (default
/// `https://api.chat-atp.com`) and `ATP_TRANSPORT` (`ws`, the default, or
/// `http` to poll the inbox), starts a tokio runtime, announces the
/// tools, serves calls (reconnecting after drops), and returns after a
/// signal once the calls in flight have finished. Installs a `tracing`
/// subscriber (honouring `RUST_LOG`, default `info`) unless the program
/// already set one.
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
    let client = ToolKitClient::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(client.serve_until_signal())
}

/// Installs a default `tracing` subscriber unless one is already set.
fn init_tracing() {
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

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "atp-toolkit".to_owned())
}
