//! The same `#[atp_tool]` functions served over MCP, judged by the
//! official Python MCP client (the `mcp` package, 2.x): over stdio (the
//! client starts the toolkit process with `ATP_TRANSPORT=mcp`) and over
//! streamable HTTP (the toolkit process with `ATP_TRANSPORT=mcp-http` on
//! 127.0.0.1:0), each with the low-level `ClientSession` and its
//! `initialize()` handshake (protocol 2025-11-25) and with the high-level
//! `mcp.Client` in its default mode, which probes `server/discover` and
//! adopts the stateless 2026-07-28 lifecycle.
//!
//! The client runs in `tests/python/mcp_client.py`: the operations are
//! chosen here, it reports what it saw as one JSON document, and the
//! assertions are here. `tests/mcp.rs` checks the same with rmcp's client.
//!
//! Needs the `mcp` feature and a Python with `mcp` 2.x (`.venv` at the
//! workspace root, or `ATP_REF_PYTHON`):
//! `cargo test -p atp-tests --features mcp --test mcp_python -- --include-ignored`.
//! The tests are ignored unless asked for; asked for with no such Python,
//! they fail saying what to install.
#![cfg(feature = "mcp")]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// How long one run of the Python client may take (start, connect, every
/// operation, close) before it is killed. The script bounds itself at 60 s.
const PYTHON_WAIT: Duration = Duration::from_secs(90);
/// The toolkit's name, which MCP clients see as the server's.
const APP: &str = "mcp-python-kit";

/// How the Python client connects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// `ClientSession` + `initialize()`: the handshake lifecycle.
    Session,
    /// `mcp.Client` in its default mode ("auto").
    Client,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Session => "session",
            Mode::Client => "client",
        }
    }

    /// The protocol version the Python client ends up with against our
    /// server (rmcp 3.11): the newest with a handshake, or, when the client
    /// probes `server/discover`, the stateless one.
    fn protocol_version(self) -> &'static str {
        match self {
            Mode::Session => "2025-11-25",
            Mode::Client => "2026-07-28",
        }
    }
}

/// The Python with the official MCP SDK.
fn python() -> PathBuf {
    atp_tests::reference_python("'mcp==2.3.0'")
}

/// What one run of the Python client saw.
#[derive(Debug)]
struct Observed {
    protocol_version: Value,
    server_info: Value,
    results: Map<String, Value>,
    /// What the server sent the client besides results: `logs`,
    /// `elicited` and `sampled` (see `mcp_client.py`).
    talk: Value,
    /// The client's stderr (and over stdio the toolkit's), and over HTTP
    /// the toolkit's log: shown when something fails.
    log: String,
}

impl Observed {
    /// The value of the operation `name`; fails the test if it raised.
    fn ok(&self, name: &str) -> &Value {
        let result = self.results.get(name).unwrap_or_else(|| {
            panic!(
                "no result for {name}: {:?}\nlog:\n{}",
                self.results, self.log
            )
        });
        result.get("ok").unwrap_or_else(|| {
            panic!(
                "the Python client raised on {name}: {}\nlog:\n{}",
                result["raised"], self.log
            )
        })
    }

    /// The tool result of the operation `name`: (is_error, text,
    /// structuredContent).
    fn call(&self, name: &str) -> (bool, &str, &Value) {
        tool_result(self.ok(name))
    }
}

/// A tool result as the script reports it: (is_error, text,
/// structuredContent).
fn tool_result(result: &Value) -> (bool, &str, &Value) {
    (
        result["is_error"].as_bool().expect("is_error"),
        result["text"].as_str().expect("text"),
        &result["structured"],
    )
}

/// Runs `tests/python/mcp_client.py` with `transport` (`stdio`, `http`),
/// `target` (the toolkit command or the URL) and `mode` (`session`,
/// `client`, `raw`), feeding it `script`. Fails the test if the client
/// failed, or took longer than `PYTHON_WAIT` (then it is killed).
async fn run_python(transport: &str, target: &str, mode: &str, script: &Value) -> Observed {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/mcp_client.py");
    let mut command = tokio::process::Command::new(python());
    command.arg(&path).args([transport, target, mode]);
    let input = serde_json::to_vec(script).unwrap();
    let (mut answer, stderr) = atp_tests::run_json_script(command, input, PYTHON_WAIT).await;
    let Value::Object(results) = answer["results"].take() else {
        panic!("no results: {answer}\nstderr:\n{stderr}");
    };
    Observed {
        protocol_version: answer["protocol_version"].take(),
        server_info: answer["server_info"].take(),
        results,
        talk: json!({
            "logs": answer["logs"].take(),
            "elicited": answer["elicited"].take(),
            "sampled": answer["sampled"].take(),
        }),
        log: stderr,
    }
}

/// The Python client over stdio: it starts the toolkit process with
/// `ATP_TRANSPORT=mcp` and, if given, `token` as `ATP_AUTH_TOKEN`.
async fn over_stdio(mode: Mode, token: Option<&str>, operations: Vec<Value>) -> Observed {
    over_stdio_with(mode, token, json!({}), operations).await
}

/// [`over_stdio`] with `answers` in the script: how the client answers
/// the server's questions, and the log level it opts in to.
async fn over_stdio_with(
    mode: Mode,
    token: Option<&str>,
    answers: Value,
    operations: Vec<Value>,
) -> Observed {
    // The client passes the server only this, over its safe defaults
    // (HOME, PATH, ...): nothing else of this process's environment.
    let mut env = json!({
        "ATP_TRANSPORT": "mcp",
        "ATP_APP_NAME": APP,
        "RUST_LOG": "warn",
        "NO_COLOR": "1",
    });
    if let Some(token) = token {
        env["ATP_AUTH_TOKEN"] = json!(token);
    }
    let mut script = json!({"env": env, "operations": operations});
    merge(&mut script, answers);
    let observed = run_python(
        "stdio",
        env!("CARGO_BIN_EXE_env_toolkit"),
        mode.arg(),
        &script,
    )
    .await;
    check_session(&observed, mode);
    observed
}

/// The toolkit process serving MCP over streamable HTTP
/// (`ATP_TRANSPORT=mcp-http`, `ATP_MCP_ADDR=127.0.0.1:0`), killed when
/// dropped.
struct HttpToolkit {
    process: atp_tests::mcp_process::McpHttpProcess,
    url: String,
}

impl HttpToolkit {
    /// Starts it and reads where it listens from its log. The client's
    /// bearer is the tools' token: passthrough, chosen (loopback only,
    /// outside the MCP spec).
    async fn start() -> Self {
        Self::start_with("127.0.0.1:0", &[("ATP_MCP_AUTH", "passthrough")]).await
    }

    /// Starts it on `addr` with `env` added.
    async fn start_with(addr: &str, env: &[(&str, &str)]) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"));
        command
            .envs(env.iter().copied())
            .env("ATP_TRANSPORT", "mcp-http")
            .env("ATP_MCP_ADDR", addr)
            .env("ATP_APP_NAME", APP)
            .env_remove("ATP_API_KEY")
            .env_remove("ATP_AUTH_TOKEN");
        let process = atp_tests::mcp_process::McpHttpProcess::start(command).await;
        let url = process.url.clone();
        Self { process, url }
    }

    /// The Python client over streamable HTTP, sending `token` (if any) as
    /// `Authorization: Bearer`.
    async fn python(&self, mode: &str, token: Option<&str>, operations: Vec<Value>) -> Observed {
        self.python_with(mode, token, json!({}), operations).await
    }

    /// [`Self::python`] with `answers` in the script, as for
    /// [`over_stdio_with`].
    async fn python_with(
        &self,
        mode: &str,
        token: Option<&str>,
        answers: Value,
        operations: Vec<Value>,
    ) -> Observed {
        let mut headers = json!({});
        if let Some(token) = token {
            headers["Authorization"] = json!(format!("Bearer {token}"));
        }
        let mut script = json!({"headers": headers, "operations": operations});
        merge(&mut script, answers);
        let mut observed = run_python("http", &self.url, mode, &script).await;
        observed.log.push_str("\nthe toolkit's log:\n");
        observed.log.push_str(&self.process.log());
        observed
    }

    async fn stop(mut self) {
        self.process
            .child
            .kill()
            .await
            .expect("the toolkit is killed");
    }
}

/// `extra`'s keys added to `script`.
fn merge(script: &mut Value, extra: Value) {
    if let Value::Object(extra) = extra {
        script
            .as_object_mut()
            .expect("a script object")
            .extend(extra);
    }
}

/// The session the client negotiated: the version `mode` leads to, and
/// the toolkit's name as the server's.
fn check_session(observed: &Observed, mode: Mode) {
    assert_eq!(
        observed.protocol_version,
        mode.protocol_version(),
        "the protocol version of {mode:?}\nlog:\n{}",
        observed.log
    );
    assert_eq!(
        observed.server_info["name"], APP,
        "the server's name: {}",
        observed.server_info
    );
}

/// The operation `name`: one call of `tool`.
fn call(name: &str, tool: &str, arguments: Value) -> Value {
    json!({"name": name, "op": "call", "tool": tool, "arguments": arguments})
}

/// The operations of a full exercise: list, results, every error kind, the
/// token, a rendezvous and two cancellations.
fn exercise() -> Vec<Value> {
    let mut operations = vec![
        json!({"name": "list", "op": "list_tools"}),
        call("echo", "echo", json!({"text": "hi"})),
        call("greet", "greet", json!({"name": "Ann"})),
        call("add", "add", json!({"a": 1.5, "b": 2})),
    ];
    for (tool, arguments, _) in atp_tests::mcp_tools::error_cases() {
        operations.push(call(&format!("error {tool}"), tool, arguments));
    }
    operations.push(call("whoami", "whoami", json!({})));
    // Four calls that only finish once all four are running.
    let group = format!(
        "mcp-python-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let meet = json!({"tool": "meet_async", "arguments": {"group": group, "size": 4}});
    operations
        .push(json!({"name": "meet", "op": "concurrently", "calls": [meet, meet, meet, meet]}));
    // Two calls the client gives up on (anyio `move_on_after`), then the
    // counts of what that reached in the toolkit.
    operations.extend([
        call("counts before", "cancel_counts", json!({})),
        json!({"name": "abandon until_cancelled", "op": "abandon", "tool": "until_cancelled",
               "arguments": {}, "after": 0.3}),
        json!({"name": "abandon until_dropped", "op": "abandon", "tool": "until_dropped",
               "arguments": {}, "after": 0.3}),
        json!({"name": "counts after", "op": "poll", "tool": "cancel_counts", "arguments": {},
               "above": "counts before", "within": 10}),
    ]);
    operations
}

/// What every transport and mode must show, with `token` the one the
/// toolkit got (if any).
fn check_exercise(observed: &Observed, token: Option<&str>) {
    // Closing the session (a DELETE over HTTP) is answered as the client
    // expects: it warns `Session termination failed: 202` otherwise.
    assert!(
        !observed.log.contains("Session termination failed"),
        "{}",
        observed.log
    );
    // Schemas: JSON Schema 2020-12 from the signature.
    let list = observed.ok("list");
    assert_eq!(list["next_cursor"], Value::Null, "one page");
    let tools = list["tools"].as_array().expect("tools");
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("tool {name} listed: {list}"))
    };
    for name in [
        "echo",
        "greet",
        "add",
        "search",
        "whoami",
        "fail",
        "explode",
        "stuck_async",
        "meet_async",
        "until_cancelled",
        "until_dropped",
        "cancel_counts",
        "ping",
    ] {
        tool(name);
    }
    let search = tool("search");
    assert_eq!(
        search["description"],
        "Searches, with defaults for what is not required."
    );
    let schema = &search["inputSchema"];
    assert_eq!(schema["type"], "object", "{schema}");
    assert_eq!(schema["required"], json!(["query"]), "{schema}");
    assert_eq!(
        schema["$schema"],
        atp_sdk::schema::DRAFT_2020_12,
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["limit"]["type"],
        json!(["integer", "null"]),
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["tags"]["type"],
        json!(["array", "null"]),
        "{schema}"
    );
    assert_eq!(
        tool("echo")["inputSchema"]["properties"]["text"]["description"],
        "The text to send back."
    );
    assert_eq!(
        tool("ping")["inputSchema"],
        json!({"$schema": atp_sdk::schema::DRAFT_2020_12, "type": "object",
               "properties": {}, "additionalProperties": false})
    );

    // Results: an object is structured content and its JSON as text; a
    // string or a number is text only before 2026-07-28, and also
    // structured content from 2026-07-28 on (SEP-2106), which the client
    // validates against the listed output schema.
    let any_structured = observed.protocol_version == "2026-07-28";
    let structured_if = |value: Value| if any_structured { value } else { Value::Null };
    let (is_error, text, structured) = observed.call("echo");
    assert!(!is_error, "echo: {text}");
    assert_eq!(structured, &json!({"echo": "hi"}));
    assert_eq!(
        serde_json::from_str::<Value>(text).expect("echo's text is JSON"),
        json!({"echo": "hi"})
    );
    assert_eq!(
        observed.call("greet"),
        (false, "Hello, Ann!", &structured_if(json!("Hello, Ann!"))),
        "greet: text"
    );
    assert_eq!(
        observed.call("add"),
        (false, "3.5", &structured_if(json!(3.5)))
    );
    assert_eq!(
        tool("greet").get("outputSchema"),
        any_structured.then(|| json!({"type": "string"})).as_ref(),
        "a string's schema is listed from 2026-07-28 on"
    );

    // Each error kind, with the texts ATP answers.
    for (tool, _, expected) in atp_tests::mcp_tools::error_cases() {
        let (is_error, text, _) = observed.call(&format!("error {tool}"));
        assert_eq!(
            (is_error, text),
            (true, expected),
            "{tool}: an error result"
        );
    }

    // The token.
    let whoami = observed.call("whoami");
    match token {
        Some(token) => assert_eq!(
            whoami,
            (false, token, &structured_if(json!(token))),
            "whoami"
        ),
        None => assert_eq!(
            (whoami.0, whoami.1),
            (true, "Missing auth_token for authenticated tool"),
            "whoami without a token"
        ),
    }

    // Concurrency: the four calls met, each in its own place.
    let meets = observed.ok("meet").as_array().expect("four outcomes");
    let mut arrived: Vec<&str> = meets
        .iter()
        .map(|outcome| {
            assert!(
                outcome.get("raised").is_none(),
                "a meet_async call raised: {outcome}"
            );
            let (is_error, text, _) = tool_result(outcome);
            assert!(!is_error, "the calls ran at once: {text}");
            text
        })
        .collect();
    arrived.sort_unstable();
    assert_eq!(
        arrived,
        ["1", "2", "3", "4"],
        "each call's place in the meeting"
    );

    // Cancellation: abandoning a call reaches a plain fn's context, and
    // drops an async tool's future.
    for tool in ["until_cancelled", "until_dropped"] {
        let abandoned = observed.ok(&format!("abandon {tool}"));
        assert_eq!(
            abandoned["abandoned"], true,
            "{tool} still running after 300 ms: {abandoned}"
        );
    }
    let before = observed.call("counts before").2;
    let after = observed.ok("counts after");
    assert_eq!(
        after["reached"], true,
        "cancellations seen: {} (before {before})\nlog:\n{}",
        after["result"]["structured"], observed.log
    );
}

/// Over stdio, through the handshake: everything, with `ATP_AUTH_TOKEN`
/// as the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_stdio_the_python_client_session_lists_and_calls_the_tools() {
    let observed = over_stdio(Mode::Session, Some("stdio-token"), exercise()).await;
    check_exercise(&observed, Some("stdio-token"));
}

/// Over stdio, with `mcp.Client`'s default mode (2026-07-28, stateless):
/// everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_stdio_the_python_high_level_client_lists_and_calls_the_tools() {
    let observed = over_stdio(Mode::Client, Some("stdio-token"), exercise()).await;
    check_exercise(&observed, Some("stdio-token"));
}

/// Over stdio without `ATP_AUTH_TOKEN`, a tool that needs a token says so,
/// in both modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_stdio_without_a_token_the_python_client_is_told_one_is_missing() {
    for mode in [Mode::Session, Mode::Client] {
        let observed = over_stdio(mode, None, vec![call("whoami", "whoami", json!({}))]).await;
        assert_eq!(
            (observed.call("whoami").0, observed.call("whoami").1),
            (true, "Missing auth_token for authenticated tool"),
            "{mode:?}"
        );
        // The answer keeps the protocol's text; the toolkit's log says
        // how to give one.
        assert!(
            observed.log.contains(
                "the tool needs a token and has none: set ATP_AUTH_TOKEN for the process"
            ),
            "{mode:?}: {}",
            observed.log
        );
    }
}

/// Over streamable HTTP, through the handshake: everything, with the
/// bearer token as the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_the_python_client_session_lists_and_calls_the_tools() {
    let toolkit = HttpToolkit::start().await;
    let observed = toolkit
        .python(Mode::Session.arg(), Some("bearer-token"), exercise())
        .await;
    check_session(&observed, Mode::Session);
    check_exercise(&observed, Some("bearer-token"));
    toolkit.stop().await;
}

/// Over streamable HTTP, with `mcp.Client`'s default mode (2026-07-28,
/// stateless HTTP: a POST per request, no session): everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_the_python_high_level_client_lists_and_calls_the_tools() {
    let toolkit = HttpToolkit::start().await;
    let observed = toolkit
        .python(Mode::Client.arg(), Some("bearer-token"), exercise())
        .await;
    check_session(&observed, Mode::Client);
    check_exercise(&observed, Some("bearer-token"));
    toolkit.stop().await;
}

/// MCP over HTTP as an OAuth resource server (`ATP_MCP_RESOURCE`,
/// `ATP_MCP_ISSUER`, `ATP_MCP_JWKS_URL`): the official client, sending a
/// good access token the test signed, lists and calls the tools in both
/// modes; the bearer is never a tool's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_the_python_client_calls_a_resource_server_with_a_good_token() {
    use atp_tests::issuer::{Issuer, Key};
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let (issuer_url, jwks) = (issuer.url(), issuer.jwks_url());
    let toolkit = HttpToolkit::start_with(
        &format!("127.0.0.1:{port}"),
        &[
            ("ATP_MCP_RESOURCE", &resource),
            ("ATP_MCP_ISSUER", &issuer_url),
            ("ATP_MCP_JWKS_URL", &jwks),
        ],
    )
    .await;
    let token = key.sign(&issuer.claims(&resource, "alice", "tickets:write"));
    for mode in [Mode::Session, Mode::Client] {
        let observed = toolkit
            .python(
                mode.arg(),
                Some(&token),
                vec![
                    json!({"name": "list", "op": "list_tools"}),
                    call("echo", "echo", json!({"text": "authorized"})),
                    call("whoami", "whoami", json!({})),
                ],
            )
            .await;
        check_session(&observed, mode);
        let tools = observed.ok("list");
        assert!(
            tools["tools"].as_array().is_some_and(|t| !t.is_empty()),
            "{mode:?}: {tools}"
        );
        let (is_error, text, _) = observed.call("echo");
        assert!(!is_error, "{mode:?}: {text}");
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            json!({"echo": "authorized"})
        );
        assert_eq!(
            (observed.call("whoami").0, observed.call("whoami").1),
            (true, "Missing auth_token for authenticated tool"),
            "{mode:?}: the bearer is not passed on"
        );
    }
    toolkit.stop().await;
}

/// Over streamable HTTP without a bearer token, a tool that needs a token
/// says so, in both modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_without_a_token_the_python_client_is_told_one_is_missing() {
    let toolkit = HttpToolkit::start().await;
    for mode in [Mode::Session, Mode::Client] {
        let observed = toolkit
            .python(mode.arg(), None, vec![call("whoami", "whoami", json!({}))])
            .await;
        check_session(&observed, mode);
        assert_eq!(
            (observed.call("whoami").0, observed.call("whoami").1),
            (true, "Missing auth_token for authenticated tool"),
            "{mode:?}"
        );
    }
    toolkit.stop().await;
}

/// A request carrying a foreign `Origin` (a web page's) is refused with
/// 403; the same request without one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_a_foreign_origin_is_refused_to_httpx() {
    let toolkit = HttpToolkit::start().await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}
    });
    let accept = "application/json, text/event-stream";
    let observed = toolkit
        .python(
            "raw",
            None,
            vec![
                json!({"name": "foreign", "op": "post", "body": initialize,
                       "headers": {"Accept": accept, "Origin": "http://evil.example"}}),
                json!({"name": "local", "op": "post", "body": initialize,
                       "headers": {"Accept": accept}}),
            ],
        )
        .await;
    let foreign = observed.ok("foreign");
    assert_eq!(foreign["status"], 403, "with Origin: {foreign}");
    let local = observed.ok("local");
    assert_eq!(local["status"], 200, "without Origin: {local}");
    toolkit.stop().await;
}

/// How the client answers what the talking tools ask, and the log level
/// the high-level client opts in to (a session sets it with `set_level`).
fn talk_answers() -> Value {
    json!({
        "elicit": {"action": "accept", "content": {"name": "atlas", "really": true}},
        "sample": "hi",
        "log_level": "debug",
    })
}

/// A plain fn reporting progress and logs and returning an image; an
/// async fn asking the user; one asking the client's model twice.
fn talk_operations(mode: Mode) -> Vec<Value> {
    let mut operations = Vec::new();
    if mode == Mode::Session {
        operations.push(json!({"name": "level", "op": "set_level", "level": "debug"}));
    }
    operations.extend([
        json!({"name": "chart", "op": "call", "tool": "chart_steps",
               "arguments": {"steps": 3}, "progress": true}),
        call("delete", "delete_project", json!({"project": "atlas"})),
        call("sample", "ask_model_twice", json!({})),
    ]);
    operations
}

/// The client got each step's progress, every log line at or above
/// debug, the chart's image, the question with its schema and the
/// model's answers, in every mode.
fn check_talk(observed: &Observed, mode: Mode) {
    use base64::Engine as _;
    // From 2026-07-28 a string result is structured content too.
    let text = |text: &str| match mode {
        Mode::Session => Value::Null,
        Mode::Client => json!(text),
    };
    let chart = observed.ok("chart");
    assert_eq!(
        chart["progress"],
        json!([
            [1.0, 3.0, "step 1"],
            [2.0, 3.0, "step 2"],
            [3.0, 3.0, "step 3"]
        ]),
        "{}",
        observed.log
    );
    let png = base64::engine::general_purpose::STANDARD.encode(atp_tests::mcp_tools::PIXEL_PNG);
    assert_eq!(
        chart["content"],
        json!([
            {"type": "text", "text": "a chart in 3 steps"},
            {"type": "image", "data": png, "mimeType": "image/png"},
        ]),
        "{}",
        observed.log
    );
    assert_eq!(chart["is_error"], false);
    let logs = &observed.talk["logs"];
    let line = |level: &str, logger: &str, data: &str| json!({"level": level, "logger": logger, "data": data});
    assert_eq!(
        logs,
        &json!([
            line("info", "chart_steps", "step 1 of 3 drawn"),
            line("info", "chart_steps", "step 2 of 3 drawn"),
            line("info", "chart_steps", "step 3 of 3 drawn"),
            line("debug", "chart_steps", "the chart is done"),
            line("warning", "delete_project", "asking before deleting atlas"),
        ]),
        "{}",
        observed.log
    );
    assert_eq!(
        observed.call("delete"),
        (false, "deleted atlas", &text("deleted atlas"))
    );
    let elicited = observed.talk["elicited"].as_array().expect("elicited");
    assert_eq!(elicited.len(), 1, "{}", observed.talk);
    assert_eq!(elicited[0]["message"], "Delete the project atlas?");
    let schema = &elicited[0]["requestedSchema"];
    assert_eq!(schema["type"], "object", "{schema}");
    assert_eq!(schema["properties"]["name"]["type"], "string", "{schema}");
    assert_eq!(
        schema["properties"]["name"]["description"], "The project's name, typed again.",
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["really"]["type"], "boolean",
        "{schema}"
    );
    assert_eq!(
        observed.call("sample"),
        (false, "hi / hi", &text("hi / hi"))
    );
    let asked: Vec<&Value> = observed.talk["sampled"]
        .as_array()
        .expect("sampled")
        .iter()
        .map(|params| &params["messages"][0]["content"]["text"])
        .collect();
    assert_eq!(
        asked,
        [&json!("Say one"), &json!("Say two")],
        "{}",
        observed.talk
    );
}

/// Over stdio, through the handshake: progress, logs (after
/// `logging/setLevel`), an image, and the questions as requests on the
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_stdio_the_python_client_session_hears_progress_logs_and_questions() {
    let observed = over_stdio_with(
        Mode::Session,
        None,
        talk_answers(),
        talk_operations(Mode::Session),
    )
    .await;
    check_talk(&observed, Mode::Session);
}

/// Over stdio on 2026-07-28: the logs the client opted in to per request,
/// and the questions as `InputRequiredResult`s the client answers by
/// retrying the call (the tool resumes where it asked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_stdio_the_python_high_level_client_hears_progress_logs_and_questions() {
    let observed = over_stdio_with(
        Mode::Client,
        None,
        talk_answers(),
        talk_operations(Mode::Client),
    )
    .await;
    check_talk(&observed, Mode::Client);
}

/// The talking tools over streamable HTTP to `toolkit`, with the Python
/// client in `mode`; the toolkit is stopped after.
async fn talk_over_http(toolkit: HttpToolkit, mode: Mode) {
    let observed = toolkit
        .python_with(mode.arg(), None, talk_answers(), talk_operations(mode))
        .await;
    check_session(&observed, mode);
    check_talk(&observed, mode);
    toolkit.stop().await;
}

/// Over streamable HTTP, through the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_the_python_client_session_hears_progress_logs_and_questions() {
    let toolkit = HttpToolkit::start().await;
    talk_over_http(toolkit, Mode::Session).await;
}

/// Over streamable HTTP on 2026-07-28 (a POST per request, no session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn over_streamable_http_the_python_high_level_client_hears_progress_logs_and_questions() {
    let toolkit = HttpToolkit::start().await;
    talk_over_http(toolkit, Mode::Client).await;
}

/// [`HttpToolkit`] serving without sessions (`ATP_MCP_STATELESS=1`).
async fn stateless_toolkit() -> HttpToolkit {
    HttpToolkit::start_with(
        "127.0.0.1:0",
        &[("ATP_MCP_AUTH", "passthrough"), ("ATP_MCP_STATELESS", "1")],
    )
    .await
}

/// Without sessions, through the handshake (2025-11-25): calls are served
/// (progress and log lines on the call's own event stream), a plain
/// request is answered as JSON with no session id, and a tool that asks
/// the client something is told at once that that needs a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn without_sessions_the_python_client_session_is_served_and_told_what_needs_one() {
    let toolkit = stateless_toolkit().await;
    let observed = toolkit
        .python_with(
            Mode::Session.arg(),
            None,
            talk_answers(),
            vec![
                call("echo", "echo", json!({"text": "hi"})),
                json!({"name": "chart", "op": "call", "tool": "chart_steps",
                       "arguments": {"steps": 2}, "progress": true}),
                call("delete", "delete_project", json!({"project": "atlas"})),
                call("sample", "ask_model_twice", json!({})),
            ],
        )
        .await;
    check_session(&observed, Mode::Session);
    assert!(!observed.call("echo").0, "{}", observed.log);
    let chart = observed.ok("chart");
    assert_eq!(
        chart["progress"],
        json!([[1.0, 2.0, "step 1"], [2.0, 2.0, "step 2"]]),
        "{}",
        observed.log
    );
    let (is_error, text, _) = observed.call("delete");
    assert!(is_error, "{text}");
    assert!(
        text.contains("without sessions") && text.contains("ATP_MCP_STATELESS"),
        "{text}"
    );
    let (is_error, text, _) = observed.call("sample");
    assert!(is_error && text.contains("without sessions"), "{text}");
    assert_eq!(observed.talk["elicited"], json!([]), "nothing was asked");
    assert_eq!(observed.talk["sampled"], json!([]), "nothing was asked");
    // Each request is served on its own: no setLevel outlives its request,
    // so lines go out from info up.
    let logs: Vec<&Value> = observed.talk["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|line| &line["data"])
        .collect();
    assert_eq!(
        logs,
        [
            &json!("step 1 of 2 drawn"),
            &json!("step 2 of 2 drawn"),
            &json!("asking before deleting atlas"),
        ],
        "{}",
        observed.log
    );

    // A bare tools/call, with no initialize and no session: JSON back.
    let call_echo = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "raw"}}
    });
    let raw = toolkit
        .python(
            "raw",
            None,
            vec![json!({"name": "raw", "op": "post", "body": call_echo,
                        "headers": {"Accept": "application/json, text/event-stream",
                                    "MCP-Protocol-Version": "2025-11-25"}})],
        )
        .await;
    let answer = raw.ok("raw");
    assert_eq!(answer["status"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap())
        .unwrap_or_else(|err| panic!("not JSON ({err}): {answer}"));
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(
        body["result"]["structuredContent"],
        json!({"echo": "raw"}),
        "{body}"
    );
    toolkit.stop().await;
}

/// Without sessions, on 2026-07-28 (which has none anyway): everything a
/// talking tool does works, questions included (the call parks in this
/// process and the client's retry resumes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python MCP SDK (mcp 2.x in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn without_sessions_the_python_high_level_client_hears_progress_logs_and_questions() {
    let toolkit = stateless_toolkit().await;
    talk_over_http(toolkit, Mode::Client).await;
}
