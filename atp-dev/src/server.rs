//! [`DevServer`]: start the server in-process, call it, inspect it, inject
//! faults, shut it down. What tests and the CLI use.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atp_sdk::protocol::{RegisterToolRequest, RequestId};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::AppState;
use crate::guard::GuardConfig;
use crate::http::router;
use crate::hub::{
    AnnounceRecord, CallError, CallOptions, CallOutcome, Hub, HubConfig, RawFrame, ToolInfo,
};
use crate::listener::{Connections, Listener, Peer};

/// A wait that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WaitError(String);

/// Configures a [`DevServer`].
#[derive(Debug, Clone)]
#[must_use = "call .start() to run the server"]
pub struct DevServerBuilder {
    addr: SocketAddr,
    api_key: Option<String>,
    call_timeout: Duration,
    max_body_bytes: usize,
    max_frame_bytes: usize,
    inbox_liveness: Duration,
    lost_call_grace: Duration,
    allow_hosts: Vec<String>,
    allow_origins: Vec<String>,
    max_streams_per_client: usize,
    shutdown_timeout: Duration,
}

impl Default for DevServerBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: None,
            call_timeout: Duration::from_secs(30),
            max_body_bytes: 1 << 20,
            max_frame_bytes: 16 << 20,
            inbox_liveness: Duration::from_secs(60),
            lost_call_grace: Duration::from_secs(2),
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            max_streams_per_client: 64,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl DevServerBuilder {
    /// The address to listen on; default `127.0.0.1:0` (any free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accept only this API key, on every API: toolkits send it as ever
    /// (others get HTTP 401, or a WebSocket close with code 1008); the dev
    /// API (`/api/dev/*`) needs `Authorization: Bearer <key>`; the
    /// LLM-client API checks it as the reference client sends it. Default:
    /// any key, and the dev API open (to this machine only: see
    /// [`allow_host`](Self::allow_host)).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Answers requests for this host name too (`Host: name[:port]`),
    /// besides `localhost` and IP addresses; any other name is refused
    /// with 403, which is what stops a DNS-rebinding page.
    pub fn allow_host(mut self, name: impl Into<String>) -> Self {
        self.allow_hosts.push(name.into());
        self
    }

    /// Accepts requests from pages of this origin too (`http://host:port`)
    /// on the dev API, the event streams and the WebSockets, besides
    /// atp-dev's own pages; a request with any other `Origin` is refused
    /// with 403.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allow_origins
            .push(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// At most this many event streams and WebSockets (toolkits included)
    /// open at once from one client address; past it, 429. Default 64.
    pub fn max_streams_per_client(mut self, n: usize) -> Self {
        self.max_streams_per_client = n.max(1);
        self
    }

    /// How long [`DevServer::shutdown`] waits for open connections (a
    /// client that stopped reading an event stream, say) before it drops
    /// them; default 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long a call waits for the toolkit's answer; default 30 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The largest HTTP request body accepted; default 1 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The largest WebSocket message accepted from a toolkit; default 16 MiB.
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame_bytes = bytes;
        self
    }

    /// How long after its last poll an inbox toolkit counts as connected;
    /// default 60 s.
    pub fn inbox_liveness(mut self, window: Duration) -> Self {
        self.inbox_liveness = window;
        self
    }

    /// How long a call whose toolkit connection closed may still be
    /// answered before it fails with [`CallError::ToolkitGone`]; default
    /// 2 s. A toolkit that reconnects delivers its answers within that
    /// (the SDK reconnects in under a second and resends what it owes); a
    /// replica that was killed never does, and its callers are not left
    /// waiting for their whole time limit.
    pub fn lost_call_grace(mut self, grace: Duration) -> Self {
        self.lost_call_grace = grace;
        self
    }

    /// Binds and starts serving in the background.
    pub async fn start(self) -> io::Result<DevServer> {
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let local_addr = listener.local_addr()?;
        let guard = Arc::new(GuardConfig {
            api_key: self.api_key.clone(),
            allow_hosts: self.allow_hosts,
            allow_origins: self.allow_origins,
            max_streams_per_client: self.max_streams_per_client,
        });
        let hub = Arc::new(Hub::new(HubConfig {
            api_key: self.api_key,
            call_timeout: self.call_timeout,
            inbox_liveness: self.inbox_liveness,
            lost_call_grace: self.lost_call_grace,
        }));
        let app = router(
            AppState {
                hub: hub.clone(),
                max_frame_bytes: self.max_frame_bytes,
                guard,
                streams: Arc::default(),
            },
            self.max_body_bytes,
        );
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let connections = Arc::new(Connections::default());
        let open = connections.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            let listener = Listener::new(listener, connections);
            let app = app.into_make_service_with_connect_info::<Peer>();
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%err, "server error");
            }
        });
        tracing::debug!(%local_addr, "atp-dev listening");
        Ok(DevServer {
            inner: Arc::new(Inner {
                hub,
                local_addr,
                stop: stop_tx,
                task: std::sync::Mutex::new(Some(task)),
                shutdown_timeout: self.shutdown_timeout,
                connections: open,
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    hub: Arc<Hub>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    shutdown_timeout: Duration,
    connections: Arc<Connections>,
}

/// A running local ATP server. Cheap to clone: clones share the server.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use serde_json::json;
///
/// let server = atp_dev::DevServer::start().await?;      // 127.0.0.1, any free port
/// println!("ATP_BASE_URL={}", server.base_url());
/// // ... start a toolkit against server.base_url() ...
/// server.wait_for_tools(&["echo"], Duration::from_secs(10)).await?;
/// let answer = server.call("echo", json!({"text": "hi"}), None).await?;
/// println!("{} in {:?}", answer.result, answer.latency);
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DevServer {
    inner: Arc<Inner>,
}

impl DevServer {
    /// Configures a server.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder::default()
    }

    /// Starts a server with the defaults (127.0.0.1, any free port, any key).
    pub async fn start() -> io::Result<DevServer> {
        Self::builder().start().await
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Starts an app session (`atp_app_request`) and waits for its first
    /// UI; the outcome's `request_id` is the session's id.
    pub async fn app_start(
        &self,
        app: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<CallOutcome, CallError> {
        self.hub().app_start(app, params, options).await
    }

    /// Sends a user action (`atp_app_action`) to a session and waits for
    /// the next UI. Actions of one session go one at a time (a second
    /// while one waits is [`CallError::SessionBusy`]), to the connection
    /// that started it.
    pub async fn app_action(
        &self,
        session: &str,
        action_data: Value,
        timeout: Option<Duration>,
    ) -> Result<CallOutcome, CallError> {
        self.hub().app_action(session, action_data, timeout).await
    }

    /// Ends a session (`atp_app_terminate`); the toolkit's answer, or
    /// `None` if it gave none within `wait`.
    pub async fn app_end(&self, session: &str, wait: Duration) -> Result<Option<Value>, CallError> {
        self.hub().app_end(session, wait).await
    }

    /// How many times toolkits polled the HTTP inbox since the start.
    pub fn inbox_polls(&self) -> u64 {
        self.hub().inbox_polls()
    }

    /// The playground's address, the same as [`base_url`](Self::base_url)
    /// with a trailing `/`: open it in a browser.
    pub fn playground_url(&self) -> String {
        format!("{}/", self.base_url())
    }

    /// The last 100 finished calls through this server, from any client,
    /// oldest first (what the playground's live log starts with).
    pub fn recent_calls(&self) -> Vec<crate::CallEvent> {
        self.hub().call_log().recent()
    }

    /// The base URL toolkits use (`ATP_BASE_URL`), e.g. `http://127.0.0.1:8787`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.local_addr)
    }

    fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// Waits until every named tool is registered by a connected toolkit.
    pub async fn wait_for_tools(&self, names: &[&str], timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(timeout, |hub| hub.tools_ready(names).then_some(()))
            .await
            .ok_or_else(|| {
                let connected: Vec<String> = self.tools().into_iter().map(|t| t.name).collect();
                WaitError(format!(
                    "tools {names:?} not all connected within {timeout:?} (connected: {connected:?})"
                ))
            })
    }

    /// Waits until exactly `n` toolkit WebSocket connections are open.
    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(timeout, |hub| (hub.connection_count() == n).then_some(()))
            .await
            .ok_or_else(|| {
                WaitError(format!(
                    "{} connections instead of {n} after {timeout:?}",
                    self.hub().connection_count()
                ))
            })
    }

    /// Waits until toolkits have opened at least `n` WebSocket connections
    /// in total since the server started (see [`connects`](Self::connects)):
    /// after a fault, `wait_for_connects(before + 1, ..)` waits for the
    /// reconnection.
    pub async fn wait_for_connects(&self, n: u64, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(timeout, |hub| (hub.connects() >= n).then_some(()))
            .await
            .ok_or_else(|| {
                WaitError(format!(
                    "{} connects instead of {n} after {timeout:?}",
                    self.hub().connects()
                ))
            })
    }

    /// Calls a tool (with an optional auth token) and waits for the answer.
    pub async fn call(
        &self,
        tool: &str,
        params: Value,
        auth_token: Option<&str>,
    ) -> Result<CallOutcome, CallError> {
        let options = CallOptions {
            auth_token: auth_token.map(str::to_owned),
            ..CallOptions::default()
        };
        self.hub().call(tool, params, options).await
    }

    /// Calls a tool with options (token, time limit, toolkit).
    pub async fn call_with(
        &self,
        tool: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<CallOutcome, CallError> {
        self.hub().call(tool, params, options).await
    }

    /// The tools of every connected toolkit, sorted by name.
    pub fn tools(&self) -> Vec<ToolInfo> {
        self.hub().tools()
    }

    /// The latest `register_tool` body of each tool of each key, in the
    /// order the tools were first registered (a re-announce replaces its
    /// tool's body).
    pub fn registrations(&self) -> Vec<RegisterToolRequest> {
        self.hub().registrations_list()
    }

    /// The announce requests received, oldest first: the latest thousand.
    pub fn announce_log(&self) -> Vec<AnnounceRecord> {
        self.hub().announce_log()
    }

    /// What the server holds now: requests waiting for answers, app
    /// sessions, inboxes, connections, stray answers. Every one is
    /// bounded: a waiting request by its time limit, sessions by their
    /// connection, inboxes by their liveness window, stray answers by count
    /// and bytes.
    pub fn stats(&self) -> crate::ServerStats {
        self.hub().stats()
    }

    /// Open toolkit WebSocket connections.
    pub fn connection_count(&self) -> usize {
        self.hub().connection_count()
    }

    /// Fault injection: sends `frame` as it is to every toolkit
    /// connection (garbage, a binary frame, a request for a tool nobody
    /// has...). Returns how many connections it went to.
    pub fn send_raw(&self, frame: RawFrame) -> usize {
        self.hub().send_raw(&frame)
    }

    /// Answers that came for no waiting call (late ones, and those to
    /// requests sent with [`send_raw`](Self::send_raw)), oldest first; the
    /// latest thousand are kept.
    pub fn stray_answers(&self) -> Vec<(RequestId, Value)> {
        self.hub().stray_answers()
    }

    /// Waits until at least `n` stray answers have been kept.
    pub async fn wait_for_stray_answers(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<(RequestId, Value)>, WaitError> {
        self.wait_until(timeout, |hub| {
            let stray = hub.stray_answers();
            (stray.len() >= n).then_some(stray)
        })
        .await
        .ok_or_else(|| {
            WaitError(format!(
                "{} stray answers instead of {n} after {timeout:?}",
                self.hub().stray_answers().len()
            ))
        })
    }

    /// Polls `ready` on every change of the hub until it gives a value.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&Hub) -> Option<T>,
    ) -> Option<T> {
        let mut changed = self.hub().subscribe();
        let wait = async {
            loop {
                if let Some(value) = ready(self.hub()) {
                    return value;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Toolkit WebSocket connections accepted since the server started
    /// (those of a key it refuses are not counted).
    pub fn connects(&self) -> u64 {
        self.hub().connects()
    }

    /// Fault injection: drops every toolkit WebSocket at once (the TCP
    /// connection closes with no close frame). Returns how many.
    pub fn drop_connections(&self) -> usize {
        self.hub().drop_connections()
    }

    /// Stops the server: closes every toolkit connection, fails the calls
    /// still waiting, stops listening, and returns once the port is free —
    /// within the shutdown timeout (5 s): connections still open then (a
    /// client that stopped reading, say) are dropped.
    pub async fn shutdown(&self) {
        self.hub().close();
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut task) = task else { return };
        if tokio::time::timeout(self.inner.shutdown_timeout, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("connections still open at the shutdown deadline: dropped");
            self.inner.connections.drop_all();
            task.abort();
            let _ = task.await;
        }
    }
}
