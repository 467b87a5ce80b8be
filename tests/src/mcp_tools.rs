//! What the MCP tests share: tools that show what a cancellation reaches
//! (a plain `fn` that watches its [`Context`], an `async fn` whose future
//! is dropped), and the error kind each test tool ends in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use atp_sdk::{Context, atp_tool};
use serde_json::{Value, json};

static SEEN: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Runs until its call is cancelled (at most 10 s), watching its context;
/// counts the cancellations it saw.
#[atp_tool]
pub fn until_cancelled(ctx: Context) -> Result<&'static str, String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if ctx.is_cancelled() {
            SEEN.fetch_add(1, Ordering::SeqCst);
            return Err("cancelled".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok("never cancelled")
}

/// Waits 10 s; counts the times its future was dropped before that.
#[atp_tool]
pub async fn until_dropped() -> &'static str {
    struct Count;
    impl Drop for Count {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let count = Count;
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::mem::forget(count);
    "not dropped"
}

/// How many cancellations `until_cancelled` saw and how many
/// `until_dropped` futures were dropped.
#[atp_tool]
pub fn cancel_counts() -> Value {
    json!({ "seen": SEEN.load(Ordering::SeqCst), "dropped": DROPPED.load(Ordering::SeqCst) })
}

/// Each error kind a tool call can end in, as these test tools produce it:
/// (tool, arguments, the text ATP answers — and MCP's `isError` result).
/// An unknown tool is not here: over MCP it is a JSON-RPC error.
pub fn error_cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("echo", json!({}), "Missing required parameter: text"),
        (
            "add",
            json!({"a": "one", "b": 2}),
            "Invalid parameter 'a': expected a number, got \"one\"",
        ),
        ("fail", json!({"reason": "x"}), "boom: x"),
        ("explode", json!({}), "Tool panicked: kaboom"),
        ("explode_async", json!({}), "Tool panicked: async kaboom"),
        (
            "stuck_async",
            json!({"ms": 5000}),
            "Tool timed out after 200ms",
        ),
    ]
}
