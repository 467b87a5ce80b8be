//! The WebSocket link (protocol section 2): one connection at a time to
//! `{ws-base}/ws/v1/atp/toolkit-client/{api_key}/`.
//!
//! One task reads and writes the socket, and no write is awaited on its
//! own: reading, writing, the ping deadline and the stop are polled
//! together, so a server that stops reading can't freeze the toolkit. A
//! write that makes no progress for `ping_interval + ping_timeout`
//! abandons the connection; its replies stay queued for the next one.
//!
//! The client is `tokio-websockets`, which logs nothing: the key in the
//! URL and the tokens in the frames can't reach any logger.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_websockets::{CloseCode, Connector, MaybeTlsStream, Message, WebSocketStream};

use crate::codec::decode_frame;
use crate::config::Config;
use crate::dispatch::Outgoing;
use crate::error::Error;
use crate::protocol::websocket_path;
use crate::session::{Ended, Failure, Link, SessionView, until};
use crate::status::Status;
use crate::ws_connect::{self, Refused};

type Ws = WebSocketStream<MaybeTlsStream<Tracked<TcpStream>>>;

/// How long a stop waits for the server's Close after sending its own.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Replies beyond the calls' slots that may wait to be written (refusals
/// answered at once) before the link stops reading.
const EXTRA_QUEUED: usize = 256;

/// The WebSocket link.
pub(crate) struct WsLink {
    connector: Connector,
}

impl WsLink {
    pub(crate) fn new(tls: &Arc<rustls::ClientConfig>) -> Self {
        Self {
            connector: Connector::Rustls(tokio_rustls::TlsConnector::from(tls.clone())),
        }
    }
}

/// An open connection, and when it last made progress each way.
pub(crate) struct Conn {
    ws: Ws,
    progress: Arc<Progress>,
}

impl Link for WsLink {
    type Conn = Conn;

    const LOST: &'static str = "connection lost; reconnecting";

    async fn open(&mut self, config: &Config) -> Result<Conn, Failure> {
        let url = format!("{}{}", config.ws_base(), websocket_path(&config.api_key));
        let progress = Arc::new(Progress::new());
        let tracked = |inner| Tracked {
            inner,
            progress: progress.clone(),
        };
        let opened = ws_connect::open(
            &url,
            &self.connector,
            config.max_frame_bytes,
            config.connect_timeout,
            tracked,
        )
        .await;
        match opened {
            Ok(ws) => {
                tracing::info!(server = %config.base_url, "connected");
                Ok(Conn { ws, progress })
            }
            Err(Refused::InvalidUrl) => Err(Failure::Fatal(Error::Config(
                "the WebSocket URL is invalid (check the base URL)".to_owned(),
            ))),
            Err(Refused::Unauthorized(status)) => Err(Failure::Fatal(Error::Unauthorized(
                format!("HTTP {status} on the WebSocket handshake"),
            ))),
            Err(Refused::Failed(err)) => Err(Failure::Retry(format!("could not connect: {err}"))),
            Err(Refused::TimedOut(limit)) => Err(Failure::Retry(format!(
                "no WebSocket handshake within {limit:?}"
            ))),
        }
    }

    async fn serve(&mut self, conn: Conn, io: &mut SessionView<'_>) -> Ended {
        io.status.set(Status::Connected);
        let mut writer = Writer::default();
        let ended = self.serve_on(conn, io, &mut writer).await;
        // What the socket did not take goes out over the next connection.
        io.replies.give_back(std::mem::take(&mut writer.queue));
        ended
    }
}

impl WsLink {
    /// Reads and writes one connection until it ends.
    async fn serve_on(
        &mut self,
        conn: Conn,
        io: &mut SessionView<'_>,
        writer: &mut Writer,
    ) -> Ended {
        let Conn { mut ws, progress } = conn;
        let config = io.config;
        let silence = config.silence_limit();
        let read_limit = config.limits.max_in_flight + config.limits.max_queued + EXTRA_QUEUED;
        let mut ping =
            tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Set once the Close is queued: how long to wait for the server's.
        let mut closing: Option<Instant> = None;
        loop {
            if closing.is_none() && io.drained() && writer.queue.is_empty() {
                writer.close_due = true;
                let wait = Instant::now() + CLOSE_WAIT;
                closing = Some(io.stop.deadline().map_or(wait, |d| d.min(wait)));
            }
            let read = io.replies.queued() + writer.queue.len() < read_limit;
            let deadline = io.stop.deadline();
            tokio::select! {
                event = poll_fn(|cx| writer.poll(&mut ws, read, cx)) => match event {
                    Event::Written => {}
                    Event::Read(message) => {
                        if let Some(ended) = Self::on_message(&message, io, closing.is_some()) {
                            return ended;
                        }
                    }
                    Event::Closed => {
                        return if closing.is_some() {
                            Ended::Stopped
                        } else {
                            Ended::Dropped("the server closed the connection".to_owned())
                        };
                    }
                    Event::ReadFailed(err) if closing.is_some() => {
                        tracing::debug!(%err, "read failed while closing");
                        return Ended::Stopped;
                    }
                    Event::ReadFailed(err) => return Ended::Dropped(format!("read failed: {err}")),
                    Event::WriteFailed(err) => return Ended::Dropped(format!("write failed: {err}")),
                },
                out = io.replies.next_reply() => writer.queue.push_back(out),
                _ = ping.tick() => {
                    if progress.read_idle() > silence {
                        return Ended::Dropped("the server stopped answering pings".to_owned());
                    }
                    if writer.stalled(&progress) > silence {
                        return Ended::Dropped(format!(
                            "a write made no progress for {silence:?}: the server stopped reading"
                        ));
                    }
                    writer.ping_due = true;
                }
                () = io.stop.requested() => io.begin_stop(),
                // The last call's end wakes a stop that waits for it: its
                // reply is delivered before it counts out, and nothing
                // else may come to wake this loop.
                () = io.dispatcher.idle(), if io.stop.stopping() && io.dispatcher.in_flight() > 0 => {}
                () = until(deadline) => return Ended::Stopped,
                () = sleep_until(closing.unwrap_or_else(Instant::now)), if closing.is_some() => {
                    return Ended::Stopped;
                }
            }
        }
    }

    /// A message from the server: a request for the session, or a Close.
    /// Returns how serving ends, if it does.
    fn on_message(message: &Message, io: &mut SessionView<'_>, closing: bool) -> Option<Ended> {
        if let Some((code, reason)) = message.as_close() {
            if closing {
                return Some(Ended::Stopped);
            }
            if code == CloseCode::POLICY_VIOLATION {
                return Some(Ended::Fatal(Error::Unauthorized(format!(
                    "the server closed the connection with code 1008 ({reason})"
                ))));
            }
            return Some(Ended::Dropped(format!(
                "the server closed the connection (code {}, {reason})",
                u16::from(code)
            )));
        }
        if !(message.is_text() || message.is_binary()) {
            return None;
        }
        io.handle(decode_frame(message.as_payload()));
        None
    }
}

/// What polling the socket brought.
enum Event {
    /// Every message handed to the socket was written.
    Written,
    Read(Message),
    /// The server's stream ended.
    Closed,
    ReadFailed(tokio_websockets::Error),
    WriteFailed(tokio_websockets::Error),
}

/// The writing half of the loop: the replies taken from the session,
/// which of them are in the socket, and what control frames are due.
#[derive(Default)]
struct Writer {
    /// Replies taken from the session, oldest first; they leave it only
    /// once flushed (and go back to the session if the connection ends).
    queue: VecDeque<Outgoing>,
    /// Replies at the front of the queue handed to the socket, not yet
    /// flushed.
    handed: usize,
    ping_due: bool,
    close_due: bool,
    close_sent: bool,
    flushing: bool,
    /// When the current flush began.
    since: Option<Instant>,
}

impl Writer {
    /// How long the current write has made no progress.
    fn stalled(&self, progress: &Progress) -> Duration {
        match self.since {
            Some(since) => {
                let last = progress.last_write().max(since);
                last.elapsed()
            }
            None => Duration::ZERO,
        }
    }

    /// Writes what is due, then reads (unless `read` is false).
    fn poll(&mut self, ws: &mut Ws, read: bool, cx: &mut Context<'_>) -> Poll<Event> {
        let mut ws = Pin::new(ws);
        // Hand over what is due, as far as the socket takes it.
        loop {
            let due = self.ping_due
                || self.handed < self.queue.len()
                || (self.close_due && !self.close_sent);
            if !due || self.close_sent {
                break;
            }
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Event::WriteFailed(err)),
                Poll::Pending => break,
            }
            let message = if self.ping_due {
                self.ping_due = false;
                Message::ping(&b""[..])
            } else if self.handed < self.queue.len() {
                self.handed += 1;
                Message::text(self.queue[self.handed - 1].reply.to_frame())
            } else {
                self.close_sent = true;
                Message::close(Some(CloseCode::NORMAL_CLOSURE), "toolkit stopping")
            };
            if let Err(err) = ws.as_mut().start_send(message) {
                return Poll::Ready(Event::WriteFailed(err));
            }
            self.flushing = true;
            self.since.get_or_insert_with(Instant::now);
        }
        if self.flushing {
            match ws.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    // Written: the replies (and their slots) go.
                    self.queue.drain(..self.handed);
                    self.handed = 0;
                    self.flushing = false;
                    self.since = None;
                    return Poll::Ready(Event::Written);
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Event::WriteFailed(err)),
                Poll::Pending => {}
            }
        }
        if !read {
            return Poll::Pending;
        }
        match ready!(ws.poll_next(cx)) {
            Some(Ok(message)) => Poll::Ready(Event::Read(message)),
            Some(Err(err)) => Poll::Ready(Event::ReadFailed(err)),
            None => Poll::Ready(Event::Closed),
        }
    }
}

/// When a connection last moved bytes each way, for the ping and write
/// deadlines (milliseconds since `start`).
struct Progress {
    start: Instant,
    read: AtomicU64,
    write: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            read: AtomicU64::new(0),
            write: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read_idle(&self) -> Duration {
        Duration::from_millis(self.now().saturating_sub(self.read.load(Ordering::Relaxed)))
    }

    fn last_write(&self) -> Instant {
        self.start + Duration::from_millis(self.write.load(Ordering::Relaxed))
    }
}

/// A stream that notes when bytes move.
struct Tracked<S> {
    inner: S,
    progress: Arc<Progress>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.progress.now();
            self.progress.read.store(now, Ordering::Relaxed);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            let now = self.progress.now();
            self.progress.write.store(now, Ordering::Relaxed);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            let now = self.progress.now();
            self.progress.write.store(now, Ordering::Relaxed);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
