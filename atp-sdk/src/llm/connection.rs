//! The LLM client's WebSocket: one connection, opened on the first
//! request and authenticated with an `auth` message; requests are matched
//! to their replies by `request_id`, so many are in flight at once. After
//! a drop the requests waiting fail (a tool call may have run: it is not
//! sent twice) and the next request connects again, after a backoff that
//! grows while connecting fails. A server that goes silent is found by
//! ping: no frame within `ping_timeout` of a ping (or a write that makes
//! no progress for `ping_interval + ping_timeout`) ends the connection,
//! its waiting requests fail at once, and the next request connects anew.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, timeout, timeout_at};
use tokio_websockets::{Connector, MaybeTlsStream, Message, WebSocketStream};

use super::LlmError;
use crate::backoff::Backoff;
use crate::protocol::{LlmReply, LlmRequest, llm_client_path};
use crate::secret::ApiKey;
use crate::ws_connect::{self, Refused};

/// How long the server has to answer `auth` (as the reference client waits).
const AUTH_WAIT: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Waiter = oneshot::Sender<Result<Value, LlmError>>;

/// A request on its way, and where its reply goes.
struct Outgoing {
    id: String,
    text: String,
    reply: Waiter,
}

/// How a connection finds out that the server went silent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive {
    /// How often to ping.
    pub(crate) interval: Duration,
    /// How long past a ping the server may stay silent.
    pub(crate) timeout: Duration,
}

/// The connection's handle: requests go to its task.
pub(crate) struct Connection {
    ws_base: String,
    api_key: ApiKey,
    connector: Arc<Connector>,
    timeout: Duration,
    keepalive: Keepalive,
    /// The task serving the open connection, if any.
    task: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    /// When the next connection attempt may start, after failures.
    retry: Mutex<(Backoff, Option<Instant>)>,
}

impl Connection {
    pub(crate) fn new(
        ws_base: &str,
        api_key: ApiKey,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
        keepalive: Keepalive,
    ) -> Self {
        Self {
            ws_base: ws_base.to_owned(),
            api_key,
            connector: Arc::new(Connector::Rustls(tokio_rustls::TlsConnector::from(tls))),
            timeout,
            keepalive,
            task: Mutex::new(None),
            retry: Mutex::new((
                Backoff::new(Duration::from_millis(250), Duration::from_secs(10)),
                None,
            )),
        }
    }

    /// Sends a request and waits for its reply (its fields). The time
    /// limit covers it all: a backoff before connecting, the handshake,
    /// and the wait for the reply.
    pub(crate) async fn request(&self, request: LlmRequest) -> Result<Value, LlmError> {
        let deadline = Instant::now() + self.timeout;
        let id = match &request {
            LlmRequest::GetToolkitContext { request_id, .. }
            | LlmRequest::TaskRequest { request_id, .. } => request_id.clone(),
            LlmRequest::Auth { .. } => String::new(),
        };
        let text = serde_json::to_string(&request).expect("a request always serializes");
        let (reply, answer) = oneshot::channel();
        let send = async {
            let mut outgoing = Some(Outgoing { id, text, reply });
            // Twice at most: a task that just ended takes the first try.
            for _ in 0..2 {
                let tx = self.task().await?;
                match tx.send(outgoing.take().expect("set")) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::SendError(back)) => {
                        *self.task.lock().await = None;
                        outgoing = Some(back);
                    }
                }
            }
            Err(LlmError::Connection("the connection closed".to_owned()))
        };
        match timeout_at(deadline, send).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(LlmError::Timeout(self.timeout)),
        }
        match timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(LlmError::Connection("the connection closed".to_owned())),
            Err(_) => Err(LlmError::Timeout(self.timeout)),
        }
    }

    /// The open connection's task, connecting if there is none.
    async fn task(&self) -> Result<mpsc::UnboundedSender<Outgoing>, LlmError> {
        let mut task = self.task.lock().await;
        if let Some(tx) = task.as_ref().filter(|tx| !tx.is_closed()) {
            return Ok(tx.clone());
        }
        // Not before the backoff allows.
        let wait_until = self.retry.lock().await.1;
        if let Some(at) = wait_until {
            tokio::time::sleep_until(at).await;
        }
        match self.connect().await {
            Ok(ws) => {
                self.retry.lock().await.0.reset();
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(serve(ws, rx, self.keepalive));
                *task = Some(tx.clone());
                Ok(tx)
            }
            Err(err) => {
                let mut retry = self.retry.lock().await;
                let delay = retry.0.next_delay();
                retry.1 = Some(Instant::now() + delay);
                Err(err)
            }
        }
    }

    /// Opens and authenticates a connection.
    async fn connect(&self) -> Result<Ws, LlmError> {
        let url = format!("{}{}", self.ws_base, llm_client_path(&self.api_key));
        let opened = ws_connect::open(&url, &self.connector, 64 << 20, AUTH_WAIT, |tcp| tcp).await;
        let mut ws = match opened {
            Ok(ws) => ws,
            Err(Refused::InvalidUrl) => {
                return Err(LlmError::Config("the WebSocket URL is invalid".to_owned()));
            }
            Err(Refused::Unauthorized(status)) => {
                return Err(LlmError::Unauthorized(format!(
                    "HTTP {status} on the WebSocket handshake"
                )));
            }
            Err(Refused::Failed(err)) => return Err(LlmError::Connection(err.to_string())),
            Err(Refused::TimedOut(limit)) => return Err(LlmError::Timeout(limit)),
        };
        let auth = LlmRequest::Auth {
            api_key: self.api_key.clone(),
        };
        let auth = serde_json::to_string(&auth).expect("a request always serializes");
        ws.send(Message::text(auth))
            .await
            .map_err(|err| LlmError::Connection(err.to_string()))?;
        let answer = timeout(AUTH_WAIT, async {
            while let Some(message) = ws.next().await {
                let message = message.map_err(|err| LlmError::Connection(err.to_string()))?;
                if let Some((code, reason)) = message.as_close() {
                    return Err(LlmError::Unauthorized(format!(
                        "the server closed the connection ({}, {reason})",
                        u16::from(code)
                    )));
                }
                let Some(text) = message.as_text() else {
                    continue;
                };
                if let Ok(LlmReply::AuthResponse { success, error }) = serde_json::from_str(text) {
                    return if success {
                        Ok(())
                    } else {
                        Err(LlmError::Unauthorized(
                            error.unwrap_or_else(|| "refused".to_owned()),
                        ))
                    };
                }
            }
            Err(LlmError::Connection(
                "closed before authenticating".to_owned(),
            ))
        })
        .await;
        match answer {
            Ok(Ok(())) => Ok(ws),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(LlmError::Timeout(AUTH_WAIT)),
        }
    }
}

/// Serves one connection: writes requests, routes replies, pings, until
/// it closes or goes silent (the requests still waiting then fail).
async fn serve(mut ws: Ws, mut requests: mpsc::UnboundedReceiver<Outgoing>, keepalive: Keepalive) {
    let mut waiting: HashMap<String, Waiter> = HashMap::new();
    // A write that makes no progress this long means a dead peer.
    let write_limit = keepalive.interval.saturating_add(keepalive.timeout);
    let mut ping =
        tokio::time::interval_at(Instant::now() + keepalive.interval, keepalive.interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Set while a ping waits for any frame from the server.
    let mut silent_since: Option<Instant> = None;
    let why = loop {
        let pong_deadline = silent_since.map(|at| at + keepalive.timeout);
        tokio::select! {
            request = requests.recv() => {
                let Some(Outgoing { id, text, reply }) = request else {
                    // Every client is gone: close politely.
                    let _ = timeout(write_limit, ws.close()).await;
                    return;
                };
                match timeout(write_limit, ws.send(Message::text(text))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        let _ = reply.send(Err(LlmError::Connection(err.to_string())));
                        break err.to_string();
                    }
                    Err(_) => {
                        let _ = reply.send(Err(LlmError::Connection(SILENT.to_owned())));
                        break SILENT.to_owned();
                    }
                }
                // Requests whose caller gave up (its time limit) are
                // forgotten, so abandoned waits can't pile up.
                waiting.retain(|_, waiter| !waiter.is_closed());
                waiting.insert(id, reply);
            }
            _ = ping.tick() => {
                if silent_since.is_none() {
                    match timeout(write_limit, ws.send(Message::ping(&b""[..]))).await {
                        Ok(Ok(())) => silent_since = Some(Instant::now()),
                        Ok(Err(err)) => break err.to_string(),
                        Err(_) => break SILENT.to_owned(),
                    }
                }
            }
            () = sleep_until_some(pong_deadline) => break SILENT.to_owned(),
            message = ws.next() => match message {
                Some(Ok(message)) => {
                    // Anything from the server shows it is alive.
                    silent_since = None;
                    if message.is_close() {
                        break "the server closed the connection".to_owned();
                    }
                    let Some(text) = message.as_text() else { continue };
                    let Ok(mut reply) = serde_json::from_str::<Value>(text) else { continue };
                    let Some(id) = reply.get("request_id").and_then(Value::as_str).map(str::to_owned) else {
                        continue;
                    };
                    if let Some(waiter) = waiting.remove(&id) {
                        if let Some(map) = reply.as_object_mut() {
                            map.remove("type");
                        }
                        let _ = waiter.send(Ok(reply));
                    }
                }
                Some(Err(err)) => break err.to_string(),
                None => break "the server closed the connection".to_owned(),
            },
        }
    };
    tracing::debug!(reason = %why, "LLM-client connection ended");
    for (_, waiter) in waiting {
        let _ = waiter.send(Err(LlmError::Connection(why.clone())));
    }
}

/// Why a connection whose server went silent was given up.
const SILENT: &str = "the server stopped answering (no pong in time)";

/// Sleeps until `at`, or for ever when there is no `at`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
