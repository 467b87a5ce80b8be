//! The HTTP inbox link (protocol section 4), for hosts that can't hold a
//! WebSocket open: polls `GET {base}/api/v1/toolkit/{key}/inbox` for
//! requests, and posts each answer to `.../inbox/respond` in a task of its
//! own, retried with backoff while the server can't take it.
//!
//! Polling is adaptive: again at once after a request — with more polls
//! in flight while requests keep coming, up to [`MAX_POLLS`] — and back to
//! one, backing off from `poll_min` to `poll_max`, while the inbox stays
//! empty; and at once after an answer is delivered, when a caller waiting
//! on it sends its next request (without that, a miss while the toolkit's
//! own calls ran would leave the next requests waiting out the backoff). A poll in progress is never cut short before the stop's
//! deadline: the server already handed over what it returns.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use crate::backoff::Backoff;
use crate::codec::{Item, decode_item};
use crate::config::Config;
use crate::dispatch::Outgoing;
use crate::error::Error;
use crate::protocol::{RequestId, inbox_path, inbox_respond_path};
use crate::session::{Ended, Failure, Link, SessionView, until};
use crate::status::Status;

/// How many times an answer is posted before it is given up (logged).
pub(crate) const POST_ATTEMPTS: u32 = 8;

/// The most polls in flight at once, while every poll brings a request.
pub(crate) const MAX_POLLS: usize = 8;

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
    Item(Item),
    /// The server refused the key.
    Refused(String),
    /// Try again later.
    Failed(String),
}

type PollFuture = Pin<Box<dyn Future<Output = Polled> + Send>>;

/// The inbox link. Answers being posted outlive a lost connection (they
/// retry on their own) and are settled when the session ends.
pub(crate) struct InboxLink {
    http: reqwest::Client,
    poll_url: reqwest::Url,
    respond_url: reqwest::Url,
    posts: JoinSet<()>,
    /// The request id each post task delivers.
    posting: HashMap<tokio::task::Id, RequestId>,
}

impl InboxLink {
    /// The link for `config`'s server; `None` if its URLs don't parse
    /// (the base URL was checked at build time, so only a key with
    /// characters a URL can't hold).
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Option<Self> {
        let url = |path: String| reqwest::Url::parse(&format!("{}{path}", config.base_url)).ok();
        Some(Self {
            http,
            poll_url: url(inbox_path(&config.api_key))?,
            respond_url: url(inbox_respond_path(&config.api_key))?,
            posts: JoinSet::new(),
            posting: HashMap::new(),
        })
    }

    /// Posts one answer in a task of its own; it holds its call's slot
    /// until delivered or given up.
    fn post(&mut self, out: Outgoing) {
        let http = self.http.clone();
        let url = self.respond_url.clone();
        let id = out.reply.request_id.clone();
        let handle = self.posts.spawn(async move {
            deliver(
                &http,
                &url,
                &out.reply.request_id,
                out.reply.to_inbox_body(),
            )
            .await;
            drop(out); // frees the call's slot
        });
        self.posting.insert(handle.id(), id);
    }

    fn joined(&mut self, id: tokio::task::Id) {
        self.posting.remove(&id);
    }
}

impl Link for InboxLink {
    type Conn = ();

    const LOST: &'static str = "inbox unreachable; retrying";

    async fn open(&mut self, _config: &Config) -> Result<(), Failure> {
        Ok(())
    }

    async fn serve(&mut self, (): (), io: &mut SessionView<'_>) -> Ended {
        tracing::info!(server = %io.config.base_url, "polling the inbox");
        let mut delay = PollDelay::new(io.config.poll_min, io.config.poll_max);
        let mut polls: FuturesUnordered<PollFuture> = FuturesUnordered::new();
        // Polls wanted in flight: one more after each hit, one after a miss.
        let mut wanted = 1;
        let mut next_poll = Instant::now();
        loop {
            if io.drained() && self.posts.is_empty() && polls.is_empty() {
                return Ended::Stopped;
            }
            if !io.stop.stopping() && Instant::now() >= next_poll {
                while polls.len() < wanted {
                    polls.push(Box::pin(poll_once(
                        self.http.clone(),
                        self.poll_url.clone(),
                    )));
                }
            }
            let deadline = io.stop.deadline();
            let waiting = polls.is_empty() && !io.stop.stopping();
            tokio::select! {
                Some(polled) = polls.next(), if !polls.is_empty() => {
                    metrics::counter!("atp_inbox_polls_total").increment(1);
                    let hit = match polled {
                        Polled::Item(Item::Message(inbound)) => {
                            io.status.set(Status::Connected);
                            io.handle(inbound);
                            true
                        }
                        Polled::Item(Item::Empty) => {
                            io.status.set(Status::Connected);
                            false
                        }
                        Polled::Refused(why) => return Ended::Fatal(Error::Unauthorized(why)),
                        Polled::Failed(why) => return Ended::Dropped(why),
                    };
                    wanted = if hit { (wanted + 1).min(MAX_POLLS) } else { 1 };
                    // After a miss, wait only once the other polls are back.
                    if hit || polls.is_empty() {
                        next_poll = Instant::now() + delay.after(hit);
                    }
                }
                () = sleep_until(next_poll), if waiting => {}
                out = io.replies.next_reply() => self.post(out),
                Some(joined) = self.posts.join_next_with_id(), if !self.posts.is_empty() => {
                    match joined {
                        Ok((id, ())) => self.joined(id),
                        Err(err) => self.joined(err.id()),
                    }
                    // An answer delivered is when a busy caller sends its
                    // next request: look at once rather than after the
                    // backoff a miss while our own calls ran started.
                    if polls.is_empty() {
                        next_poll = next_poll.min(Instant::now());
                    }
                }
                () = io.stop.requested() => io.begin_stop(),
                // The last call's end wakes a stop that waits for it (see
                // the WebSocket link).
                () = io.dispatcher.idle(), if io.stop.stopping() && io.dispatcher.in_flight() > 0 => {}
                () = until(deadline) => return Ended::Stopped,
            }
        }
    }

    async fn finish(&mut self, deadline: Instant) -> Vec<String> {
        let settle = async {
            while let Some(joined) = self.posts.join_next_with_id().await {
                match joined {
                    Ok((id, ())) => self.joined(id),
                    Err(err) => self.joined(err.id()),
                }
            }
        };
        let _ = timeout_at(deadline, settle).await;
        // Past the deadline nothing is left running: the rest is logged.
        self.posts.shutdown().await;
        self.posting.drain().map(|(_, id)| id.to_string()).collect()
    }
}

/// One poll of the inbox.
async fn poll_once(http: reqwest::Client, url: reqwest::Url) -> Polled {
    let response = match http.get(url).send().await {
        Ok(response) => response,
        Err(err) => {
            return Polled::Failed(format!("poll failed: {}", crate::error::describe_http(err)));
        }
    };
    let status = response.status();
    if matches!(status.as_u16(), 401 | 403) {
        return Polled::Refused(format!("HTTP {status} on the inbox"));
    }
    if !status.is_success() {
        return Polled::Failed(format!("poll answered HTTP {status}"));
    }
    match response.bytes().await {
        Ok(body) => Polled::Item(decode_item(&body)),
        Err(err) => Polled::Failed(format!("poll failed: {}", crate::error::describe_http(err))),
    }
}

/// What delivering one answer came to.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Delivered,
    /// The server will never take it (a 4xx): retrying can't help.
    Refused(u16),
    GaveUp,
}

/// Whether a status means "try again later": a server error, 408 (request
/// timeout) or 429 (too many requests).
fn retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 408 | 429)
}

/// Posts one answer, retrying on network errors, 5xx, 408 and 429.
async fn deliver(
    http: &reqwest::Client,
    url: &reqwest::Url,
    id: &RequestId,
    body: Vec<u8>,
) -> Delivery {
    let mut backoff = Backoff::new(POST_BACKOFF.0, POST_BACKOFF.1);
    let started = Instant::now();
    for attempt in 1..=POST_ATTEMPTS {
        let request = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        let why = match request.send().await {
            Ok(res) if res.status().is_success() => return Delivery::Delivered,
            Ok(res) if !retryable(res.status()) => {
                tracing::warn!(
                    request_id = %id,
                    status = res.status().as_u16(),
                    "the server refused an answer (late, or for a call it forgot)"
                );
                return Delivery::Refused(res.status().as_u16());
            }
            Ok(res) => format!("HTTP {}", res.status()),
            Err(err) => crate::error::describe_http(err),
        };
        if attempt < POST_ATTEMPTS {
            let delay = backoff.next_delay();
            tracing::debug!(request_id = %id, attempt, %why, ?delay, "answer not delivered; retrying");
            sleep(delay).await;
        } else {
            tracing::error!(
                request_id = %id,
                attempts = POST_ATTEMPTS,
                elapsed = ?started.elapsed(),
                %why,
                "answer could not be delivered; given up"
            );
        }
    }
    Delivery::GaveUp
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn timeouts_and_throttling_are_retried_other_refusals_are_final() {
        for status in [500, 502, 503, 408, 429] {
            assert!(
                retryable(reqwest::StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 401, 404, 409, 410, 413] {
            assert!(
                !retryable(reqwest::StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }
}
