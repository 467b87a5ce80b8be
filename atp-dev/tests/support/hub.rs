//! Helpers for the tests of atp-dev's shared state (the hub), shown
//! through the public API only: `DevServer`, the HTTP routes and raw
//! WebSocket peers. Their cases are review fault 11 (RELIABILITY.md,
//! "Faults found in review") with the review's letters: A, a call its
//! caller gave up on reached a toolkit later (`hub_frames.rs`); B, app
//! sessions and queued frames (`hub_frames.rs`, `hub_sessions.rs`); C,
//! stores without bounds (`hub_bounds.rs`, `hub_sessions.rs`); D, an
//! answer at the moment of the timeout, suspected fault s4
//! (`hub_timeouts.rs`).
//!
//! Several tests need a request that atp-dev has routed to a connection
//! but not yet written to it. They get one by *jamming* the connection
//! ([`jam`]): [`DevServer::send_raw`] sends it a 64 MiB frame while the
//! raw toolkit does not read, so atp-dev's connection task is stuck
//! writing that frame (far more than the loopback socket buffers hold)
//! and every request routed to the connection afterwards waits in
//! atp-dev's own queue. From there either the toolkit drops its TCP
//! connection ([`break_off`]: atp-dev's write fails, and the queued
//! requests are handed on: *parked* for the key's next connection, or
//! sent to another open one), or the toolkit starts reading again
//! ([`read_noise`]: the queued requests are written after the noise).
//!
//! To show that a stale request does *not* reach a toolkit, a test makes a
//! fresh call and checks that the fresh request is the first one the
//! toolkit reads (queued and parked frames are sent in order, before
//! it), then waits a short, bounded [`SILENCE`] for anything after it
//! ([`expect_no_stale_request`]).

use std::fmt::Debug;
use std::time::Duration;

use atp_dev::{CallOptions, DevServer, RawFrame};
use serde_json::{Value, json};

use super::{RawToolkit, WAIT, register};

/// The size of the frame that jams a connection: well above what the
/// loopback socket buffers of both ends can hold (here at most 4 MiB sent
/// plus 32 MiB received, and the receive side only grows while the peer
/// reads).
pub const NOISE_BYTES: usize = 64 << 20;

pub const NOISE_PREFIX: &str = r#"{"message_type":"noise""#;

/// How long a test waits to show that nothing (more) arrives.
pub const SILENCE: Duration = Duration::from_millis(500);

/// Jams every open toolkit connection (see the module doc); returns how
/// many.
pub fn jam(server: &DevServer) -> usize {
    let noise = format!(
        r#"{NOISE_PREFIX},"payload":"{}"}}"#,
        "n".repeat(NOISE_BYTES)
    );
    server.send_raw(RawFrame::Text(noise))
}

/// Drives a call until atp-dev has routed its request (it waits for an
/// answer) and checks that it is still waiting.
pub async fn under_way<F>(server: &DevServer, call: &mut F)
where
    F: Future + Unpin,
    F::Output: Debug,
{
    let waiting = server.stats().waiting_calls;
    let routed = async {
        loop {
            if let Ok(out) = tokio::time::timeout(Duration::from_millis(10), &mut *call).await {
                panic!("expected the call to be waiting for its toolkit, it ended: {out:?}");
            }
            if server.stats().waiting_calls > waiting {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, routed)
        .await
        .expect("atp-dev routes the request");
}

/// Drops a jammed toolkit's TCP connection (no close frame; its unread
/// data makes it a reset) and waits until atp-dev has removed the
/// connection, `remaining` staying open: by then the requests left in its
/// queue have been handed on.
pub async fn break_off(server: &DevServer, jammed: RawToolkit, remaining: usize) {
    drop(jammed);
    server
        .wait_for_connections(remaining, WAIT)
        .await
        .expect("atp-dev notices the dropped connection");
}

/// Registers the tool `name` of toolkit "demo" under key "k", and the
/// `probe` tool that [`expect_no_stale_request`] calls.
pub async fn setup(name: &str) -> DevServer {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", name).await;
    register(&server, "k", "demo", "probe").await;
    server
}

/// Reads the jam's noise frame off a toolkit that reads again.
pub async fn read_noise(toolkit: &mut RawToolkit) {
    let text = toolkit
        .next_text_within(WAIT)
        .await
        .expect("the noise frame");
    assert!(
        text.starts_with(NOISE_PREFIX),
        "expected the noise frame first, got {}",
        &text[..text.len().min(300)]
    );
}

/// Calls `probe` now: the first frame the toolkit reads must be that fresh
/// request, not an older one, and nothing may follow it within
/// [`SILENCE`].
pub async fn expect_no_stale_request(server: &DevServer, toolkit: &mut RawToolkit) {
    let options = CallOptions {
        timeout: Some(WAIT),
        ..CallOptions::default()
    };
    let fresh = server.call_with("probe", json!({"x": "fresh"}), options);
    let toolkit_side = async {
        let text = toolkit
            .next_text_within(WAIT)
            .await
            .expect("a frame: the fresh call's request");
        let frame: Value = serde_json::from_str(&text).unwrap();
        assert!(
            frame["message_type"] == "atp_tool_request"
                && frame["payload"]["params"] == json!({"x": "fresh"}),
            "a stale frame reached the toolkit before the fresh request: {frame}"
        );
        toolkit
            .respond(&frame["payload"]["request_id"], json!("fresh"))
            .await;
    };
    let (outcome, ()) = tokio::join!(fresh, toolkit_side);
    assert_eq!(outcome.unwrap().result, json!("fresh"));
    if let Some(text) = toolkit.next_text_within(SILENCE).await {
        panic!("a stale frame reached the toolkit after the fresh request: {text}");
    }
}

pub fn timeout(t: Duration) -> CallOptions {
    CallOptions {
        timeout: Some(t),
        ..CallOptions::default()
    }
}

/// Starts a session of app `app` on `toolkit` (which answers the start)
/// and returns its id.
pub async fn open_session(server: &DevServer, toolkit: &mut RawToolkit, app: &str) -> String {
    let start = server.app_start(app, json!({}), timeout(WAIT));
    let toolkit_side = async {
        let frame = toolkit.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_request", "{frame}");
        let id = frame["payload"]["request_id"].clone();
        toolkit
            .send_json(json!({"type": "app_response", "request_id": id, "result": {"screen": 1}}))
            .await;
    };
    let (outcome, ()) = tokio::join!(start, toolkit_side);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.result, json!({"screen": 1}));
    outcome.request_id
}
