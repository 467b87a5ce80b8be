//! A real toolkit (tools built with `#[atp_tool]`) served to a real
//! `atp-dev` on loopback: every rule of the call contract, concurrency,
//! panics, token injection, reconnection and stop.

use std::time::Duration;

use atp_dev::{AnnounceRecord, DevServer};
use atp_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn typed_tools_answer_with_their_results() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "typed", None).await;

    assert_eq!(
        call(&server, "echo", json!({"text": "hi"})).await,
        json!({"echo": "hi"})
    );
    assert_eq!(
        call(&server, "add", json!({"a": 1.5, "b": 2})).await,
        json!(3.5)
    );
    assert_eq!(
        call(&server, "greet", json!({"name": "Ada"})).await,
        json!("Hello, Ada!")
    );
    assert_eq!(
        call(&server, "greet", json!({"name": "Ada", "greeting": "Hi"})).await,
        json!("Hi, Ada!")
    );
    assert_eq!(
        call(&server, "greet", json!({"name": "Ada", "greeting": null})).await,
        json!("Hello, Ada!")
    );
    // Parameters left out of `required` take their defaults.
    assert_eq!(
        call(&server, "search", json!({"query": "q"})).await,
        json!({"query": "q", "limit": 0, "exact": false, "tags": null})
    );
    assert_eq!(
        call(
            &server,
            "search",
            json!({"query": "q", "limit": 5, "exact": true, "tags": ["a"]})
        )
        .await,
        json!({"query": "q", "limit": 5, "exact": true, "tags": ["a"]})
    );
    // Structs, enums, maps, raw identifiers, `Value`.
    assert_eq!(
        call(
            &server,
            "plot",
            json!({"point": {"x": 1, "y": -2}, "colour": "red", "labels": ["p"],
                   "weights": {"w": 0.5}, "type": "scatter", "extra": [1, {"k": null}]})
        )
        .await,
        json!({"point": {"x": 1, "y": -2}, "colour": "red", "labels": ["p"],
               "weights": {"w": 0.5}, "type": "scatter", "extra": [1, {"k": null}]})
    );
    // Extra keys are ignored.
    assert_eq!(
        call(&server, "echo", json!({"text": "x", "other": 1})).await,
        json!({"echo": "x"})
    );
    assert_eq!(call(&server, "ping", json!({})).await, json!("pong"));

    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_error_text_of_the_contract() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "errors", None).await;

    let missing = |name: &str| json!({"error": format!("Missing required parameter: {name}")});
    assert_eq!(call(&server, "echo", json!({})).await, missing("text"));
    assert_eq!(
        call(&server, "echo", json!({"text": null})).await,
        missing("text")
    );
    // The first missing one, in declaration order.
    assert_eq!(call(&server, "add", json!({})).await, missing("a"));
    assert_eq!(call(&server, "add", json!({"a": 1})).await, missing("b"));

    let no_token = json!({"error": "Missing auth_token for authenticated tool"});
    assert_eq!(call(&server, "whoami", json!({})).await, no_token);
    assert_eq!(
        call_with_token(&server, "whoami", json!({}), Some("")).await,
        no_token
    );
    assert_eq!(
        call(&server, "needs_auth", json!({"note": "n"})).await,
        no_token
    );
    // A parameter called auth_token is not a token.
    assert_eq!(
        call(
            &server,
            "needs_auth",
            json!({"note": "n", "auth_token": "fake"})
        )
        .await,
        no_token
    );

    assert_eq!(
        call(&server, "add", json!({"a": "one", "b": 2})).await,
        json!({"error": "Invalid parameter 'a': expected a number, got \"one\""})
    );
    assert_eq!(
        call(
            &server,
            "plot",
            json!({"point": {"x": 1}, "colour": "red", "labels": [], "weights": {}})
        )
        .await,
        json!({"error": "Invalid parameter 'point': missing field \"y\""})
    );
    assert_eq!(
        call(
            &server,
            "plot",
            json!({"point": {"x": 1, "y": 2}, "colour": "green", "labels": [], "weights": {}})
        )
        .await,
        json!({"error": "Invalid parameter 'colour': expected one of \"red\", \"blue\", got \"green\""})
    );

    assert_eq!(
        call(&server, "fail", json!({"reason": "why"})).await,
        json!({"error": "boom: why"})
    );
    assert_eq!(
        call(&server, "explode", json!({})).await,
        json!({"error": "Tool panicked: kaboom"})
    );
    assert_eq!(
        call(&server, "explode_async", json!({})).await,
        json!({"error": "Tool panicked: async kaboom"})
    );
    // The toolkit keeps serving after panics.
    assert_eq!(
        call(&server, "echo", json!({"text": "still here"})).await,
        json!({"echo": "still here"})
    );

    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn params_absent_null_or_empty_string_mean_no_params() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "params", Some(&["ping", "echo"])).await;
    for params in [json!(null), json!(""), json!({})] {
        assert_eq!(
            call(&server, "ping", params.clone()).await,
            json!("pong"),
            "params = {params}"
        );
        assert_eq!(
            call(&server, "echo", params.clone()).await,
            json!({"error": "Missing required parameter: text"}),
            "params = {params}"
        );
    }
    // A string that holds a JSON object is read as that object.
    assert_eq!(
        call(&server, "echo", json!("{\"text\": \"s\"}")).await,
        json!({"echo": "s"})
    );
    assert_eq!(
        call(&server, "echo", json!([1])).await,
        json!({"error": "Invalid params: expected a JSON object, got an array"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unknown_tool_is_answered() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "ghosts", Some(&["echo"])).await;
    // The server believes the toolkit has a tool it no longer has (as after
    // a tool was removed): the request is answered, not left hanging.
    register_ghost(&server, "key-ghosts", "ghosts", "ghost").await;
    assert_eq!(
        call(&server, "ghost", json!({})).await,
        json!({"error": "Unknown tool: ghost"})
    );
    toolkit.shutdown().await.unwrap();
}

async fn register_ghost(server: &DevServer, key: &str, app: &str, name: &str) {
    let body = json!({
        "function_id": name, "api_key": key, "app_name": app, "programming_language": "Rust",
        "code_hash": "0", "toolkit_hash": "0",
        "metadata": {"params": [], "required_params": [], "description": "", "auth_provider": null,
                     "auth_type": null, "auth_with": null, "sample_response": "", "source_code": ""}
    });
    let response = http()
        .post(format!("{}/api/v1/register_tool", server.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn the_token_is_injected_and_never_taken_from_params() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "auth", Some(&["whoami", "needs_auth"])).await;
    assert_eq!(
        call_with_token(&server, "whoami", json!({}), Some("tok-123")).await,
        json!("tok-123")
    );
    assert_eq!(
        call_with_token(
            &server,
            "whoami",
            json!({"auth_token": "forged"}),
            Some("real")
        )
        .await,
        json!("real")
    );
    assert_eq!(
        call_with_token(&server, "needs_auth", json!({"note": "n"}), Some("t")).await,
        json!("n")
    );
    toolkit.shutdown().await.unwrap();
}

/// Runs the calls at once and returns their results.
async fn call_many(server: &DevServer, tool: &str, params: Vec<Value>) -> Vec<Value> {
    futures_util::future::join_all(params.into_iter().map(|p| call(server, tool, p))).await
}

#[tokio::test]
async fn async_and_blocking_tools_run_concurrently() {
    let server = start_server().await;
    let toolkit = start_toolkit(
        &server,
        "concurrent",
        Some(&["meet_async", "meet_blocking"]),
    )
    .await;
    // Each call waits until all of its group are running at once: this
    // only completes if the toolkit runs them concurrently.
    for tool in ["meet_async", "meet_blocking"] {
        let group = format!("{tool}-group");
        let params = (0..8).map(|_| json!({"group": group, "size": 8})).collect();
        let mut results = call_many(&server, tool, params).await;
        results.sort_by_key(|v| v.as_u64());
        assert_eq!(
            results,
            (1..=8).map(|n| json!(n)).collect::<Vec<_>>(),
            "{tool}"
        );
    }
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_blocked_tool_does_not_stall_the_connection() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "gate", Some(&["wait_gate", "echo"])).await;
    let blocked = call(&server, "wait_gate", json!({"gate": "stall"}));
    let others = async {
        gate_entered("stall", 1).await;
        // While the blocking tool waits, other calls are answered.
        for i in 0..5 {
            let text = i.to_string();
            assert_eq!(
                call(&server, "echo", json!({"text": text})).await,
                json!({"echo": text})
            );
        }
        set_gate("stall", true);
    };
    let (blocked, ()) = tokio::join!(blocked, others);
    assert_eq!(blocked, json!("through"));
    toolkit.shutdown().await.unwrap();
}

/// Eight plain fns queued at once, each blocked: all eight run at the
/// same time (none waits behind another on the workers), and other plain
/// fn calls are still answered meanwhile.
#[tokio::test]
async fn blocked_plain_fns_run_side_by_side_and_others_are_still_answered() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "burst", Some(&["wait_gate", "echo"])).await;
    let blocked = futures_util::future::join_all(
        (0..8).map(|_| call(&server, "wait_gate", json!({"gate": "burst"}))),
    );
    let others = async {
        gate_entered("burst", 8).await;
        for i in 0..5 {
            let text = i.to_string();
            assert_eq!(
                call(&server, "echo", json!({"text": text})).await,
                json!({"echo": text})
            );
        }
        set_gate("burst", true);
    };
    let (blocked, ()) = tokio::join!(blocked, others);
    assert_eq!(blocked, vec![json!("through"); 8]);
    toolkit.shutdown().await.unwrap();
}

/// Adds two numbers, in the call's own task.
#[atp_sdk::atp_tool(inline)]
fn add_inline(a: f64, b: f64) -> f64 {
    a + b
}

/// Panics, in the call's own task.
#[atp_sdk::atp_tool(inline)]
fn explode_inline() -> f64 {
    panic!("inline boom")
}

/// Sleeps past its limit, in the call's own task.
#[atp_sdk::atp_tool(inline, timeout = "50ms")]
fn overrun_inline() -> u64 {
    std::thread::sleep(Duration::from_millis(120));
    1
}

/// `#[atp_tool(inline)]`: answered, its panic caught, a result past its
/// limit answered as a timeout, and the connection serves on.
#[tokio::test]
async fn inline_plain_fns_are_answered_from_the_calls_task() {
    let server = start_server().await;
    let tools = ["add_inline", "explode_inline", "overrun_inline", "echo"];
    let toolkit = start_toolkit(&server, "inline", Some(&tools)).await;
    assert_eq!(
        call(&server, "add_inline", json!({"a": 1, "b": 2})).await,
        json!(3.0)
    );
    let err = call(&server, "explode_inline", json!({})).await;
    assert_eq!(err, json!({"error": "Tool panicked: inline boom"}));
    let err = call(&server, "overrun_inline", json!({})).await;
    assert_eq!(err, json!({"error": "Tool timed out after 50ms"}));
    assert_eq!(
        call(&server, "echo", json!({"text": "still"})).await,
        json!({"echo": "still"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn registrations_carry_the_exact_bodies() {
    let server = start_server().await;
    let tools = ["echo", "search", "whoami"];
    let toolkit = start_toolkit(&server, "bodies", Some(&tools)).await;
    toolkit.shutdown().await.unwrap();

    let log = server.announce_log();
    // verify_hash first, then for each tool verify_tool_hash before its register_tool.
    let AnnounceRecord::VerifyHash(first) = &log[0] else {
        panic!("first is verify_hash: {log:?}")
    };
    assert_eq!(first.api_key.expose(), "key-bodies");
    assert_eq!(first.app_name, "bodies");
    let registrations = server.registrations();
    assert_eq!(registrations.len(), 3);

    let sources: Vec<String> = {
        let mut regs = registrations.clone();
        regs.sort_by(|a, b| a.function_id.cmp(&b.function_id));
        regs.iter()
            .map(|r| r.metadata.source_code.clone())
            .collect()
    };
    let toolkit_hash = sha256_hex(&sources.concat());
    assert_eq!(first.toolkit_hash, toolkit_hash);

    for name in tools {
        let position = |pred: &dyn Fn(&AnnounceRecord) -> bool| log.iter().position(pred).unwrap();
        let verify =
            position(&|r| matches!(r, AnnounceRecord::VerifyToolHash(v) if v.tool_name == name));
        let register =
            position(&|r| matches!(r, AnnounceRecord::RegisterTool(v) if v.function_id == name));
        assert!(
            verify < register,
            "{name}: verify_tool_hash comes before register_tool"
        );
    }

    let echo = registrations
        .iter()
        .find(|r| r.function_id == "echo")
        .unwrap();
    assert_eq!(echo.api_key.expose(), "key-bodies");
    assert_eq!(echo.app_name, "bodies");
    assert_eq!(echo.programming_language, "Rust");
    assert_eq!(echo.code_hash, sha256_hex(&echo.metadata.source_code));
    assert_eq!(echo.toolkit_hash.as_deref(), Some(toolkit_hash.as_str()));
    let metadata = serde_json::to_value(&echo.metadata).unwrap();
    assert_eq!(
        metadata,
        json!({
            "params": ["text"],
            "required_params": ["text"],
            "description": "Echoes the input text.",
            "auth_provider": null,
            "auth_type": null,
            "auth_with": null,
            "sample_response": "",
            "source_code": echo.metadata.source_code,
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string", "description": "The text to send back."}},
                "required": ["text"]
            }
        })
    );
    // The function as written in tests/src/lib.rs: its lines, spaces and
    // comments.
    assert_eq!(
        echo.metadata.source_code,
        "/// Echoes the input text.\n\
         #[atp_tool(name = \"echo\")]\n\
         pub fn echo(\n    \
             /// The text to send back.\n    \
             text: String,\n\
         ) -> Value {\n    \
             json!({ \"echo\": text })\n\
         }"
    );

    let search = registrations
        .iter()
        .find(|r| r.function_id == "search")
        .unwrap();
    assert_eq!(search.metadata.params, ["query", "limit", "exact", "tags"]);
    assert_eq!(search.metadata.required_params, ["query"]);
    assert_eq!(
        search.metadata.extra["parameters"],
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                // Not required: absent or `null` is the default (or `None`).
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "exact": {"type": ["boolean", "null"]},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}}
            },
            "required": ["query"]
        })
    );

    let whoami = registrations
        .iter()
        .find(|r| r.function_id == "whoami")
        .unwrap();
    assert_eq!(whoami.metadata.params, Vec::<String>::new());
    assert_eq!(whoami.metadata.auth_provider.as_deref(), Some("hubspot"));
    assert_eq!(whoami.metadata.auth_type.as_deref(), Some("OAuth2"));
    assert_eq!(whoami.metadata.auth_with.as_deref(), Some("access_token"));
}

#[tokio::test]
async fn a_restart_of_an_unchanged_toolkit_skips_registration() {
    let server = start_server().await;
    let tools = ["echo", "add"];
    start_toolkit(&server, "restart", Some(&tools))
        .await
        .shutdown()
        .await
        .unwrap();
    assert_eq!(server.registrations().len(), 2);
    let before = server.announce_log().len();

    let toolkit = start_toolkit(&server, "restart", Some(&tools)).await;
    assert_eq!(
        call(&server, "add", json!({"a": 1, "b": 1})).await,
        json!(2.0)
    );
    toolkit.shutdown().await.unwrap();
    let log = server.announce_log();
    assert_eq!(server.registrations().len(), 2, "nothing registered again");
    assert_eq!(
        log.len(),
        before + 1,
        "one verify_hash: {:?}",
        &log[before..]
    );
}

#[tokio::test]
async fn the_toolkit_reconnects_after_a_drop() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "drops", Some(&["echo"])).await;
    for round in 0..3 {
        server.wait_for_connections(1, WAIT).await.unwrap();
        assert!(server.drop_connections() >= 1);
        server.wait_for_tools(&["echo"], WAIT).await.unwrap();
        let text = format!("round {round}");
        assert_eq!(
            call(&server, "echo", json!({"text": text})).await,
            json!({"echo": text})
        );
    }
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stop_lets_calls_in_flight_finish() {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "stop", Some(&["wait_gate", "echo"])).await;
    let in_flight = call(&server, "wait_gate", json!({"gate": "stop"}));
    let stopper = async {
        gate_entered("stop", 1).await;
        toolkit.stop.stop();
        // The stop is in effect: new calls are refused...
        assert_eq!(
            call(&server, "echo", json!({"text": "late"})).await,
            json!({"error": "Toolkit is shutting down"})
        );
        // ...while the call in flight is still running, and now finishes.
        set_gate("stop", true);
    };
    let (in_flight, ()) = tokio::join!(in_flight, stopper);
    assert_eq!(in_flight, json!("through"));
    tokio::time::timeout(WAIT, toolkit.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    server.wait_for_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn a_stop_waits_for_calls_in_flight_only_up_to_its_deadline() {
    let server = start_server().await;
    let client = builder(&server, "stop-deadline", Some(&["wait_gate"]))
        .shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server.wait_for_tools(&["wait_gate"], WAIT).await.unwrap();
    let options = atp_dev::CallOptions {
        timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let stuck = server.call_with("wait_gate", json!({"gate": "stop-deadline"}), options);
    let stopper = async {
        gate_entered("stop-deadline", 1).await;
        toolkit.stop.stop();
        tokio::time::timeout(WAIT, toolkit.task)
            .await
            .expect("the stop does not wait past its deadline")
            .unwrap()
            .unwrap();
        server.wait_for_connections(0, WAIT).await.unwrap();
        // Let the stuck thread go.
        set_gate("stop-deadline", true);
    };
    let (stuck, ()) = tokio::join!(stuck, stopper);
    assert!(stuck.is_err(), "the stuck call had no answer: {stuck:?}");
}

#[tokio::test]
async fn a_rejected_key_stops_the_toolkit_with_a_clear_error() {
    let server = DevServer::builder()
        .api_key("the-right-key")
        .start()
        .await
        .unwrap();
    let client = builder(&server, "rejected", Some(&["echo"]))
        .build()
        .unwrap();
    let result = tokio::time::timeout(WAIT, client.serve())
        .await
        .expect("serve returns");
    let err = result.unwrap_err();
    assert!(matches!(err, atp_sdk::Error::Unauthorized(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("rejected the API key"), "{text}");
    assert!(
        !text.contains("key-rejected"),
        "the key is not in the message: {text}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_at_start_is_retried() {
    // Reserve a port, start the toolkit against it while nothing listens,
    // then start the server there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = atp_sdk::ToolKitClient::builder("key-late", "late")
        .base_url(format!("http://{addr}"))
        .tools(["echo"])
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    let server = DevServer::builder().bind(addr).start().await.unwrap();
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "late"})).await,
        json!({"echo": "late"})
    );
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    let err = atp_sdk::ToolKitClient::builder("k", "a")
        .tools(["nope"])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no #[atp_tool] named `nope` is registered in this program"
    );
    let err = atp_sdk::ToolKitClient::builder("k", "a")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("http:// or https://"), "{err}");
    let err = atp_sdk::ToolKitClient::builder("", "a")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("API key is empty"), "{err}");
}

#[test]
fn tools_stay_ordinary_functions() {
    assert_eq!(add(2.0, 3.0), 5.0);
    assert_eq!(echo("a".into()), json!({"echo": "a"}));
    assert_eq!(search("q".into(), 1, true, None)["limit"], 1);
    assert_eq!(ping(), "pong");
}

#[tokio::test]
async fn run_time_tools_are_served_with_the_same_rules() {
    use atp_sdk::{CallError, DynamicTool};
    let server = start_server().await;
    let price = DynamicTool::new("price", |mut args| async move {
        let item: String = args.required("item")?;
        let quantity: Option<u32> = args.optional("quantity")?;
        match item.as_str() {
            "apple" => Ok(json!({"item": item, "total": 3 * quantity.unwrap_or(1)})),
            _ => Err(CallError::tool(format!("no such item: {item}"))),
        }
    })
    .description("Looks up a price.")
    .param::<String>("item", "The item.")
    .optional_param::<u32>("quantity", "");
    let secret = DynamicTool::new("secret", |mut args| async move {
        Ok(json!(args.take_token()?.as_str().len()))
    })
    .auth("vault", "API Key", Some("api_key"));
    let client = builder(&server, "dynamic", Some(&["echo"]))
        .tool(price)
        .tool(secret)
        .build()
        .unwrap();
    assert_eq!(
        client.tool_names().collect::<Vec<_>>(),
        ["echo", "price", "secret"]
    );
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["echo", "price", "secret"], WAIT)
        .await
        .unwrap();

    assert_eq!(
        call(&server, "price", json!({"item": "apple", "quantity": 2})).await,
        json!({"item": "apple", "total": 6})
    );
    assert_eq!(
        call(&server, "price", json!({})).await,
        json!({"error": "Missing required parameter: item"})
    );
    assert_eq!(
        call(&server, "price", json!({"item": "kiwi"})).await,
        json!({"error": "no such item: kiwi"})
    );
    assert_eq!(
        call(&server, "price", json!({"item": "apple", "quantity": -1})).await,
        json!({"error": "Invalid parameter 'quantity': expected an integer from 0 to 4294967295, got -1"})
    );
    assert_eq!(
        call(&server, "secret", json!({})).await,
        json!({"error": "Missing auth_token for authenticated tool"})
    );
    assert_eq!(
        call_with_token(&server, "secret", json!({}), Some("abcd")).await,
        json!(4)
    );

    let registration = server
        .registrations()
        .into_iter()
        .find(|r| r.function_id == "price")
        .unwrap();
    assert_eq!(registration.metadata.description, "Looks up a price.");
    assert_eq!(registration.metadata.params, ["item", "quantity"]);
    assert_eq!(registration.metadata.required_params, ["item"]);
    assert_eq!(
        registration.metadata.extra["parameters"],
        json!({"type": "object",
               "properties": {"item": {"type": "string", "description": "The item."},
                              "quantity": {"type": ["integer", "null"], "format": "uint32", "minimum": 0}},
               "required": ["item"]})
    );
    assert_eq!(
        registration.code_hash,
        sha256_hex(&registration.metadata.source_code)
    );
    toolkit.shutdown().await.unwrap();
}

#[test]
fn run_time_tools_are_checked_like_macro_tools() {
    use atp_sdk::DynamicTool;
    let handler = |_args| async { Ok(json!(null)) };
    for (tool, message) in [
        (
            DynamicTool::new("has space", handler),
            "a tool name must be",
        ),
        (
            DynamicTool::new("1st", handler),
            "starting with a letter or `_` (the names OpenAI, Anthropic and Gemini all take)",
        ),
        (
            DynamicTool::new("caf\u{e9}", handler),
            "a tool name must be",
        ),
        (
            DynamicTool::new("t", handler).param::<String>("api_key", ""),
            "can't be named `api_key`",
        ),
        (
            DynamicTool::new("t", handler)
                .param::<String>("a", "")
                .param::<u8>("a", ""),
            "declared twice",
        ),
        (
            DynamicTool::new("t", handler).scopes(["tickets write"]),
            "the scope \"tickets write\": an OAuth scope is one word",
        ),
        (
            DynamicTool::new("t", handler).scopes(["caf\u{e9}"]),
            "an OAuth scope is one word",
        ),
        (
            DynamicTool::new("t", handler).scopes(["a", "a"]),
            "the scope \"a\" is listed twice",
        ),
    ] {
        let err = atp_sdk::ToolKitClient::builder("k", "a")
            .tools(["echo"])
            .tool(tool)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
    let err = atp_sdk::ToolKitClient::builder("k", "a")
        .tools(["echo"])
        .tool(DynamicTool::new("echo", handler))
        .build()
        .unwrap_err();
    assert!(matches!(err, atp_sdk::Error::DuplicateTool { .. }), "{err}");
}
