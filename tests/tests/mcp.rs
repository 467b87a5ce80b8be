//! The same `#[atp_tool]` functions served over MCP, judged by rmcp's own
//! client: over stdio (the toolkit as a child process, `ATP_TRANSPORT=mcp`,
//! as an MCP client starts it) and over streamable HTTP (in-process on
//! 127.0.0.1:0, and as a process with `ATP_TRANSPORT=mcp-http`).
//!
//! Needs the `mcp` feature: `cargo test -p atp-tests --features mcp`.
#![cfg(feature = "mcp")]

use std::process::Stdio;
use std::time::Duration;

use atp_sdk::{AppDef, ToolKitClient, Transport};
use atp_tests::mcp_client::{Client, HttpServed, call, http_client};
use atp_tests::*;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The toolkit process of the tests crate (every test tool), served over
/// MCP on stdio with `token` as `ATP_AUTH_TOKEN`.
async fn stdio_client(token: Option<&str>) -> Client {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit")).configure(|c| {
        c.env("ATP_TRANSPORT", "mcp")
            .env("ATP_APP_NAME", "mcp-stdio-kit")
            .env_remove("ATP_API_KEY")
            .env_remove("ATP_AUTH_TOKEN")
            .env("RUST_LOG", "warn");
        if let Some(token) = token {
            c.env("ATP_AUTH_TOKEN", token);
        }
    });
    let (transport, _stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the toolkit starts");
    tokio::time::timeout(WAIT, ().serve(transport))
        .await
        .expect("initialized in time")
        .expect("the MCP handshake succeeds")
}

fn tool<'a>(tools: &'a [Tool], name: &str) -> &'a Tool {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("tool {name} listed"))
}

/// What every transport must show: schemas, results and each error kind
/// with ATP's texts, the token, concurrency and cancellation.
async fn exercise(client: &Client, token: Option<&str>) {
    let tools = tokio::time::timeout(WAIT, client.list_all_tools())
        .await
        .expect("listed in time")
        .expect("tools/list answers");
    // Schemas: JSON Schema 2020-12 from the signature.
    let search = tool(&tools, "search");
    assert_eq!(
        search.description.as_deref(),
        Some("Searches, with defaults for what is not required.")
    );
    let schema = Value::Object((*search.input_schema).clone());
    assert_eq!(schema["type"], "object", "{schema}");
    assert_eq!(schema["required"], json!(["query"]), "{schema}");
    assert_eq!(
        schema["$schema"],
        atp_sdk::schema::DRAFT_2020_12,
        "{schema}"
    );
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    // Parameters that are not required also take `null` (the tool reads
    // it as absent).
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
    let echo = Value::Object((*tool(&tools, "echo").input_schema).clone());
    assert_eq!(
        echo["properties"]["text"]["description"],
        "The text to send back."
    );
    let ping = Value::Object((*tool(&tools, "ping").input_schema).clone());
    assert_eq!(
        ping,
        json!({"$schema": atp_sdk::schema::DRAFT_2020_12, "type": "object",
               "properties": {}, "additionalProperties": false})
    );

    // Results: an object is structured content and its JSON as text; a
    // string is text.
    let (is_error, text, structured) = call(client, "echo", json!({"text": "hi"})).await;
    assert!(!is_error);
    assert_eq!(structured, Some(json!({"echo": "hi"})));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"echo": "hi"})
    );
    let (is_error, text, structured) = call(client, "greet", json!({"name": "Ann"})).await;
    assert_eq!(
        (is_error, text.as_str(), structured),
        (false, "Hello, Ann!", None)
    );
    let (_, text, _) = call(client, "add", json!({"a": 1.5, "b": 2})).await;
    assert_eq!(text, "3.5");

    // Each error kind, with the texts ATP answers.
    let errors = atp_tests::mcp_tools::error_cases();
    for (name, args, expected) in errors {
        let (is_error, text, _) = call(client, name, args).await;
        assert!(is_error, "{name}: an error result");
        assert_eq!(text, expected, "{name}");
    }
    // An unknown tool: a JSON-RPC error (-32602) with ATP's text.
    let unknown = tokio::time::timeout(WAIT, client.call_tool(CallToolRequestParams::new("nope")))
        .await
        .expect("answered in time");
    match unknown {
        Err(rmcp::ServiceError::McpError(data)) => {
            assert_eq!(data.code, rmcp::model::ErrorCode::INVALID_PARAMS);
            assert_eq!(data.message, "Unknown tool: nope");
        }
        other => panic!("a JSON-RPC error for an unknown tool: {other:?}"),
    }

    // The token.
    let (is_error, text, _) = call(client, "whoami", json!({})).await;
    match token {
        Some(token) => assert_eq!((is_error, text.as_str()), (false, token)),
        None => assert_eq!(
            (is_error, text.as_str()),
            (true, "Missing auth_token for authenticated tool")
        ),
    }

    // Concurrency: four calls meet, or each gives up waiting for the rest.
    let group = format!("mcp-{:?}", std::time::SystemTime::now());
    let meets = (0..4).map(|_| call(client, "meet_async", json!({"group": group, "size": 4})));
    let mut arrived: Vec<String> = Vec::new();
    for (is_error, text, _) in futures_util::future::join_all(meets).await {
        assert!(!is_error, "the calls ran at once: {text}");
        arrived.push(text);
    }
    arrived.sort();
    assert_eq!(
        arrived,
        ["1", "2", "3", "4"],
        "each call's place in the meeting"
    );

    // Cancellation: a call abandoned by the client (rmcp sends
    // notifications/cancelled) reaches a plain fn's context, and drops an
    // async tool's future.
    let before = counts(client).await;
    for name in ["until_cancelled", "until_dropped"] {
        let params = CallToolRequestParams::new(name.to_owned());
        let abandoned =
            tokio::time::timeout(Duration::from_millis(300), client.call_tool(params)).await;
        assert!(abandoned.is_err(), "{name} still running after 300 ms");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = counts(client).await;
        if now.0 > before.0 && now.1 > before.1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cancellations seen: {now:?} (before {before:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn counts(client: &Client) -> (u64, u64) {
    let (_, _, structured) = call(client, "cancel_counts", json!({})).await;
    let counts = structured.expect("counts");
    (
        counts["seen"].as_u64().unwrap(),
        counts["dropped"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_rmcp_lists_and_calls_the_tools() {
    let client = stdio_client(Some("stdio-token")).await;
    exercise(&client, Some("stdio-token")).await;
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_without_atp_auth_token_a_tool_that_needs_one_says_so() {
    let client = stdio_client(None).await;
    let (is_error, text, _) = call(&client, "whoami", json!({})).await;
    assert_eq!(
        (is_error, text.as_str()),
        (true, "Missing auth_token for authenticated tool")
    );
    client.cancel().await.unwrap();
}

/// At the default log level (no `RUST_LOG`), an MCP toolkit's stderr has
/// our one-line summaries and none of rmcp's INFO lines, which dump the
/// client's whole request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_the_default_log_is_our_summaries_not_rmcps_dumps() {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit")).configure(|c| {
        c.env("ATP_TRANSPORT", "mcp")
            .env("ATP_APP_NAME", "mcp-quiet-kit")
            .env("NO_COLOR", "1")
            .env_remove("ATP_API_KEY")
            .env_remove("ATP_AUTH_TOKEN")
            .env_remove("RUST_LOG");
    });
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the toolkit starts");
    let stderr = stderr.expect("stderr is piped");
    // Read from the start, so the toolkit never blocks on a full pipe.
    let log = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut log = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(line);
        }
        log
    });
    let client = tokio::time::timeout(WAIT, ().serve(transport))
        .await
        .expect("initialized in time")
        .expect("the MCP handshake succeeds");
    let (is_error, text, _) = call(&client, "echo", json!({"text": "quiet"})).await;
    assert!(!is_error, "{text}");
    // A call the client gives up on (`notifications/cancelled`), seen
    // by the tool before the client goes.
    let before = counts(&client).await;
    let params = CallToolRequestParams::new("until_cancelled");
    let abandoned =
        tokio::time::timeout(Duration::from_millis(300), client.call_tool(params)).await;
    assert!(
        abandoned.is_err(),
        "until_cancelled answers only when cancelled"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while counts(&client).await.0 == before.0 {
        assert!(tokio::time::Instant::now() < deadline, "the cancel arrives");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.cancel().await.unwrap();
    let log = tokio::time::timeout(WAIT, log)
        .await
        .expect("the toolkit ends when stdin closes")
        .unwrap();
    let text = log.join("\n");
    let connected: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("MCP client connected"))
        .collect();
    assert_eq!(connected.len(), 1, "{text}");
    assert!(
        connected[0].contains("client=\"rmcp\"") && connected[0].contains("protocol="),
        "who connected, speaking what: {text}"
    );
    assert!(text.contains("serving MCP on stdin/stdout"), "{text}");
    assert!(text.contains("MCP client closed the connection"), "{text}");
    assert!(
        log.iter()
            .any(|l| l.contains("MCP call cancelled by the client")
                && l.contains("tool=until_cancelled")),
        "{text}"
    );
    for line in &log {
        // Every line is one of ours: rmcp's are its INFO dumps
        // ("Service initialized as server", "received notification", ...).
        assert!(
            !line.contains("Service initialized")
                && !line.contains("received notification")
                && !line.contains("peer_info")
                && !line.contains("serve finished"),
            "an rmcp INFO line at the default level: {line}\n{text}"
        );
        assert!(line.len() < 300, "one short line each: {line}");
    }
}

/// A counter app, to show apps stay out of MCP's tool list.
struct Tally;

impl atp_sdk::App for Tally {
    type Params = serde_json::Map<String, Value>;
    type State = u32;
    type Action = Value;

    async fn start(
        &self,
        _params: Self::Params,
        _token: Option<atp_sdk::AuthToken>,
    ) -> Result<atp_sdk::AppStep<u32>, String> {
        Ok(atp_sdk::AppStep::show(json!({}), 0))
    }

    async fn action(&self, _action: Value, state: u32) -> Result<atp_sdk::AppStep<u32>, String> {
        Ok(atp_sdk::AppStep::show(json!({}), state + 1))
    }
}

/// An in-process toolkit serving MCP over HTTP on 127.0.0.1:0.
async fn http_toolkit() -> HttpServed {
    init_logging();
    let client = ToolKitClient::builder("", "mcp-http-kit")
        .transport(Transport::McpHttp)
        // The tests below check that a tool gets the client's bearer:
        // passthrough, chosen (loopback only, outside the MCP spec).
        .mcp_bearer_passthrough(true)
        .app(AppDef::new("tally", Tally))
        .build()
        .expect("builds without an API key");
    HttpServed::start(client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_streamable_http_rmcp_lists_and_calls_the_tools() {
    let served = http_toolkit().await;
    let url = served.url.clone();
    let client = http_client(&url, Some("bearer-token")).await;
    exercise(&client, Some("bearer-token")).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(
        tools.iter().all(|t| t.name != "tally"),
        "an interactive app is not an MCP tool"
    );
    client.cancel().await.unwrap();

    // Without a bearer token, a tool that needs one says so.
    let anonymous = http_client(&url, None).await;
    let (is_error, text, _) = call(&anonymous, "whoami", json!({})).await;
    assert_eq!(
        (is_error, text.as_str()),
        (true, "Missing auth_token for authenticated tool")
    );
    anonymous.cancel().await.unwrap();

    served.stop().await;
}

/// The MCP spec asks local servers to validate `Origin`: a web page's
/// request is refused unless it is the server's own origin, a client's (no
/// Origin) is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_streamable_http_a_foreign_origin_is_refused() {
    let served = http_toolkit().await;
    let url = served.url.clone();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}
    });
    let post = |origin: Option<&str>| {
        let mut request = http()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize.to_string());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let refused = post(Some("http://evil.example")).await.unwrap();
    assert_eq!(refused.status(), 403);
    let local = post(None).await.unwrap();
    assert_eq!(local.status(), 200);
    // The server's own origin, under each loopback name, is a page it
    // serves itself: accepted. A page on another local port is not.
    let port = reqwest::Url::parse(&url).unwrap().port().unwrap();
    for own in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ] {
        let answer = post(Some(&own)).await.unwrap();
        assert_eq!(answer.status(), 200, "Origin: {own}");
    }
    for other in [
        format!("http://localhost:{}", port.wrapping_add(1)),
        format!("https://localhost:{port}"),
        "null".to_owned(),
    ] {
        let answer = post(Some(&other)).await.unwrap();
        assert_eq!(answer.status(), 403, "Origin: {other}");
    }
    // A foreign Host (DNS rebinding) is refused too.
    let rebound = http()
        .post(&url)
        .header("host", "evil.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    served.stop().await;
}

/// An origin given with `mcp_allowed_origins` (a browser-based client) is
/// served; the others still are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_streamable_http_an_allowed_origin_is_served() {
    init_logging();
    let client = ToolKitClient::builder("", "mcp-origins-kit")
        .transport(Transport::McpHttp)
        .mcp_allowed_origins(["https://app.example.com", "http://localhost:*"])
        .build()
        .expect("builds without an API key");
    let served = HttpServed::start(client).await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}
    });
    for (origin, status) in [
        ("https://app.example.com", 200),
        ("http://localhost:5173", 200),
        ("http://app.example.com", 403),
        ("https://evil.example", 403),
    ] {
        let answer = http()
            .post(&served.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("origin", origin)
            .body(initialize.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "Origin: {origin}");
    }
    served.stop().await;
}

/// A stop lets the calls in flight finish and answers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_calls_in_flight_finish() {
    let served = http_toolkit().await;
    let url = served.url.clone();
    let client = http_client(&url, None).await;
    let slow = tokio::spawn(async move {
        let args = json!({"group": "mcp-stop-in-flight", "id": 1, "ms": 500});
        let answer = call(&client, "slow_echo", args).await;
        (client, answer)
    });
    // The call is running when the stop comes.
    wait_received("mcp-stop-in-flight", &[1]).await;
    served.ask_to_stop();
    let (client, (is_error, text, _)) = tokio::time::timeout(WAIT, slow).await.unwrap().unwrap();
    assert_eq!((is_error, text.as_str()), (false, "1"));
    served.stop().await;
    drop(client);
}

/// `ATP_TRANSPORT=mcp-http` with `ATP_MCP_ADDR`: `atp_sdk::run()` serves
/// MCP over HTTP with no API key, and says where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_mcp_http_from_the_environment() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_TRANSPORT", "mcp-http")
        .env("ATP_MCP_ADDR", "127.0.0.1:0")
        .env("ATP_APP_NAME", "mcp-env-kit")
        .env(
            "ATP_MCP_ALLOWED_ORIGINS",
            " https://app.example.com , http://localhost:5173",
        )
        .env_remove("ATP_API_KEY")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("url=http://") {
                return line[at + 4..].split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the toolkit ended without saying where it serves MCP");
    })
    .await
    .expect("the toolkit says where it listens");
    let client = http_client(&url, None).await;
    let (_, text, _) = call(&client, "echo", json!({"text": "from env"})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"echo": "from env"})
    );
    client.cancel().await.unwrap();
    // `ATP_MCP_ALLOWED_ORIGINS`: each origin listed is served, others not.
    for (origin, status) in [
        ("https://app.example.com", 200),
        ("http://localhost:5173", 200),
        ("http://localhost:5174", 403),
    ] {
        let answer = http()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("origin", origin)
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                  "clientInfo": {"name": "raw", "version": "0"}}})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "Origin: {origin}");
    }
    child.kill().await.unwrap();
}

/// A call of a tool the server does not have is a JSON-RPC error, -32602
/// (invalid params) with ATP's text, as the MCP spec lists it and rmcp's
/// own servers answer; a call of one it has with bad arguments stays an
/// `isError` result (SEP-1303).
#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error_and_bad_arguments_a_result() {
    let toolkit = ToolKitClient::builder("", "unknown-tool")
        .transport(Transport::McpHttp)
        .tools(["echo"])
        .build()
        .unwrap();
    let served = HttpServed::start(toolkit).await;
    let client = http_client(&served.url, None).await;
    let err = tokio::time::timeout(
        WAIT,
        client.call_tool(CallToolRequestParams::new("no_such_tool")),
    )
    .await
    .expect("answered in time")
    .expect_err("a protocol error, not a result");
    let rmcp::ServiceError::McpError(data) = err else {
        panic!("a JSON-RPC error: {err:?}");
    };
    assert_eq!(data.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(data.message, "Unknown tool: no_such_tool");
    let (is_error, text, _) = call(&client, "echo", json!({})).await;
    assert!(is_error);
    assert_eq!(text, "Missing required parameter: text");
    client.cancel().await.unwrap();
    served.stop().await;
}

/// Rebuilds the index.
#[atp_sdk::atp_tool(
    title = "Rebuild the index",
    idempotent,
    destructive = false,
    open_world = false
)]
fn rebuild_index() -> String {
    "rebuilt".to_owned()
}

/// A tool's `title` and hints are MCP's `title` and `annotations` in
/// `tools/list`, and travel in the ATP announcement's metadata too.
#[tokio::test]
async fn a_tools_title_and_hints_are_listed_and_announced() {
    // Over ATP: what atp-dev was told.
    let server = start_server().await;
    let kit = spawn(
        builder(&server, "hinted", Some(&["rebuild_index"]))
            .build()
            .unwrap(),
    );
    server
        .wait_for_tools(&["rebuild_index"], WAIT)
        .await
        .unwrap();
    let registered = server
        .registrations()
        .into_iter()
        .find(|r| r.function_id == "rebuild_index")
        .expect("announced");
    let metadata = serde_json::to_value(&registered).unwrap();
    let metadata = &metadata["metadata"];
    assert_eq!(metadata["title"], "Rebuild the index", "{metadata}");
    assert_eq!(
        metadata["annotations"],
        json!({"destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
    );
    kit.shutdown().await.unwrap();

    // Over MCP: what rmcp's client lists.
    let toolkit = ToolKitClient::builder("", "hinted")
        .transport(Transport::McpHttp)
        .tools(["rebuild_index", "echo"])
        .build()
        .unwrap();
    let served = HttpServed::start(toolkit).await;
    let client = http_client(&served.url, None).await;
    let tools = tokio::time::timeout(WAIT, client.list_all_tools())
        .await
        .unwrap()
        .unwrap();
    let listed = tool(&tools, "rebuild_index");
    assert_eq!(listed.title.as_deref(), Some("Rebuild the index"));
    let annotations = listed.annotations.as_ref().expect("annotations listed");
    assert_eq!(annotations.read_only_hint, None, "not said: not sent");
    assert_eq!(annotations.destructive_hint, Some(false));
    assert_eq!(annotations.idempotent_hint, Some(true));
    assert_eq!(annotations.open_world_hint, Some(false));
    let plain = tool(&tools, "echo");
    assert!(plain.title.is_none() && plain.annotations.is_none());
    client.cancel().await.unwrap();
    served.stop().await;
}
