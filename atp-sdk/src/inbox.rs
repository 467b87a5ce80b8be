//! The HTTP inbox session (protocol section 4), for hosts that can't hold
//! a WebSocket open: announce → poll → ... until stopped.
//!
//! - **Polling adapts**: after a request the inbox is polled again at once;
//!   while it is empty the wait between polls doubles from
//!   [`poll_interval`](crate::ToolKitClientBuilder::poll_interval)'s
//!   minimum (50 ms) to its maximum (2 s). A busy toolkit is as fast as
//!   the round trip; an idle one polls every 2 s.
//! - **Calls run as over the WebSocket**: the same dispatcher, so the same
//!   validation, token, time limits, limits and error texts.
//! - **Answers are retried**: each is posted in its own task, retried with
//!   backoff on a network error, a 5xx or a 429 (up to [`POST_ATTEMPTS`]
//!   attempts over about 6 to 11 s), and logged by request id if it can't
//!   be delivered. A 4xx means the server will never take it (a call it
//!   forgot, say): logged, not retried. A
//!   response holds its call's admission slot until it is delivered, so
//!   an unreachable server makes the toolkit take fewer calls, not pile up
//!   answers.
//! - **A poll is never cancelled**: the server has already handed over a
//!   request it returns. A stop waits for the poll in progress (what it
//!   brought is served like any call in flight), lets the calls in flight
//!   finish, and posts their answers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

use crate::announce::{AnnounceError, Announcer};
use crate::client::Config;
use crate::connection::{Backoff, stopped};
use crate::dispatch::{Dispatcher, Outgoing};
use crate::error::Error;
use crate::protocol::{InboxResponse, ToolkitMessage, inbox_path, inbox_respond_path};
use crate::registry::Registry;

/// How many times an answer is posted before it is given up (logged).
pub(crate) const POST_ATTEMPTS: u32 = 8;

/// The first and the longest wait between two posts of an answer (with
/// jitter): eight attempts span about 6 to 11 seconds.
const POST_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// The wait before the next poll: none after a request, doubling from
/// `min` to `max` while the inbox stays empty.
#[derive(Debug, Clone)]
pub(crate) struct PollDelay {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl PollDelay {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            next: Duration::ZERO,
        }
    }

    /// The wait after a poll that brought a request (none), or that found
    /// the inbox empty (growing).
    pub(crate) fn after(&mut self, hit: bool) -> Duration {
        if hit {
            self.next = Duration::ZERO;
            return Duration::ZERO;
        }
        let wait = self.next.max(self.min);
        self.next = wait.saturating_mul(2).min(self.max);
        wait
    }
}

/// What one poll found.
enum Polled {
    /// A request (or a frame to answer at once), as a WebSocket-shaped frame.
    Item(Vec<u8>),
    Empty,
    /// The server refused the key.
    Refused(String),
    /// Try again later.
    Failed(String),
}

pub(crate) struct InboxSession {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) announcer: Announcer,
    pub(crate) stop: watch::Receiver<bool>,
}

impl InboxSession {
    /// Runs until stopped (`Ok`) or a fatal error.
    pub(crate) async fn run(mut self) -> Result<(), Error> {
        let dispatcher = Dispatcher::new(self.registry.clone(), self.config.limits);
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Outgoing>();
        let poster = Poster {
            http: self.announcer.http.clone(),
            url: format!(
                "{}{}",
                self.config.base_url,
                inbox_respond_path(&self.config.api_key)
            ),
            backoff: POST_BACKOFF,
        };
        let posting = tokio::spawn(poster.clone().run(out_rx));
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
        let result = loop {
            match self.announce().await {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(Some(err)) => break Err(err),
                Err(None) => {
                    if !self.back_off(&mut backoff, "announce failed").await {
                        break Ok(());
                    }
                    continue;
                }
            }
            tracing::info!(server = %self.config.base_url, "polling the inbox");
            match self
                .serve(&dispatcher, &out_tx, &poster, &mut backoff)
                .await
            {
                Served::Stopped => break Ok(()),
                Served::Fatal(err) => break Err(err),
                Served::Lost(reason) => {
                    if !self.back_off(&mut backoff, &reason).await {
                        break Ok(());
                    }
                }
            }
        };
        self.drain(&dispatcher).await;
        drop(out_tx);
        // The calls are done (or past the deadline); give their answers
        // the time that is left to be delivered.
        let _ = tokio::time::timeout(self.config.shutdown_timeout, posting).await;
        result
    }

    /// `Ok(true)`: announced; `Ok(false)`: stopped; `Err(Some)`: fatal;
    /// `Err(None)`: retry.
    async fn announce(&mut self) -> Result<bool, Option<Error>> {
        let announce = self.announcer.announce(&self.registry);
        let result = tokio::select! {
            result = announce => result,
            _ = stopped(&mut self.stop) => return Ok(false),
        };
        match result {
            Ok(report) => {
                tracing::info!(
                    tools = self.registry.tools().len(),
                    registered = report.registered,
                    unchanged = report.unchanged,
                    refused = report.refused,
                    "tools announced"
                );
                Ok(true)
            }
            Err(AnnounceError::Rejected(why)) => Err(Some(Error::Unauthorized(why))),
            Err(AnnounceError::Retry(why)) => {
                tracing::warn!(%why, "announce failed");
                Err(None)
            }
        }
    }

    /// Waits before the next attempt; `false` if stopped meanwhile.
    async fn back_off(&mut self, backoff: &mut Backoff, reason: &str) -> bool {
        let delay = backoff.next_delay();
        tracing::warn!(%reason, ?delay, "inbox unreachable; retrying");
        tokio::select! {
            _ = sleep(delay) => true,
            _ = stopped(&mut self.stop) => false,
        }
    }

    async fn serve(
        &mut self,
        dispatcher: &Dispatcher,
        out: &mpsc::UnboundedSender<Outgoing>,
        poster: &Poster,
        backoff: &mut Backoff,
    ) -> Served {
        let url = format!(
            "{}{}",
            self.config.base_url,
            inbox_path(&self.config.api_key)
        );
        let mut delay = PollDelay::new(self.config.poll_min, self.config.poll_max);
        loop {
            if *self.stop.borrow() {
                return Served::Stopped;
            }
            // Not raced against a stop: a request the server handed over
            // must be answered.
            let polled = self.poll(&url).await;
            let hit = match polled {
                Polled::Item(frame) => {
                    backoff.reset();
                    // An answer due at once (a malformed request, an
                    // overload) is posted before polling on.
                    if let Some(answer) = dispatcher.handle(&frame, out) {
                        poster.deliver(answer).await;
                    }
                    true
                }
                Polled::Empty => {
                    backoff.reset();
                    false
                }
                Polled::Refused(why) => return Served::Fatal(Error::Unauthorized(why)),
                Polled::Failed(why) => return Served::Lost(why),
            };
            let wait = delay.after(hit);
            if !wait.is_zero() {
                tokio::select! {
                    _ = sleep(wait) => {}
                    _ = stopped(&mut self.stop) => return Served::Stopped,
                }
            }
        }
    }

    async fn poll(&self, url: &str) -> Polled {
        let response = match self.announcer.http.get(url).send().await {
            Ok(response) => response,
            Err(err) => return Polled::Failed(format!("poll failed: {}", describe(err))),
        };
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            return Polled::Refused(format!("HTTP {status} on the inbox"));
        }
        if !status.is_success() {
            return Polled::Failed(format!("poll answered HTTP {status}"));
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(err) => return Polled::Failed(format!("poll failed: {}", describe(err))),
        };
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(item)) if item.is_empty() => Polled::Empty,
            Ok(Value::Null) => Polled::Empty,
            Ok(Value::Object(item)) => Polled::Item(as_frame(item)),
            Ok(_) | Err(_) => {
                tracing::debug!("inbox answer ignored: not a JSON object");
                Polled::Empty
            }
        }
    }

    /// After a stop: the calls in flight finish (up to the shutdown
    /// timeout).
    async fn drain(&self, dispatcher: &Dispatcher) {
        let inflight = dispatcher.inflight().clone();
        tracing::info!(in_flight = inflight.count(), "stopping");
        if tokio::time::timeout(self.config.shutdown_timeout, inflight.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = inflight.count(),
                "calls still running at the shutdown deadline"
            );
        }
    }
}

/// How serving ended.
enum Served {
    Stopped,
    Lost(String),
    Fatal(Error),
}

/// An inbox item as the WebSocket frame that carries the same request, so
/// one lenient decoder serves both transports: `{"message_type": <the
/// item's, or atp_tool_request>, "payload": <the item>}`.
fn as_frame(mut item: Map<String, Value>) -> Vec<u8> {
    let message_type = match item.remove("message_type") {
        Some(Value::String(kind)) => kind,
        _ => "atp_tool_request".to_owned(),
    };
    let frame = serde_json::json!({ "message_type": message_type, "payload": item });
    serde_json::to_vec(&frame).expect("a JSON value always serializes")
}

/// The body of an inbox answer, from the response frame the dispatcher
/// encoded.
fn respond_body(frame: &str) -> Option<InboxResponse> {
    match serde_json::from_str::<ToolkitMessage>(frame).ok()? {
        ToolkitMessage::ToolResponse { request_id, result }
        | ToolkitMessage::AppResponse { request_id, result } => Some(InboxResponse {
            request_id,
            response: result,
        }),
    }
}

/// Posts answers to the inbox, each in its own task, with retries.
#[derive(Clone)]
struct Poster {
    http: reqwest::Client,
    url: String,
    /// First and longest wait between attempts.
    backoff: (Duration, Duration),
}

/// What delivering one answer came to.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Delivered,
    /// The server will never take it (a 4xx): retrying can't help.
    Refused(u16),
    GaveUp,
}

impl Poster {
    /// Delivers every answer that comes on `rx`, until it closes and the
    /// deliveries in progress end.
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(out) => {
                        let this = self.clone();
                        tasks.spawn(async move {
                            this.deliver(out.text.as_str().to_owned()).await;
                            drop(out); // frees the call's slot
                        });
                    }
                    None => break,
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Posts one answer (a response frame's text), retrying on network
    /// errors and 5xx.
    async fn deliver(&self, frame: String) -> Delivery {
        let Some(body) = respond_body(&frame) else {
            tracing::error!("an answer could not be turned into an inbox response");
            return Delivery::GaveUp;
        };
        let mut backoff = Backoff::new(self.backoff.0, self.backoff.1);
        let started = Instant::now();
        for attempt in 1..=POST_ATTEMPTS {
            let why = match self.http.post(&self.url).json(&body).send().await {
                Ok(res) if res.status().is_success() => return Delivery::Delivered,
                Ok(res) if res.status().is_client_error() && res.status().as_u16() != 429 => {
                    tracing::warn!(
                        request_id = %body.request_id,
                        status = res.status().as_u16(),
                        "the server refused an answer (late, or for a call it forgot)"
                    );
                    return Delivery::Refused(res.status().as_u16());
                }
                Ok(res) => format!("HTTP {}", res.status()),
                Err(err) => describe(err),
            };
            if attempt < POST_ATTEMPTS {
                let delay = backoff.next_delay();
                tracing::debug!(request_id = %body.request_id, attempt, %why, ?delay, "answer not delivered; retrying");
                sleep(delay).await;
            } else {
                tracing::error!(
                    request_id = %body.request_id,
                    attempts = POST_ATTEMPTS,
                    elapsed = ?started.elapsed(),
                    %why,
                    "answer could not be delivered; given up"
                );
            }
        }
        Delivery::GaveUp
    }
}

/// A reqwest error's text, safe to log: the URL (which holds the API key)
/// is left out.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{self, Inbound};
    use crate::protocol::RequestId;

    #[test]
    fn polling_is_immediate_after_a_hit_and_backs_off_while_empty() {
        let mut delay = PollDelay::new(Duration::from_millis(50), Duration::from_secs(2));
        assert_eq!(delay.after(true), Duration::ZERO);
        let waits: Vec<u128> = (0..8).map(|_| delay.after(false).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(delay.after(true), Duration::ZERO);
        assert_eq!(delay.after(false), Duration::from_millis(50), "starts over");
    }

    #[test]
    fn items_become_frames_for_the_shared_decoder() {
        let item = serde_json::json!({"request_id": "r1", "tool_name": "t", "params": {"a": 1}, "auth_token": "tok"});
        let Value::Object(item) = item else {
            unreachable!()
        };
        match dispatch::decode(&as_frame(item)) {
            Inbound::Call(request) => {
                assert_eq!(request.request_id.to_string(), "r1");
                assert_eq!(request.tool_name, "t");
                assert_eq!(request.auth_token.unwrap().as_str(), "tok");
            }
            other => panic!("{other:?}"),
        }
        let reply = dispatch::encode_response(RequestId::from("r1"), Ok(serde_json::json!(3)));
        let body = respond_body(&reply).unwrap();
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            serde_json::json!({"request_id": "r1", "response": 3})
        );
    }
}
