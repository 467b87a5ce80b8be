//! Real tools: shared state, the call context (fields, cancellation),
//! errors with their causes, and `Result` under any name
//! — over a real atp-dev, with toolkits built with the macro.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use atp_dev::CallOptions;
use atp_sdk::{Context, State, atp_tool};
use atp_tests::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The tools of this file
// ---------------------------------------------------------------------------

/// What the counting tools share.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

/// Counts its calls (a plain fn).
#[atp_tool]
fn count_calls(counter: State<Counter>) -> u64 {
    counter.0.fetch_add(1, Ordering::SeqCst) + 1
}

/// Reads the count (an async fn sharing the same state).
#[atp_tool]
async fn read_count(counter: State<Counter>) -> u64 {
    counter.0.load(Ordering::SeqCst)
}

/// What the call's context says.
#[atp_tool(timeout = "30s")]
fn describe_call(note: String, ctx: Context) -> Value {
    let left = ctx.deadline().saturating_duration_since(Instant::now());
    json!({
        "note": note,
        "request_id": ctx.request_id().to_string(),
        "tool": ctx.tool(),
        "app_name": ctx.app_name(),
        "ms_left": left.as_millis() as u64,
        "cancelled": ctx.is_cancelled(),
    })
}

/// When `spin_until_cancelled` saw its call cancelled.
static SAW_CANCEL: Mutex<Option<Instant>> = Mutex::new(None);

/// Works until nobody waits for it (a plain fn polling its context).
#[atp_tool(timeout = "200ms")]
fn spin_until_cancelled(ctx: Context) -> &'static str {
    let started = Instant::now();
    while !ctx.is_cancelled() {
        if started.elapsed() > WAIT {
            return "never cancelled";
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    *SAW_CANCEL.lock().unwrap() = Some(Instant::now());
    "saw the cancel"
}

/// Answers at once.
#[atp_tool]
async fn quick() -> &'static str {
    "quick"
}

/// Whether `await_cancel`'s future was dropped.
static AWAIT_CANCEL_DROPPED: AtomicBool = AtomicBool::new(false);

struct DropFlag;

impl Drop for DropFlag {
    fn drop(&mut self) {
        AWAIT_CANCEL_DROPPED.store(true, Ordering::SeqCst);
    }
}

/// Waits for its own cancellation (an async fn).
#[atp_tool(timeout = "200ms")]
async fn await_cancel(ctx: Context) -> &'static str {
    let _flag = DropFlag;
    ctx.cancelled().await;
    "woke after the cancel"
}

/// Fails with a chain of causes.
#[atp_tool]
fn chained_failure(path: String) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let read = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"));
    read.context("loading the settings")
}

type AppResult<T> = Result<T, String>;

/// Returns an alias of `Result` under another name.
#[atp_tool]
fn alias_result(n: i64) -> AppResult<i64> {
    if n < 0 {
        Err(format!("{n} is negative"))
    } else {
        Ok(n)
    }
}

/// Returns `io::Result`.
#[atp_tool]
async fn io_result(fail: bool) -> std::io::Result<&'static str> {
    if fail {
        Err(std::io::Error::other("the disk is full"))
    } else {
        Ok("written")
    }
}

mod mine {
    /// A crate's own alias named `Result`.
    pub(crate) type Result<T> = std::result::Result<T, std::num::ParseIntError>;
}

/// Returns a crate's own `Result` alias.
#[atp_tool]
fn own_result(text: String) -> mine::Result<i64> {
    text.parse()
}

const MINE: &[&str] = &[
    "count_calls",
    "read_count",
    "describe_call",
    "spin_until_cancelled",
    "quick",
    "await_cancel",
    "chained_failure",
    "alias_result",
    "io_result",
    "own_result",
];

async fn toolkit(server: &atp_dev::DevServer, app: &str, max_in_flight: usize) -> Toolkit {
    let client = builder(server, app, Some(MINE))
        .state(Counter::default())
        .max_in_flight(max_in_flight)
        .build()
        .expect("the toolkit builds");
    let toolkit = spawn(client);
    server.wait_for_tools(MINE, WAIT).await.unwrap();
    toolkit
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/// One value is shared by every call: 200 concurrent calls of a plain fn
/// each see their own count, and an async tool reads the same counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_shared_across_200_concurrent_calls() {
    let server = start_server().await;
    let kit = toolkit(&server, "state-shared", 64).await;
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { call(&server, "count_calls", json!({})).await })
        })
        .collect();
    let mut seen: Vec<u64> = Vec::new();
    for call in calls {
        seen.push(call.await.unwrap().as_u64().expect("a count"));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=200).collect::<Vec<u64>>(),
        "each call counted once"
    );
    assert_eq!(call(&server, "read_count", json!({})).await, json!(200));
    // Not a tool parameter: absent from the announced schema.
    let tool = server
        .tools()
        .into_iter()
        .find(|t| t.name == "count_calls")
        .unwrap();
    assert!(
        tool.metadata.params.is_empty(),
        "{:?}",
        tool.metadata.params
    );
    assert_eq!(
        tool.metadata.extra["parameters"]["properties"],
        json!({}),
        "no State in the JSON Schema"
    );
    kit.shutdown().await.unwrap();
}

/// A tool whose state was not given makes `build()` fail before anything
/// connects, naming the tool and the type.
#[tokio::test]
async fn a_missing_state_fails_build_naming_the_tool_and_the_type() {
    let server = start_server().await;
    let err = builder(&server, "state-missing", Some(&["count_calls"]))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tool 'count_calls' needs State<real_tools::Counter>: add it with .state(...)"
    );
    assert!(server.announce_log().is_empty(), "nothing was announced");
    // Given twice is a mistake too.
    let err = builder(&server, "state-twice", Some(&["count_calls"]))
        .state(Counter::default())
        .state(Counter::default())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
}

/// `build()` reports every problem at once, in the order found, not one
/// per attempt: a setter's, the configuration's, and the registry's.
#[tokio::test]
async fn build_reports_every_problem_at_once() {
    let server = start_server().await;
    let err = builder(&server, "", Some(&["count_calls", "no_such_tool"]))
        .base_url("ftp://nowhere")
        .add_root_certificate_pem("not a certificate")
        .state(Counter::default())
        .state(Counter::default())
        .build()
        .unwrap_err();
    let atp_sdk::Error::Several(problems) = &err else {
        panic!("expected every problem, got {err:?}");
    };
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), 5, "{err}");
    assert!(
        texts[0].contains("given twice"),
        "the setter's first: {texts:?}"
    );
    assert!(texts[1].contains("the app name is empty"), "{texts:?}");
    assert!(
        texts[2].contains("the base URL must start with http"),
        "{texts:?}"
    );
    assert!(
        texts[3].contains("PEM") || texts[3].contains("certificate"),
        "{texts:?}"
    );
    assert!(
        matches!(&problems[4], atp_sdk::Error::UnknownTool(name) if name == "no_such_tool"),
        "{texts:?}"
    );
    let shown = err.to_string();
    assert!(shown.starts_with("5 problems:\n  - "), "{shown}");
    assert_eq!(shown.lines().count(), 6, "one line per problem: {shown}");
    assert!(server.announce_log().is_empty(), "nothing was announced");

    // A single problem is itself, as before.
    let err = builder(&server, "", Some(&["count_calls"]))
        .state(Counter::default())
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: the app name is empty"
    );
}

/// `builder.run()` with a missing state: the process exits non-zero, with
/// the error, before it connects to anything.
#[tokio::test]
async fn builder_run_with_a_missing_state_exits_before_connecting() {
    let server = start_server().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_state_toolkit"))
        .env("ATP_API_KEY", "key-state-run")
        .env("ATP_APP_NAME", "state-run")
        .env("ATP_BASE_URL", server.base_url())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, output)
        .await
        .expect("the process exits")
        .unwrap();
    assert!(!output.status.success(), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("tool 'visits' needs State<state_toolkit::Visits>: add it with .state(...)"),
        "{stderr}"
    );
    assert!(server.announce_log().is_empty(), "nothing was announced");
    assert_eq!(server.connects(), 0, "nothing connected");
}

/// A run-time tool reaches the same state and its context through its
/// `CallArgs`, and one that declares a state it was not given fails
/// `build()` like a macro tool.
#[tokio::test]
async fn a_dynamic_tool_gets_the_same_state_and_context() {
    let server = start_server().await;
    let bump = atp_sdk::DynamicTool::new("bump", |args| async move {
        let counter = args.state::<Counter>()?;
        let ctx = args.context();
        let n = counter.0.fetch_add(10, Ordering::SeqCst) + 10;
        Ok(json!({"n": n, "tool": ctx.tool(), "request_id": ctx.request_id().to_string()}))
    })
    .needs_state::<Counter>();
    let client = builder(&server, "dynamic-state", Some(&[]))
        .tool(bump)
        .state(Counter::default())
        .build()
        .unwrap();
    let kit = spawn(client);
    server.wait_for_tools(&["bump"], WAIT).await.unwrap();
    let outcome = server.call("bump", json!({}), None).await.unwrap();
    assert_eq!(
        outcome.result,
        json!({"n": 10, "tool": "bump", "request_id": outcome.request_id})
    );
    kit.shutdown().await.unwrap();

    let undeclared =
        atp_sdk::DynamicTool::new("bump", |_| async { Ok(json!(0)) }).needs_state::<Counter>();
    let err = builder(&server, "dynamic-missing", Some(&[]))
        .tool(undeclared)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tool 'bump' needs State<real_tools::Counter>: add it with .state(...)"
    );
}

/// Guards review fault (round 2) 6: `DynamicTool::timeout(Duration::MAX)`
/// overflowed `admitted + limit` in the dispatcher (a panic on the worker,
/// every call left unanswered). The limit is clamped to 365 days where it
/// enters, as the builder's limits are; so is an app's.
#[tokio::test]
async fn a_dynamic_tool_with_an_endless_time_limit_is_answered() {
    let server = start_server().await;
    let endless = atp_sdk::DynamicTool::new("endless", |_| async { Ok(json!("answered")) })
        .timeout(Duration::MAX);
    let client = builder(&server, "dynamic-endless", Some(&[]))
        .tool(endless)
        .build()
        .unwrap();
    let kit = spawn(client);
    server.wait_for_tools(&["endless"], WAIT).await.unwrap();
    for _ in 0..3 {
        let outcome = server
            .call_with(
                "endless",
                json!({}),
                CallOptions {
                    timeout: Some(Duration::from_secs(10)),
                    ..CallOptions::default()
                },
            )
            .await
            .expect("answered, not left waiting");
        assert_eq!(outcome.result, json!("answered"));
    }
    kit.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------

/// A tool's context names its call: request id, tool, toolkit, deadline.
#[tokio::test]
async fn the_context_describes_each_call() {
    let server = start_server().await;
    let kit = toolkit(&server, "context-fields", 8).await;
    for note in ["first", "second"] {
        let outcome = server
            .call("describe_call", json!({"note": note}), None)
            .await
            .unwrap();
        let ctx = &outcome.result;
        assert_eq!(ctx["note"], note);
        assert_eq!(ctx["request_id"], json!(outcome.request_id));
        assert_eq!(ctx["tool"], "describe_call");
        assert_eq!(ctx["app_name"], "context-fields");
        assert_eq!(ctx["cancelled"], false);
        let left = ctx["ms_left"].as_u64().unwrap();
        assert!(
            (25_000..=30_000).contains(&left),
            "the 30 s limit: {left} ms left"
        );
    }
    kit.shutdown().await.unwrap();
}

/// A plain fn past its time limit sees `is_cancelled()` within 100 ms of
/// the timeout (its caller was answered "timed out"), returns, and its
/// running slot is free again: with one slot, the next call runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_fn_past_its_limit_sees_the_cancel_and_gives_its_slot_back() {
    let server = start_server().await;
    let kit = toolkit(&server, "context-cancel", 1).await;
    let answer = call(&server, "spin_until_cancelled", json!({})).await;
    let answered = Instant::now();
    assert_eq!(answer, json!({"error": "Tool timed out after 200ms"}));
    // Its thread ends once it sees the cancel; the next call gets the slot.
    let next = server
        .call_with(
            "quick",
            json!({}),
            CallOptions {
                timeout: Some(Duration::from_secs(5)),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(next.result, json!("quick"), "the slot was given back");
    let saw = SAW_CANCEL.lock().unwrap().expect("the tool saw the cancel");
    let gap = if saw > answered {
        saw - answered
    } else {
        answered - saw
    };
    assert!(
        gap < Duration::from_millis(100),
        "seen {gap:?} from the timeout's answer"
    );
    kit.shutdown().await.unwrap();
}

/// An async tool waiting on `cancelled()` is ended by its time limit: the
/// caller gets the timeout and the tool's future is dropped.
#[tokio::test]
async fn an_async_tool_awaiting_cancelled_is_ended_by_the_time_limit() {
    let server = start_server().await;
    let kit = toolkit(&server, "context-async", 8).await;
    let asked = Instant::now();
    let answer = call(&server, "await_cancel", json!({})).await;
    assert_eq!(answer, json!({"error": "Tool timed out after 200ms"}));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        AWAIT_CANCEL_DROPPED.load(Ordering::SeqCst),
        "its future was dropped"
    );
    kit.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// `anyhow` errors answer their whole chain, as `{:#}` writes it.
#[tokio::test]
async fn anyhow_errors_answer_their_whole_chain() {
    let server = start_server().await;
    let kit = toolkit(&server, "errors-anyhow", 8).await;
    let answer = call(&server, "chained_failure", json!({"path": "/no/such/file"})).await;
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with("loading the settings: reading /no/such/file: No such file or directory"),
        "{error}"
    );
    kit.shutdown().await.unwrap();
}

/// A `Result` under any name answers `{"error": ...}` for an `Err`: an
/// alias of another name, `io::Result`, a crate's own `Result` alias.
#[tokio::test]
async fn a_result_under_any_name_answers_an_error() {
    let server = start_server().await;
    let kit = toolkit(&server, "errors-aliases", 8).await;
    assert_eq!(
        call(&server, "alias_result", json!({"n": 3})).await,
        json!(3)
    );
    assert_eq!(
        call(&server, "alias_result", json!({"n": -1})).await,
        json!({"error": "-1 is negative"})
    );
    assert_eq!(
        call(&server, "io_result", json!({"fail": false})).await,
        json!("written")
    );
    assert_eq!(
        call(&server, "io_result", json!({"fail": true})).await,
        json!({"error": "the disk is full"})
    );
    assert_eq!(
        call(&server, "own_result", json!({"text": "42"})).await,
        json!(42)
    );
    assert_eq!(
        call(&server, "own_result", json!({"text": "forty"})).await,
        json!({"error": "invalid digit found in string"})
    );
    kit.shutdown().await.unwrap();
}
