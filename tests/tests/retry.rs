//! A server that answers 5xx is retried with backoff, not given up on: a
//! front that refuses the first connections with 503 and then forwards to
//! atp-dev; the toolkit announces and serves once it gets through. And a 401
//! is final: the toolkit stops instead of retrying.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atp_tests::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers the first `refuse` connections with `status`, forwards the rest.
async fn flaky_front(
    backend: SocketAddr,
    refuse: usize,
    status: &'static str,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            if counter.load(Ordering::SeqCst) < refuse {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // Read the request head, answer, close.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut backend) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut socket, &mut backend).await;
                }
            });
        }
    });
    (addr, refused)
}

#[tokio::test]
async fn server_errors_are_retried_until_the_server_answers() {
    let server = start_server().await;
    let (front, refused) = flaky_front(server.local_addr(), 3, "503 Service Unavailable").await;
    let client = atp_sdk::ToolKitClient::builder("key-retry", "retry")
        .base_url(format!("http://{front}"))
        .tools(["echo"])
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        refused.load(Ordering::SeqCst),
        3,
        "three attempts got a 503 first"
    );
    assert_eq!(
        call(&server, "echo", json!({"text": "through"})).await,
        json!({"echo": "through"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn forbidden_is_final() {
    let server = start_server().await;
    let (front, refused) = flaky_front(server.local_addr(), usize::MAX, "403 Forbidden").await;
    let client = atp_sdk::ToolKitClient::builder("key-forbidden", "forbidden")
        .base_url(format!("http://{front}"))
        .tools(["echo"])
        .build()
        .unwrap();
    let err = tokio::time::timeout(WAIT, client.serve())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, atp_sdk::Error::Unauthorized(_)), "{err}");
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(refused.load(Ordering::SeqCst), 1, "no retry after a 403");
}

#[tokio::test]
async fn a_websocket_closed_with_the_policy_code_is_final() {
    use atp_tests::front::{Front, Mode};
    // Announcing succeeds (a server that takes any key), but the WebSocket
    // reaches one that refuses this key and closes with code 1008.
    let lenient = start_server().await;
    let strict = atp_dev::DevServer::builder()
        .api_key("another-key")
        .start()
        .await
        .unwrap();
    let front = Front::start(lenient.local_addr(), None).await;
    front.set_mode(Mode::UpgradesTo(strict.local_addr()));
    let client = atp_sdk::ToolKitClient::builder("key-policy", "policy")
        .base_url(front.url())
        .tools(["echo"])
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build()
        .unwrap();
    let err = tokio::time::timeout(WAIT, client.serve())
        .await
        .expect("the toolkit stops instead of retrying")
        .unwrap_err();
    assert!(matches!(err, atp_sdk::Error::Unauthorized(_)), "{err}");
    assert!(err.to_string().contains("1008"), "{err}");
    assert!(!err.to_string().contains("key-policy"), "{err}");
}

/// A stand-in server that wants every tool registered and answers the
/// `register_tool` requests with `answers` in turn (the last one for ever
/// after), and a toolkit serving `echo` to it.
async fn throttled_registration(
    app: &str,
    answers: Vec<atp_tests::raw::Reply>,
) -> (atp_tests::raw::RawServer, Toolkit) {
    use atp_tests::raw::{RawServer, Reply};
    let next = Arc::new(AtomicUsize::new(0));
    let raw = RawServer::start(move |request| {
        let path = request.path.as_str();
        if path.ends_with("/verify_hash") || path.ends_with("/verify_tool_hash") {
            Reply::Json(200, r#"{"up_to_date": false}"#.to_owned())
        } else if path.ends_with("/register_tool") {
            let i = next.fetch_add(1, Ordering::SeqCst);
            answers[i.min(answers.len() - 1)].clone()
        } else {
            Reply::Json(404, "{}".to_owned())
        }
    })
    .await;
    let client = atp_sdk::ToolKitClient::builder(format!("key-{app}"), app)
        .base_url(raw.url())
        .tools(["echo"])
        .build()
        .unwrap();
    (raw, spawn(client))
}

fn registrations(raw: &atp_tests::raw::RawServer) -> usize {
    raw.requests()
        .iter()
        .filter(|r| r.path.ends_with("/register_tool"))
        .count()
}

fn throttled(status: u16, retry_after: Option<&str>) -> atp_tests::raw::Reply {
    let headers = retry_after
        .map(|s| vec![("Retry-After".to_owned(), s.to_owned())])
        .unwrap_or_default();
    atp_tests::raw::Reply::JsonWith(status, headers, r#"{"detail": "slow down"}"#.to_owned())
}

/// Guards review fault (round 2) 5: a 429 or 408 from `register_tool` was
/// final (the tool counted as refused), though the 32-at-a-time
/// announcement is what trips a rate limit. It is tried again — after the
/// backoff when the server gives no `Retry-After`, after `Retry-After`
/// when it does — and the toolkit then serves.
#[tokio::test]
async fn a_throttled_registration_is_tried_again() {
    let (mut raw, toolkit) = throttled_registration(
        "throttled",
        vec![
            throttled(429, None),
            throttled(408, Some("0")),
            throttled(429, Some("0")),
            atp_tests::raw::Reply::Json(200, r#"{"exchange_token": "t"}"#.to_owned()),
        ],
    )
    .await;
    let ws = raw
        .next_upgraded(WAIT)
        .await
        .expect("the toolkit connects after announcing");
    assert_eq!(
        registrations(&raw),
        4,
        "three throttled tries, then the one that took"
    );
    drop(ws);
    toolkit.shutdown().await.unwrap();
}

/// Review fault (round 2) 5, the other end: a server that throttles every
/// try gets five of them, then the tool counts as refused and the toolkit
/// serves its tools anyway (as for any refusal).
#[tokio::test]
async fn a_registration_throttled_on_every_try_counts_as_refused() {
    let (mut raw, toolkit) =
        throttled_registration("throttled-always", vec![throttled(429, Some("0"))]).await;
    let ws = raw
        .next_upgraded(WAIT)
        .await
        .expect("the toolkit connects after announcing");
    assert_eq!(registrations(&raw), 5, "five tries, then refused");
    drop(ws);
    toolkit.shutdown().await.unwrap();
}
