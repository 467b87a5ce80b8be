//! What keeps atp-dev safe on a laptop that browses the web, attacked from
//! the outside: requests written by hand over TCP (so the `Host`, `Origin`
//! and `Content-Type` headers are exactly the attacker's), against the Host
//! allow-list (DNS rebinding), the Origin check, JSON-only bodies, the one
//! key, the key made up when listening beyond loopback, the per-client
//! stream limit, the body limit, and the shutdown deadline.
//!
//! Everything runs on 127.0.0.1 and every wait is bounded.

mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use atp_dev::DevServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

// -- requests written by hand ---------------------------------------------

/// The RFC 6455 sample key, and the accept value it must get back.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// An HTTP/1.1 request, byte for byte what is written to the socket.
#[derive(Debug, Clone)]
struct Raw {
    method: &'static str,
    path: String,
    version: &'static str,
    /// `None`: `Host: <the server's address>`.
    host: Option<String>,
    omit_host: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunked: bool,
}

impl Raw {
    fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            version: "HTTP/1.1",
            host: None,
            omit_host: false,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }
    }

    fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// A POST with a JSON body, declared `application/json`.
    fn post_json(path: &str, body: &Value) -> Self {
        Self::new("POST", path).body(Some("application/json"), body.to_string())
    }

    /// A WebSocket upgrade request (RFC 6455 section 4.1).
    fn upgrade(path: &str) -> Self {
        Self::get(path)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", WS_KEY)
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    fn origin(self, origin: &str) -> Self {
        self.header("Origin", origin)
    }

    fn bearer(self, key: &str) -> Self {
        self.header("Authorization", &format!("Bearer {key}"))
    }

    /// The body, with its `Content-Type` (none if `None`).
    fn body(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        if let Some(kind) = content_type {
            self = self.header("Content-Type", kind);
        }
        self.body = body.into();
        self
    }

    /// Sends the body chunked (no `Content-Length`).
    fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    fn bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut head = format!("{} {} {}\r\n", self.method, self.path, self.version);
        if !self.omit_host {
            let host = self.host.clone().unwrap_or_else(|| addr.to_string());
            head.push_str(&format!("Host: {host}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut body = Vec::new();
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
            body.extend_from_slice(format!("{:x}\r\n", self.body.len()).as_bytes());
            body.extend_from_slice(&self.body);
            body.extend_from_slice(b"\r\n0\r\n\r\n");
        } else if !self.body.is_empty() || self.method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
            body.extend_from_slice(&self.body);
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }

    /// Writes the request on a new connection and reads the answer's head
    /// (and its body, when it has a `Content-Length`).
    async fn send(&self, addr: SocketAddr) -> Reply {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connected in time")
            .unwrap();
        self.send_on(stream, addr).await
    }

    async fn send_on(&self, mut stream: TcpStream, addr: SocketAddr) -> Reply {
        stream.write_all(&self.bytes(addr)).await.unwrap();
        let (head, mut body) = read_head(&mut stream).await;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let mut reply = Reply {
            status,
            head,
            body: Vec::new(),
            stream,
        };
        if let Some(length) = reply.header("content-length") {
            let length: usize = length.parse().unwrap();
            let read_rest = async {
                let mut chunk = [0u8; 4096];
                while body.len() < length {
                    let n = reply.stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the connection closed in the body");
                    body.extend_from_slice(&chunk[..n]);
                }
            };
            tokio::time::timeout(WAIT, read_rest)
                .await
                .expect("the body in time");
            body.truncate(length);
        }
        reply.body = body;
        reply
    }
}

/// Reads up to the end of an HTTP head; returns it and what came after.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = buf.split_off(end + 4);
                return (String::from_utf8_lossy(&buf).into_owned(), rest);
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "the connection closed before the head ended: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("an answer in time")
}

/// An answer: its status, head and (sized) body, and the open connection.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
    stream: TcpStream,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}\n{}", self.head, self.text()))
    }

    /// Asserts a refusal: `status`, and a body that is one line of JSON,
    /// `{"error": "<why>"}`. Returns the reason.
    fn refusal(&self, status: u16, what: &str) -> String {
        assert_eq!(self.status, status, "{what}: {}{}", self.head, self.text());
        let kind = self.header("content-type").unwrap_or_default();
        assert!(kind.starts_with("application/json"), "{what}: {kind}");
        let text = self.text();
        assert!(
            !text.trim_end().contains('\n'),
            "{what}: not one line: {text}"
        );
        let body = self.json();
        let object = body.as_object().unwrap_or_else(|| panic!("{what}: {body}"));
        assert_eq!(object.len(), 1, "{what}: {body}");
        let reason = body["error"].as_str().unwrap_or_default().to_owned();
        assert!(!reason.is_empty(), "{what}: {body}");
        reason
    }
}

/// The requests a browser page could aim at atp-dev, each with the status
/// it gets when let through (on a server with no key and no tools).
fn probes() -> Vec<(&'static str, Raw, u16)> {
    let verify = json!({"api_key": "k", "app_name": "demo", "toolkit_hash": "h"});
    vec![
        ("GET /", Raw::get("/"), 200),
        ("GET /api/dev/tools", Raw::get("/api/dev/tools"), 200),
        ("GET /api/dev/calls", Raw::get("/api/dev/calls"), 200),
        (
            "POST /api/v1/toolkit/verify_hash",
            Raw::post_json("/api/v1/toolkit/verify_hash", &verify),
            200,
        ),
        (
            "toolkit WebSocket",
            Raw::upgrade("/ws/v1/atp/toolkit-client/k/"),
            101,
        ),
    ]
}

/// What a page can reach on the dev API, the streams and the sockets,
/// with the status each gets when let through.
fn browser_probes() -> Vec<(&'static str, Raw, u16)> {
    vec![
        (
            "POST /api/dev/tools/x/call",
            // Let through, it fails as an unknown tool.
            Raw::post_json("/api/dev/tools/x/call", &json!({"params": {}})),
            404,
        ),
        ("GET /api/dev/tools", Raw::get("/api/dev/tools"), 200),
        ("GET /api/dev/events", Raw::get("/api/dev/events"), 200),
        ("events WebSocket", Raw::upgrade("/api/dev/events/ws"), 101),
        (
            "toolkit WebSocket",
            Raw::upgrade("/ws/v1/atp/toolkit-client/k/"),
            101,
        ),
    ]
}

/// Asserts a request was let through: its status, and for an upgrade
/// the right `Sec-WebSocket-Accept`.
fn assert_through(reply: &Reply, status: u16, what: &str) {
    assert_eq!(
        reply.status,
        status,
        "{what}: {}{}",
        reply.head,
        reply.text()
    );
    if status == 101 {
        assert_eq!(
            reply.header("sec-websocket-accept").as_deref(),
            Some(WS_ACCEPT),
            "{what}"
        );
    }
    if what.contains("events") && status == 200 {
        let kind = reply.header("content-type").unwrap_or_default();
        assert!(kind.starts_with("text/event-stream"), "{what}: {kind}");
    }
}

// -- 1. Host allow-list (DNS rebinding) -----------------------------------

/// Attack: DNS rebinding. A page at `evil.example` makes its name resolve
/// to 127.0.0.1 and then talks to atp-dev as "same origin": the requests
/// reach atp-dev with `Host: evil.example:<port>`. atp-dev must refuse
/// every route with 403 and a one-line JSON reason, before any handler
/// runs (nothing is announced, no toolkit socket is opened).
#[tokio::test]
async fn a_foreign_host_name_is_refused_on_every_route() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("EVIL.example:{port}"),
    ] {
        for (what, request, _) in probes() {
            let reply = request.host(host.clone()).send(addr).await;
            let reason = reply.refusal(403, &format!("{what} with Host {host}"));
            assert!(reason.contains("is not allowed"), "{reason}");
            assert!(reason.contains("--allow-host"), "{reason}");
        }
    }
    // None of it reached a handler.
    assert!(server.announce_log().is_empty());
    assert_eq!(server.connects(), 0);

    // A request with no Host at all (HTTP/1.0) is refused too.
    let mut request = Raw::get("/api/dev/tools");
    request.version = "HTTP/1.0";
    request.omit_host = true;
    let reply = request.send(addr).await;
    assert!(reply.refusal(403, "no Host").contains("Host"));
    server.shutdown().await;
}

/// The other side of the allow-list: atp-dev must still answer the names
/// a browser on this machine uses for it — `127.0.0.1:<port>`,
/// `localhost:<port>` (any case, with or without a port) and
/// `[::1]:<port>` — with the usual answers (200, 101 for the upgrade).
#[tokio::test]
async fn loopback_names_and_ip_addresses_are_answered() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("[::1]:{port}"),
        format!("192.168.1.20:{port}"),
    ] {
        for (what, request, status) in probes() {
            let reply = request.host(host.clone()).send(addr).await;
            assert_through(&reply, status, &format!("{what} with Host {host}"));
        }
    }
    server.shutdown().await;
}

/// `.allow_host("devbox.lan")`: a name the user chose (a LAN name for the
/// machine) is answered, in any case and with a port; names merely
/// containing it are still refused.
#[tokio::test]
async fn an_allowed_host_name_is_answered() {
    let server = DevServer::builder()
        .allow_host("devbox.lan")
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    for host in [format!("devbox.lan:{port}"), "DevBox.LAN".to_owned()] {
        for (what, request, status) in probes() {
            let reply = request.host(host.clone()).send(addr).await;
            assert_through(&reply, status, &format!("{what} with Host {host}"));
        }
    }
    for host in [
        format!("sub.devbox.lan:{port}"),
        format!("devbox.lan.evil.example:{port}"),
        format!("evil.example:{port}"),
    ] {
        let reply = Raw::get("/api/dev/tools")
            .host(host.clone())
            .send(addr)
            .await;
        reply.refusal(403, &host);
    }
    server.shutdown().await;
}

/// The allow-list must not get in a real toolkit's way: a toolkit (which
/// sends `Host: 127.0.0.1:<port>` and no Origin) registers, connects and
/// answers a call as usual.
#[tokio::test]
async fn a_toolkit_still_connects_and_is_served() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let (outcome, ()) = tokio::join!(
        server.call("echo", json!({"x": "hi"}), None),
        toolkit.serve(1, "raw")
    );
    assert_eq!(
        outcome.unwrap().result,
        json!({"echo": {"x": "hi"}, "by": "raw"})
    );
    server.shutdown().await;
}

// -- 2. Origin ---------------------------------------------------------------

/// Attack: a page of another origin (a site on the web, a sandboxed frame
/// with origin `null`, another local service on another port) calls a
/// tool, reads the tool list, watches the live log (SSE or WebSocket) or
/// opens a toolkit socket — all with `Host: 127.0.0.1:<port>`, which the
/// allow-list lets through. atp-dev must refuse each with 403 because of
/// the `Origin`, and no call or connection may happen.
#[tokio::test]
async fn a_foreign_origin_is_refused_on_the_dev_api_streams_and_sockets() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    for origin in [
        "http://evil.example".to_owned(),
        "null".to_owned(),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}.evil.example"),
    ] {
        for (what, request, _) in browser_probes() {
            let reply = request.origin(&origin).send(addr).await;
            let reason = reply.refusal(403, &format!("{what} from {origin}"));
            assert!(reason.contains("origin"), "{reason}");
        }
    }
    assert!(server.recent_calls().is_empty(), "a refused call ran");
    assert_eq!(server.connects(), 0, "a refused toolkit socket opened");
    server.shutdown().await;
}

/// atp-dev's own pages (`Origin: http://<the Host>`), origins given with
/// `.allow_origin(..)`, and clients that send no Origin at all (the CLI,
/// toolkits, scripts) must all be let through.
#[tokio::test]
async fn its_own_origin_allowed_origins_and_no_origin_pass() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    for (host, origin) in [
        (
            format!("127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            format!("localhost:{port}"),
            format!("http://localhost:{port}"),
        ),
        (
            format!("localhost:{port}"),
            format!("HTTP://LOCALHOST:{port}"),
        ),
    ] {
        for (what, request, status) in browser_probes() {
            let reply = request.host(host.clone()).origin(&origin).send(addr).await;
            assert_through(&reply, status, &format!("{what} from {origin}"));
        }
    }
    for (what, request, status) in browser_probes() {
        let reply = request.send(addr).await;
        assert_through(&reply, status, &format!("{what} with no Origin"));
    }
    // The page's host and its origin must agree: the playground served
    // as localhost doesn't vouch for requests to 127.0.0.1.
    let reply = Raw::get("/api/dev/tools")
        .host(format!("127.0.0.1:{port}"))
        .origin(&format!("http://localhost:{port}"))
        .send(addr)
        .await;
    reply.refusal(403, "another loopback name's origin");
    server.shutdown().await;

    let server = DevServer::builder()
        .allow_origin("http://localhost:3000/")
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    for (what, request, status) in browser_probes() {
        let reply = request.origin("http://localhost:3000").send(addr).await;
        assert_through(&reply, status, &format!("{what} from an allowed origin"));
    }
    for origin in ["http://localhost:3001", "http://evil.example"] {
        let reply = Raw::get("/api/dev/tools").origin(origin).send(addr).await;
        reply.refusal(403, origin);
    }
    server.shutdown().await;
}

/// Attack: a page of another origin polls the HTTP inbox of a toolkit
/// key it can guess (`dev`, the key `atp-dev -- COMMAND` hands toolkits;
/// any key is accepted without `--api-key`). A poll is a GET with a side
/// effect: it takes the waiting request (params, auth token) out of the
/// inbox, so the real toolkit never gets it and the call times out — the
/// page need not read the answer to do harm. Two ways a browser sends it:
/// a CORS `fetch` (with `Origin: http://evil.example`), and an `<img>` or
/// a `no-cors` fetch (no Origin at all, but the Fetch Metadata header
/// `Sec-Fetch-Site: cross-site`, which browsers set and pages can't).
/// atp-dev must refuse both (403), leaving the request for the toolkit.
#[tokio::test]
async fn a_foreign_page_cannot_take_requests_from_an_inbox() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    register(&server, "dev", "poller", "slow").await;
    assert_eq!(
        get(&server, "/api/v1/toolkit/dev/inbox").await,
        (200, json!({}))
    );
    server.wait_for_tools(&["slow"], WAIT).await.unwrap();

    let poll = Raw::get("/api/v1/toolkit/dev/inbox");
    let mut let_through = Vec::new();
    for (what, attack) in [
        ("a CORS fetch", poll.clone().origin("http://evil.example")),
        (
            "an <img>",
            poll.clone()
                .header("Sec-Fetch-Site", "cross-site")
                .header("Sec-Fetch-Mode", "no-cors")
                .header("Sec-Fetch-Dest", "image"),
        ),
    ] {
        let options = atp_dev::CallOptions {
            auth_token: Some("tok-secret".into()),
            timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let call = server.call_with("slow", json!({"x": 1}), options);
        let attack_then_toolkit = async {
            let queued = async {
                while server.stats().waiting_calls == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::time::timeout(WAIT, queued)
                .await
                .expect("the call is queued");
            let reply = attack.send(addr).await;
            // The real toolkit (no Origin, no Fetch Metadata) polls and
            // answers what is left.
            let (status, request) = get(&server, "/api/v1/toolkit/dev/inbox").await;
            assert_eq!(status, 200);
            if request != json!({}) {
                let answer = json!({"request_id": request["request_id"], "response": "mine"});
                post(&server, "/api/v1/toolkit/dev/inbox/respond", &answer).await;
            }
            reply
        };
        let (outcome, reply) = tokio::join!(call, attack_then_toolkit);
        if reply.status != 403 {
            let_through.push(format!(
                "{what}: {} {} (the call: {outcome:?})",
                reply.status,
                reply.text()
            ));
        } else {
            assert_eq!(outcome.unwrap().result, json!("mine"), "{what}");
        }
    }
    assert!(
        let_through.is_empty(),
        "cross-site inbox polls were answered: {let_through:#?}"
    );
    server.shutdown().await;
}

// -- 3. JSON only --------------------------------------------------------

/// Attack: a cross-site "simple" request — a form post or a `fetch` with
/// `Content-Type: text/plain` (or no type) — is sent by a browser without
/// a CORS preflight and with no Origin check a page could fail. atp-dev
/// must refuse any body not declared JSON with 415, before the tool is
/// called (no call is logged, the toolkit receives nothing) or a tool is
/// registered; `application/json; charset=utf-8` goes through, and a
/// DELETE without a body is not refused.
#[tokio::test]
async fn only_json_bodies_get_through() {
    let server = DevServer::start().await.unwrap();
    let addr = server.local_addr();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();

    let call = json!({"params": {"x": "from a form"}}).to_string();
    for kind in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some("text/plain; application/json"),
        None,
    ] {
        let reply = Raw::new("POST", "/api/dev/tools/echo/call")
            .body(kind, call.clone())
            .send(addr)
            .await;
        let reason = reply.refusal(415, &format!("Content-Type {kind:?}"));
        assert!(reason.contains("JSON"), "{reason}");
    }
    // The same as a browser form would post it, from another site.
    let reply = Raw::new("POST", "/api/dev/tools/echo/call")
        .origin("http://evil.example")
        .body(Some("text/plain"), call.clone())
        .send(addr)
        .await;
    assert!(matches!(reply.status, 403 | 415), "{}", reply.head);
    assert!(server.recent_calls().is_empty(), "a refused call ran");
    assert_eq!(
        toolkit.next_text_within(Duration::from_millis(300)).await,
        None,
        "the toolkit got a request"
    );

    // Declared JSON, with a charset: past the guard.
    let reply = Raw::new("POST", "/api/dev/tools/nope/call")
        .body(Some("application/json; charset=utf-8"), "{}")
        .send(addr)
        .await;
    assert_eq!(reply.refusal(404, "unknown tool"), "unknown tool: nope");
    let request = Raw::new("POST", "/api/dev/tools/echo/call")
        .body(Some("Application/JSON; charset=utf-8"), call.clone());
    let (reply, ()) = tokio::join!(request.send(addr), toolkit.serve(1, "raw"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["result"]["echo"], json!({"x": "from a form"}));

    // The toolkit side too: no registration from a text/plain post.
    let registration = registration("k", "demo", "planted").to_string();
    let reply = Raw::new("POST", "/api/v1/register_tool")
        .body(Some("text/plain"), registration)
        .send(addr)
        .await;
    reply.refusal(415, "register_tool as text/plain");
    assert!(
        server
            .registrations()
            .iter()
            .all(|r| r.function_id != "planted"),
        "a tool was registered from text/plain"
    );

    // A DELETE with no body is not a body: the route answers.
    let reply = Raw::new("DELETE", "/api/dev/apps/sessions/x")
        .send(addr)
        .await;
    let reason = reply.refusal(404, "DELETE with no body");
    assert!(reason.contains("session"), "{reason}");
    // A DELETE with a body must declare it JSON.
    let reply = Raw::new("DELETE", "/api/dev/apps/sessions/x")
        .body(Some("text/plain"), "x")
        .send(addr)
        .await;
    reply.refusal(415, "DELETE with a text/plain body");
    server.shutdown().await;
}

// -- 4. One key ------------------------------------------------------------

/// Attack: anyone who can reach a server started with `.api_key(K)` (a
/// LAN neighbour, a page that got past the other checks) reads the tools
/// and calls, calls tools, or watches the live log. atp-dev must answer
/// 401 on every dev route, SSE included, unless the request carries
/// `Authorization: Bearer K` exactly (the scheme in any case).
#[tokio::test]
async fn with_a_key_the_dev_api_needs_the_bearer_header() {
    let server = DevServer::builder().api_key("k-123").start().await.unwrap();
    let addr = server.local_addr();
    let wrong_ones: [Option<&str>; 7] = [
        None,
        Some("Bearer wrong"),
        Some("Bearer k-12"),
        Some("Bearer k-1234"),
        Some("Bearer "),
        Some("k-123"),
        Some("ApiKey k-123"),
    ];
    let routes = [
        Raw::get("/api/dev/tools"),
        Raw::get("/api/dev/calls"),
        Raw::get("/api/dev/ping"),
        Raw::get("/api/dev/events"),
        Raw::post_json("/api/dev/tools/x/call", &json!({})),
        Raw::new("DELETE", "/api/dev/apps/sessions/x"),
    ];
    for authorization in wrong_ones {
        for route in &routes {
            let mut request = route.clone();
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let reply = request.send(addr).await;
            let what = format!("{} {} with {authorization:?}", route.method, route.path);
            let reason = reply.refusal(401, &what);
            assert!(reason.contains("key"), "{reason}");
        }
    }
    assert!(
        server.recent_calls().is_empty(),
        "a call ran without the key"
    );

    for value in ["Bearer k-123", "bearer k-123", "BEARER  k-123"] {
        let reply = Raw::get("/api/dev/tools")
            .header("Authorization", value)
            .send(addr)
            .await;
        assert_eq!(reply.status, 200, "{value}: {}", reply.text());
        assert_eq!(reply.json(), json!({"tools": []}));
    }
    let reply = Raw::get("/api/dev/events").bearer("k-123").send(addr).await;
    assert_through(&reply, 200, "GET /api/dev/events with the key");
    server.shutdown().await;
}

/// Attack: spell the path of a dev route another way (doubled or
/// trailing slashes, dot segments, percent-encoding, another case, the
/// absolute form) so that the guard's idea of "the dev API" misses it
/// while the router still serves it. With a key, no spelling may list
/// the tools without the key: each is refused (401) or is no route (404).
#[tokio::test]
async fn no_spelling_of_a_dev_path_skips_the_key() {
    let server = DevServer::builder().api_key("k-123").start().await.unwrap();
    let addr = server.local_addr();
    let absolute = format!("http://{addr}/api/dev/tools");
    for path in [
        "/api/dev/tools",
        "//api/dev/tools",
        "/api//dev/tools",
        "/api/dev//tools",
        "/api/dev/tools/",
        "/api/dev/./tools",
        "/api/x/../dev/tools",
        "/api/%64ev/tools",
        "/api/dev/%74ools",
        "/%61pi/dev/tools",
        "/API/dev/tools",
        "/api/DEV/tools",
        "/api/dev/tools?x=1",
        "/api/dev/tools;x",
        "/api/dev/events/ws/../../tools",
        absolute.as_str(),
    ] {
        let reply = Raw::get(path).send(addr).await;
        assert!(
            matches!(reply.status, 401 | 404),
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
    }
    server.shutdown().await;
}

/// Attack: a page (which can't set headers on a WebSocket) opens the live
/// log's WebSocket. With a key, atp-dev must close it with 1008 when the
/// first message is not `{"key": K}`, and stream the log (a `call` event
/// for a call made meanwhile) after the right one.
#[tokio::test]
async fn with_a_key_the_events_websocket_wants_it_first() {
    let server = DevServer::builder().api_key("k-123").start().await.unwrap();
    let url = format!("ws://{}/api/dev/events/ws", server.local_addr());
    for first in [
        r#"{"key":"wrong"}"#,
        "k-123",
        r#"{"key":null}"#,
        r#"{"token":"k-123"}"#,
    ] {
        let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url))
            .await
            .expect("connected in time")
            .unwrap();
        ws.send(Message::text(first)).await.unwrap();
        loop {
            match tokio::time::timeout(WAIT, ws.next())
                .await
                .expect("a close in time")
            {
                Some(Ok(Message::Close(Some(frame)))) => {
                    assert_eq!(frame.code, CloseCode::Policy, "{first}");
                    break;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("{first}: expected a close with 1008, got {other:?}"),
            }
        }
    }

    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url))
        .await
        .expect("connected in time")
        .unwrap();
    ws.send(Message::text(r#"{"key":"k-123"}"#)).await.unwrap();
    register(&server, "k-123", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k-123").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let (outcome, ()) = tokio::join!(
        server.call("echo", json!({"n": 1}), None),
        toolkit.serve(1, "raw")
    );
    let outcome = outcome.unwrap();
    let watch = async {
        loop {
            let message = ws.next().await.expect("the socket is open").unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["event"] == "call" && event["data"]["status"] == "ok" {
                return event;
            }
        }
    };
    let event = tokio::time::timeout(WAIT, watch)
        .await
        .expect("a call event in time");
    assert_eq!(event["data"]["request_id"], outcome.request_id);
    assert_eq!(event["data"]["tool"], "echo");
    server.shutdown().await;
}

/// The key must not break the toolkit side: a toolkit sending K registers,
/// connects and answers; one sending another key is refused (401 on
/// register, WebSocket closed with 1008 "invalid API key").
#[tokio::test]
async fn with_a_key_toolkits_use_it_as_ever() {
    let server = DevServer::builder().api_key("k-123").start().await.unwrap();
    let (status, _) = post(
        &server,
        "/api/v1/register_tool",
        &registration("wrong", "demo", "echo"),
    )
    .await;
    assert_eq!(status, 401);
    let url = format!(
        "ws://{}/ws/v1/atp/toolkit-client/wrong/",
        server.local_addr()
    );
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connected in time")
        .unwrap();
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a close in time")
    {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::Policy);
            assert_eq!(frame.reason.as_str(), "invalid API key");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(server.connects(), 0);

    register(&server, "k-123", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k-123").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let (outcome, ()) = tokio::join!(
        server.call("echo", json!({"x": 1}), None),
        toolkit.serve(1, "keyed")
    );
    assert_eq!(outcome.unwrap().result["by"], "keyed");
    server.shutdown().await;
}

/// The CLI against a keyed server: `atp-dev tools --key K` and
/// `ATP_DEV_KEY=K atp-dev tools` must list the tools; with no key or a
/// wrong one it must fail with a message that says a key is needed.
#[tokio::test]
async fn the_cli_sends_the_key_from_its_flag_or_the_environment() {
    let server = DevServer::builder().api_key("k-123").start().await.unwrap();
    register(&server, "k-123", "demo", "echo").await;
    let _toolkit = RawToolkit::connect(&server, "k-123").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let url = server.base_url();

    let output = run(atp_dev().args(["tools", "--key", "k-123", "--server", &url])).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("echo"),
        "{}",
        text(&output.stdout)
    );

    let output = run(atp_dev()
        .args(["tools", "--json", "--server", &url])
        .env("ATP_DEV_KEY", "k-123"))
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tools: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tools[0]["name"], "echo");

    for key in [None, Some("wrong")] {
        let mut command = atp_dev();
        command.args(["tools", "--server", &url]);
        if let Some(key) = key {
            command.args(["--key", key]);
        }
        let output = run(&mut command).await;
        assert!(!output.status.success(), "{key:?}");
        assert!(
            output.stdout.is_empty(),
            "{key:?}: {}",
            text(&output.stdout)
        );
        let stderr = text(&output.stderr);
        assert!(stderr.contains("key"), "{key:?}: {stderr}");
        assert!(stderr.contains("401"), "{key:?}: {stderr}");
        assert!(
            stderr.contains("ATP_DEV_KEY") || stderr.contains("--key"),
            "{stderr}"
        );
    }
    server.shutdown().await;
}

// -- 5. Exposure -----------------------------------------------------------

/// What `atp-dev` prints on stderr before serving.
#[derive(Debug)]
struct Banner {
    port: u16,
    lines: Vec<String>,
}

/// Reads the banner up to its `ATP_BASE_URL=` line; the rest of stderr
/// is drained in the background so the process never blocks on it.
async fn read_banner(child: &mut tokio::process::Child, host: &str) -> Banner {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let prefix = format!("atp-dev listening on http://{host}:");
    let read = async {
        let mut seen = Vec::new();
        let mut port = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix(&prefix) {
                port = Some(rest.trim().parse::<u16>().unwrap());
            }
            let done = line.trim_start().starts_with("ATP_BASE_URL=");
            seen.push(line);
            if done {
                let port = port.unwrap_or_else(|| panic!("no `{prefix}` line: {seen:#?}"));
                return Banner { port, lines: seen };
            }
        }
        panic!("atp-dev exited before its banner ended: {seen:#?}");
    };
    let banner = tokio::time::timeout(WAIT, read)
        .await
        .expect("the banner in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    banner
}

/// Exposure: `atp-dev --host 0.0.0.0` with no `--api-key` would open the
/// dev API (tools, calls with tokens, the call log) to the network.
/// atp-dev must make up a 128-bit key, print a WARNING with it and a
/// playground URL carrying it (`/#key=<key>`), and enforce it: the dev API
/// answers 401 without it and 200 with `Authorization: Bearer <key>`, and
/// a toolkit must send it too.
#[tokio::test]
async fn listening_beyond_loopback_without_a_key_makes_one_up_and_enforces_it() {
    let mut child = atp_dev()
        .args(["--host", "0.0.0.0", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let banner = read_banner(&mut child, "0.0.0.0").await;
    let port = banner.port;
    assert!(
        banner
            .lines
            .iter()
            .any(|l| l.contains("WARNING") && l.contains("0.0.0.0")),
        "{:#?}",
        banner.lines
    );
    let keys: Vec<&str> = banner
        .lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.len() == 32 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "one key on its own line: {:#?}",
        banner.lines
    );
    let key = keys[0].to_owned();
    let playground = format!("playground: http://0.0.0.0:{port}/#key={key}");
    assert!(
        banner.lines.iter().any(|l| l.trim() == playground),
        "no `{playground}` in {:#?}",
        banner.lines
    );

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let reply = Raw::get("/api/dev/tools").send(addr).await;
    assert!(reply.refusal(401, "no key").contains("key"));
    let reply = Raw::get("/api/dev/tools").bearer("dev").send(addr).await;
    reply.refusal(401, "the default dev key");
    let reply = Raw::get("/api/dev/tools").bearer(&key).send(addr).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"tools": []}));

    // Toolkits need it too: another key is closed with 1008.
    let url = format!("ws://{addr}/ws/v1/atp/toolkit-client/dev/");
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connected in time")
        .unwrap();
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a close in time")
    {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Policy),
        other => panic!("expected a close frame, got {other:?}"),
    }
    let url = format!("ws://{addr}/ws/v1/atp/toolkit-client/{key}/");
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connected in time")
        .unwrap();
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a greeting in time")
    {
        Some(Ok(Message::Text(hello))) => {
            assert!(hello.contains("atp_client_connected"), "{hello}")
        }
        other => panic!("expected the greeting, got {other:?}"),
    }
    drop(ws);

    child.start_kill().unwrap();
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}

/// On loopback (the default), atp-dev must neither make up a key nor
/// warn: the dev API answers without any `Authorization`.
#[tokio::test]
async fn on_loopback_no_key_is_made_up() {
    let mut child = atp_dev()
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let banner = read_banner(&mut child, "127.0.0.1").await;
    assert!(
        !banner
            .lines
            .iter()
            .any(|l| l.contains("WARNING") || l.contains("#key=")),
        "{:#?}",
        banner.lines
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], banner.port));
    let reply = Raw::get("/api/dev/tools").send(addr).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"tools": []}));
    child.start_kill().unwrap();
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}

// -- 6. Limits -------------------------------------------------------------

/// Opens an event stream (`GET /api/dev/events`) from `from` (an address
/// on the loopback network) and returns the answer, its stream open.
async fn open_events(server: &DevServer, from: [u8; 4]) -> Reply {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let stream = tokio::time::timeout(WAIT, socket.connect(server.local_addr()))
        .await
        .expect("connected in time")
        .unwrap();
    Raw::get("/api/dev/events")
        .send_on(stream, server.local_addr())
        .await
}

/// Attack: one client opens event streams and WebSockets without end to
/// exhaust the server. With `.max_streams_per_client(2)` atp-dev must
/// answer a third stream from the same address with 429 (an SSE stream,
/// the events WebSocket and a toolkit socket alike), still serve another
/// address, and accept a new stream once one of the two is closed.
#[tokio::test]
async fn streams_are_limited_per_client_address() {
    let server = DevServer::builder()
        .max_streams_per_client(2)
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let first = open_events(&server, [127, 0, 0, 1]).await;
    assert_through(&first, 200, "the first events stream");
    let second = open_events(&server, [127, 0, 0, 1]).await;
    assert_through(&second, 200, "the second events stream");

    let third = open_events(&server, [127, 0, 0, 1]).await;
    assert!(third.refusal(429, "a third stream").contains("at most 2"));
    for (what, request) in [
        ("events WebSocket", Raw::upgrade("/api/dev/events/ws")),
        (
            "toolkit WebSocket",
            Raw::upgrade("/ws/v1/atp/toolkit-client/k/"),
        ),
    ] {
        request.send(addr).await.refusal(429, what);
    }
    // Plain requests are not streams.
    assert_eq!(Raw::get("/api/dev/tools").send(addr).await.status, 200);
    // Another client address has its own count.
    let other = open_events(&server, [127, 0, 0, 2]).await;
    assert_through(&other, 200, "a stream from 127.0.0.2");

    // Closing one frees its slot (once the server notices).
    drop(first);
    let started = Instant::now();
    let reopened = loop {
        let reply = open_events(&server, [127, 0, 0, 1]).await;
        if reply.status == 200 {
            break reply;
        }
        reply.refusal(429, "while the closed stream is being noticed");
        assert!(
            started.elapsed() < WAIT,
            "the closed stream's slot was not given back within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_through(&reopened, 200, "a stream after one closed");
    drop((second, other, reopened));
    server.shutdown().await;
}

/// Attack: a huge request body to exhaust memory. With
/// `.max_body_bytes(1024)`, a 2 KiB JSON body must get 413 — on the call
/// API and the toolkit API, sized or chunked — and do nothing.
#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = DevServer::builder()
        .max_body_bytes(1024)
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let big = json!({"params": {"x": "y".repeat(2048)}});
    let reply = Raw::post_json("/api/dev/tools/echo/call", &big)
        .send(addr)
        .await;
    reply.refusal(413, "a 2 KiB call");
    let reply = Raw::post_json("/api/dev/tools/echo/call", &big)
        .chunked()
        .send(addr)
        .await;
    reply.refusal(413, "a 2 KiB chunked call");
    let mut planted = registration("k", "demo", "planted");
    planted["metadata"]["description"] = json!("y".repeat(2048));
    let reply = Raw::post_json("/api/v1/register_tool", &planted)
        .send(addr)
        .await;
    reply.refusal(413, "a 2 KiB registration");
    assert!(server.registrations().is_empty());
    assert!(server.recent_calls().is_empty());
    // Under the limit: through (an unknown tool).
    let reply = Raw::post_json("/api/dev/tools/echo/call", &json!({"params": {}}))
        .send(addr)
        .await;
    reply.refusal(404, "a small call");
    server.shutdown().await;
}

// -- 7. Shutdown with a deadline -------------------------------------------

/// Opens an event stream from a client that reads its head and then
/// nothing, and makes the server write it far more than the socket
/// buffers hold: 300 calls with ~15 KiB params, each answered with them.
/// Returns the stalled connection.
async fn stall_an_event_stream(server: &DevServer) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = tokio::time::timeout(WAIT, socket.connect(server.local_addr()))
        .await
        .expect("connected in time")
        .unwrap();
    let request = Raw::get("/api/dev/events").bytes(server.local_addr());
    stream.write_all(&request).await.unwrap();
    let (head, _) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    register(server, "k", "demo", "blob").await;
    let mut toolkit = RawToolkit::connect(server, "k").await;
    server.wait_for_tools(&["blob"], WAIT).await.unwrap();
    const CALLS: usize = 300;
    let blob = "x".repeat(15_000);
    let calls = futures_util::future::join_all((0..CALLS).map(|i| {
        server.call_with(
            "blob",
            json!({"i": i, "blob": blob}),
            atp_dev::CallOptions::default(),
        )
    }));
    let (results, ()) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(calls, toolkit.serve(CALLS, "raw"))
    })
    .await
    .expect("the calls in time");
    assert!(results.iter().all(Result::is_ok));
    stream
}

/// The server side of a loopback connection in `/proc/net/tcp`: its state
/// (`01` established, `04` FIN-WAIT-1, ...) and its send queue in bytes.
#[cfg(target_os = "linux")]
fn server_side(server_port: u16, client_port: u16) -> Option<(String, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = |a: &str| u16::from_str_radix(a.rsplit(':').next().unwrap_or(""), 16).ok();
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (port(cols[1]) == Some(server_port) && port(cols[2]) == Some(client_port)).then(|| {
            let tx = cols[4].split(':').next().unwrap_or("0");
            (cols[3].to_owned(), u64::from_str_radix(tx, 16).unwrap_or(0))
        })
    })
}

/// Attack (or just a stuck browser tab): a client opens the event stream
/// and stops reading, so the server's writes block. Graceful shutdown
/// waits for open connections; `shutdown()` must still return at its
/// deadline (`.shutdown_timeout(500 ms)`: within ~3 s) — and the wait
/// must be real (at least the deadline: the stream did stall).
#[tokio::test]
async fn shutdown_gives_up_on_a_stalled_stream_at_its_deadline() {
    let server = DevServer::builder()
        .shutdown_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let stalled = stall_an_event_stream(&server).await;
    #[cfg(target_os = "linux")]
    {
        let (state, queued) = server_side(addr.port(), stalled.local_addr().unwrap().port())
            .expect("the stalled connection in /proc/net/tcp");
        assert_eq!(state, "01", "established");
        assert!(queued > 0, "the server's side has unsent data");
    }
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown returns within 3 s despite the stalled stream");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "shutdown took {took:?}: the stream was not stalled, the deadline untested"
    );
    // The port is free again.
    let again = DevServer::builder().bind(addr).start().await.unwrap();
    again.shutdown().await;
    drop(stalled);
}

/// The control for the test above: the same stalled stream holds a
/// shutdown with a long deadline (1 h) for well over 2 s — what the
/// deadline exists for.
#[tokio::test]
async fn without_a_short_deadline_a_stalled_stream_holds_shutdown() {
    let server = DevServer::builder()
        .shutdown_timeout(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let stalled = stall_an_event_stream(&server).await;
    let held = tokio::time::timeout(Duration::from_secs(2), server.shutdown()).await;
    assert!(
        held.is_err(),
        "shutdown returned although the stream is stalled"
    );
    drop(stalled);
}

/// What "dropped at the deadline" must mean: `shutdown()` documents that
/// connections still open at the deadline are dropped. After it returns,
/// the server must no longer hold the stalled connection open (it may
/// still be flushing what it had queued: FIN-WAIT, or gone, but not
/// ESTABLISHED with a live task behind it).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_stalled_stream_is_dropped_at_the_shutdown_deadline() {
    let server = DevServer::builder()
        .shutdown_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let stalled = stall_an_event_stream(&server).await;
    let client_port = stalled.local_addr().unwrap().port();
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown returns within 3 s");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server_side(addr.port(), client_port);
    assert!(
        after.as_ref().is_none_or(|(state, _)| state != "01"),
        "1 s after shutdown() returned, the server still holds the stalled \
         connection ESTABLISHED (state, unsent bytes): {after:?}"
    );
    drop(stalled);
}
