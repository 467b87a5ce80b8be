//! The MCP link (feature `mcp`): the same tools, served to MCP clients
//! over stdin/stdout or streamable HTTP, on the official Rust SDK (rmcp).
//!
//! One lifecycle for both: serve until the client goes away or a stop is
//! asked for; on a stop, refuse new calls (`Toolkit is shutting down`),
//! let the calls in flight finish and their results go out (up to the
//! shutdown timeout), then close.

mod auth;
mod handler;
mod sessions;

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{ENV_AUTH_TOKEN, ENV_MCP_AUTH, McpHttpLimits};
use crate::dispatch::Dispatcher;
use crate::error::Error;
use crate::secret::AuthToken;
use crate::session::Stop;
use crate::status::{Status, StatusTx};

use handler::{McpTools, Tokens};

/// How long, after the last call of a stop, the HTTP server waits for its
/// connections to finish before it closes the MCP sessions (whose event
/// streams never finish on their own).
const LINGER: Duration = Duration::from_millis(500);

/// What serving MCP needs from the client.
pub(crate) struct McpServe {
    pub(crate) dispatcher: Dispatcher,
    pub(crate) app_name: String,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) status: StatusTx,
    pub(crate) http_limits: McpHttpLimits,
    /// Origins accepted besides the server's own loopback ones.
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) resource_server: Option<crate::oauth::ResourceServer>,
    pub(crate) upstream: crate::oauth::Upstream,
}

impl McpServe {
    /// Serves MCP on stdin/stdout until the client closes stdin or a stop
    /// is asked for.
    pub(crate) async fn stdio(self) -> Result<(), Error> {
        let token = std::env::var(ENV_AUTH_TOKEN)
            .ok()
            .filter(|t| !t.is_empty())
            .map(AuthToken::new);
        let tools = McpTools::new(
            self.dispatcher.clone(),
            &self.app_name,
            Tokens::Fixed(token),
        );
        let mut stop = Stop::new(self.stop.clone(), self.shutdown_timeout);
        let ct = CancellationToken::new();
        tracing::info!(app = %self.app_name, "serving MCP on stdin/stdout");
        let running = tokio::select! {
            running = tools.serve_with_ct(rmcp::transport::stdio_pipes(), ct.clone()) => match running {
                Ok(running) => running,
                // stdin closed before the client said hello: nobody to serve.
                Err(err) => {
                    tracing::info!(error = %err, "MCP client went away before initializing");
                    return Ok(());
                }
            },
            () = stop.requested() => return Ok(()),
        };
        self.status.set(Status::Connected);
        let waiting = running.waiting();
        tokio::pin!(waiting);
        tokio::select! {
            quit = &mut waiting => {
                self.status.set(Status::Stopped);
                tracing::info!(reason = ?quit.ok(), "MCP client closed the connection");
                return Ok(());
            }
            () = stop.requested() => {}
        }
        self.drain(stop.deadline()).await;
        ct.cancel();
        let _ = waiting.await;
        self.status.set(Status::Stopped);
        Ok(())
    }

    /// Serves MCP's streamable HTTP at `/mcp` on `listener` until a stop
    /// is asked for.
    pub(crate) async fn http(self, listener: tokio::net::TcpListener) -> Result<(), Error> {
        let addr = listener
            .local_addr()
            .map_err(|err| Error::Connection(format!("MCP over HTTP: {err}")))?;
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
        let tools = McpTools::new(
            self.dispatcher.clone(),
            &self.app_name,
            Tokens::Http(self.upstream.clone()),
        );
        let ct = CancellationToken::new();
        // A request carrying an Origin is served only from the server's
        // own origin (under each loopback name) or one allowed; any other
        // is refused (403), as the MCP spec asks of local servers. A
        // request without one (not from a browser) is served.
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(ct.child_token())
            .with_allowed_origins(own_origins(addr.port()).chain(self.allowed_origins.clone()))
            .enforce_origin_validation();
        if !addr.ip().is_loopback() {
            let mut hosts = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            if !addr.ip().is_unspecified() {
                hosts.push(addr.ip().to_string());
            } else {
                // Bound to every address: answer any Host.
                hosts.clear();
            }
            config = if hosts.is_empty() {
                config.disable_allowed_hosts()
            } else {
                config.with_allowed_hosts(hosts)
            };
        }
        let sessions = sessions::Sessions::new(self.http_limits);
        tokio::spawn(sessions.clone().reap(ct.child_token()));
        let service =
            StreamableHttpService::new(move || Ok(tools.clone()), sessions.clone(), config);
        let mut router = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(sessions, sessions::admit),
        );
        if let Some(server) = self.resource_server.clone() {
            router = self.guarded(router, server);
        }
        tracing::info!(app = %self.app_name, url = %format!("http://{addr}/mcp"), "serving MCP over streamable HTTP");
        self.status.set(Status::Connected);
        let mut stop = Stop::new(self.stop.clone(), self.shutdown_timeout);
        // Two steps to close: first the listener (the connections carrying
        // the last results finish), then the MCP sessions (whose event
        // streams would otherwise stay open for ever).
        let closing = CancellationToken::new();
        let server = axum::serve(listener, router)
            .with_graceful_shutdown({
                let closing = closing.clone();
                async move { closing.cancelled().await }
            })
            .into_future();
        tokio::pin!(server);
        let failed = |err: std::io::Error| Error::Connection(format!("MCP over HTTP: {err}"));
        tokio::select! {
            ended = &mut server => {
                self.status.set(Status::Stopped);
                return ended.map_err(failed);
            }
            () = stop.requested() => {}
        }
        // The server keeps answering while the calls in flight finish.
        tokio::select! {
            () = self.drain(stop.deadline()) => {}
            ended = &mut server => {
                self.status.set(Status::Stopped);
                return ended.map_err(failed);
            }
        }
        closing.cancel();
        if tokio::time::timeout(LINGER, &mut server).await.is_err() {
            // Event streams still open: end the sessions, then the server.
            ct.cancel();
            let _ = tokio::time::timeout(LINGER, &mut server).await;
        }
        ct.cancel();
        self.status.set(Status::Stopped);
        Ok(())
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

    /// A stop: new calls are refused; waits for the calls in flight until
    /// `deadline`, then cancels those still running.
    async fn drain(&self, deadline: Option<tokio::time::Instant>) {
        self.dispatcher.refuse_new();
        let idle = self.dispatcher.idle();
        match deadline {
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, idle).await.is_err() {
                    tracing::warn!(
                        in_flight = self.dispatcher.in_flight(),
                        "shutdown deadline reached with calls still running: cancelled"
                    );
                    self.dispatcher.abandon();
                }
            }
            None => idle.await,
        }
    }
}

/// The server's own origin under each loopback name.
fn own_origins(port: u16) -> impl Iterator<Item = String> {
    ["localhost", "127.0.0.1", "[::1]"]
        .into_iter()
        .map(move |host| format!("http://{host}:{port}"))
}
