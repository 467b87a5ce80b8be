//! What the playground stands on, over real HTTP: the page itself, the
//! live call log as Server-Sent Events, the list of recent calls, and a
//! shutdown that ends open event streams. (The page in a real browser is
//! tested in `tests/tests/playground.rs`.)

mod support;

use std::time::Duration;

use atp_dev::{CallStatus, DevServer};
use serde_json::{Value, json};
use support::*;

/// Reads Server-Sent Events from a response, one `(event, data)` at a time.
struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(server: &DevServer) -> Events {
        let res = http()
            .get(format!("{}/api/dev/events", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events {
            res,
            buf: String::new(),
        }
    }

    /// The next event, or `None` when the stream ended.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_owned());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((event, data.join("\n")));
            }
            let chunk = tokio::time::timeout(WAIT, self.res.chunk())
                .await
                .expect("an event or the end in time")
                .ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `call` event.
    async fn next_call(&mut self) -> Value {
        loop {
            let (event, data) = self.next().await.expect("the stream is open");
            if event == "call" {
                return serde_json::from_str(&data).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn the_page_is_served_at_the_base_url_with_nothing_from_elsewhere() {
    let server = DevServer::start().await.unwrap();
    let res = http().get(server.playground_url()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains("<title>atp-dev playground</title>"));
    // Works offline: no script, style, font or image from another host.
    for needle in ["src=\"http", "href=\"http", "@import", "url(http", "//cdn"] {
        assert!(!page.contains(needle), "the page loads `{needle}`");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn every_call_is_pushed_live_to_watchers_and_kept() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();

    // A call before anyone watches is in the backlog a new watcher gets.
    let early = server.call("echo", json!({"n": 1}), None);
    let answer = async {
        let request = toolkit.next_request().await;
        toolkit
            .respond(&request["request_id"], json!({"n": 1}))
            .await;
    };
    let (early, ()) = tokio::join!(early, answer);
    let early = early.unwrap();

    let mut events = Events::open(&server).await;
    let first = events.next_call().await;
    assert_eq!(first["request_id"], early.request_id);
    assert_eq!(first["status"], "ok");
    assert_eq!(first["app_name"], "demo");
    assert_eq!(first["result"], json!({"n": 1}));

    // A call through the HTTP call API, with a token and a secret-looking
    // param: `running` when sent, then `tool_error`; no secret in either.
    let body = json!({"params": {"q": "x", "api_key": "param-secret"}, "auth_token": "tok-secret"});
    let call = post(&server, "/api/dev/tools/echo/call", &body);
    let watch = async {
        let running = events.next_call().await;
        let request = toolkit.next_request().await;
        toolkit
            .respond(&request["request_id"], json!({"error": "nope"}))
            .await;
        let done = events.next_call().await;
        (running, done)
    };
    let ((status, _), (running, done)) = tokio::join!(call, watch);
    assert_eq!(status, 200);
    assert_eq!(running["status"], "running");
    assert_eq!(done["status"], "tool_error");
    assert_eq!(running["seq"], done["seq"]);
    assert_eq!(done["with_token"], true);
    assert_eq!(done["params"], json!({"q": "x", "api_key": "<redacted>"}));
    assert!(done["latency_ms"].as_f64().unwrap() > 0.0);
    for event in [&running, &done] {
        let text = event.to_string();
        assert!(!text.contains("secret"), "a secret in the call log: {text}");
    }

    // A call that never reaches a toolkit is logged as failed.
    let (status, _) = post(&server, "/api/dev/tools/nope/call", &json!({})).await;
    assert_eq!(status, 404);
    let failed = events.next_call().await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], "unknown tool: nope");

    // The same calls, kept for the next watcher and for the library.
    let (status, recent) = get(&server, "/api/dev/calls").await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "tool_error", "failed"]);
    let kept = server.recent_calls();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[1].status, CallStatus::ToolError);
    server.shutdown().await;
}

#[tokio::test]
async fn a_tools_event_tells_watchers_that_toolkits_changed() {
    let server = DevServer::start().await.unwrap();
    let mut events = Events::open(&server).await;
    register(&server, "k", "demo", "echo").await;
    let _toolkit = RawToolkit::connect(&server, "k").await;
    loop {
        let (event, _) = events.next().await.expect("the stream is open");
        if event == "tools" {
            break;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_event_streams() {
    let server = DevServer::start().await.unwrap();
    let mut events = Events::open(&server).await;
    // Shutdown waits for open connections: it must end the stream itself.
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown does not wait on a watcher");
    tokio::time::timeout(WAIT, async { while events.next().await.is_some() {} })
        .await
        .expect("the stream ends");
}

#[tokio::test]
async fn a_call_whose_caller_goes_away_is_logged_as_cancelled() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let mut events = Events::open(&server).await;

    // The caller gives up (its future is dropped) before any answer.
    let call = server.call("echo", json!({"n": 1}), None);
    let gave_up = tokio::time::timeout(Duration::from_millis(1), async {
        let request = async { toolkit.next_request().await };
        tokio::join!(call, request).0
    })
    .await;
    assert!(gave_up.is_err(), "nobody answered");
    let running = events.next_call().await;
    assert_eq!(running["status"], "running");
    let ended = events.next_call().await;
    assert_eq!(ended["seq"], running["seq"]);
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["error"], "cancelled: the caller went away");
    server.shutdown().await;
}
