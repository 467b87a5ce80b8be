//! The MCP links (features `mcp-stdio` and `mcp-http`): the same tools,
//! served to MCP clients over stdin/stdout or streamable HTTP, on the
//! official Rust SDK (rmcp).
//!
//! Each is a [`Link`] under the session's one lifecycle, a link that does
//! not announce and is never reopened: serve until the client goes away
//! or a stop is asked for; on a stop, the session refuses new calls
//! (`Toolkit is shutting down`), lets the calls in flight finish and
//! their results go out (up to the shutdown timeout), then the link
//! closes. Status, the stop's deadline and the report of what was left
//! running are the session's, as for the ATP links.

#[cfg(feature = "mcp-http")]
mod auth;
mod handler;
mod rounds;
#[cfg(feature = "mcp-http")]
mod sessions;
mod talk;

#[cfg(feature = "mcp-http")]
use std::time::Duration;

#[cfg(feature = "mcp-stdio")]
use rmcp::service::RunningService;
#[cfg(feature = "mcp-http")]
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
#[cfg(feature = "mcp-stdio")]
use rmcp::{RoleServer, ServiceExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
#[cfg(feature = "mcp-stdio")]
use crate::config::ENV_AUTH_TOKEN;
#[cfg(feature = "mcp-http")]
use crate::config::{ENV_MCP_AUTH, McpHttpLimits};
use crate::dispatch::Dispatcher;
#[cfg(feature = "mcp-http")]
use crate::error::Error;
#[cfg(feature = "mcp-stdio")]
use crate::secret::AuthToken;
use crate::session::{Ended, Failure, Link, SessionView};
use crate::status::Status;

use handler::{McpTools, Tokens};
pub(crate) use talk::elicitation_schema;

/// How long, after the last call of a stop, the HTTP server waits for its
/// connections to finish before it closes the MCP sessions (whose event
/// streams never finish on their own).
#[cfg(feature = "mcp-http")]
const LINGER: Duration = Duration::from_millis(500);

/// What serving MCP needs from the client.
pub(crate) struct McpServe {
    pub(crate) dispatcher: Dispatcher,
    pub(crate) app_name: String,
    #[cfg(feature = "mcp-http")]
    pub(crate) http_limits: McpHttpLimits,
    /// Origins accepted besides the server's own loopback ones.
    #[cfg(feature = "mcp-http")]
    pub(crate) allowed_origins: Vec<String>,
    #[cfg(feature = "mcp-http")]
    pub(crate) resource_server: Option<crate::oauth::ResourceServer>,
    #[cfg(feature = "mcp-http")]
    pub(crate) upstream: crate::oauth::Upstream,
}

/// MCP on stdin/stdout.
#[cfg(feature = "mcp-stdio")]
pub(crate) struct StdioLink {
    serve: McpServe,
    ct: CancellationToken,
}

#[cfg(feature = "mcp-stdio")]
impl StdioLink {
    pub(crate) fn new(serve: McpServe) -> Self {
        Self {
            serve,
            ct: CancellationToken::new(),
        }
    }
}

#[cfg(feature = "mcp-stdio")]
impl Link for StdioLink {
    type Conn = RunningService<RoleServer, McpTools>;

    const LOST: &'static str = "MCP client lost";

    /// The MCP handshake on stdin/stdout. Tools with an `auth_provider`
    /// get `ATP_AUTH_TOKEN` as their token.
    async fn open(&mut self, _config: &Config) -> Result<Self::Conn, Failure> {
        let token = std::env::var(ENV_AUTH_TOKEN)
            .ok()
            .filter(|t| !t.is_empty())
            .map(AuthToken::new);
        let tools = McpTools::new(
            self.serve.dispatcher.clone(),
            &self.serve.app_name,
            Tokens::Fixed(token),
        );
        tracing::info!(app = %self.serve.app_name, "serving MCP on stdin/stdout");
        tools
            .serve_with_ct(rmcp::transport::stdio_pipes(), self.ct.clone())
            .await
            // stdin closed before the client said hello: nobody to serve.
            .map_err(|err| {
                Failure::Gone(format!("MCP client went away before initializing: {err}"))
            })
    }

    /// Until the client closes stdin, or a stop has run its course.
    async fn serve(&mut self, running: Self::Conn, io: &mut SessionView<'_>) -> Ended {
        io.status.set(Status::Connected);
        let waiting = running.waiting();
        tokio::pin!(waiting);
        tokio::select! {
            quit = &mut waiting => {
                tracing::info!(reason = ?quit.ok(), "MCP client closed the connection");
                return Ended::Stopped;
            }
            () = io.stopped() => {}
        }
        self.ct.cancel();
        let _ = waiting.await;
        Ended::Stopped
    }
}

/// MCP's streamable HTTP at `/mcp`.
#[cfg(feature = "mcp-http")]
pub(crate) struct HttpLink {
    serve: McpServe,
    listener: Option<tokio::net::TcpListener>,
}

#[cfg(feature = "mcp-http")]
impl HttpLink {
    pub(crate) fn new(serve: McpServe, listener: tokio::net::TcpListener) -> Self {
        Self {
            serve,
            listener: Some(listener),
        }
    }
}

/// An HTTP server ready to serve: its listener, its routes, and what
/// ends its MCP sessions.
#[cfg(feature = "mcp-http")]
pub(crate) struct HttpConn {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    ct: CancellationToken,
}

#[cfg(feature = "mcp-http")]
impl Link for HttpLink {
    type Conn = HttpConn;

    const LOST: &'static str = "MCP server ended";

    /// Checks the address against the authentication asked for, and
    /// builds the routes.
    async fn open(&mut self, _config: &Config) -> Result<HttpConn, Failure> {
        let Some(listener) = self.listener.take() else {
            return Err(Failure::Fatal(Error::Connection(
                "MCP over HTTP: the listener is gone".to_owned(),
            )));
        };
        let addr = listener
            .local_addr()
            .map_err(|err| Failure::Fatal(Error::Connection(format!("MCP over HTTP: {err}"))))?;
        self.serve.check_exposure(addr).map_err(Failure::Fatal)?;
        let ct = CancellationToken::new();
        let router = self.serve.router(addr, &ct);
        tracing::info!(app = %self.serve.app_name, url = %format!("http://{addr}/mcp"), "serving MCP over streamable HTTP");
        Ok(HttpConn {
            listener,
            router,
            ct,
        })
    }

    /// Until a stop has run its course (the server keeps answering while
    /// the calls in flight finish), then closes in two steps: first the
    /// listener (the connections carrying the last results finish), then
    /// the MCP sessions (whose event streams would otherwise stay open for
    /// ever).
    async fn serve(&mut self, conn: HttpConn, io: &mut SessionView<'_>) -> Ended {
        let HttpConn {
            listener,
            router,
            ct,
        } = conn;
        io.status.set(Status::Connected);
        let closing = CancellationToken::new();
        let server = axum::serve(listener, router)
            .with_graceful_shutdown({
                let closing = closing.clone();
                async move { closing.cancelled().await }
            })
            .into_future();
        tokio::pin!(server);
        let ended = |result: std::io::Result<()>| match result {
            Ok(()) => Ended::Stopped,
            Err(err) => Ended::Fatal(Error::Connection(format!("MCP over HTTP: {err}"))),
        };
        tokio::select! {
            result = &mut server => {
                ct.cancel();
                return ended(result);
            }
            () = io.stopped() => {}
        }
        closing.cancel();
        if tokio::time::timeout(LINGER, &mut server).await.is_err() {
            // Event streams still open: end the sessions, then the server.
            ct.cancel();
            let _ = tokio::time::timeout(LINGER, &mut server).await;
        }
        ct.cancel();
        Ended::Stopped
    }
}

#[cfg(feature = "mcp-http")]
impl McpServe {
    /// Refuses an address that others can reach without the protection it
    /// needs: token passthrough is for loopback only, and off loopback a
    /// server needs a resource server or a deliberate opt-out.
    fn check_exposure(&self, addr: std::net::SocketAddr) -> Result<(), Error> {
        let passthrough = matches!(self.upstream, crate::oauth::Upstream::BearerPassthrough);
        if !addr.ip().is_loopback() && passthrough {
            return Err(Error::Config(format!(
                "MCP over HTTP on {addr} with the client's bearer token passed to tools: token \
                 passthrough is for loopback only (the MCP authorization spec forbids it for a \
                 server others reach); act as a resource server (ATP_MCP_RESOURCE and \
                 ATP_MCP_ISSUER, or .mcp_resource_server(...)) with a token source instead"
            )));
        }
        if !addr.ip().is_loopback()
            && self.resource_server.is_none()
            && !self.http_limits.unauthenticated_off_loopback
        {
            // Anyone who can reach the address could call every tool.
            return Err(Error::Config(format!(
                "MCP over HTTP on {addr} would serve anyone who can reach it, with no credentials: \
                 listen on loopback (ATP_MCP_ADDR=127.0.0.1:{port}), act as an OAuth resource \
                 server (ATP_MCP_RESOURCE and ATP_MCP_ISSUER, or .mcp_resource_server(...)), or, \
                 behind a proxy that authenticates, allow it deliberately ({ENV_MCP_AUTH}=none, \
                 or .mcp_allow_unauthenticated(true))",
                port = addr.port()
            )));
        }
        Ok(())
    }

    /// The routes: `/mcp` (behind the session limits unless stateless, and
    /// the resource server's guard if there is one). `ct` ends the MCP
    /// sessions.
    fn router(&self, addr: std::net::SocketAddr, ct: &CancellationToken) -> axum::Router {
        let tools = McpTools::new(
            self.dispatcher.clone(),
            &self.app_name,
            Tokens::Http(self.upstream.clone()),
        )
        .sessionless(self.http_limits.stateless);
        let config = self.http_config(addr, ct);
        let sessions = sessions::Sessions::new(self.http_limits);
        let service =
            StreamableHttpService::new(move || Ok(tools.session()), sessions.clone(), config);
        let mut router = axum::Router::new().nest_service("/mcp", service);
        if !self.http_limits.stateless {
            // Without sessions there is nothing to count or reap.
            tokio::spawn(sessions.clone().reap(ct.child_token()));
            router = router.layer(axum::middleware::from_fn_with_state(
                sessions,
                sessions::admit,
            ));
        }
        match self.resource_server.clone() {
            Some(server) => self.guarded(router, server),
            None => router,
        }
    }

    /// rmcp's settings: the origins and hosts answered.
    fn http_config(
        &self,
        addr: std::net::SocketAddr,
        ct: &CancellationToken,
    ) -> StreamableHttpServerConfig {
        // A request carrying an Origin is served only from the server's
        // own origin (under each loopback name) or one allowed; any other
        // is refused (403), as the MCP spec asks of local servers. A
        // request without one (not from a browser) is served.
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(!self.http_limits.stateless)
            // Without sessions, a call that says nothing before its
            // result is answered as JSON: no event stream to frame.
            .with_json_response(self.http_limits.stateless)
            .with_cancellation_token(ct.child_token())
            .with_allowed_origins(own_origins(addr.port()).chain(self.allowed_origins.clone()))
            .enforce_origin_validation();
        if addr.ip().is_loopback() {
            config
        } else if addr.ip().is_unspecified() {
            // Bound to every address: answer any Host.
            config.disable_allowed_hosts()
        } else {
            config.with_allowed_hosts([
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
                addr.ip().to_string(),
            ])
        }
    }

    /// `router` behind the resource server's guard (outermost: nothing
    /// reaches the sessions unauthenticated), with the public metadata
    /// beside it.
    fn guarded(&self, router: axum::Router, server: crate::oauth::ResourceServer) -> axum::Router {
        let scopes: crate::oauth::ToolScopes = self
            .dispatcher
            .registry()
            .tools()
            .iter()
            .filter(|t| !t.scopes.is_empty())
            .map(|t| (t.name.clone(), t.scopes.clone()))
            .collect();
        tracing::info!(resource = %server.resource(), "MCP over HTTP as an OAuth resource server");
        let guard = auth::Guard::new(server, scopes, &self.app_name);
        let mut router = router.layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            auth::authenticate,
        ));
        // Added after the guard's layer, so outside it.
        let document = guard.metadata();
        for path in guard.metadata_paths() {
            let document = document.clone();
            router = router.route(
                &path,
                axum::routing::get(move || {
                    let document = document.clone();
                    async move { axum::Json(document) }
                }),
            );
        }
        router
    }
}

/// The server's own origin under each loopback name.
#[cfg(feature = "mcp-http")]
fn own_origins(port: u16) -> impl Iterator<Item = String> {
    ["localhost", "127.0.0.1", "[::1]"]
        .into_iter()
        .map(move |host| format!("http://{host}:{port}"))
}
