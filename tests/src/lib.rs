//! End-to-end test support: a set of real `#[atp_tool]` tools and a harness
//! that serves them to a real `atp-dev` server on loopback.
//!
//! Every test binary that uses this crate gets these tools registered (the
//! crate is linked because the tests call into it).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use atp_dev::DevServer;
use atp_sdk::{AuthToken, ToolKitClient, atp_tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// How long any wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

/// Echoes the input text.
#[atp_tool(name = "echo")]
pub fn echo(
    /// The text to send back.
    text: String,
) -> Value {
    json!({ "echo": text })
}

/// Adds two numbers.
#[atp_tool]
pub fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// Greets someone.
#[atp_tool]
pub async fn greet(name: String, greeting: Option<String>) -> String {
    format!("{}, {name}!", greeting.as_deref().unwrap_or("Hello"))
}

/// Searches, with defaults for what is not required.
#[atp_tool(required = ["query"])]
pub fn search(query: String, limit: u32, exact: bool, tags: Option<Vec<String>>) -> Value {
    json!({ "query": query, "limit": limit, "exact": exact, "tags": tags })
}

/// Returns the injected token, to prove injection (never do this for real).
#[atp_tool(
    auth_provider = "hubspot",
    auth_type = "OAuth2",
    auth_with = "access_token"
)]
pub async fn whoami(token: AuthToken) -> String {
    token.into_string()
}

/// Needs a token but does not take it.
#[atp_tool(auth_provider = "github", auth_type = "API Key", auth_with = "api_key")]
pub fn needs_auth(note: String) -> String {
    note
}

/// Always fails with the tool's own error.
#[atp_tool]
pub fn fail(reason: String) -> Result<Value, String> {
    Err(format!("boom: {reason}"))
}

/// Panics.
#[atp_tool]
pub fn explode() -> Value {
    panic!("kaboom")
}

/// Panics in an async tool.
#[atp_tool]
pub async fn explode_async() -> Value {
    panic!("async kaboom")
}

/// A point on a plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Point {
    /// Horizontal.
    pub x: i64,
    /// Vertical.
    pub y: i64,
}

/// A colour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Red.
    Red,
    /// Blue.
    Blue,
}

/// Plots a point with typed arguments of every kind.
#[atp_tool]
pub fn plot(
    /// Where.
    point: Point,
    colour: Colour,
    labels: Vec<String>,
    weights: BTreeMap<String, f64>,
    r#type: Option<String>,
    extra: Option<Value>,
) -> Value {
    json!({ "point": point, "colour": colour, "labels": labels, "weights": weights, "type": r#type, "extra": extra })
}

/// Takes no parameters.
#[atp_tool]
pub fn ping() -> &'static str {
    "pong"
}

/// Sleeps asynchronously, then answers.
#[atp_tool]
pub async fn sleep_async(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Sleeps on a worker thread, then answers.
#[atp_tool]
pub fn sleep_blocking(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

// A rendezvous: each call of `meet_*` with the same `group` waits until
// `size` calls have arrived. If calls ran one at a time, no group of two or
// more could ever complete: the calls would time out instead.
static GROUPS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
static ARRIVED: Condvar = Condvar::new();

fn meet(group: &str, size: u32) -> Result<u32, String> {
    let mut groups = GROUPS.lock().unwrap();
    let count = {
        let map = groups.get_or_insert_with(HashMap::new);
        let count = map.entry(group.to_owned()).or_insert(0);
        *count += 1;
        *count
    };
    ARRIVED.notify_all();
    let (groups, timeout) = ARRIVED
        .wait_timeout_while(groups, WAIT, |g| {
            g.as_ref().and_then(|m| m.get(group)).copied().unwrap_or(0) < size
        })
        .unwrap();
    if timeout.timed_out() {
        let seen = groups.as_ref().and_then(|m| m.get(group)).copied();
        return Err(format!("only {seen:?} of {size} calls arrived"));
    }
    Ok(count)
}

/// Blocks until `size` calls of the same group are running at once.
#[atp_tool]
pub fn meet_blocking(group: String, size: u32) -> Result<u32, String> {
    meet(&group, size)
}

/// Like `meet_blocking`, from an async tool (the waiting runs on the
/// blocking pool so the async workers stay free).
#[atp_tool]
pub async fn meet_async(group: String, size: u32) -> Result<u32, String> {
    tokio::task::spawn_blocking(move || meet(&group, size))
        .await
        .map_err(|e| e.to_string())?
}

// Gates a blocking tool waits on until the test opens them; each gate
// also counts the calls that reached it.
#[derive(Default)]
struct Gate {
    open: bool,
    entered: u32,
}
static GATES: Mutex<Option<HashMap<String, Gate>>> = Mutex::new(None);
static GATES_CHANGED: Condvar = Condvar::new();

fn with_gate<R>(name: &str, f: impl FnOnce(&mut Gate) -> R) -> R {
    let mut gates = GATES.lock().unwrap();
    let r = f(gates
        .get_or_insert_with(HashMap::new)
        .entry(name.to_owned())
        .or_default());
    GATES_CHANGED.notify_all();
    r
}

fn wait_gate_until(name: &str, done: impl Fn(&Gate) -> bool) -> bool {
    let gates = GATES.lock().unwrap();
    let (_gates, timeout) = GATES_CHANGED
        .wait_timeout_while(gates, WAIT, |g| {
            !g.as_ref().and_then(|m| m.get(name)).is_some_and(&done)
        })
        .unwrap();
    !timeout.timed_out()
}

/// Blocks until the test opens the gate `gate` (or the wait limit passes).
#[atp_tool]
pub fn wait_gate(gate: String) -> Result<&'static str, String> {
    with_gate(&gate, |g| g.entered += 1);
    if wait_gate_until(&gate, |g| g.open) {
        Ok("through")
    } else {
        Err("the gate was never opened".to_owned())
    }
}

/// Opens or closes a gate `wait_gate` waits on.
pub fn set_gate(name: &str, open: bool) {
    with_gate(name, |g| g.open = open);
}

/// How many calls have reached the gate so far.
pub fn gate_count(name: &str) -> u32 {
    with_gate(name, |g| g.entered)
}

/// Waits until `n` calls have reached the gate.
pub async fn gate_entered(name: &str, n: u32) {
    let name = name.to_owned();
    let reached = tokio::task::spawn_blocking(move || wait_gate_until(&name, |g| g.entered >= n))
        .await
        .unwrap();
    assert!(reached, "{n} calls reach the gate");
}

// ---------------------------------------------------------------------------
// An app (section 5): a two-step sign-up form
// ---------------------------------------------------------------------------

/// A sign-up form: name, then e-mail, then done.
#[derive(Debug, Clone, Copy)]
pub struct SignupForm;

/// How a sign-up session starts.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SignupStart {
    /// The form's title.
    pub title: String,
    /// Refuse to start (to test a failing start).
    pub fail: Option<bool>,
}

/// What the form keeps between steps.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignupState {
    /// The form's title.
    pub title: String,
    /// The name, once given.
    pub name: Option<String>,
    /// Actions so far.
    pub steps: u32,
}

/// What the user can do.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SignupAction {
    /// Gives the name.
    Name {
        /// The name.
        name: String,
    },
    /// Gives the e-mail address and finishes.
    Email {
        /// The address.
        email: String,
    },
    /// Panics (to test that a panic is answered).
    Panic,
}

impl atp_sdk::App for SignupForm {
    type Params = SignupStart;
    type State = SignupState;
    type Action = SignupAction;

    async fn start(
        &self,
        params: SignupStart,
        _token: Option<AuthToken>,
    ) -> Result<atp_sdk::AppStep<SignupState>, String> {
        if params.fail == Some(true) {
            return Err("the form is closed".to_owned());
        }
        Ok(atp_sdk::AppStep::show(
            json!({"screen": "name", "title": params.title}),
            SignupState {
                title: params.title,
                name: None,
                steps: 0,
            },
        ))
    }

    async fn action(
        &self,
        action: SignupAction,
        mut state: SignupState,
    ) -> Result<atp_sdk::AppStep<SignupState>, String> {
        state.steps += 1;
        match action {
            SignupAction::Name { name } => {
                let ui = json!({"screen": "email", "hello": name, "steps": state.steps});
                state.name = Some(name);
                Ok(atp_sdk::AppStep::show(ui, state))
            }
            SignupAction::Email { email } => {
                if !email.contains('@') {
                    return Err(format!("{email:?} is not an e-mail address"));
                }
                let Some(name) = state.name else {
                    return Err("give your name first".to_owned());
                };
                Ok(atp_sdk::AppStep::finish(json!({
                    "screen": "done", "title": state.title, "name": name,
                    "email": email, "steps": state.steps,
                })))
            }
            SignupAction::Panic => panic!("the form broke"),
        }
    }
}

/// The sign-up form as `signup`; with `auth`, sessions need a token.
pub fn signup_app(auth: bool) -> atp_sdk::AppDef {
    let def = atp_sdk::AppDef::new(if auth { "signup_auth" } else { "signup" }, SignupForm)
        .description("Signs a user up in two steps.");
    if auth {
        def.auth("crm", "OAuth2", Some("access_token"))
    } else {
        def
    }
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A toolkit served in the background by this process.
#[derive(Debug)]
pub struct Toolkit {
    /// Stops it.
    pub stop: atp_sdk::StopHandle,
    /// Its `serve()` task.
    pub task: JoinHandle<Result<(), atp_sdk::Error>>,
}

impl Toolkit {
    /// Stops the toolkit and waits for `serve()` to return.
    pub async fn shutdown(self) -> Result<(), atp_sdk::Error> {
        self.stop.stop();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the toolkit stops in time")
            .expect("the serve task does not panic")
    }
}

/// A builder for a toolkit with `tools` (all when `None`) against `server`.
pub fn builder(
    server: &DevServer,
    app_name: &str,
    tools: Option<&[&str]>,
) -> atp_sdk::ToolKitClientBuilder {
    let mut builder = ToolKitClient::builder(format!("key-{app_name}"), app_name)
        .base_url(server.base_url())
        .backoff(Duration::from_millis(50), Duration::from_millis(500));
    if let Some(tools) = tools {
        builder = builder.tools(tools.iter().copied());
    }
    builder
}

/// Starts serving a built client in the background.
pub fn spawn(client: ToolKitClient) -> Toolkit {
    let stop = client.stop_handle();
    let task = tokio::spawn(client.serve());
    Toolkit { stop, task }
}

/// Starts a toolkit with `tools` (all when `None`) and waits until the
/// server sees them connected.
pub async fn start_toolkit(server: &DevServer, app_name: &str, tools: Option<&[&str]>) -> Toolkit {
    let client = builder(server, app_name, tools)
        .build()
        .expect("the toolkit builds");
    let names: Vec<String> = client.tool_names().map(str::to_owned).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let toolkit = spawn(client);
    server
        .wait_for_tools(&names, WAIT)
        .await
        .expect("the toolkit's tools connect");
    toolkit
}

/// Starts a server on 127.0.0.1:0.
pub async fn start_server() -> DevServer {
    init_logging();
    DevServer::start().await.expect("atp-dev starts")
}

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A log writer a test reads back: give a clone to the subscriber's
/// `with_writer(move || capture.clone())`, read [`LogCapture::text`].
#[derive(Debug, Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An HTTP client for raw requests to the server.
pub fn http() -> reqwest::Client {
    // The workspace builds rustls on `ring`; make it the default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Calls `tool` through the server and returns the toolkit's result.
pub async fn call(server: &DevServer, tool: &str, params: Value) -> Value {
    call_with_token(server, tool, params, None).await
}

/// Calls `tool` with a token through the server.
pub async fn call_with_token(
    server: &DevServer,
    tool: &str,
    params: Value,
    token: Option<&str>,
) -> Value {
    server
        .call(tool, params, token)
        .await
        .unwrap_or_else(|err| panic!("calling {tool}: {err}"))
        .result
}

/// SHA-256 (hex) of `text`.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------
// Tools for the reliability tests
// ---------------------------------------------------------------------------

pub mod front;
pub mod issuer;
#[cfg(feature = "mcp")]
pub mod mcp_client;
pub mod mcp_process;
pub mod mcp_tools;
pub mod raw;
pub mod serving;
pub mod stand_in;
pub mod webdriver;

/// Ids each `slow_echo` group has received, and how many `busy` calls of
/// each group run now and at most.
#[derive(Default)]
struct Seen {
    received: HashMap<String, Vec<u64>>,
    running: HashMap<String, (u32, u32)>,
}
static SEEN: Mutex<Option<Seen>> = Mutex::new(None);
static SEEN_CHANGED: tokio::sync::Notify = tokio::sync::Notify::const_new();

fn with_seen<R>(f: impl FnOnce(&mut Seen) -> R) -> R {
    let r = peek_seen(f);
    SEEN_CHANGED.notify_waiters();
    r
}

/// Reads (without waking the waiters).
fn peek_seen<R>(f: impl FnOnce(&mut Seen) -> R) -> R {
    f(SEEN.lock().unwrap().get_or_insert_with(Seen::default))
}

/// Records that the toolkit received call `id` of `group`, waits `ms`,
/// and answers `id`.
#[atp_tool]
pub async fn slow_echo(group: String, id: u64, ms: u64) -> u64 {
    with_seen(|s| s.received.entry(group).or_default().push(id));
    tokio::time::sleep(Duration::from_millis(ms)).await;
    id
}

/// The ids `slow_echo` received in `group`.
pub fn received(group: &str) -> Vec<u64> {
    peek_seen(|s| s.received.get(group).cloned().unwrap_or_default())
}

/// Waits until `slow_echo` has received every call of `ids` in `group`.
pub async fn wait_received(group: &str, ids: &[u64]) {
    let wait = async {
        loop {
            let changed = SEEN_CHANGED.notified();
            let seen = received(group);
            if ids.iter().all(|id| seen.contains(id)) {
                return;
            }
            changed.await;
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("calls {ids:?} of {group} reach the toolkit"));
}

/// Counts the calls of `group` running at once while it waits `ms`.
#[atp_tool]
pub async fn busy(group: String, ms: u64) -> u64 {
    with_seen(|s| {
        let (now, max) = s.running.entry(group.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
    });
    tokio::time::sleep(Duration::from_millis(ms)).await;
    with_seen(|s| s.running.entry(group).or_default().0 -= 1);
    ms
}

/// The most `busy` calls of `group` that ran at once.
pub fn max_running(group: &str) -> u32 {
    peek_seen(|s| s.running.get(group).map_or(0, |(_, max)| *max))
}

/// A string of `bytes` bytes.
#[atp_tool]
pub fn big(bytes: usize) -> String {
    "x".repeat(bytes)
}

/// Never finishes in time: its attribute allows 200 ms.
#[atp_tool(timeout = "200ms")]
pub async fn stuck_async(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// A blocking tool past its 200 ms limit.
#[atp_tool(timeout = "200ms")]
pub fn stuck_blocking(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// The Python of the tests that drive a client nobody here wrote (the
/// reference ATP client, the official MCP SDK): `ATP_REF_PYTHON`, the
/// workspace's `.venv`, or the venv `cargo xtask test` makes under
/// `target/xtask/venv`. Those tests are `#[ignore]`d with their reason; run
/// with `--include-ignored` and no such Python, they fail saying what to
/// run (`needs`, a pip requirement).
pub fn reference_python(needs: &str) -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("ATP_REF_PYTHON").filter(|p| !p.is_empty()) {
        return path.into();
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venvs = [".venv/bin/python", "target/xtask/venv/bin/python"];
    venvs
        .iter()
        .map(|venv| root.join(venv))
        .find(|python| python.exists())
        .unwrap_or_else(|| {
            panic!(
                "no Python for this test: run `cargo xtask test` (it makes one), set \
                 ATP_REF_PYTHON, or make the workspace's venv: \
                 python3 -m venv .venv && .venv/bin/pip install {needs}"
            )
        })
}

/// Waits `ms` milliseconds, then answers this process's id: which replica
/// of a toolkit served the call.
#[atp_tool]
pub async fn process_id(ms: u64) -> u32 {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    std::process::id()
}

/// Runs a driver script of a client nobody here wrote (`command`, a Python
/// with its arguments): feeds it `input` on stdin and returns its stdout
/// parsed as one JSON document, and its stderr. Fails the test — with the
/// script's output — if it takes longer than `wait` (it is killed), exits
/// badly, or prints no JSON.
pub async fn run_json_script(
    mut command: tokio::process::Command,
    input: Vec<u8>,
    wait: std::time::Duration,
) -> (Value, String) {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut child = command
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the script's Python starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let feed = tokio::spawn(async move {
        stdin.write_all(&input).await?;
        stdin.shutdown().await
    });
    let out = tokio::spawn(async move {
        let mut text = String::new();
        stdout.read_to_string(&mut text).await.map(|_| text)
    });
    let err = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.map(|_| text)
    });
    let status = tokio::time::timeout(wait, child.wait()).await;
    if status.is_err() {
        child.kill().await.expect("the stuck script is killed");
    }
    // The pipes close once the script is gone (and whatever it started
    // that shares them: an MCP client's server over stdio).
    let collect = |task: tokio::task::JoinHandle<std::io::Result<String>>| async move {
        tokio::time::timeout(WAIT, task)
            .await
            .map_or_else(
                |_| Ok("<still open>".to_owned()),
                |joined| joined.expect("the reader does not panic"),
            )
            .unwrap_or_else(|err| format!("<unreadable: {err}>"))
    };
    let (stdout, stderr) = (collect(out).await, collect(err).await);
    let status = status
        .unwrap_or_else(|_| {
            panic!("the script did not finish within {wait:?}; killed. stderr:\n{stderr}")
        })
        .expect("waiting for the script");
    tokio::time::timeout(WAIT, feed)
        .await
        .expect("stdin is written")
        .expect("the writer does not panic")
        .expect("the input reaches the script");
    assert!(
        status.success(),
        "the script failed ({status}); stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let answer: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {stdout}\nstderr:\n{stderr}"));
    (answer, stderr)
}

/// Sends the signal `name` (`TERM`, `INT`) to `child`.
pub fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", name, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads a process's log until a line contains every one of `needles`.
pub async fn wait_for_log(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    needles: &[&str],
) {
    let find = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if needles.iter().all(|needle| line.contains(needle)) {
                return;
            }
        }
        panic!("the log ended before {needles:?}");
    };
    tokio::time::timeout(WAIT, find)
        .await
        .expect("the log line comes");
}
