//! The one lifecycle every link goes through: announce → open (connect, or
//! start polling) → serve → back off → ... until stopped.
//!
//! A [`Link`] (the WebSocket in `ws.rs`, the HTTP inbox in `inbox.rs`)
//! knows its own framing and I/O; everything else is here: announcing,
//! backoff, the stop and its deadline, and the replies that outlive a
//! connection. A stop is graceful: new requests are refused (by the
//! dispatcher), calls in flight finish, their replies are delivered — over
//! a new connection if the old one is gone — all within
//! `shutdown_timeout`; what is still undelivered then is logged at WARN
//! with its request ids.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};

#[cfg(feature = "atp")]
use crate::announce::{AnnounceError, Announcer};
use crate::backoff::Backoff;
#[cfg(feature = "atp")]
use crate::codec::Inbound;
use crate::config::Config;
use crate::dispatch::{Dispatcher, Outgoing};
use crate::error::Error;
use crate::status::{Status, StatusTx};

/// How long a connection must last for the backoff to start over.
const STABLE_CONNECTION: Duration = Duration::from_secs(5);

/// One way of reaching the server.
pub(crate) trait Link: Send {
    /// An open connection.
    type Conn: Send;

    /// What the log says when the link is lost and the session backs off.
    const LOST: &'static str;

    /// Opens a connection (a WebSocket handshake; nothing for the inbox).
    fn open(&mut self, config: &Config)
    -> impl Future<Output = Result<Self::Conn, Failure>> + Send;

    /// Serves on an open connection until the stop is complete
    /// ([`Ended::Stopped`]), the connection is lost, or a fatal error.
    fn serve(
        &mut self,
        conn: Self::Conn,
        io: &mut SessionView<'_>,
    ) -> impl Future<Output = Ended> + Send;

    /// Once the session is over: settles what the link still holds (the
    /// inbox's answers being posted) by `deadline`, and returns the ids of
    /// the replies it could not deliver.
    fn finish(&mut self, deadline: Instant) -> impl Future<Output = Vec<String>> + Send {
        let _ = deadline;
        async { Vec::new() }
    }
}

/// Why a connection could not be opened.
pub(crate) enum Failure {
    /// Try again after a backoff.
    Retry(String),
    /// Give up: the server refused us.
    Fatal(Error),
    /// Nobody to serve any more (an MCP client that went before its
    /// handshake, on stdin/stdout): the session ends without an error.
    #[cfg_attr(not(feature = "mcp-stdio"), allow(dead_code))]
    Gone(String),
}

/// How serving one connection ended.
pub(crate) enum Ended {
    /// Stopped, everything delivered (or the deadline passed).
    Stopped,
    /// The connection was lost; connect again.
    Dropped(String),
    /// Give up.
    Fatal(Error),
}

/// The replies of a session: a channel the calls deliver into, and the
/// ones taken from it but not yet delivered, which outlive a connection.
/// A link only takes replies from it ([`next_reply`](Self::next_reply))
/// and gives back those it could not deliver.
#[derive(Debug)]
pub(crate) struct Replies {
    tx: mpsc::UnboundedSender<Outgoing>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
    /// Replies to deliver, oldest first.
    unsent: VecDeque<Outgoing>,
}

impl Replies {
    fn new() -> Self {
        // Unbounded in type, bounded in fact: every reply in it holds one
        // of the dispatcher's admission slots.
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx,
            unsent: VecDeque::new(),
        }
    }

    /// Where a call delivers its reply.
    fn sink(&self) -> impl FnOnce(Outgoing) + Send + 'static {
        let tx = self.tx.clone();
        move |out| {
            let _ = tx.send(out);
        }
    }

    /// The oldest reply to deliver, once there is one; the link owns it
    /// then. Cancel-safe: dropped before it resolves, it takes nothing.
    pub(crate) async fn next_reply(&mut self) -> Outgoing {
        if let Some(out) = self.unsent.pop_front() {
            return out;
        }
        self.rx
            .recv()
            .await
            .expect("the session holds a sender: the channel never closes")
    }

    /// How many replies wait to be taken.
    pub(crate) fn queued(&self) -> usize {
        self.unsent.len() + self.rx.len()
    }

    /// Replies taken but not delivered (the connection went), oldest
    /// first: they are the next ones taken, over the next connection.
    pub(crate) fn give_back(&mut self, undelivered: VecDeque<Outgoing>) {
        for out in undelivered.into_iter().rev() {
            self.unsent.push_front(out);
        }
    }

    fn is_empty(&self) -> bool {
        self.unsent.is_empty() && self.rx.is_empty()
    }

    /// The ids of every reply not yet delivered (emptying the channel).
    fn undelivered(&mut self) -> Vec<String> {
        while let Ok(out) = self.rx.try_recv() {
            self.unsent.push_back(out);
        }
        self.unsent
            .drain(..)
            .map(|out| out.reply.request_id.to_string())
            .collect()
    }
}

/// The stop signal, and the deadline it set.
#[derive(Debug)]
pub(crate) struct Stop {
    rx: watch::Receiver<bool>,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl Stop {
    pub(crate) fn new(rx: watch::Receiver<bool>, timeout: Duration) -> Self {
        Self {
            rx,
            timeout,
            deadline: None,
        }
    }

    /// Resolves when a stop is asked for, and sets the deadline then;
    /// never once the stop is under way.
    pub(crate) async fn requested(&mut self) {
        if self.deadline.is_some() {
            return std::future::pending().await;
        }
        // An error means every sender is gone: nobody can stop us any more.
        if self.rx.wait_for(|stopped| *stopped).await.is_err() {
            return std::future::pending().await;
        }
        self.deadline = Some(Instant::now() + self.timeout);
    }

    /// Whether a stop is under way.
    pub(crate) fn stopping(&self) -> bool {
        self.deadline.is_some()
    }

    /// The stop's deadline, if a stop is under way.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Notes a stop asked for without waiting (before anything else).
    fn check(&mut self) {
        if self.deadline.is_none() && *self.rx.borrow() {
            self.deadline = Some(Instant::now() + self.timeout);
        }
    }
}

/// Resolves at `deadline`; never when there is none.
pub(crate) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What a link's `serve` works with.
pub(crate) struct SessionView<'a> {
    pub(crate) config: &'a Config,
    pub(crate) dispatcher: &'a Dispatcher,
    pub(crate) replies: &'a mut Replies,
    pub(crate) stop: &'a mut Stop,
    pub(crate) status: &'a StatusTx,
}

impl SessionView<'_> {
    /// A message from the server: handed to the dispatcher; a reply due at
    /// once (a refusal, an overload, a terminate) is queued to be
    /// delivered like the others.
    #[cfg(feature = "atp")]
    pub(crate) fn handle(&mut self, inbound: Inbound) {
        if let Some(reply) = self.dispatcher.handle(inbound, self.replies.sink()) {
            self.replies.unsent.push_back(Outgoing::now(reply));
        }
    }

    /// A stop was asked for: refuse new requests from now on.
    pub(crate) fn begin_stop(&self) {
        self.dispatcher.refuse_new();
        tracing::info!(in_flight = self.dispatcher.in_flight(), "stopping");
    }

    /// Whether a stop is under way and nothing is left to do: no call in
    /// flight, no reply to deliver.
    pub(crate) fn drained(&self) -> bool {
        self.stop.stopping() && self.dispatcher.in_flight() == 0 && self.replies.is_empty()
    }

    /// Resolves once a stop was asked for and has run its course: every
    /// call finished and its reply delivered, or the stop's deadline
    /// passed. For a link whose transport carries the results itself
    /// (MCP), this is the whole of its stop.
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) async fn stopped(&mut self) {
        loop {
            if self.drained() {
                return;
            }
            let deadline = self.stop.deadline();
            tokio::select! {
                () = self.stop.requested() => self.begin_stop(),
                () = self.dispatcher.idle(), if self.stop.stopping() && self.dispatcher.in_flight() > 0 => {}
                () = until(deadline) => return,
            }
        }
    }
}

/// The phases of a session. Each step of [`Session::run`] turns one into
/// the next.
enum Phase<C> {
    Announcing,
    Opening,
    Serving(C),
    BackingOff(String),
    Closed(Result<(), Error>),
}

/// One toolkit's session with the server over one kind of link.
pub(crate) struct Session<L: Link> {
    pub(crate) config: Arc<Config>,
    /// What announces the tools before each connection; none for a link
    /// whose clients list the tools themselves (MCP).
    #[cfg(feature = "atp")]
    pub(crate) announcer: Option<Announcer>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) stop: Stop,
    pub(crate) status: StatusTx,
    pub(crate) link: L,
}

impl<L: Link> Session<L> {
    /// Runs until stopped (`Ok`) or a fatal error.
    pub(crate) async fn run(mut self) -> Result<(), Error> {
        let mut replies = Replies::new();
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
        let mut phase = Phase::Announcing;
        self.stop.check();
        let result = loop {
            phase = match phase {
                Phase::Announcing => self.announce().await,
                Phase::Opening => self.open(&replies).await,
                Phase::Serving(conn) => {
                    let connected_at = Instant::now();
                    let mut io = SessionView {
                        config: &self.config,
                        dispatcher: &self.dispatcher,
                        replies: &mut replies,
                        stop: &mut self.stop,
                        status: &self.status,
                    };
                    let ended = self.link.serve(conn, &mut io).await;
                    self.status.set(Status::Disconnected);
                    // A connection that held counts as a success: the next
                    // drop is retried quickly again. One that the server
                    // ends at once keeps the backoff growing.
                    if connected_at.elapsed() >= STABLE_CONNECTION {
                        backoff.reset();
                    }
                    match ended {
                        Ended::Stopped => Phase::Closed(Ok(())),
                        Ended::Dropped(reason) => Phase::BackingOff(reason),
                        Ended::Fatal(err) => Phase::Closed(Err(err)),
                    }
                }
                Phase::BackingOff(reason) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%reason, ?delay, "{}", L::LOST);
                    metrics::counter!("atp_reconnects_total").increment(1);
                    self.back_off(delay, &replies).await
                }
                Phase::Closed(result) => break result,
            };
            // Disconnected and stopping with nothing owed: done.
            if self.stop.stopping()
                && !matches!(phase, Phase::Serving(_) | Phase::Closed(_))
                && self.dispatcher.in_flight() == 0
                && replies.is_empty()
            {
                phase = Phase::Closed(Ok(()));
            }
        };
        self.status.set(Status::Stopped);
        // Calls still running now are past the deadline (or the session
        // failed): their contexts say so.
        self.dispatcher.abandon();
        let deadline = self
            .stop
            .deadline()
            .unwrap_or_else(|| Instant::now() + self.config.shutdown_timeout);
        let mut undelivered = replies.undelivered();
        undelivered.extend(self.link.finish(deadline).await);
        if !undelivered.is_empty() {
            tracing::warn!(
                request_ids = ?undelivered,
                "replies not delivered before the toolkit stopped"
            );
        }
        let running = self.dispatcher.in_flight();
        if running > 0 {
            tracing::warn!(
                in_flight = running,
                "calls still running when the toolkit stopped: their callers get no answer"
            );
        }
        result
    }

    /// Without the ATP links there is nothing to announce to.
    #[cfg(not(feature = "atp"))]
    #[allow(clippy::unused_async)]
    async fn announce(&mut self) -> Phase<L::Conn> {
        Phase::Opening
    }

    #[cfg(feature = "atp")]
    async fn announce(&mut self) -> Phase<L::Conn> {
        if self.stop.stopping() {
            // Only to deliver what is owed: the server knows the tools.
            return Phase::Opening;
        }
        let Some(announcer) = &self.announcer else {
            return Phase::Opening;
        };
        let registry = self.dispatcher.registry();
        let result = tokio::select! {
            result = announcer.announce(registry) => result,
            () = self.stop.requested() => return Phase::Opening,
        };
        match result {
            Ok(report) if report.up_to_date => {
                tracing::info!(
                    tools = registry.announced().len(),
                    "tools announced (already up to date)"
                );
                Phase::Opening
            }
            Ok(report) => {
                tracing::info!(
                    tools = registry.announced().len(),
                    registered = report.registered,
                    unchanged = report.unchanged,
                    refused = report.refused,
                    "tools announced"
                );
                Phase::Opening
            }
            Err(AnnounceError::Rejected(why)) => Phase::Closed(Err(Error::Unauthorized(why))),
            Err(AnnounceError::Retry(why)) => Phase::BackingOff(format!("announce failed: {why}")),
        }
    }

    async fn open(&mut self, replies: &Replies) -> Phase<L::Conn> {
        self.status.set(Status::Connecting);
        let open = self.link.open(&self.config);
        tokio::pin!(open);
        let result = loop {
            let deadline = self.stop.deadline();
            tokio::select! {
                result = &mut open => break result,
                () = self.stop.requested() => {
                    self.dispatcher.refuse_new();
                    if self.dispatcher.in_flight() == 0 && replies.is_empty() {
                        return Phase::Closed(Ok(()));
                    }
                }
                () = until(deadline) => return Phase::Closed(Ok(())),
            }
        };
        match result {
            Ok(conn) => Phase::Serving(conn),
            Err(Failure::Retry(why)) => Phase::BackingOff(why),
            Err(Failure::Fatal(err)) => Phase::Closed(Err(err)),
            Err(Failure::Gone(why)) => {
                tracing::info!("{why}");
                Phase::Closed(Ok(()))
            }
        }
    }

    /// Waits `delay` before the next attempt. A stop meanwhile ends the
    /// wait at once when nothing is owed; otherwise the session goes on
    /// to deliver, until the stop's deadline.
    async fn back_off(&mut self, delay: Duration, replies: &Replies) -> Phase<L::Conn> {
        let wake = sleep(delay);
        tokio::pin!(wake);
        loop {
            let deadline = self.stop.deadline();
            tokio::select! {
                () = &mut wake => return Phase::Announcing,
                () = self.stop.requested() => {
                    self.dispatcher.refuse_new();
                    if self.dispatcher.in_flight() == 0 && replies.is_empty() {
                        return Phase::Closed(Ok(()));
                    }
                    tracing::info!(
                        in_flight = self.dispatcher.in_flight(),
                        "stopping: reconnecting to deliver what is owed"
                    );
                }
                () = until(deadline) => return Phase::Closed(Ok(())),
            }
        }
    }
}
