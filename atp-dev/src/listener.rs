//! atp-dev's listener: `TCP_NODELAY` on every connection (frames are small
//! and latency matters), the client's address for the guard, and a handle
//! on every connection so a shutdown can drop those still open at its
//! deadline — axum serves each connection in a task of its own, which
//! stopping the server does not end (a client that stopped reading would
//! keep its socket, and the server's state, alive).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The client's address, as the routes see it (`ConnectInfo<Peer>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The connections a listener accepted, which can all be dropped at once.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    dropped: AtomicBool,
    /// Where each live connection's task waits, to wake it at the drop.
    waiting: Mutex<Vec<Weak<Mutex<Option<Waker>>>>>,
}

impl Connections {
    /// Fails every connection's reads and writes from now on (their tasks
    /// end, and their sockets close), and wakes the tasks waiting on them.
    pub(crate) fn drop_all(&self) {
        self.dropped.store(true, Ordering::SeqCst);
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        for slot in waiting.iter().filter_map(Weak::upgrade) {
            if let Some(waker) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                waker.wake();
            }
        }
    }

    fn register(&self) -> Arc<Mutex<Option<Waker>>> {
        let slot = Arc::new(Mutex::new(None));
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        // Forget the connections that are gone now and then.
        if waiting.len() >= 64 && waiting.len().is_power_of_two() {
            waiting.retain(|w| w.strong_count() > 0);
        }
        waiting.push(Arc::downgrade(&slot));
        slot
    }
}

/// A TCP listener whose connections can be dropped by [`Connections`].
#[derive(Debug)]
pub(crate) struct Listener {
    inner: TcpListener,
    connections: Arc<Connections>,
}

impl Listener {
    pub(crate) fn new(inner: TcpListener, connections: Arc<Connections>) -> Self {
        Self { inner, connections }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%err, "could not set TCP_NODELAY");
                    }
                    let connection = Connection {
                        stream,
                        waker: self.connections.register(),
                        connections: self.connections.clone(),
                    };
                    return (connection, addr);
                }
                // Out of file descriptors, say: wait a moment, as axum does.
                Err(err) => {
                    tracing::debug!(%err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    waker: Arc<Mutex<Option<Waker>>>,
    connections: Arc<Connections>,
}

impl Connection {
    /// One read or write: refused once the server dropped its connections;
    /// while it waits, its waker is kept so a drop can wake it.
    fn poll_io<T>(
        &mut self,
        cx: &mut Context<'_>,
        io: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if self.connections.dropped.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "atp-dev shut down",
            )));
        }
        let result = io(Pin::new(&mut self.stream), cx);
        if result.is_pending() {
            *self.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        }
        result
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_io(cx, |stream, cx| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
