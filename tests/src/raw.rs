//! A scriptable stand-in server for the faults atp-dev can't make: it
//! accepts WebSocket upgrades and hands each connection to the test (to
//! send raw frames, read raw answer text, stop reading, reset the TCP
//! connection ...), and answers plain HTTP requests with a handler the
//! test gives (the announce endpoints, an inbox that stalls or answers
//! 408 ...).
//!
//! Use it alone (it answers the announce itself, see [`announce_reply`])
//! or behind a [`Front`](crate::front::Front) in `Mode::UpgradesTo` (the
//! front sends the announce to a real atp-dev and the upgrades here).
//!
//! It completes the WebSocket handshake itself and then hands over the
//! TCP connection: as a tungstenite stream ([`RawServer::next_connection`])
//! or bare, to read and write frames byte by byte
//! ([`RawServer::next_upgraded`], with [`read_frame_head`] and
//! [`server_frame`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// A server-side WebSocket connection.
pub type Ws = WebSocketStream<TcpStream>;

/// One plain HTTP request, as received.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path (with the query), e.g. `/api/v1/toolkit/KEY/inbox`.
    pub path: String,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What to answer a plain HTTP request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status and JSON body, then close the connection.
    Json(u16, String),
    /// Likewise, with these headers too (`("Retry-After", "0")`).
    JsonWith(u16, Vec<(String, String)>, String),
    /// Never answer: keep the connection open until the client leaves.
    Hold,
}

/// The answers of the announce endpoints that make a toolkit go straight
/// to serving (`verify_hash` says the server is up to date); `None` for
/// any other request.
pub fn announce_reply(request: &HttpRequest) -> Option<Reply> {
    let path = request.path.as_str();
    if path.ends_with("/verify_hash") || path.ends_with("/verify_tool_hash") {
        Some(Reply::Json(200, r#"{"up_to_date": true}"#.to_owned()))
    } else if path.ends_with("/register_tool") {
        Some(Reply::Json(200, r#"{"exchange_token": "t"}"#.to_owned()))
    } else {
        None
    }
}

type Handler = Arc<dyn Fn(&HttpRequest) -> Reply + Send + Sync>;

/// A running stand-in server; it stops with the test's runtime.
#[derive(Debug)]
pub struct RawServer {
    addr: SocketAddr,
    upgrades: mpsc::UnboundedReceiver<TcpStream>,
    state: Arc<Mutex<State>>,
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    ws_accepts: usize,
    requests: Vec<HttpRequest>,
}

impl RawServer {
    /// A server that only takes WebSocket upgrades (plain HTTP gets a
    /// 404): put it behind a `Front` in `Mode::UpgradesTo`.
    pub async fn websocket_only() -> RawServer {
        Self::start(|request| announce_reply(request).unwrap_or(Reply::Json(404, "{}".into())))
            .await
    }

    /// A server answering plain HTTP with `handler`.
    pub async fn start(
        handler: impl Fn(&HttpRequest) -> Reply + Send + Sync + 'static,
    ) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (upgrades_tx, upgrades) = mpsc::unbounded_channel();
        let state: Arc<Mutex<State>> = Arc::default();
        let changed = watch::channel(0).0;
        let handler: Handler = Arc::new(handler);
        {
            let state = state.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let state = state.clone();
                    let changed = changed.clone();
                    let handler = handler.clone();
                    let upgrades_tx = upgrades_tx.clone();
                    tokio::spawn(async move {
                        handle(socket, state, changed, handler, upgrades_tx).await;
                    });
                }
            });
        }
        RawServer {
            addr,
            upgrades,
            state,
            changed,
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` address, to use as a toolkit's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// WebSocket connections accepted so far.
    pub fn ws_accepts(&self) -> usize {
        self.state.lock().unwrap().ws_accepts
    }

    /// Plain HTTP requests received so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The next WebSocket connection, if one comes within `within`.
    pub async fn next_connection(&mut self, within: Duration) -> Option<Ws> {
        let tcp = self.next_upgraded(within).await?;
        Some(WebSocketStream::from_raw_socket(tcp, Role::Server, None).await)
    }

    /// The next WebSocket connection as its bare TCP connection (the
    /// handshake done), if one comes within `within`.
    pub async fn next_upgraded(&mut self, within: Duration) -> Option<TcpStream> {
        tokio::time::timeout(within, self.upgrades.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits (up to `within`) until `ready` holds for the requests
    /// received so far; whether it did.
    pub async fn wait_requests(
        &self,
        within: Duration,
        ready: impl Fn(&[HttpRequest]) -> bool,
    ) -> bool {
        let mut changed = self.changed.subscribe();
        let wait = async {
            loop {
                if ready(&self.state.lock().unwrap().requests) {
                    return;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }
}

async fn handle(
    mut socket: TcpStream,
    state: Arc<Mutex<State>>,
    changed: watch::Sender<u64>,
    handler: Handler,
    upgrades: mpsc::UnboundedSender<TcpStream>,
) {
    // Look at the request line without taking it off the socket: an
    // upgrade goes to tungstenite whole.
    let mut peeked = [0u8; 8];
    loop {
        match socket.peek(&mut peeked).await {
            Ok(0) | Err(_) => return,
            Ok(n) if n >= peeked.len() => break,
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
    let upgrade = peeked.starts_with(b"GET /ws/");
    let Some((request, key)) = read_request(&mut socket).await else {
        return;
    };
    if upgrade {
        let Some(key) = key else { return };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        state.lock().unwrap().ws_accepts += 1;
        changed.send_modify(|n| *n += 1);
        let _ = upgrades.send(socket);
        return;
    }
    let reply = handler(&request);
    state.lock().unwrap().requests.push(request);
    changed.send_modify(|n| *n += 1);
    match reply {
        Reply::Json(status, body) => reply_json(&mut socket, status, &[], &body).await,
        Reply::JsonWith(status, headers, body) => {
            reply_json(&mut socket, status, &headers, &body).await;
        }
        Reply::Hold => {
            let mut rest = [0u8; 1024];
            while let Ok(n) = socket.read(&mut rest).await {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// Writes a JSON answer with `headers`, then closes the connection once
/// the client has read it.
async fn reply_json(socket: &mut TcpStream, status: u16, headers: &[(String, String)], body: &str) {
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
    // Let the client read it all before the socket goes.
    let mut rest = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = socket.read(&mut rest).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body), and its
/// `Sec-WebSocket-Key` if it has one. Reads nothing past it.
async fn read_request(socket: &mut TcpStream) -> Option<(HttpRequest, Option<String>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| (*value).to_owned())
    };
    let length = header("content-length")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(0);
    let key = header("sec-websocket-key");
    let mut body = data[head_end..].to_vec();
    while body.len() < length {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(length);
    Some((HttpRequest { method, path, body }, key))
}

/// The head of a frame from the toolkit: its opcode, whether it is
/// masked, and its payload length. Reads only the head (not the mask key
/// nor the payload).
pub async fn read_frame_head(tcp: &mut TcpStream) -> std::io::Result<(u8, bool, u64)> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await?;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let length = match head[1] & 0x7f {
        126 => {
            let mut len = [0u8; 2];
            tcp.read_exact(&mut len).await?;
            u64::from(u16::from_be_bytes(len))
        }
        127 => {
            let mut len = [0u8; 8];
            tcp.read_exact(&mut len).await?;
            u64::from_be_bytes(len)
        }
        short => u64::from(short),
    };
    Ok((opcode, masked, length))
}

/// Reads the rest of a frame whose head [`read_frame_head`] read: its
/// payload, unmasked.
pub async fn read_frame_payload(
    tcp: &mut TcpStream,
    masked: bool,
    length: u64,
) -> std::io::Result<Vec<u8>> {
    let mut mask = [0u8; 4];
    if masked {
        tcp.read_exact(&mut mask).await?;
    }
    let mut payload = vec![0u8; usize::try_from(length).expect("a frame that fits in memory")];
    tcp.read_exact(&mut payload).await?;
    if masked {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }
    Ok(payload)
}

/// A frame from the server (unmasked, final): `opcode` 0x1 text, 0xA pong ...
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}
