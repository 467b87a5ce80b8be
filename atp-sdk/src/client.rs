//! [`ToolKitClient`] and its builder: collect the tools, apps, state and
//! settings, then serve them over the chosen link until stopped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

#[cfg(feature = "atp")]
use crate::announce::Announcer;
use crate::apps::{AppDef, Apps};
use crate::config::{
    Config, ENV_API_KEY, ENV_APP_NAME, ENV_BASE_URL, ENV_MCP_ADDR, ENV_MCP_ALLOWED_ORIGINS,
    ENV_MCP_AUTH, ENV_MCP_MAX_SESSIONS, ENV_MCP_STATELESS, ENV_TRANSPORT, SessionLimits, Transport,
    clamp,
};
use crate::dispatch::Dispatcher;
use crate::dynamic::DynamicTool;
use crate::error::Error;
#[cfg(feature = "atp")]
use crate::inbox::InboxLink;
use crate::registry::Registry;
use crate::secret::ApiKey;
use crate::session::{Link, Session, Stop};
use crate::state::States;
use crate::status::{Status, StatusTx};
#[cfg(feature = "atp")]
use crate::ws::WsLink;

/// Environment variable: `0`/`false` to announce tools without their
/// source text (see [`ToolKitClientBuilder::send_source`]).
pub const ENV_SEND_SOURCE: &str = "ATP_SEND_SOURCE";

/// A toolkit: the tools of this program, served to an ATP server.
///
/// [`run`](crate::run) covers the usual case (configuration from the
/// environment, a runtime of its own, Ctrl-C to stop);
/// [`ToolKitClientBuilder::run`] does the same with a builder you
/// configured (shared [`State`](crate::State), limits, ...). Build a client
/// yourself to serve from a tokio runtime you already run:
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
    pub(crate) config: Arc<Config>,
    /// The TLS settings every connection to the server uses.
    #[cfg(feature = "atp")]
    tls: Arc<rustls::ClientConfig>,
    pub(crate) dispatcher: Dispatcher,
    stop: Arc<watch::Sender<bool>>,
    status: StatusTx,
}

/// Builds a [`ToolKitClient`]; see [`ToolKitClient::builder`].
///
/// Every duration is taken within 1 ms ..= 365 days (a zero interval
/// would spin, a huge one overflow), except
/// [`shutdown_timeout`](Self::shutdown_timeout), which may be zero.
#[derive(Debug)]
#[must_use = "call .build() to get a client, or .run() to serve"]
pub struct ToolKitClientBuilder {
    /// The settings, every one with its default until set.
    config: Config,
    tools: Option<Vec<String>>,
    dynamic: Vec<DynamicTool>,
    apps: Vec<AppDef>,
    states: States,
    /// Errors found while configuring, reported by `build()`.
    errors: Vec<Error>,
}

impl ToolKitClientBuilder {
    /// Trusts the certificate(s) of a PEM document as roots, besides the
    /// Mozilla roots: for an ATP server behind a private certificate
    /// authority. Certificates are always verified; this only widens whom
    /// to trust. A bad PEM is reported by [`build`](Self::build).
    #[cfg(feature = "atp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "atp")))]
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.config.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// The server's base URL (`https://...` or `http://...`); default
    /// `https://api.chat-atp.com`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
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

    /// Gives the tools a shared value, which they take as a
    /// [`State<T>`](crate::State) parameter (one value per type; several
    /// types may be given).
    ///
    /// ```
    /// use atp_sdk::{atp_tool, State};
    ///
    /// struct Greeting(String);
    ///
    /// /// Greets someone.
    /// #[atp_tool]
    /// fn greet(name: String, greeting: State<Greeting>) -> String {
    ///     format!("{}, {name}!", greeting.0)
    /// }
    ///
    /// fn main() {
    ///     let client = atp_sdk::ToolKitClient::builder("key", "greeter")
    ///         .tools(["greet"])
    ///         .state(Greeting("Hello".to_owned()))
    ///         .build();
    ///     assert!(client.is_ok());
    ///
    ///     // Without it, build() names the tool and the type:
    ///     let err = atp_sdk::ToolKitClient::builder("key", "greeter")
    ///         .tools(["greet"])
    ///         .build()
    ///         .unwrap_err();
    ///     assert!(err.to_string().starts_with("tool 'greet' needs State<"));
    /// }
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        if let Err(err) = self.states.insert(value) {
            self.errors.push(err);
        }
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
        self.config.limits.sessions = SessionLimits {
            max_sessions: max_sessions.max(1),
            idle_ttl: clamp(idle_ttl),
        };
        self
    }

    /// How calls arrive: over a WebSocket (the default), by polling the
    /// HTTP inbox, or — with the `mcp-stdio` and `mcp-http` features —
    /// from MCP clients instead of an ATP server. [`run`](crate::run) reads it from `ATP_TRANSPORT`
    /// (`ws`, `http`, `mcp` or `mcp-http`).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.config.transport = transport;
        self
    }

    /// With [`Transport::McpHttp`]: the address to listen on; default
    /// `127.0.0.1:8788`. [`run`](crate::run) reads `ATP_MCP_ADDR`.
    pub fn mcp_addr(mut self, addr: std::net::SocketAddr) -> Self {
        self.config.mcp_addr = addr;
        self
    }

    /// With [`Transport::McpHttp`]: how many MCP sessions may be live at
    /// once; default 1024 (each holds ~50 kB). An `initialize` past that is
    /// answered `503 Service Unavailable` with `Retry-After`, and the
    /// sessions already open are not disturbed. At least 1.
    /// [`run`](crate::run) reads `ATP_MCP_MAX_SESSIONS`.
    pub fn mcp_max_sessions(mut self, max: usize) -> Self {
        self.config.mcp_http.max_sessions = max.max(1);
        self
    }

    /// With [`Transport::McpHttp`]: how long a session that has not been
    /// used since its `initialize` lives (default 30 s), and how long one
    /// idle since its last message does (default 5 min). Closed sessions
    /// answer `404`, and the client starts a new one.
    pub fn mcp_session_lifetimes(mut self, unused: Duration, idle: Duration) -> Self {
        self.config.mcp_http.unused_session_life = clamp(unused);
        self.config.mcp_http.idle_session_life = clamp(idle);
        self
    }

    /// With [`Transport::McpHttp`]: act as an OAuth 2.0 resource server
    /// (see [`oauth`](crate::oauth)): every request needs an access token
    /// issued for `server`'s resource URI, verified; a `401` points to the
    /// Protected Resource Metadata served at
    /// `/.well-known/oauth-protected-resource`; a tool's `scopes` are
    /// checked. With it the server may listen off loopback.
    /// [`run`](crate::run) reads `ATP_MCP_RESOURCE`, `ATP_MCP_ISSUER` and
    /// `ATP_MCP_JWKS_URL`.
    #[cfg(feature = "mcp-http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
    pub fn mcp_resource_server(mut self, server: crate::oauth::ResourceServer) -> Self {
        self.config.mcp_resource_server = Some(server);
        self
    }

    /// With [`Transport::McpHttp`]: where a tool with an `auth_provider`
    /// gets the user's token — for the principal the resource server
    /// authenticated. Without one (and without
    /// [`mcp_bearer_passthrough`](Self::mcp_bearer_passthrough)) such a
    /// tool is answered `Missing auth_token for authenticated tool` over
    /// HTTP.
    #[cfg(feature = "mcp-http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
    pub fn mcp_token_source(mut self, source: impl crate::oauth::TokenSource) -> Self {
        self.config.mcp_upstream = crate::oauth::Upstream::Source(std::sync::Arc::new(source));
        self
    }

    /// With [`Transport::McpHttp`] on loopback only: give tools the MCP
    /// client's own `Authorization: Bearer` token as their token. This is
    /// token passthrough, which the MCP authorization spec forbids: for a
    /// local tool whose client holds the upstream token itself, never for
    /// a server others reach (it refuses to start off loopback).
    /// [`run`](crate::run) reads `ATP_MCP_AUTH=passthrough`.
    #[cfg(feature = "mcp-http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
    pub fn mcp_bearer_passthrough(mut self, pass: bool) -> Self {
        self.config.mcp_upstream = if pass {
            crate::oauth::Upstream::BearerPassthrough
        } else {
            crate::oauth::Upstream::None
        };
        self
    }

    /// With [`Transport::McpHttp`]: serve without sessions, so that any
    /// replica behind a load balancer can answer any request, with no
    /// stickiness. Each POST is answered on its own: as JSON
    /// (`application/json`) when the tool says nothing before its result,
    /// as a short event stream of that request's progress and log lines
    /// otherwise. There is no `Mcp-Session-Id`, no `GET` stream and no
    /// `DELETE`.
    ///
    /// Clients on MCP 2026-07-28 are served statelessly whatever this says
    /// (that revision has no sessions). What needs a session is asking
    /// the client something from a tool ([`Context::elicit`](crate::Context::elicit),
    /// [`Context::sample`](crate::Context::sample)) from an older client:
    /// without one those calls answer that they need the session mode or a
    /// 2026-07-28 client, at once. A `logging/setLevel` does not outlive
    /// its request: lines go out from `info` up. From a 2026-07-28 client a
    /// question parks the call in the process that asked it, so behind a
    /// load balancer the client's retry must reach the same replica
    /// (route on the `requestState`, or keep such tools on one replica).
    /// Off by default; [`run`](crate::run) reads `ATP_MCP_STATELESS=1`.
    ///
    /// ```
    /// let builder = atp_sdk::ToolKitClient::builder("key", "app").mcp_stateless(true);
    /// # let _ = builder;
    /// ```
    pub fn mcp_stateless(mut self, stateless: bool) -> Self {
        self.config.mcp_http.stateless = stateless;
        self
    }

    /// With [`Transport::McpHttp`] on an address other than loopback:
    /// serve clients without authenticating them. Off by default: such a
    /// server refuses to start, since anyone who can reach the address
    /// could call every tool. Turn it on only behind a proxy that
    /// authenticates. [`run`](crate::run) reads `ATP_MCP_AUTH=none`.
    pub fn mcp_allow_unauthenticated(mut self, allow: bool) -> Self {
        self.config.mcp_http.unauthenticated_off_loopback = allow;
        self
    }

    /// With [`Transport::McpHttp`]: more origins to accept requests from,
    /// for a browser-based MCP client (`"https://app.example.com"`,
    /// `"http://localhost:5173"`; `:*` for any port). The server's own
    /// origin under each loopback name (`http://localhost:PORT`,
    /// `http://127.0.0.1:PORT`, `http://[::1]:PORT`) is always accepted and
    /// every other origin refused with 403, as the MCP spec asks of a local
    /// server; a request without `Origin` (not from a browser) is served.
    /// [`run`](crate::run) reads `ATP_MCP_ALLOWED_ORIGINS`, comma-separated.
    ///
    /// ```
    /// let builder = atp_sdk::ToolKitClient::builder("key", "app")
    ///     .mcp_allowed_origins(["https://app.example.com"]);
    /// # let _ = builder;
    /// ```
    pub fn mcp_allowed_origins(
        mut self,
        origins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.config
            .mcp_allowed_origins
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// With [`Transport::Http`]: the shortest and longest wait between
    /// polls of an empty inbox; default 50 ms and 2 s. After a call the
    /// inbox is polled again at once; while it stays empty the wait
    /// doubles from `min` up to `max`.
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.config.poll_min = clamp(min);
        self.config.poll_max = clamp(max).max(self.config.poll_min);
        self
    }

    /// Adds a tool defined at run time (see [`DynamicTool`]). It is served
    /// next to the `#[atp_tool]` functions (or next to those picked with
    /// [`tools`](Self::tools)).
    pub fn tool(mut self, tool: DynamicTool) -> Self {
        self.dynamic.push(tool);
        self
    }

    /// Whether `register_tool` carries each tool's source text (the
    /// platform's `source_code`, as the reference client sends it);
    /// default `true`. With `false` the hashes are sent as always (they
    /// tell the server when a tool changed) but `source_code` is empty.
    /// [`run`](crate::run) reads `ATP_SEND_SOURCE=0`.
    pub fn send_source(mut self, send: bool) -> Self {
        self.config.send_source = send;
        self
    }

    /// How long a WebSocket handshake may take; default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = clamp(timeout);
        self
    }

    /// How long an HTTP request (announce, inbox) may take; default 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = clamp(timeout);
        self
    }

    /// How often to ping the server; default 30 s.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = clamp(interval);
        self
    }

    /// How long past a ping the server may stay silent before the
    /// connection counts as dead; default 10 s. A write that makes no
    /// progress for `ping_interval + ping_timeout` (a server that stopped
    /// reading) abandons the connection too.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.ping_timeout = clamp(timeout);
        self
    }

    /// How long a stop may take in all; default 30 s. Within it the calls
    /// in flight finish and their replies are delivered (over a new
    /// connection if the old one is gone); past it the rest is logged and
    /// the still running calls see their [`Context`](crate::Context)
    /// cancelled.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout.min(crate::config::MAX_DURATION);
        self
    }

    /// Reconnection backoff: the first delay (jittered down to half) and
    /// the cap; defaults 500 ms and 30 s.
    pub fn backoff(mut self, first: Duration, cap: Duration) -> Self {
        self.config.backoff_base = clamp(first);
        self.config.backoff_cap = clamp(cap).max(self.config.backoff_base);
        self
    }

    /// The largest inbound frame accepted; default 16 MiB. A larger frame
    /// is refused from its header, before its payload is read: the
    /// connection is dropped and made again (its request can't be
    /// answered, since its id is never read).
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.config.max_frame_bytes = bytes;
        self
    }

    /// How many calls run at once; default 256. Further calls wait for a
    /// free slot, in a queue of [`max_queued`](Self::max_queued).
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.config.limits.max_in_flight = calls.max(1);
        self
    }

    /// How many calls may wait for a free slot; default 1024. Past
    /// `max_in_flight + max_queued` a request is answered at once with
    /// `{"error": "Toolkit overloaded: ..."}`, so memory stays flat under
    /// a flood. A response not yet written to the server still holds its
    /// call's slot.
    pub fn max_queued(mut self, calls: usize) -> Self {
        self.config.limits.max_queued = calls;
        self
    }

    /// The time limit of a call, for tools that set none with
    /// `#[atp_tool(timeout = "...")]`; default 5 minutes. It counts from
    /// the moment the call is admitted, waiting for a free slot included.
    /// A call that runs longer is answered `{"error": "Tool timed out
    /// after ..."}`: an `async fn` tool's future is dropped; a plain `fn`
    /// can't be stopped, so its thread runs on (its
    /// [`Context`](crate::Context) says it is cancelled) and keeps its
    /// running slot until it returns.
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
        self.config.limits.call_timeout = clamp(limit);
        self
    }

    /// Checks the configuration and collects the tools.
    ///
    /// Fails when the base URL is not `http(s)://`, when the program has
    /// no tools, when two tools share a name, when a tool picked with
    /// [`tools`](Self::tools) does not exist, or when a tool takes a
    /// [`State<T>`](crate::State) that was not given.
    ///
    /// # Errors
    ///
    /// Every problem at once: one is returned as itself, more as
    /// [`Error::Several`], in the order they were found (the setters'
    /// first, then the settings', then the tools').
    pub fn build(mut self) -> Result<ToolKitClient, Error> {
        // Every problem is reported at once, not one per attempt.
        let mut problems = std::mem::take(&mut self.errors);
        self.config.base_url = self.config.base_url.trim_end_matches('/').to_owned();
        problems.extend(self.config.problems());
        #[cfg(feature = "atp")]
        let tls = self.tls().map_err(|err| problems.extend(err));
        let registry = Registry::build(
            self.tools.as_deref(),
            self.dynamic,
            self.apps.iter().map(AppDef::announced).collect(),
            &self.states,
        )
        .map_err(|err| problems.extend(err.into_problems()));
        Error::all(problems)?;
        // A failure above is a problem, so returned just now.
        #[cfg(feature = "atp")]
        let Ok(tls) = tls else {
            return Err(Error::Config("the toolkit could not be built".to_owned()));
        };
        let Ok(registry) = registry else {
            return Err(Error::Config("the toolkit could not be built".to_owned()));
        };
        let config = self.config;
        let dispatcher = Dispatcher::new(
            Arc::new(registry),
            Apps::new(self.apps, config.limits.sessions),
            Arc::new(self.states),
            config.limits,
            &config.app_name,
        );
        let (stop, _) = watch::channel(false);
        Ok(ToolKitClient {
            config: Arc::new(config),
            #[cfg(feature = "atp")]
            tls,
            dispatcher,
            stop: Arc::new(stop),
            status: StatusTx::new(),
        })
    }

    /// The TLS settings: the Mozilla roots and the certificates added;
    /// every PEM that does not read is a problem.
    #[cfg(feature = "atp")]
    fn tls(&self) -> Result<Arc<rustls::ClientConfig>, Vec<Error>> {
        let mut roots = Vec::new();
        let mut problems = Vec::new();
        for pem in &self.config.root_certificates {
            match crate::tls::parse_pem(pem) {
                Ok(parsed) => roots.extend(parsed),
                Err(err) => problems.push(err),
            }
        }
        let tls = crate::tls::client_config(&roots).map_err(|err| vec![err])?;
        if problems.is_empty() {
            Ok(tls)
        } else {
            Err(problems)
        }
    }

    /// Builds the client and serves it the way [`run`](crate::run) does:
    /// on a runtime of its own, until Ctrl-C or SIGTERM, then a graceful
    /// stop. For a `fn main` that adds [`State`](crate::State) or other
    /// settings without writing async code.
    ///
    /// A configuration error (a missing state, say) is returned before
    /// anything connects.
    ///
    /// ```no_run
    /// use atp_sdk::{atp_tool, State, ToolKitClient};
    ///
    /// struct Db { url: String }
    ///
    /// /// Where the data lives.
    /// #[atp_tool]
    /// fn where_is(db: State<Db>) -> String { db.url.clone() }
    ///
    /// fn main() -> Result<(), atp_sdk::Error> {
    ///     ToolKitClient::builder_from_env()?
    ///         .state(Db { url: "postgres://localhost/app".to_owned() })
    ///         .run()
    /// }
    /// ```
    pub fn run(self) -> Result<(), Error> {
        crate::process::init_tracing();
        self.build()?.serve_on_own_runtime()
    }

    /// The MCP settings of the environment: `ATP_MCP_ADDR`,
    /// `ATP_MCP_MAX_SESSIONS`, `ATP_MCP_AUTH`, `ATP_MCP_ALLOWED_ORIGINS`,
    /// and (feature `mcp-http`) the resource server's `ATP_MCP_RESOURCE`,
    /// `ATP_MCP_ISSUER` and `ATP_MCP_JWKS_URL`.
    fn mcp_from_env(self) -> Result<Self, Error> {
        let mut builder = self;
        if let Some(addr) = env(ENV_MCP_ADDR) {
            let addr = addr.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "{ENV_MCP_ADDR}: expected an address like 127.0.0.1:8788, got {addr:?}"
                ))
            })?;
            builder = builder.mcp_addr(addr);
        }
        if let Some(max) = env(ENV_MCP_MAX_SESSIONS) {
            let max = max.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "{ENV_MCP_MAX_SESSIONS}: expected a whole number of sessions, got {max:?}"
                ))
            })?;
            builder = builder.mcp_max_sessions(max);
        }
        if let Some(stateless) = env(ENV_MCP_STATELESS) {
            let stateless = match stateless.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                other => {
                    return Err(Error::Config(format!(
                        "{ENV_MCP_STATELESS}: \"1\" (serve MCP over HTTP without sessions) or \"0\", got {other:?}"
                    )));
                }
            };
            builder = builder.mcp_stateless(stateless);
        }
        if let Some(auth) = env(ENV_MCP_AUTH) {
            match auth.trim().to_ascii_lowercase().as_str() {
                "none" => builder = builder.mcp_allow_unauthenticated(true),
                #[cfg(feature = "mcp-http")]
                "passthrough" => builder = builder.mcp_bearer_passthrough(true),
                other => {
                    return Err(Error::Config(format!(
                        "{ENV_MCP_AUTH}: \"none\" (serve MCP over HTTP off loopback without authentication) or \"passthrough\" (pass the client's bearer token to tools, loopback only), got {other:?}"
                    )));
                }
            }
        }
        if let Some(origins) = env(ENV_MCP_ALLOWED_ORIGINS) {
            builder = builder.mcp_allowed_origins(
                origins
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned),
            );
        }
        #[cfg(feature = "mcp-http")]
        if let Some(server) = resource_server_from_env()? {
            builder = builder.mcp_resource_server(server);
        }
        Ok(builder)
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
            config: Config {
                api_key: api_key.into(),
                app_name: app_name.into(),
                ..Config::default()
            },
            tools: None,
            dynamic: Vec::new(),
            apps: Vec::new(),
            states: States::default(),
            errors: Vec::new(),
        }
    }

    /// A builder configured from the environment: `ATP_API_KEY`
    /// (required), `ATP_APP_NAME` (default: the executable's name),
    /// `ATP_BASE_URL` (default `https://api.chat-atp.com`),
    /// `ATP_TRANSPORT` (`ws`, the default, or `http`; anything else is an
    /// [`Error::Config`]) and `ATP_SEND_SOURCE` (`0` or `false` to send no
    /// source text).
    pub fn builder_from_env() -> Result<ToolKitClientBuilder, Error> {
        let transport: Option<Transport> = match env(ENV_TRANSPORT) {
            Some(transport) => Some(
                transport
                    .parse()
                    .map_err(|why| Error::Config(format!("{ENV_TRANSPORT}: {why}")))?,
            ),
            None => None,
        };
        let mcp = transport.unwrap_or_default().is_mcp();
        let api_key = match env(ENV_API_KEY) {
            Some(key) => key,
            // Served to MCP clients, a toolkit needs no ATP key.
            None if mcp => String::new(),
            None => return Err(Error::MissingEnv(ENV_API_KEY)),
        };
        let app_name = std::env::var(ENV_APP_NAME)
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(executable_name);
        let mut builder = Self::builder(api_key, app_name);
        if let Some(transport) = transport {
            builder = builder.transport(transport);
        }
        builder = builder.mcp_from_env()?;
        if let Some(url) = env(ENV_BASE_URL) {
            builder = builder.base_url(url);
        }
        if let Some(send) = env(ENV_SEND_SOURCE) {
            let send = match send.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                other => {
                    return Err(Error::Config(format!(
                        "{ENV_SEND_SOURCE}: expected 0 or 1, got {other:?}"
                    )));
                }
            };
            builder = builder.send_source(send);
        }
        Ok(builder)
    }

    /// A client configured from the environment (see
    /// [`builder_from_env`](Self::builder_from_env)).
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// The names of the tools (and apps) this client serves, sorted.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.dispatcher
            .registry()
            .announced()
            .iter()
            .map(|tool| tool.name.as_str())
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

    /// Where the toolkit stands with its server, now and as it changes:
    /// for a readiness probe, `status().borrow().is_connected()`.
    ///
    /// ```standalone_crate
    /// #[atp_sdk::atp_tool]
    /// fn echo(text: String) -> String { text }
    ///
    /// fn main() {
    ///     let client = atp_sdk::ToolKitClient::builder("key", "app").build().unwrap();
    ///     let status = client.status();
    ///     assert_eq!(*status.borrow(), atp_sdk::Status::Idle);
    /// }
    /// ```
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Announces the tools and serves calls until stopped: reconnects
    /// after a drop, and on stop lets the calls in flight finish, delivers
    /// their replies and closes the connection properly.
    ///
    /// Returns `Ok(())` after a stop, or the fatal error that ended it (a
    /// rejected API key).
    pub async fn serve(self) -> Result<(), Error> {
        match self.config.transport {
            Transport::Mcp => self.serve_mcp(None).await,
            Transport::McpHttp => {
                let addr = self.config.mcp_addr;
                self.serve_mcp(Some(addr)).await
            }
            Transport::WebSocket | Transport::Http => self.serve_atp().await,
        }
    }

    /// Serves an ATP server: announces, then the WebSocket or the inbox.
    #[cfg(feature = "atp")]
    async fn serve_atp(self) -> Result<(), Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .timeout(self.config.request_timeout)
            .connect_timeout(self.config.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|err| Error::Config(format!("could not build the HTTP client: {err}")))?;
        let announcer = Announcer {
            http: http.clone(),
            base_url: self.config.base_url.clone(),
            api_key: self.config.api_key.clone(),
            app_name: self.config.app_name.clone(),
            send_source: self.config.send_source,
        };
        tracing::info!(
            app = %self.config.app_name,
            server = %self.config.base_url,
            tools = self.dispatcher.registry().announced().len(),
            transport = %self.config.transport,
            "starting toolkit"
        );
        let result = if self.config.transport == Transport::Http {
            let Some(link) = InboxLink::new(&self.config, http) else {
                return Err(Error::Config(
                    "the inbox URL is invalid (check the base URL and the API key)".to_owned(),
                ));
            };
            self.session(link, Some(announcer)).run().await
        } else {
            let link = WsLink::new(&self.tls);
            self.session(link, Some(announcer)).run().await
        };
        match &result {
            Ok(()) => tracing::info!("toolkit stopped"),
            Err(err) => tracing::error!(error = %err, "toolkit stopped"),
        }
        result
    }

    /// Without the ATP links built in: says which feature serves them.
    #[cfg(not(feature = "atp"))]
    async fn serve_atp(self) -> Result<(), Error> {
        Err(Error::Config(format!(
            "serving an ATP server ({}) needs atp-sdk's `atp` feature (a default one): \
             atp-sdk = {{ version = \"...\", features = [\"atp\"] }}; or serve MCP \
             (ATP_TRANSPORT=mcp or mcp-http, with its feature)",
            self.config.transport
        )))
    }

    /// The session serving this client's tools over `link`.
    fn session<L: Link>(
        self,
        link: L,
        #[cfg(feature = "atp")] announcer: Option<Announcer>,
    ) -> Session<L> {
        Session {
            stop: Stop::new(self.stop.subscribe(), self.config.shutdown_timeout),
            link,
            config: self.config,
            #[cfg(feature = "atp")]
            announcer,
            dispatcher: self.dispatcher,
            status: self.status,
        }
    }

    /// The session of a link whose clients list the tools themselves
    /// (MCP): nothing to announce.
    #[cfg(any(feature = "mcp-stdio", feature = "mcp-http"))]
    fn session_without_announcer<L: Link>(self, link: L) -> Session<L> {
        self.session(
            link,
            #[cfg(feature = "atp")]
            None,
        )
    }

    /// Serves MCP: on stdin/stdout (`addr` none) or over streamable HTTP;
    /// a transport not built in says which feature it needs.
    async fn serve_mcp(self, addr: Option<std::net::SocketAddr>) -> Result<(), Error> {
        match addr {
            #[cfg(feature = "mcp-stdio")]
            None => self.serve_mcp_stdio().await,
            #[cfg(feature = "mcp-http")]
            Some(addr) => self.serve_mcp_http(addr).await,
            #[allow(unreachable_patterns)]
            other => {
                let _ = self;
                let (over, feature) = match other {
                    Some(_) => ("over HTTP", "mcp-http"),
                    None => ("on stdin/stdout", "mcp-stdio"),
                };
                Err(Error::Config(format!(
                    "serving MCP {over} needs atp-sdk's `{feature}` feature (or `mcp`, both MCP \
                     transports): atp-sdk = {{ version = \"...\", features = [\"{feature}\"] }}"
                )))
            }
        }
    }

    /// What the MCP links serve.
    #[cfg(any(feature = "mcp-stdio", feature = "mcp-http"))]
    fn mcp(&self) -> crate::mcp::McpServe {
        let config = &self.config;
        crate::mcp::McpServe {
            dispatcher: self.dispatcher.clone(),
            app_name: config.app_name.clone(),
            #[cfg(feature = "mcp-http")]
            http_limits: config.mcp_http,
            #[cfg(feature = "mcp-http")]
            allowed_origins: config.mcp_allowed_origins.clone(),
            #[cfg(feature = "mcp-http")]
            resource_server: config.mcp_resource_server.clone(),
            #[cfg(feature = "mcp-http")]
            upstream: config.mcp_upstream.clone(),
        }
    }

    /// Serves the tools to an MCP client on stdin/stdout until it closes
    /// stdin or [`StopHandle::stop`] is called (then the calls in flight
    /// finish first, up to the shutdown timeout). Tools with an
    /// `auth_provider` get `ATP_AUTH_TOKEN` as their token. stdout carries
    /// the protocol only: log to stderr (as [`run`](crate::run) does).
    ///
    /// No ATP server and no API key are involved; interactive apps are not
    /// MCP tools and are left out.
    ///
    /// ```no_run
    /// # #[atp_sdk::atp_tool] fn echo(text: String) -> String { text }
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), atp_sdk::Error> {
    ///     atp_sdk::ToolKitClient::builder("", "my-tools")
    ///         .transport(atp_sdk::Transport::Mcp)
    ///         .build()?
    ///         .serve_mcp_stdio()
    ///         .await
    /// }
    /// ```
    #[cfg(feature = "mcp-stdio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-stdio")))]
    pub async fn serve_mcp_stdio(self) -> Result<(), Error> {
        let link = crate::mcp::StdioLink::new(self.mcp());
        self.session_without_announcer(link).run().await
    }

    /// Serves the tools to MCP clients over streamable HTTP at
    /// `http://{addr}/mcp` until [`StopHandle::stop`] is called. A tool
    /// with an `auth_provider` takes its token from the
    /// [`mcp_token_source`](ToolKitClientBuilder::mcp_token_source) (or,
    /// chosen, on loopback, the client's bearer:
    /// [`mcp_bearer_passthrough`](ToolKitClientBuilder::mcp_bearer_passthrough)).
    /// With a [`mcp_resource_server`](ToolKitClientBuilder::mcp_resource_server)
    /// every request needs an access token issued for it. Requests that
    /// carry an `Origin` header (a web page's) are refused with 403, and
    /// only loopback `Host` names are answered unless `addr` is another
    /// address. Off loopback it refuses to start without a resource server
    /// (or [`mcp_allow_unauthenticated`](ToolKitClientBuilder::mcp_allow_unauthenticated)).
    #[cfg(feature = "mcp-http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
    pub async fn serve_mcp_http(self, addr: std::net::SocketAddr) -> Result<(), Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| Error::Config(format!("could not listen on {addr}: {err}")))?;
        self.serve_mcp_http_on(listener).await
    }

    /// [`serve_mcp_http`](Self::serve_mcp_http) on a listener you bound
    /// (say, to port 0).
    #[cfg(feature = "mcp-http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
    pub async fn serve_mcp_http_on(self, listener: tokio::net::TcpListener) -> Result<(), Error> {
        let link = crate::mcp::HttpLink::new(self.mcp(), listener);
        self.session_without_announcer(link).run().await
    }

    /// Serves on a current-thread runtime of its own until a signal; a
    /// second signal exits the process at once. Plain `fn` tools still
    /// running past their limit don't hold the exit up.
    pub(crate) fn serve_on_own_runtime(self) -> Result<(), Error> {
        let client = self;
        let dispatcher = client.dispatcher.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let stop = client.stop_handle();
        let result = runtime.block_on(async move {
            tokio::spawn(async move {
                let first = crate::process::shutdown_signal().await;
                tracing::info!(
                    signal = first.name(),
                    "signal received; stopping (send it again to exit at once)"
                );
                stop.stop();
                let second = crate::process::shutdown_signal().await;
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

    /// [`serve`](Self::serve) until Ctrl-C or SIGTERM.
    pub async fn serve_until_signal(self) -> Result<(), Error> {
        let stop = self.stop_handle();
        tokio::spawn(async move {
            let signal = crate::process::shutdown_signal().await;
            tracing::info!(?signal, "signal received; stopping");
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
    /// and their replies are delivered (up to the shutdown timeout), then
    /// the connection is closed.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// `ATP_MCP_RESOURCE` (with `ATP_MCP_ISSUER`, and `ATP_MCP_JWKS_URL` if
/// given): a resource server verifying the issuer's JWTs.
#[cfg(feature = "mcp-http")]
fn resource_server_from_env() -> Result<Option<crate::oauth::ResourceServer>, Error> {
    use crate::config::{ENV_MCP_ISSUER, ENV_MCP_JWKS_URL, ENV_MCP_RESOURCE};
    let Some(resource) = env(ENV_MCP_RESOURCE) else {
        if env(ENV_MCP_ISSUER).is_some() {
            return Err(Error::Config(format!(
                "{ENV_MCP_ISSUER} is set without {ENV_MCP_RESOURCE}: set both (the resource URI clients reach this server at, e.g. https://crm.example.com/mcp)"
            )));
        }
        return Ok(None);
    };
    let Some(issuer) = env(ENV_MCP_ISSUER) else {
        return Err(Error::Config(format!(
            "{ENV_MCP_RESOURCE} is set without {ENV_MCP_ISSUER}: name the authorization server that issues its tokens"
        )));
    };
    let mut verifier = crate::oauth::JwtVerifier::new(issuer.clone(), resource.clone());
    if let Some(url) = env(ENV_MCP_JWKS_URL) {
        verifier = verifier.jwks_url(url);
    }
    Ok(Some(crate::oauth::ResourceServer::new(
        resource,
        [issuer],
        verifier,
    )))
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "atp-toolkit".to_owned())
}
