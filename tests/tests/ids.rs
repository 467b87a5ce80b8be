//! Request ids as the server sends them: a big integer id comes back
//! digit for digit. (Numbers and strings as app session ids are in
//! `app_sessions.rs`.)

use atp_tests::front::{Front, Mode};
use atp_tests::raw::RawServer;
use atp_tests::stand_in::next_text;
use atp_tests::*;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

/// Review fault 7: big integer ids lose digits. A request whose
/// `request_id` is the number 123456789012345678901234567890 must be
/// answered with that id byte for byte in the response frame's text (not
/// `1.2345678901234568e+29`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_integer_request_id_is_echoed_digit_for_digit() {
    const ID: &str = "123456789012345678901234567890";
    let server = start_server().await;
    let mut raw = RawServer::websocket_only().await;
    let front = Front::start(server.local_addr(), None).await;
    front.set_mode(Mode::UpgradesTo(raw.addr()));
    let client = builder(&server, "fault7", Some(&["echo"]))
        .base_url(front.url())
        .build()
        .unwrap();
    let toolkit = spawn(client);
    let mut ws = raw
        .next_connection(WAIT)
        .await
        .expect("the toolkit connects");
    let frame = format!(
        r#"{{"message_type": "atp_tool_request", "payload": {{"request_id": {ID}, "tool_name": "echo", "params": {{"text": "big id"}}}}}}"#
    );
    ws.send(Message::text(frame)).await.unwrap();
    let answer = next_text(&mut ws, WAIT).await.expect("an answer");
    let id_text = answer
        .split_once("\"request_id\"")
        .map(|(_, rest)| rest.trim_start().trim_start_matches(':').trim_start())
        .unwrap_or_default();
    let echoed = id_text
        .strip_prefix(ID)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit() || ".eE".contains(c)));
    assert!(
        echoed,
        "the id {ID} did not come back as it was sent: {answer}"
    );
    toolkit.task.abort();
}
