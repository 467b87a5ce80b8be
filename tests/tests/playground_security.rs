//! What the guard in front of atp-dev (`atp-dev/src/guard.rs`) means for a
//! real browser: headless Chromium, a real atp-dev and a real toolkit on
//! loopback.
//!
//! - A page of another origin (a second local server) cannot call a tool,
//!   read the call log, or open the event stream or its WebSocket; no call
//!   reaches the toolkit. A name that resolves to 127.0.0.1 (DNS
//!   rebinding) gets nothing either. The playground itself still works.
//! - With a key, the playground asks for it, refuses a wrong one, works
//!   with the right one, and takes it from a `/#key=` link, which it then
//!   drops from the address.
//!
//! Needs Debian's `chromium` and `chromium-driver` and this package's
//! `browser` feature, so the tests are ignored by default:
//! `cargo test -p atp-tests --features browser --test playground_security -- --include-ignored`.
//! Without the browser, or without the feature, they then fail saying what
//! is missing.

/// Without the `browser` feature the browser tests are not built; this
/// one says how to run them.
#[cfg(not(feature = "browser"))]
#[test]
#[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver) and --features browser: `cargo xtask test` sets it up and runs it"]
fn the_browser_tests_need_the_browser_feature() {
    panic!("{}", atp_tests::webdriver::without_the_feature());
}

#[cfg(feature = "browser")]
mod in_chromium {
    use std::time::Duration;

    use atp_dev::DevServer;
    use atp_sdk::ToolKitClient;
    use atp_tests::webdriver::{Browser, Error};
    use atp_tests::*;
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    /// Bounded wait for anything the page does.
    const PAGE_WAIT: Duration = Duration::from_secs(15);

    /// A host name the browser resolves to 127.0.0.1, as a DNS-rebinding
    /// attacker's name would.
    const REBIND_HOST: &str = "rebind.test";

    // ---------------------------------------------------------------------------
    // A page of another origin
    // ---------------------------------------------------------------------------

    /// What a hostile page tries against atp-dev at `?target=<base URL>`. Each
    /// attempt's outcome lands in `window.results` (set once all are done).
    const PROBE_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title></head>
<body><pre id="out">probing…</pre>
<script>
"use strict";
(async () => {
  const target = new URLSearchParams(location.search).get("target");
  const results = {};
  const attempt = async (name, f) => {
    try { results[name] = await f(); } catch (e) { results[name] = "error: " + e.name; }
  };
  const body = JSON.stringify({ params: { text: "from another origin" } });
  const call = (init) => fetch(target + "/api/dev/tools/echo/call", Object.assign({ method: "POST", body }, init));
  const seen = async (r) => "answer " + r.status + " " + (await r.text()).slice(0, 100);

  // A call with JSON (needs a CORS preflight).
  await attempt("call_json", async () => seen(await call({ headers: { "content-type": "application/json" } })));
  // A "simple" request: text/plain, no preflight; the browser sends it.
  await attempt("call_text", async () => seen(await call({ headers: { "content-type": "text/plain" } })));
  // The same, not even asking to read the answer (what a form post does).
  await attempt("call_text_no_cors", async () =>
    "opaque: " + (await call({ mode: "no-cors", headers: { "content-type": "text/plain" } })).type);
  // The call log: its params and results.
  await attempt("calls", async () => seen(await fetch(target + "/api/dev/calls")));
  await attempt("calls_no_cors", async () =>
    "opaque: " + (await fetch(target + "/api/dev/calls", { mode: "no-cors" })).type);
  // The live log as an event stream...
  await attempt("events", () => new Promise((resolve) => {
    const es = new EventSource(target + "/api/dev/events");
    es.onopen = () => { es.close(); resolve("open"); };
    es.onerror = () => { const state = es.readyState; es.close(); resolve("error (readyState " + state + ")"); };
  }));
  // ...and as a WebSocket (no CORS there: only the server's Origin check).
  await attempt("ws", () => new Promise((resolve) => {
    const ws = new WebSocket(target.replace(/^http/, "ws") + "/api/dev/events/ws");
    ws.onopen = () => { ws.close(); resolve("open"); };
    ws.onclose = (e) => resolve("closed " + e.code);
  }));
  document.getElementById("out").textContent = JSON.stringify(results, null, 2);
  window.results = results;
})();
</script></body></html>"#;

    /// Serves [`PROBE_PAGE`] at `/probe` on a port of its own: a second
    /// origin. Returns that origin (`http://127.0.0.1:PORT`).
    async fn serve_probe_page() -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let origin = format!("http://{}", listener.local_addr().expect("its address"));
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // The request head (bounded); the page's requests have no body.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or("/");
                    let (status, kind, body) = if path.starts_with("/probe") {
                        ("200 OK", "text/html; charset=utf-8", PROBE_PAGE)
                    } else {
                        ("404 Not Found", "text/plain", "not found")
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        (origin, task)
    }

    /// Opens the probe page against `target` and returns what it saw.
    async fn probe(b: &Browser, page_origin: &str, target: &str) -> Result<Value, Error> {
        b.goto(&format!("{page_origin}/probe?target={target}"))
            .await?;
        let seen = b
            .wait_until("return window.results || null", PAGE_WAIT)
            .await?;
        eprintln!("a page of {page_origin} against {target}: {seen:#}");
        Ok(seen)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver): `cargo xtask test` sets it up and runs it"]
    async fn another_origins_page_gets_nothing_from_atp_dev_and_the_playground_still_works() {
        let rules = format!("--host-resolver-rules=MAP {REBIND_HOST} 127.0.0.1");
        let browser = Browser::start(&[&rules])
            .await
            .unwrap_or_else(|err| panic!("no headless browser: {err}"));
        let server = start_server().await;
        let toolkit = start_toolkit(&server, "guarded-kit", Some(&["echo"])).await;
        let (page_origin, page_server) = serve_probe_page().await;
        // The same server, told to trust the probe page's origin: what the
        // page can do once the Origin check lets it through.
        let trusting = DevServer::builder()
            .allow_origin(&page_origin)
            .start()
            .await
            .expect("a second atp-dev starts");
        let trusting_toolkit = start_toolkit(&trusting, "trusting-kit", Some(&["echo"])).await;

        let result = cross_origin(&server, &trusting, &page_origin, &browser).await;
        let closed = browser.close().await;
        page_server.abort();
        toolkit.shutdown().await.ok();
        trusting_toolkit.shutdown().await.ok();
        server.shutdown().await;
        trusting.shutdown().await;
        result.unwrap_or_else(|err| panic!("{err}"));
        closed.expect("the browser session ends");
    }

    async fn cross_origin(
        server: &DevServer,
        trusting: &DevServer,
        page_origin: &str,
        b: &Browser,
    ) -> Result<(), Error> {
        // Against atp-dev as it is: everything refused.
        let seen = probe(b, page_origin, &server.base_url()).await?;
        for name in ["call_json", "call_text", "calls"] {
            assert_eq!(seen[name], "error: TypeError", "{name}: {seen:#}");
        }
        // Sent, but what came back is not for the page to see.
        assert_eq!(seen["call_text_no_cors"], "opaque: opaque", "{seen:#}");
        assert_eq!(seen["calls_no_cors"], "opaque: opaque", "{seen:#}");
        let events = seen["events"].as_str().unwrap_or_default();
        assert!(events.starts_with("error"), "the event stream: {seen:#}");
        assert_eq!(seen["ws"], "closed 1006", "the WebSocket: {seen:#}");
        // None of it reached the toolkit.
        let calls = server.recent_calls();
        assert!(calls.is_empty(), "calls from the page: {calls:?}");

        // Against an atp-dev that trusts the page's origin, the WebSocket
        // opens (so the refusal above was the Origin check), and still no
        // call gets through: a text/plain body is refused (415), and a JSON
        // one needs a preflight atp-dev does not answer.
        let seen = probe(b, page_origin, &trusting.base_url()).await?;
        assert_eq!(seen["ws"], "open", "the WebSocket: {seen:#}");
        assert_eq!(seen["call_json"], "error: TypeError", "{seen:#}");
        let calls = trusting.recent_calls();
        assert!(calls.is_empty(), "calls from the page: {calls:?}");

        // DNS rebinding: a name of the attacker's that resolves to 127.0.0.1.
        let port = server.local_addr().port();
        b.goto(&format!("http://{REBIND_HOST}:{port}/api/dev/calls"))
            .await?;
        let text = b.text_of("body", PAGE_WAIT).await?;
        assert!(
            text.contains(&format!(r#"host \"{REBIND_HOST}:{port}\" is not allowed"#)),
            "{text}"
        );
        b.goto(&format!("http://{REBIND_HOST}:{port}/")).await?;
        let text = b.text_of("body", PAGE_WAIT).await?;
        assert!(text.contains("is not allowed"), "the playground: {text}");
        assert!(b.find_all("#tools").await?.is_empty());

        // The playground itself, from atp-dev's own origin, still works.
        b.goto(&server.playground_url()).await?;
        b.wait_for("#live.on", PAGE_WAIT).await?;
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.fill(
            &b.wait_for("#param-text", PAGE_WAIT).await?,
            "from the playground",
        )
        .await?;
        b.wait_for("#call-button", PAGE_WAIT).await?.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let shown: Value = serde_json::from_str(&b.text_of("#result-body", PAGE_WAIT).await?)?;
        assert_eq!(shown, json!({"echo": "from the playground"}));
        let calls = server.recent_calls();
        assert_eq!(calls.len(), 1, "only the playground's call: {calls:?}");
        assert_eq!(calls[0].params, json!({"text": "from the playground"}));
        Ok(())
    }

    // ---------------------------------------------------------------------------
    // The key
    // ---------------------------------------------------------------------------

    const KEY: &str = "k-browser-test-3f9a";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver): `cargo xtask test` sets it up and runs it"]
    async fn with_a_key_the_playground_asks_for_it_and_refuses_a_wrong_one() {
        let browser = Browser::start(&[])
            .await
            .unwrap_or_else(|err| panic!("no headless browser: {err}"));
        init_logging();
        let server = DevServer::builder()
            .api_key(KEY)
            .start()
            .await
            .expect("atp-dev starts");
        let client = ToolKitClient::builder(KEY, "keyed-kit")
            .base_url(server.base_url())
            .backoff(Duration::from_millis(50), Duration::from_millis(500))
            .tools(["echo"])
            .build()
            .expect("the toolkit builds");
        let toolkit = spawn(client);
        server
            .wait_for_tools(&["echo"], WAIT)
            .await
            .expect("the toolkit connects with the key");

        let result = keyed(&server, &browser).await;
        let closed = browser.close().await;
        toolkit.shutdown().await.ok();
        server.shutdown().await;
        result.unwrap_or_else(|err| panic!("{err}"));
        closed.expect("the browser session ends");
    }

    /// Calls echo from the page's form and waits for the result.
    async fn call_echo(b: &Browser, text: &str) -> Result<Value, Error> {
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.fill(&b.wait_for("#param-text", PAGE_WAIT).await?, text)
            .await?;
        b.wait_for("#call-button", PAGE_WAIT).await?.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        Ok(serde_json::from_str(
            &b.text_of("#result-body", PAGE_WAIT).await?,
        )?)
    }

    async fn keyed(server: &DevServer, b: &Browser) -> Result<(), Error> {
        // No key yet: the bar asks for it, nothing is listed, nothing is live.
        b.goto(&server.playground_url()).await?;
        b.wait_for("#key-bar:not(.hidden) #key-input", PAGE_WAIT)
            .await?;
        assert_eq!(b.text_of("#key-note", PAGE_WAIT).await?, "");
        assert!(b.find_all("#tools .tool").await?.is_empty());
        // At once: well before the server gives up waiting for the event
        // WebSocket's key (10 s), which the page's first 401 makes moot.
        b.wait_until(
            r#"return document.getElementById("live-text").textContent === "needs the key""#,
            Duration::from_secs(5),
        )
        .await?;
        assert!(b.find_all("#live.on").await?.is_empty());

        // A wrong key: refused, and the bar asks again.
        let input = b.wait_for("#key-input", PAGE_WAIT).await?;
        b.fill(&input, "not-the-key").await?;
        b.wait_for(r#"#key-bar button[type="submit"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.wait_until(
            r#"return !document.getElementById("key-bar").classList.contains("hidden")
                  && document.getElementById("key-note").textContent === "that key was refused""#,
            PAGE_WAIT,
        )
        .await?;
        assert!(b.find_all("#tools .tool").await?.is_empty());
        b.wait_until(
            r#"return document.getElementById("live-text").textContent === "needs the key""#,
            PAGE_WAIT,
        )
        .await?;

        // The right key: the bar goes, the tools come, the log is live, a call works.
        let input = b.wait_for("#key-input", PAGE_WAIT).await?;
        b.fill(&input, KEY).await?;
        b.wait_for(r#"#key-bar button[type="submit"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?;
        b.wait_for("#key-bar.hidden", PAGE_WAIT).await?;
        b.wait_for("#live.on", PAGE_WAIT).await?;
        assert_eq!(
            call_echo(b, "with the key").await?,
            json!({"echo": "with the key"})
        );
        let seq = server
            .recent_calls()
            .iter()
            .rfind(|e| e.params == json!({"text": "with the key"}))
            .map(|e| e.seq)
            .expect("the call is in the log");
        b.wait_for(
            &format!(r#"#log tr.call[data-seq="{seq}"][data-status="ok"]"#),
            PAGE_WAIT,
        )
        .await?;

        // A link with the key (`/#key=K`, as atp-dev prints it), in a new tab
        // (nothing kept from the other): it just works, and the key leaves
        // the address.
        let d = b.driver();
        let tab = d.new_tab().await?;
        d.switch_to_window(tab).await?;
        b.goto(&format!("{}#key={KEY}", server.playground_url()))
            .await?;
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?;
        b.wait_for("#live.on", PAGE_WAIT).await?;
        let url = b.execute("return location.href").await?;
        assert_eq!(url, json!(server.playground_url()), "the key left the URL");
        assert!(!d.current_url().await?.as_str().contains(KEY));
        assert_eq!(b.execute("return location.hash").await?, json!(""));
        assert!(
            b.find_all("#key-bar.hidden").await?.len() == 1,
            "the bar never asked"
        );
        assert_eq!(
            call_echo(b, "from the link").await?,
            json!({"echo": "from the link"})
        );
        assert_eq!(server.recent_calls().len(), 2);
        Ok(())
    }
}
