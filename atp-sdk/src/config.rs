//! The settings of a toolkit once built: where the server is, how calls
//! arrive ([`Transport`]), the time limits, and the limits on calls.
//!
//! The builder ([`ToolKitClientBuilder`](crate::ToolKitClientBuilder))
//! collects them; [`Config`] is what the session and its links read.

use std::time::Duration;

use crate::protocol::{DEFAULT_BASE_URL, websocket_base};
use crate::secret::ApiKey;

/// Environment variable holding the API key (required by [`run`](crate::run)).
pub const ENV_API_KEY: &str = "ATP_API_KEY";
/// Environment variable holding the toolkit's name (default: the executable's name).
pub const ENV_APP_NAME: &str = "ATP_APP_NAME";
/// Environment variable holding the server's base URL (default `https://api.chat-atp.com`).
pub const ENV_BASE_URL: &str = "ATP_BASE_URL";
/// Environment variable choosing the [`Transport`]: `ws` (default), `http`,
/// `mcp` (stdio, feature `mcp-stdio`) or `mcp-http` (feature `mcp-http`).
pub const ENV_TRANSPORT: &str = "ATP_TRANSPORT";

/// Environment variable holding the address MCP's streamable HTTP listens
/// on ([`Transport::McpHttp`]; default `127.0.0.1:8788`).
pub const ENV_MCP_ADDR: &str = "ATP_MCP_ADDR";
/// Environment variable holding the token given to tools with an
/// `auth_provider` when serving MCP over stdio ([`Transport::Mcp`]).
pub const ENV_AUTH_TOKEN: &str = "ATP_AUTH_TOKEN";
/// Environment variable: `none` to serve MCP over HTTP on an address other
/// than loopback without authenticating its clients, deliberately (behind
/// a proxy that does); without it such a server refuses to start.
pub const ENV_MCP_AUTH: &str = "ATP_MCP_AUTH";

/// Environment variable: more origins MCP over HTTP accepts requests from,
/// comma-separated (`https://app.example.com,http://localhost:5173`), for a
/// browser-based client; the server's own loopback origins always are.
pub const ENV_MCP_ALLOWED_ORIGINS: &str = "ATP_MCP_ALLOWED_ORIGINS";
/// Environment variable: how many MCP-over-HTTP sessions may be live at
/// once (default 1024; an `initialize` past that is answered 503).
pub const ENV_MCP_MAX_SESSIONS: &str = "ATP_MCP_MAX_SESSIONS";
/// Environment variable: `1` (or `true`) to serve MCP over HTTP without
/// sessions, so that any replica behind a load balancer can answer any
/// request ([`ToolKitClientBuilder::mcp_stateless`](crate::ToolKitClientBuilder::mcp_stateless)).
pub const ENV_MCP_STATELESS: &str = "ATP_MCP_STATELESS";
/// Environment variable: MCP over HTTP is an OAuth resource server for this
/// resource URI (the audience its access tokens must name), e.g.
/// `https://crm.example.com/mcp`; needs [`ENV_MCP_ISSUER`].
pub const ENV_MCP_RESOURCE: &str = "ATP_MCP_RESOURCE";
/// Environment variable: the authorization server (the `iss` of the
/// tokens) of [`ENV_MCP_RESOURCE`].
pub const ENV_MCP_ISSUER: &str = "ATP_MCP_ISSUER";
/// Environment variable: where the issuer's keys are (a JWKS document);
/// default: the `jwks_uri` of the issuer's metadata.
pub const ENV_MCP_JWKS_URL: &str = "ATP_MCP_JWKS_URL";
/// Where MCP's streamable HTTP listens unless told otherwise.
pub(crate) const DEFAULT_MCP_ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8788);

/// How a toolkit receives its calls.
///
/// ```
/// use atp_sdk::Transport;
/// assert_eq!("http".parse::<Transport>(), Ok(Transport::Http));
/// assert_eq!("ws".parse::<Transport>(), Ok(Transport::WebSocket));
/// assert_eq!("mcp-http".parse::<Transport>(), Ok(Transport::McpHttp));
/// assert!("carrier-pigeon".parse::<Transport>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket held open to the server (`ws://` or `wss://`): calls
    /// arrive as they are made. The default (feature `atp`, on by
    /// default).
    WebSocket,
    /// Polling the server's HTTP(S) inbox, for hosts that can't hold a
    /// WebSocket open (serverless platforms, strict proxies). Polls again
    /// at once after a call and backs off while idle (see
    /// [`ToolKitClientBuilder::poll_interval`](crate::ToolKitClientBuilder::poll_interval)).
    Http,
    /// No ATP server: the tools served to an MCP client on stdin/stdout
    /// (the client starts the program). Needs the `mcp-stdio` feature
    /// (or `mcp`, both MCP transports).
    Mcp,
    /// No ATP server: the tools served to MCP clients over streamable
    /// HTTP at `http://{addr}/mcp` (`ATP_MCP_ADDR`, default
    /// `127.0.0.1:8788`). Needs the `mcp-http` feature (or `mcp`).
    McpHttp,
}

/// [`Transport::WebSocket`]; in a build without the `atp` feature, the
/// first MCP transport built in: [`Transport::Mcp`] (stdio), then
/// [`Transport::McpHttp`].
impl Default for Transport {
    fn default() -> Self {
        if cfg!(feature = "atp") {
            Transport::WebSocket
        } else if cfg!(feature = "mcp-stdio") {
            Transport::Mcp
        } else if cfg!(feature = "mcp-http") {
            Transport::McpHttp
        } else {
            Transport::WebSocket
        }
    }
}

impl Transport {
    /// Whether this transport serves MCP rather than an ATP server (no
    /// API key needed).
    pub fn is_mcp(self) -> bool {
        matches!(self, Transport::Mcp | Transport::McpHttp)
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    /// `ws`/`websocket`, `http`/`https`/`inbox`, `mcp`/`mcp-stdio` or
    /// `mcp-http`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ws" | "wss" | "websocket" => Ok(Transport::WebSocket),
            "http" | "https" | "inbox" => Ok(Transport::Http),
            "mcp" | "mcp-stdio" | "stdio" => Ok(Transport::Mcp),
            "mcp-http" | "mcp_http" => Ok(Transport::McpHttp),
            other => Err(format!(
                "unknown transport {other:?}: use \"ws\" (WebSocket), \"http\" (inbox polling), \"mcp\" (MCP on stdio) or \"mcp-http\" (MCP over streamable HTTP)"
            )),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::WebSocket => "websocket",
            Transport::Http => "http",
            Transport::Mcp => "mcp",
            Transport::McpHttp => "mcp-http",
        })
    }
}

/// The shortest duration a setting takes: a zero interval or limit would
/// spin (a ping or poll loop with no wait) or fail every call.
pub(crate) const MIN_DURATION: Duration = Duration::from_millis(1);

/// The longest duration a setting takes: far enough to mean "never",
/// near enough that `Instant + duration` can't overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A duration setting brought into `[MIN_DURATION, MAX_DURATION]`.
pub(crate) fn clamp(duration: Duration) -> Duration {
    duration.clamp(MIN_DURATION, MAX_DURATION)
}

/// How many sessions a toolkit keeps, and for how long after their last
/// use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub(crate) max_sessions: usize,
    pub(crate) idle_ttl: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_sessions: 1000,
            idle_ttl: Duration::from_secs(30 * 60),
        }
    }
}

/// How many calls may run and wait, and for how long one may run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Calls running at once.
    pub(crate) max_in_flight: usize,
    /// Calls waiting for a free slot; past it, a request is answered
    /// [`CallError::Overloaded`](crate::CallError::Overloaded) at once.
    pub(crate) max_queued: usize,
    /// A tool's time limit unless its attribute sets one; the wait for a
    /// running slot counts towards it.
    pub(crate) call_timeout: Duration,
    /// How many app sessions are kept, and for how long.
    pub(crate) sessions: SessionLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_queued: 1024,
            call_timeout: Duration::from_secs(300),
            sessions: SessionLimits::default(),
        }
    }
}

/// The bounds of MCP over streamable HTTP: how many sessions may be live,
/// how long a session nobody used after `initialize` lives, how long an
/// idle one lives, and whether it may serve off loopback unauthenticated.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "mcp-http"), allow(dead_code))]
pub(crate) struct McpHttpLimits {
    pub(crate) max_sessions: usize,
    pub(crate) unused_session_life: Duration,
    pub(crate) idle_session_life: Duration,
    pub(crate) unauthenticated_off_loopback: bool,
    /// No sessions: each request answered on its own.
    pub(crate) stateless: bool,
}

impl Default for McpHttpLimits {
    fn default() -> Self {
        Self {
            max_sessions: 1024,
            unused_session_life: Duration::from_secs(30),
            idle_session_life: Duration::from_secs(300),
            unauthenticated_off_loopback: false,
            stateless: false,
        }
    }
}

/// The settings of a client, as the builder holds them (every duration
/// clamped by its setter) and the client keeps them once built.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) api_key: ApiKey,
    pub(crate) app_name: String,
    /// `http(s)://host[:port]`; `build()` drops a trailing slash.
    pub(crate) base_url: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    /// May be zero: stop without waiting.
    pub(crate) shutdown_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_cap: Duration,
    pub(crate) max_frame_bytes: usize,
    pub(crate) limits: Limits,
    /// PEM documents whose certificates are trusted besides the Mozilla
    /// roots; `build()` turns them into the client's TLS settings.
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) transport: Transport,
    pub(crate) poll_min: Duration,
    pub(crate) poll_max: Duration,
    /// Whether `register_tool` carries each tool's source text.
    pub(crate) send_source: bool,
    /// Where MCP's streamable HTTP listens ([`Transport::McpHttp`]).
    pub(crate) mcp_addr: std::net::SocketAddr,
    /// The bounds of MCP over streamable HTTP.
    #[cfg_attr(not(feature = "mcp-http"), allow(dead_code))]
    pub(crate) mcp_http: McpHttpLimits,
    /// Origins MCP over HTTP accepts besides its own.
    #[cfg_attr(not(feature = "mcp-http"), allow(dead_code))]
    pub(crate) mcp_allowed_origins: Vec<String>,
    /// MCP over HTTP as an OAuth resource server.
    #[cfg(feature = "mcp-http")]
    pub(crate) mcp_resource_server: Option<crate::oauth::ResourceServer>,
    /// Where tools' upstream tokens come from over MCP HTTP.
    #[cfg(feature = "mcp-http")]
    pub(crate) mcp_upstream: crate::oauth::Upstream,
}

/// The documented defaults (no API key, no app name: the builder's
/// arguments).
impl Default for Config {
    fn default() -> Self {
        Self {
            api_key: ApiKey::from(""),
            app_name: String::new(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_frame_bytes: 16 << 20,
            limits: Limits::default(),
            root_certificates: Vec::new(),
            transport: Transport::default(),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(2),
            send_source: true,
            mcp_addr: DEFAULT_MCP_ADDR,
            mcp_http: McpHttpLimits::default(),
            mcp_allowed_origins: Vec::new(),
            #[cfg(feature = "mcp-http")]
            mcp_resource_server: None,
            #[cfg(feature = "mcp-http")]
            mcp_upstream: crate::oauth::Upstream::None,
        }
    }
}

impl Config {
    /// What is wrong with the settings themselves (the base URL given
    /// without its trailing slash), in the order `build()` reports it.
    pub(crate) fn problems(&self) -> Vec<crate::error::Error> {
        use crate::error::Error;
        let mut problems = Vec::new();
        // MCP serves without an ATP server, so without its key.
        if self.api_key.expose().is_empty() && !self.transport.is_mcp() {
            problems.push(Error::Config("the API key is empty".to_owned()));
        }
        if self.app_name.is_empty() {
            problems.push(Error::Config("the app name is empty".to_owned()));
        }
        let base_url = &self.base_url;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            problems.push(Error::Config(format!(
                "the base URL must start with http:// or https:// (got {base_url:?})"
            )));
        }
        #[cfg(feature = "mcp-http")]
        if let Some(Err(err)) = self.mcp_resource_server.as_ref().map(|s| s.check()) {
            problems.push(err);
        }
        problems
    }

    /// `ws(s)://host[:port]`, from the base URL.
    pub(crate) fn ws_base(&self) -> String {
        websocket_base(&self.base_url).unwrap_or_default()
    }

    /// How long the server may stay silent before the connection counts
    /// as dead; a write that takes longer abandons the connection too.
    pub(crate) fn silence_limit(&self) -> Duration {
        self.ping_interval.saturating_add(self.ping_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_clamped_to_a_usable_range() {
        assert_eq!(clamp(Duration::ZERO), MIN_DURATION);
        assert_eq!(clamp(Duration::MAX), MAX_DURATION);
        assert_eq!(clamp(Duration::from_secs(3)), Duration::from_secs(3));
        // The longest setting still fits in an Instant.
        let _ = std::time::Instant::now() + MAX_DURATION + MAX_DURATION;
    }
}
