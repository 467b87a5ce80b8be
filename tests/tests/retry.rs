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
