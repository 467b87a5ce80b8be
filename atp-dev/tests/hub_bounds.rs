//! atp-dev's stores stay bounded: one registration per tool however often
//! a toolkit re-announces, an announce log and stray answers bounded by
//! count and bytes. Review fault 11, case C.

mod support;

use atp_dev::{AnnounceRecord, DevServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::hub::setup;
use support::*;

/// The five posts of one full announce of toolkit "demo" (tools "a" and
/// "b") under key "k", as a reference client makes them.
fn announce_round() -> Vec<(&'static str, Value)> {
    let mut posts = vec![(
        "/api/v1/toolkit/verify_hash",
        json!({"api_key": "k", "app_name": "demo", "toolkit_hash": "toolkit-demo"}),
    )];
    for tool in ["a", "b"] {
        posts.push((
            "/api/v1/toolkit/verify_tool_hash",
            json!({"api_key": "k", "tool_hash": format!("hash-{tool}"), "tool_name": tool}),
        ));
    }
    for tool in ["a", "b"] {
        posts.push(("/api/v1/register_tool", registration("k", "demo", tool)));
    }
    posts
}

async fn post_ok(client: &reqwest::Client, server: &DevServer, path: &str, body: &Value) {
    let response = client
        .post(format!("{}{path}", server.base_url()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
}

/// Review fault 11, case C (registrations). Re-announcing the same toolkit (a toolkit that
/// restarts, a watcher that re-runs it) must not grow `registrations`: it
/// holds one entry per (key, tool), the latest.
#[tokio::test]
async fn re_announcing_keeps_one_registration_per_tool() {
    let server = DevServer::start().await.unwrap();
    let client = http();
    for _ in 0..50 {
        for (path, body) in announce_round() {
            post_ok(&client, &server, path, &body).await;
        }
    }
    let registrations = server.registrations();
    let mut tools: Vec<&str> = registrations
        .iter()
        .map(|r| r.function_id.as_str())
        .collect();
    tools.sort_unstable();
    assert!(
        tools == ["a", "b"],
        "expected one registration per (key, tool) after 50 re-announces, got {} entries",
        registrations.len()
    );
}

/// Review fault 11, case C (announce log). 5000 announce posts (1000 re-announces) must
/// leave a bounded log: at most 1000 entries, the latest kept.
#[tokio::test]
async fn the_announce_log_stays_bounded() {
    let server = DevServer::start().await.unwrap();
    let client = http();
    let posts: Vec<(&str, Value)> = (0..1000).flat_map(|_| announce_round()).collect();
    assert_eq!(posts.len(), 5000);
    futures_util::stream::iter(&posts)
        .for_each_concurrent(16, |(path, body)| post_ok(&client, &server, path, body))
        .await;
    let last = json!({"api_key": "k", "app_name": "demo", "toolkit_hash": "the-last"});
    post_ok(&client, &server, "/api/v1/toolkit/verify_hash", &last).await;
    let log = server.announce_log();
    assert!(
        log.len() <= 1000,
        "the announce log holds {} entries after 5001 posts",
        log.len()
    );
    assert!(
        matches!(log.last(), Some(AnnounceRecord::VerifyHash(v)) if v.toolkit_hash == "the-last"),
        "the latest announce is kept"
    );
}

/// Review fault 11, case C (stray answers). 50 stray answers of 1 MiB each (answers for
/// no waiting call) must not all be kept: the kept stray answers stay
/// under 16 MiB in all, the latest among them.
#[tokio::test]
async fn stray_answers_stay_bounded_in_bytes() {
    let server = setup("unused").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["probe"], WAIT).await.unwrap();
    let big = "s".repeat(1 << 20);
    for i in 0..50 {
        toolkit
            .respond(&json!(format!("stray-{i}")), json!(big))
            .await;
    }
    // A call answered after them on the same connection: atp-dev handles a
    // connection's frames in order, so by its answer every stray one is in.
    let (outcome, ()) = tokio::join!(server.call("probe", json!({}), None), toolkit.serve(1, "t"));
    outcome.unwrap();
    let stray = server.stray_answers();
    let bytes: usize = stray
        .iter()
        .map(|(id, result)| id.to_string().len() + serde_json::to_string(result).unwrap().len())
        .sum();
    assert!(
        bytes <= 16 << 20,
        "{} stray answers kept, {bytes} bytes in all",
        stray.len()
    );
    assert_eq!(
        stray.last().map(|(id, _)| id.to_string()),
        Some("stray-49".to_owned()),
        "the latest stray answer is kept"
    );
}
