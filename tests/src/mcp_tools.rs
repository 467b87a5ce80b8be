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

/// The bytes a chart is drawn as here: a 1×1 PNG.
pub const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Draws a chart in `steps` steps (a plain fn), reporting each as
/// progress and as a log line; a debug line at the end.
#[atp_tool(read_only)]
pub fn chart_steps(steps: u32, ctx: Context) -> Vec<atp_sdk::content::Content> {
    for step in 1..=steps {
        let message = format!("step {step}");
        ctx.progress(f64::from(step), Some(f64::from(steps)), Some(&message));
        ctx.log(
            atp_sdk::LogLevel::Info,
            format!("step {step} of {steps} drawn"),
        );
    }
    ctx.log(atp_sdk::LogLevel::Debug, "the chart is done");
    vec![
        atp_sdk::content::Content::text(format!("a chart in {steps} steps")),
        atp_sdk::content::Image::new(PIXEL_PNG, "image/png").into(),
    ]
}

/// What deleting a project asks the user.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ConfirmDelete {
    /// The project's name, typed again.
    pub name: String,
    /// Whether to delete it for good.
    pub really: bool,
}

/// Deletes `project` once the user confirms it by its name.
#[atp_tool(destructive)]
pub async fn delete_project(project: String, ctx: Context) -> Result<String, atp_sdk::CallError> {
    ctx.log(
        atp_sdk::LogLevel::Warning,
        format!("asking before deleting {project}"),
    );
    let asked = format!("Delete the project {project}?");
    Ok(match ctx.elicit::<ConfirmDelete>(&asked).await? {
        atp_sdk::Elicitation::Accept(c) if c.really && c.name == project => {
            format!("deleted {project}")
        }
        atp_sdk::Elicitation::Accept(_) => format!("kept {project}"),
        atp_sdk::Elicitation::Decline => "declined".to_owned(),
        atp_sdk::Elicitation::Cancel => "cancelled".to_owned(),
    })
}

/// Asks the client's model twice, one question after the other.
#[atp_tool]
pub async fn ask_model_twice(ctx: Context) -> Result<String, atp_sdk::CallError> {
    let first = ctx.sample("Say one").await?;
    let second = ctx.sample("Say two").await?;
    Ok(format!("{first} / {second}"))
}
