//! The WebSocket session (protocol section 2) as an explicit state
//! machine: announce → connect → serve → back off → ... until stopped.
//!
//! One outbound queue outlives the connections: a response that could not
//! be written before a drop is kept and written first after the reconnect.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep, timeout};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::announce::{AnnounceError, Announcer};
use crate::client::Config;
use crate::dispatch::{self, Dispatcher, Inbound, Outgoing, Reply};
use crate::error::Error;
use crate::protocol::websocket_path;
use crate::registry::Registry;
use crate::tool::CallError;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The states of a session. Each step of [`Session::run`] turns one into
/// the next.
#[derive(Debug)]
enum State {
    /// Tell the server about the tools.
    Announcing,
    /// Open the WebSocket.
    Connecting,
    /// Serve requests on an open socket.
    Serving(Box<Ws>),
    /// Wait before trying again, after `reason`.
    BackingOff(String),
    /// Stopped (or a fatal error): leave the loop.
    Closed(Result<(), Error>),
}

/// How long a connection must last for the backoff to start over.
const STABLE_CONNECTION: Duration = Duration::from_secs(5);

/// How serving one connection ended.
enum Ended {
    Stopped,
    Dropped(String),
    Fatal(Error),
}

/// Exponential backoff with a cap and jitter: the n-th delay is drawn
/// from `[d/2, d]` where `d = min(cap, base * 2^n)`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Back to the first delay (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

pub(crate) struct Session {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) announcer: Announcer,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Session {
    /// Runs until stopped (`Ok`) or a fatal error.
    pub(crate) async fn run(mut self) -> Result<(), Error> {
        let dispatcher = Dispatcher::new(self.registry.clone(), self.config.limits);
        // Unbounded in type, bounded in fact: every response in it holds
        // one of the dispatcher's admission slots.
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outgoing>();
        let mut unsent = VecDeque::new();
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
        let mut state = State::Announcing;
        loop {
            state = match state {
                State::Announcing => self.announce().await,
                State::Connecting => match self.connect().await {
                    Ok(state) | Err(state) => state,
                },
                State::Serving(ws) => {
                    let connected_at = Instant::now();
                    let ended = self
                        .serve(*ws, &dispatcher, &out_tx, &mut out_rx, &mut unsent)
                        .await;
                    // A connection that held counts as a success: the next
                    // drop is retried quickly again. One that the server
                    // ends at once keeps the backoff growing.
                    if connected_at.elapsed() >= STABLE_CONNECTION {
                        backoff.reset();
                    }
                    match ended {
                        Ended::Stopped => State::Closed(Ok(())),
                        Ended::Dropped(reason) => State::BackingOff(reason),
                        Ended::Fatal(err) => State::Closed(Err(err)),
                    }
                }
                State::BackingOff(reason) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%reason, ?delay, "connection lost; reconnecting");
                    tokio::select! {
                        _ = sleep(delay) => State::Announcing,
                        _ = stopped(&mut self.stop) => State::Closed(Ok(())),
                    }
                }
                State::Closed(result) => return result,
            };
        }
    }

    async fn announce(&mut self) -> State {
        let announce = self.announcer.announce(&self.registry);
        let result = tokio::select! {
            result = announce => result,
            _ = stopped(&mut self.stop) => return State::Closed(Ok(())),
        };
        match result {
            Ok(report) if report.up_to_date => {
                tracing::info!(
                    tools = self.registry.tools().len(),
                    "tools announced (already up to date)"
                );
                State::Connecting
            }
            Ok(report) => {
                tracing::info!(
                    tools = self.registry.tools().len(),
                    registered = report.registered,
                    unchanged = report.unchanged,
                    refused = report.refused,
                    "tools announced"
                );
                State::Connecting
            }
            Err(AnnounceError::Rejected(why)) => State::Closed(Err(Error::Unauthorized(why))),
            Err(AnnounceError::Retry(why)) => State::BackingOff(format!("announce failed: {why}")),
        }
    }

    async fn connect(&mut self) -> Result<State, State> {
        let url = format!(
            "{}{}",
            self.config.ws_base,
            websocket_path(&self.config.api_key)
        );
        let connector = if url.starts_with("wss://") {
            Some(Connector::Rustls(self.config.tls.clone()))
        } else {
            None
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_frame_bytes))
            .max_frame_size(Some(self.config.max_frame_bytes));
        let connect =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_config), true, connector);
        let result = tokio::select! {
            result = timeout(self.config.connect_timeout, connect) => result,
            _ = stopped(&mut self.stop) => return Ok(State::Closed(Ok(()))),
        };
        match result {
            Ok(Ok((ws, _response))) => {
                tracing::info!(server = %self.config.base_url, "connected");
                Ok(State::Serving(Box::new(ws)))
            }
            Ok(Err(tungstenite::Error::Http(response)))
                if matches!(response.status().as_u16(), 401 | 403) =>
            {
                Err(State::Closed(Err(Error::Unauthorized(format!(
                    "HTTP {} on the WebSocket handshake",
                    response.status()
                )))))
            }
            Ok(Err(err)) => Err(State::BackingOff(format!(
                "could not connect: {}",
                describe(&err)
            ))),
            Err(_) => Err(State::BackingOff(format!(
                "no WebSocket handshake within {:?}",
                self.config.connect_timeout
            ))),
        }
    }

    async fn serve(
        &mut self,
        mut ws: Ws,
        dispatcher: &Dispatcher,
        out_tx: &mpsc::UnboundedSender<Outgoing>,
        out_rx: &mut mpsc::UnboundedReceiver<Outgoing>,
        unsent: &mut VecDeque<Outgoing>,
    ) -> Ended {
        while let Some(frame) = unsent.front() {
            if let Err(err) = ws.send(Message::Text(frame.text.clone())).await {
                return Ended::Dropped(format!("write failed: {}", describe(&err)));
            }
            unsent.pop_front();
        }
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.config.ping_interval,
            self.config.ping_interval,
        );
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_seen = Instant::now();
        loop {
            tokio::select! {
                _ = stopped(&mut self.stop) => {
                    return self.close(ws, dispatcher, out_rx).await;
                }
                frame = ws.next() => {
                    last_seen = Instant::now();
                    match frame {
                        Some(Ok(Message::Close(frame))) => return closed_by_server(frame),
                        // An answer due at once is written before reading on.
                        Some(Ok(message)) => {
                            if let Some(bytes) = data(&message)
                                && let Some(answer) = dispatcher.handle(bytes, out_tx)
                                && let Err(err) = ws.send(Message::text(answer)).await
                            {
                                return Ended::Dropped(format!("write failed: {}", describe(&err)));
                            }
                        }
                        Some(Err(err)) => return Ended::Dropped(format!("read failed: {}", describe(&err))),
                        None => return Ended::Dropped("the server closed the connection".to_owned()),
                    }
                }
                Some(frame) = out_rx.recv() => {
                    if let Err(err) = ws.send(Message::Text(frame.text.clone())).await {
                        unsent.push_back(frame);
                        return Ended::Dropped(format!("write failed: {}", describe(&err)));
                    }
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > self.config.ping_interval + self.config.ping_timeout {
                        return Ended::Dropped("the server stopped answering pings".to_owned());
                    }
                    if let Err(err) = ws.send(Message::Ping(Vec::new().into())).await {
                        return Ended::Dropped(format!("ping failed: {}", describe(&err)));
                    }
                }
            }
        }
    }

    /// Graceful stop: answer new requests with an error, let the calls in
    /// flight finish (up to the shutdown timeout), send their responses,
    /// then close the socket properly.
    async fn close(
        &mut self,
        mut ws: Ws,
        dispatcher: &Dispatcher,
        out_rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    ) -> Ended {
        let inflight = dispatcher.inflight().clone();
        tracing::info!(in_flight = inflight.count(), "stopping");
        let deadline = sleep(self.config.shutdown_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = inflight.wait_idle() => break,
                _ = &mut deadline => {
                    tracing::warn!(in_flight = inflight.count(), "calls still running at the shutdown deadline");
                    break;
                }
                Some(frame) = out_rx.recv() => {
                    if ws.send(Message::Text(frame.text)).await.is_err() {
                        return Ended::Stopped;
                    }
                }
                frame = ws.next() => {
                    let message = match frame {
                        Some(Ok(message)) => message,
                        Some(Err(_)) | None => return Ended::Stopped,
                    };
                    let Some(bytes) = data(&message) else { continue };
                    let answer = match dispatch::decode(bytes) {
                        Inbound::Call(request) => Some(dispatch::encode_response(
                            request.request_id,
                            Err(CallError::ShuttingDown),
                        )),
                        Inbound::AppStart(request) => Some(dispatch::encode(
                            Reply::App,
                            request.request_id,
                            Err(CallError::ShuttingDown),
                        )),
                        Inbound::AppAction(id, _) => Some(dispatch::encode(
                            Reply::App,
                            id,
                            Err(CallError::ShuttingDown),
                        )),
                        Inbound::AppTerminate(id) => Some(dispatcher.terminate(id)),
                        Inbound::Reject(id, err, reply) => Some(dispatch::encode(reply, id, Err(err))),
                        Inbound::Connected(_) | Inbound::Ignore(_) => None,
                    };
                    if let Some(answer) = answer
                        && ws.send(Message::text(answer)).await.is_err()
                    {
                        return Ended::Stopped;
                    }
                }
            }
        }
        while let Ok(frame) = out_rx.try_recv() {
            if ws.send(Message::Text(frame.text)).await.is_err() {
                return Ended::Stopped;
            }
        }
        let _ = ws
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "toolkit stopping".into(),
            }))
            .await;
        // Wait (briefly) for the server's Close in answer.
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
        Ended::Stopped
    }
}

fn closed_by_server(frame: Option<CloseFrame>) -> Ended {
    match frame {
        Some(frame) if frame.code == CloseCode::Policy => {
            Ended::Fatal(Error::Unauthorized(format!(
                "the server closed the connection with code 1008 ({})",
                frame.reason
            )))
        }
        Some(frame) => Ended::Dropped(format!(
            "the server closed the connection (code {}, {})",
            u16::from(frame.code),
            frame.reason
        )),
        None => Ended::Dropped("the server closed the connection".to_owned()),
    }
}

/// The payload of a text or binary frame.
fn data(message: &Message) -> Option<&[u8]> {
    match message {
        Message::Text(text) => Some(text.as_bytes()),
        Message::Binary(bytes) => Some(bytes),
        _ => None,
    }
}

/// Resolves once a stop has been asked for.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means every sender is gone: nobody can stop us any more.
    if stop.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// An error's text, safe to log: tungstenite errors never carry the URL.
fn describe(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Url(_) => "invalid WebSocket URL".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(30);
        let mut backoff = Backoff::new(base, cap);
        for attempt in 0..12u32 {
            let ceiling = (base * 2u32.pow(attempt)).min(cap);
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "attempt {attempt}: {delay:?} in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        backoff.reset();
        assert!(
            backoff.next_delay() <= Duration::from_millis(500),
            "the first retry comes within a second"
        );
    }

    #[test]
    fn backoff_jitters() {
        let mut delays: Vec<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).next_delay())
            .collect();
        delays.dedup();
        assert!(delays.len() > 1, "not every delay is the same");
    }
}
