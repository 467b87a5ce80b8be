//! A toolkit's WebSocket connection to a server that misbehaves: one that
//! stops reading in the middle of an answer, and one whose connection
//! fails under an answer due at once. A stand-in server
//! ([`RawServer`]) plays the server by hand.
//!
//! Every wait is bounded, so a fault that shows as a hang fails the test
//! instead of hanging it.

use std::time::{Duration, Instant};

use atp_dev::DevServer;
use atp_sdk::ToolKitClient;
use atp_tests::front::{Front, Mode};
use atp_tests::raw::{
    RawServer, Reply, Ws, announce_reply, read_frame_head, read_frame_payload, server_frame,
};
use atp_tests::serving::describe_end;
use atp_tests::stand_in::{next_text, tool_request};
use atp_tests::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// The texts of the toolkit's frames for `within`.
async fn texts_for(ws: &mut Ws, within: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut texts = Vec::new();
    while let Some(text) = next_text(ws, deadline - tokio::time::Instant::now()).await {
        texts.push(text);
    }
    texts
}

// ---------------------------------------------------------------------------
// A server that stops reading (review fault 1)
// ---------------------------------------------------------------------------

/// A 32 MiB result: far more than the socket buffers between the toolkit
/// and a server that reads nothing hold.
const BIG: usize = 32 * 1024 * 1024;

/// A stand-in WebSocket server behind a front that sends the announce to
/// a real atp-dev, and a toolkit that serves `big` through it with the
/// review's settings.
async fn stalling_setup(app: &str) -> (DevServer, RawServer, Toolkit) {
    let server = start_server().await;
    let raw = RawServer::websocket_only().await;
    let front = Front::start(server.local_addr(), None).await;
    front.set_mode(Mode::UpgradesTo(raw.addr()));
    let client = builder(&server, app, Some(&["big"]))
        .base_url(front.url())
        .ping_interval(Duration::from_millis(500))
        .ping_timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    (server, raw, spawn(client))
}

/// Asks the toolkit on `tcp` (an upgraded connection) for a 32 MiB
/// result, answering its pings meanwhile, and stops reading once the
/// answer's frame begins: returns when only its head has been read. The
/// rest stays unread, the TCP connection open.
async fn stall_on_a_big_answer(tcp: &mut TcpStream) {
    let request = tool_request(json!("big-1"), "big", json!({ "bytes": BIG }));
    tcp.write_all(&server_frame(0x1, request.as_bytes()))
        .await
        .unwrap();
    let until_the_big_frame = async {
        loop {
            let (opcode, masked, length) = read_frame_head(tcp).await.expect("a frame head");
            if length > 1024 * 1024 {
                return;
            }
            let payload = read_frame_payload(tcp, masked, length).await.unwrap();
            if opcode == 0x9 {
                // A ping: pong, as a live server does until it stalls.
                tcp.write_all(&server_frame(0xA, &payload)).await.unwrap();
            }
        }
    };
    tokio::time::timeout(WAIT, until_the_big_frame)
        .await
        .expect("the toolkit starts writing the big answer");
}

/// Review fault 1 (a): a server that stops reading freezes the connection.
/// A server upgrades, asks for a 32 MiB result and never reads again
/// (the TCP connection stays open). With `ping_interval` and
/// `ping_timeout` of 500 ms, the toolkit must give the stuck connection up
/// and connect again within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_is_left_for_a_new_connection() {
    let (_server, mut raw, toolkit) = stalling_setup("fault1-reconnect").await;
    let mut first = raw.next_upgraded(WAIT).await.expect("the toolkit connects");
    stall_on_a_big_answer(&mut first).await;
    let stalled_at = Instant::now();
    let second = raw.next_upgraded(Duration::from_secs(5)).await;
    assert!(
        second.is_some(),
        "the toolkit did not connect again within 5 s of the server's stall \
         (WebSocket connections accepted: {}; serve() {})",
        raw.ws_accepts(),
        if toolkit.task.is_finished() {
            "ended"
        } else {
            "still running"
        }
    );
    eprintln!("connected again {:?} after the stall", stalled_at.elapsed());
    toolkit.task.abort();
    drop(first);
}

/// Review fault 1 (b): a stop must end `serve()` even while a write is
/// stuck on a server that stops reading: with `shutdown_timeout` of 1 s,
/// `serve()` returns within ~3 s of `stop()`. (Bounded at 8 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_serve_while_a_write_is_stuck() {
    let (_server, mut raw, mut toolkit) = stalling_setup("fault1-stop").await;
    let mut first = raw.next_upgraded(WAIT).await.expect("the toolkit connects");
    stall_on_a_big_answer(&mut first).await;
    toolkit.stop.stop();
    let stopped_at = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(8), &mut toolkit.task).await;
    let elapsed = stopped_at.elapsed();
    let Ok(ended) = ended else {
        toolkit.task.abort();
        panic!(
            "serve() has not returned 8 s after stop() (its write is stuck on a server that reads nothing)"
        );
    };
    assert!(
        elapsed <= Duration::from_secs(3),
        "serve() took {elapsed:?} to return after stop() (shutdown_timeout 1 s)"
    );
    assert!(ended.is_ok(), "serve() {}", describe_end(&ended));
    drop(first);
}

// ---------------------------------------------------------------------------
// An answer whose write failed (suspected fault s1)
// ---------------------------------------------------------------------------

/// A stand-in server (the announce answered "up to date") and a toolkit
/// serving `echo` and `wait_gate` to it over the WebSocket.
async fn toolkit_on_a_stand_in(
    app: &str,
    configure: impl FnOnce(atp_sdk::ToolKitClientBuilder) -> atp_sdk::ToolKitClientBuilder,
) -> (RawServer, Toolkit) {
    init_logging();
    let raw = RawServer::start(|request| {
        announce_reply(request).unwrap_or(Reply::Json(404, "{}".to_owned()))
    })
    .await;
    let builder = ToolKitClient::builder(format!("key-{app}"), app)
        .base_url(raw.url())
        .tools(["echo", "wait_gate"])
        .backoff(Duration::from_millis(50), Duration::from_millis(200));
    let toolkit = spawn(configure(builder).build().unwrap());
    (raw, toolkit)
}

/// Sends `frame`, then resets the TCP connection (RST, no close frame)
/// before the toolkit's task can run again: the toolkit reads the frame,
/// and writing its answer fails.
async fn send_then_reset(mut ws: Ws, frame: String) {
    ws.send(Message::text(frame)).await.unwrap();
    #[allow(deprecated)]
    ws.get_ref().set_linger(Some(Duration::ZERO)).unwrap();
    drop(ws);
}

/// Suspected fault s1 (reject): an answer due at once (here: a request
/// without a tool name) whose write fails is lost. It must be kept and
/// written on the next connection, like any other answer.
///
/// Runs on one thread, so the stand-in resets the connection before the
/// toolkit handles the frame.
#[tokio::test]
async fn a_reject_answer_whose_write_failed_is_sent_on_the_next_connection() {
    let (mut raw, toolkit) = toolkit_on_a_stand_in("s1-reject", |b| b).await;
    let first = raw
        .next_connection(WAIT)
        .await
        .expect("the toolkit connects");
    send_then_reset(
        first,
        json!({"message_type": "atp_tool_request", "payload": {"request_id": "s1-reject", "params": {}}})
            .to_string(),
    )
    .await;
    let mut second = raw
        .next_connection(WAIT)
        .await
        .expect("the toolkit connects again");
    let texts = texts_for(&mut second, Duration::from_secs(3)).await;
    assert!(
        texts.iter().any(|t| t.contains("s1-reject")),
        "the answer to s1-reject (whose write failed) never came on the next connection; \
         frames on it: {texts:?}"
    );
    toolkit.task.abort();
}

/// Suspected fault s1 (overload): an overload answer whose write fails
/// is lost. It must be kept and written on the next connection.
#[tokio::test]
async fn an_overload_answer_whose_write_failed_is_sent_on_the_next_connection() {
    let gate = "s1-overload";
    set_gate(gate, false);
    let (mut raw, toolkit) =
        toolkit_on_a_stand_in("s1-overload", |b| b.max_in_flight(1).max_queued(0)).await;
    let mut first = raw
        .next_connection(WAIT)
        .await
        .expect("the toolkit connects");
    // The only slot is taken ...
    first
        .send(Message::text(tool_request(
            json!("s1-held"),
            "wait_gate",
            json!({"gate": gate}),
        )))
        .await
        .unwrap();
    gate_entered(gate, 1).await;
    // ... so this one is answered "overloaded" at once.
    send_then_reset(
        first,
        tool_request(json!("s1-overloaded"), "echo", json!({"text": "x"})),
    )
    .await;
    let mut second = raw
        .next_connection(WAIT)
        .await
        .expect("the toolkit connects again");
    set_gate(gate, true);
    let texts = texts_for(&mut second, Duration::from_secs(3)).await;
    assert!(
        texts.iter().any(|t| t.contains("s1-held")),
        "precondition: the held call's answer comes on the next connection; frames: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("s1-overloaded")),
        "the overload answer to s1-overloaded (whose write failed) never came on the next \
         connection; frames on it: {texts:?}"
    );
    toolkit.task.abort();
}
