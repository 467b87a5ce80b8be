//! A TCP front for fault injection: it stands between a toolkit and
//! atp-dev and can forward, refuse connections, hold WebSocket upgrades
//! unanswered, freeze the connections it carries (a peer that goes silent
//! without closing), cut them, or read from the toolkit slowly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::WAIT;

/// What the front does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward it to the backend.
    Forward,
    /// Accept and close it at once: the server is down.
    Refuse,
    /// Forward plain HTTP, but never answer a WebSocket upgrade.
    HoldUpgrades,
    /// Forward plain HTTP to the backend, WebSocket upgrades to this one.
    UpgradesTo(SocketAddr),
}

/// What a carried connection does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Live,
    /// Read both sides and drop the bytes; close the backend once the
    /// toolkit closes.
    Frozen,
    Cut,
}

#[derive(Debug, Default)]
struct Stats {
    accepts: Vec<Instant>,
    held: usize,
}

/// A running front; it stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct Front {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    stats: Arc<Mutex<Stats>>,
    changed: watch::Sender<u64>,
    flows: Arc<Mutex<Vec<watch::Sender<Flow>>>>,
}

impl Front {
    /// A front for `backend`; `slow_read` = (bytes, pause): read at most
    /// that many bytes from the toolkit, then pause.
    pub async fn start(backend: SocketAddr, slow_read: Option<(usize, Duration)>) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = Front {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(Mode::Forward)),
            stats: Arc::default(),
            changed: watch::channel(0).0,
            flows: Arc::default(),
        };
        let this = front.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                this.stats.lock().unwrap().accepts.push(Instant::now());
                this.bump();
                let mode = *this.mode.lock().unwrap();
                // Registered now, not once the backend answers: a cut or
                // a freeze from here on reaches this connection too.
                let (flow_tx, flow) = watch::channel(Flow::Live);
                this.flows.lock().unwrap().push(flow_tx);
                let this = this.clone();
                tokio::spawn(
                    async move { this.handle(socket, mode, backend, slow_read, flow).await },
                );
            }
        });
        front
    }

    /// `http://` address of the front.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Connections accepted so far, with their times.
    pub fn accepts(&self) -> Vec<Instant> {
        self.stats.lock().unwrap().accepts.clone()
    }

    /// Freezes every connection carried now (new ones flow).
    pub fn freeze_all(&self) {
        self.set_flows(Flow::Frozen);
    }

    /// Cuts every connection carried now.
    pub fn cut_all(&self) {
        self.set_flows(Flow::Cut);
    }

    /// Waits until `n` WebSocket upgrades are being held.
    pub async fn wait_held(&self, n: usize) {
        let mut changed = self.changed.subscribe();
        let wait = async {
            while self.stats.lock().unwrap().held < n {
                changed.changed().await.unwrap();
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("{n} upgrades held"));
    }

    fn set_flows(&self, flow: Flow) {
        // The senders are kept: a frozen connection stays frozen.
        for sender in self.flows.lock().unwrap().iter() {
            sender.send_replace(flow);
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    async fn handle(
        &self,
        mut socket: TcpStream,
        mode: Mode,
        mut backend: SocketAddr,
        slow_read: Option<(usize, Duration)>,
        flow: watch::Receiver<Flow>,
    ) {
        let mut head = Vec::new();
        match mode {
            Mode::Refuse => return,
            Mode::Forward => {}
            Mode::UpgradesTo(_) | Mode::HoldUpgrades => {
                let mut buf = [0u8; 1024];
                while !head.windows(2).any(|w| w == b"\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if let (Mode::UpgradesTo(other), true) = (mode, head.starts_with(b"GET /ws/")) {
                    backend = other;
                } else if head.starts_with(b"GET /ws/") {
                    self.stats.lock().unwrap().held += 1;
                    self.bump();
                    // Hold it open, unanswered, until the toolkit gives up.
                    let _ = socket.read(&mut buf).await;
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    return;
                }
            }
        }
        let Ok(mut upstream) = TcpStream::connect(backend).await else {
            return;
        };
        if upstream.write_all(&head).await.is_err() {
            return;
        }
        if *flow.borrow() == Flow::Cut {
            return;
        }
        let (client_read, client_write) = socket.into_split();
        let (server_read, server_write) = upstream.into_split();
        let up = pump(client_read, server_write, flow.clone(), slow_read);
        let down = pump(server_read, client_write, flow, None);
        // When either side ends, both end.
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    }
}

/// Copies `from` to `to` as the flow says.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<Flow>,
    slow_read: Option<(usize, Duration)>,
) {
    let mut buf = vec![0u8; slow_read.map_or(16 * 1024, |(bytes, _)| bytes)];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = flow.changed() => {
                if changed.is_err() || *flow.borrow() == Flow::Cut {
                    return;
                }
                continue;
            }
        };
        match *flow.borrow() {
            Flow::Cut => return,
            Flow::Frozen => continue,
            Flow::Live => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some((_, pause)) = slow_read {
            tokio::time::sleep(pause).await;
        }
    }
}
