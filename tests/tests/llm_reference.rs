//! The unmodified reference Python `LLMClient` (AgentToolProtocol 0.2.5)
//! against atp-dev's LLM-client API (protocol section 6), with a real Rust
//! toolkit connected, over the WebSocket and over HTTP: the context of a
//! toolkit in each provider's shape, tool calls in each provider's shape
//! (a user's token passed through), a tool's error and an unknown toolkit
//! surfaced as `{"error": ...}` where the reference client passes them on.
//!
//! The client runs in `tests/reference/llm_client.py`; it prints what the
//! client returned and the assertions are here. Needs a Python with the
//! package (`ATP_REF_PYTHON=/path/to/python`, or `.venv` at the workspace
//! root): the tests are `#[ignore]`d with that reason, and run with
//! `--include-ignored` (as `cargo xtask test` does, having made the venv),
//! where a missing Python fails.

use std::path::PathBuf;
use std::time::Duration;

use atp_dev::DevServer;
use atp_tests::*;
use serde_json::{Value, json};

/// The toolkit the client asks for (its `app_name`).
const TOOLKIT: &str = "llm-ref-kit";
/// Its tools (from `atp_tests`).
const TOOLS: [&str; 3] = ["echo", "whoami", "fail"];
/// The user's token for the tool that needs one.
const TOKEN: &str = "user-secret-token";
/// The user's prompt, echoed in the context.
const PROMPT: &str = "What's in the toolkit?";
/// How long one run of the Python client may take (start, connect, all
/// its operations).
const PYTHON_WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "needs the reference Python client (AgentToolProtocol 0.2.5 in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn the_reference_llm_client_over_the_websocket() {
    check_reference_client("ws").await;
}

#[tokio::test]
#[ignore = "needs the reference Python client (AgentToolProtocol 0.2.5 in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn the_reference_llm_client_over_http() {
    check_reference_client("http").await;
}

/// Everything, with the client in `protocol` mode (`ws` or `http`).
async fn check_reference_client(protocol: &str) {
    let server = start_server().await;
    let toolkit = start_toolkit(&server, TOOLKIT, Some(&TOOLS)).await;

    let echo_call = |call_id: &str, text: &str| {
        json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
               "name": "echo", "arguments": json!({"text": text}).to_string(), "status": "completed"})
    };
    let operations = json!([
        // 0..=3: the context for each provider.
        {"op": "context", "toolkit": TOOLKIT, "user_prompt": PROMPT, "provider": "openai"},
        {"op": "context", "toolkit": TOOLKIT, "user_prompt": PROMPT, "provider": "anthropic"},
        {"op": "context", "toolkit": TOOLKIT, "user_prompt": PROMPT, "provider": "mistral"},
        {"op": "context", "toolkit": TOOLKIT, "user_prompt": PROMPT, "provider": "mistralai"},
        // 4: no such toolkit.
        {"op": "context", "toolkit": "no-such-toolkit", "user_prompt": PROMPT, "provider": "openai"},
        // 5: OpenAI Responses `function_call` items; the second tool fails.
        {"op": "call_tool", "toolkit": TOOLKIT, "provider": "openai", "tool_calls": [
            echo_call("call_echo", "hi"),
            {"type": "function_call", "id": "fc_fail", "call_id": "call_fail", "name": "fail",
             "arguments": "{\"reason\": \"r\"}", "status": "completed"},
        ]},
        // 6: Anthropic `tool_use` blocks, with the user's token.
        {"op": "call_tool", "toolkit": TOOLKIT, "provider": "anthropic", "auth_token": TOKEN,
         "user_prompt": PROMPT, "tool_calls": [
            {"type": "tool_use", "id": "toolu_who", "name": "whoami", "input": {}},
            {"type": "tool_use", "id": "toolu_echo", "name": "echo", "input": {"text": "a"}},
        ]},
        // 7: Mistral tool calls, arguments as a JSON string and as an object.
        {"op": "call_tool", "toolkit": TOOLKIT, "provider": "mistral", "tool_calls": [
            {"id": "mst1", "type": "function", "function": {"name": "echo", "arguments": "{\"text\": \"m\"}"}},
            {"id": "mst2", "type": "function", "function": {"name": "echo", "arguments": {"text": "n"}}},
        ]},
        // 8: the tool that needs a token, without one.
        {"op": "call_tool", "toolkit": TOOLKIT, "provider": "openai", "tool_calls": [
            {"type": "function_call", "call_id": "call_who", "name": "whoami", "arguments": "{}"},
        ]},
        // 9: no such toolkit.
        {"op": "call_tool", "toolkit": "no-such-toolkit", "provider": "openai",
         "tool_calls": [echo_call("call_lost", "x")]},
        // 10: no such tool in the toolkit.
        {"op": "call_tool", "toolkit": TOOLKIT, "provider": "openai", "tool_calls": [
            {"type": "function_call", "call_id": "call_nope", "name": "nope", "arguments": "{}"},
        ]},
    ]);
    let results = run_reference(&server, "llm-ref-key", protocol, &operations).await;
    assert_eq!(results.len(), 11, "one result per operation: {results:?}");

    // (a) The context, shaped for each provider: the same tools each time.
    let openai = check_context(&results[0], "openai");
    let anthropic = check_context(&results[1], "anthropic");
    let mistral = check_context(&results[2], "mistral");
    let mistralai = check_context(&results[3], "mistral");
    // OpenAI gets the strict form, the others the schema as is.
    assert_eq!(anthropic, mistral);
    assert_eq!(mistral, mistralai);
    let described = |specs: &[(String, String, Value)]| -> Vec<(String, String)> {
        specs
            .iter()
            .map(|(n, d, _)| (n.clone(), d.clone()))
            .collect()
    };
    assert_eq!(described(&openai), described(&mistral));
    let (_, description, parameters) = openai
        .iter()
        .find(|(name, ..)| name == "echo")
        .expect("echo is in the context");
    assert_eq!(description, "Echoes the input text.");
    assert_eq!(parameters["type"], "object");
    assert_eq!(parameters["properties"]["text"]["type"], "string");
    assert_eq!(parameters["required"], json!(["text"]));
    let (_, _, parameters) = openai.iter().find(|(name, ..)| name == "whoami").unwrap();
    assert!(
        parameters["properties"].get("token").is_none(),
        "the injected token is not shown to the LLM: {parameters}"
    );
    // The reference client turns the server's error into `{}`.
    assert_eq!(results[4], json!({}), "an unknown toolkit's context");

    // (b) Calls in each provider's shape; (c) a tool's error.
    assert_eq!(
        results[5],
        json!([
            {"type": "function_call_output", "call_id": "call_echo", "output": r#"{"echo": "hi"}"#},
            {"type": "function_call_output", "call_id": "call_fail", "output": r#"{"error": "boom: r"}"#},
        ])
    );
    // The tool saw the user's token (it returns it); one user message per
    // result, as the reference client makes them.
    assert_eq!(
        results[6],
        json!([
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_who",
                                          "content": format!("\"{TOKEN}\"")}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_echo",
                                          "content": r#"{"echo": "a"}"#}]},
        ])
    );
    assert_eq!(
        results[7],
        json!([
            {"role": "tool", "name": "echo", "content": r#"{"echo": "m"}"#, "tool_call_id": "mst1"},
            {"role": "tool", "name": "echo", "content": r#"{"echo": "n"}"#, "tool_call_id": "mst2"},
        ])
    );
    assert_eq!(
        results[8],
        json!([{"type": "function_call_output", "call_id": "call_who",
                "output": r#"{"error": "Missing auth_token for authenticated tool"}"#}])
    );

    // (d) An unknown toolkit, and an unknown tool.
    assert_eq!(
        results[9],
        json!([{"type": "function_call_output", "call_id": "call_lost",
                "output": r#"{"error": "Unknown toolkit: no-such-toolkit"}"#}])
    );
    assert_eq!(
        results[10],
        json!([{"type": "function_call_output", "call_id": "call_nope",
                "output": format!(r#"{{"error": "Unknown tool: nope (toolkit '{TOOLKIT}')"}}"#)}])
    );

    toolkit.shutdown().await.expect("the toolkit stops cleanly");
    server.shutdown().await;
}

/// Checks a context from the reference client as `llm_api.rs` fills it,
/// the tools in `provider`'s shape; returns each tool's name, description
/// and parameter schema, whatever the shape.
fn check_context(context: &Value, provider: &str) -> Vec<(String, String, Value)> {
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .unwrap_or_else(|| panic!("an object: {value}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(context),
        [
            "caption",
            "provider",
            "toolkit_id",
            "toolkit_name",
            "tools",
            "user_prompt"
        ],
        "{context}"
    );
    assert_eq!(context["toolkit_id"], TOOLKIT);
    assert_eq!(context["toolkit_name"], TOOLKIT);
    assert_eq!(context["provider"], provider);
    assert_eq!(context["user_prompt"], PROMPT);
    let tools = context["tools"].as_array().expect("a list of tools");
    let mut specs = Vec::new();
    for tool in tools {
        let (name, description, parameters) = match provider {
            "openai" => {
                assert_eq!(
                    keys(tool),
                    ["description", "name", "parameters", "strict", "type"],
                    "{tool}"
                );
                assert_eq!(tool["type"], "function");
                assert!(tool["strict"].is_boolean(), "{tool}");
                (&tool["name"], &tool["description"], &tool["parameters"])
            }
            "anthropic" => {
                assert_eq!(
                    keys(tool),
                    ["description", "input_schema", "name"],
                    "{tool}"
                );
                (&tool["name"], &tool["description"], &tool["input_schema"])
            }
            "mistral" => {
                assert_eq!(keys(tool), ["function", "type"], "{tool}");
                assert_eq!(tool["type"], "function");
                let function = &tool["function"];
                assert_eq!(
                    keys(function),
                    ["description", "name", "parameters"],
                    "{tool}"
                );
                (
                    &function["name"],
                    &function["description"],
                    &function["parameters"],
                )
            }
            other => panic!("no such provider {other}"),
        };
        assert!(parameters.is_object(), "{tool}");
        specs.push((
            name.as_str().expect("a name").to_owned(),
            description.as_str().expect("a description").to_owned(),
            parameters.clone(),
        ));
    }
    let names: Vec<&str> = specs.iter().map(|(name, ..)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut expected = TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "the toolkit's tools, each once");
    assert_eq!(
        context["caption"],
        format!(
            "The tools of the toolkit '{TOOLKIT}': {}.",
            names.join(", ")
        )
    );
    specs.sort_by(|a, b| a.0.cmp(&b.0));
    specs
}

/// The Python with the reference client.
fn python() -> PathBuf {
    reference_python("AgentToolProtocol==0.2.5")
}

/// Runs `tests/reference/llm_client.py` against `server` with `key` in
/// `protocol` mode, feeding it `operations`; returns what the client
/// returned for each. Fails the test if it raised, exited badly or took
/// longer than `PYTHON_WAIT` (then it is killed).
async fn run_reference(
    server: &DevServer,
    key: &str,
    protocol: &str,
    operations: &Value,
) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/llm_client.py");
    let mut command = tokio::process::Command::new(python());
    command
        .arg(&script)
        .arg(server.base_url())
        .arg(key)
        .arg(protocol);
    let input = serde_json::to_vec(operations).unwrap();
    let (answer, stderr) = run_json_script(command, input, PYTHON_WAIT).await;
    let results = answer["results"].as_array().expect("a list of results");
    results
        .iter()
        .zip(operations.as_array().expect("a list of operations"))
        .map(|(result, operation)| match result.get("ok") {
            Some(value) => value.clone(),
            None => panic!(
                "the reference client raised {} on {operation}\nstderr:\n{stderr}",
                result["raised"]
            ),
        })
        .collect()
}
