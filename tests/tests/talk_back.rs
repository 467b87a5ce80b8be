//! A tool that asks its caller (the user, with `Context::elicit`; the
//! caller's model, with `Context::sample`) where the caller can't answer:
//! over ATP, through a real atp-dev over a WebSocket, and over MCP to a
//! client that declared neither capability (rmcp's own client, over
//! streamable HTTP). The call is answered `CallError::Unsupported`, with a
//! text that says what is needed. Where the client can answer, the
//! official conformance suite judges it (`mcp_conformance.rs`).

use atp_sdk::{CallError, Context, Elicitation, atp_tool};
use atp_tests::*;
use serde_json::json;

/// What the user is asked for.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Confirm {
    /// Type yes to go on.
    answer: String,
}

/// Asks the user before it goes on.
#[atp_tool]
async fn ask_user(ctx: Context) -> Result<String, CallError> {
    match ctx.elicit::<Confirm>("Go on?").await? {
        Elicitation::Accept(confirm) => Ok(confirm.answer),
        Elicitation::Decline | Elicitation::Cancel => Ok("stopped".to_owned()),
    }
}

/// Asks the caller's model.
#[atp_tool]
async fn ask_model(ctx: Context) -> Result<String, CallError> {
    ctx.sample("Say hello").await
}

const ELICIT_OVER_ATP: &str = "the tool ask_user asked the user for input, which needs MCP \
                               (elicitation): this call came over ATP";
const SAMPLE_OVER_ATP: &str = "the tool ask_model asked for a completion from the caller's \
                               model, which needs MCP (sampling): this call came over ATP";

#[tokio::test]
async fn over_atp_asking_the_caller_is_unsupported_and_says_mcp_is_needed() {
    let server = start_server().await;
    let kit = spawn(
        builder(&server, "asking", Some(&["ask_user", "ask_model"]))
            .build()
            .unwrap(),
    );
    server
        .wait_for_tools(&["ask_user", "ask_model"], WAIT)
        .await
        .unwrap();
    let elicited = server.call("ask_user", json!({}), None).await.unwrap();
    assert_eq!(elicited.result, json!({ "error": ELICIT_OVER_ATP }));
    let sampled = server.call("ask_model", json!({}), None).await.unwrap();
    assert_eq!(sampled.result, json!({ "error": SAMPLE_OVER_ATP }));
    kit.shutdown().await.unwrap();
}

#[cfg(feature = "mcp")]
#[tokio::test]
async fn over_mcp_a_client_without_the_capability_gets_a_clear_error() {
    use atp_tests::mcp_client::{HttpServed, call, http_client};
    let toolkit = atp_sdk::ToolKitClient::builder("", "asking")
        .transport(atp_sdk::Transport::McpHttp)
        .tools(["ask_user", "ask_model"])
        .build()
        .unwrap();
    let served = HttpServed::start(toolkit).await;
    // rmcp's client with its default info declares no capability.
    let client = http_client(&served.url, None).await;
    let (is_error, text, _) = call(&client, "ask_user", json!({})).await;
    assert!(is_error, "{text}");
    assert_eq!(
        text,
        "the tool ask_user asks the user for `talk_back::Confirm`, and this MCP client can't \
         ask the user (it declared no `elicitation` capability)"
    );
    let (is_error, text, _) = call(&client, "ask_model", json!({})).await;
    assert!(is_error, "{text}");
    assert_eq!(
        text,
        "this MCP client can't be asked for a completion from its model (it declared no \
         `sampling` capability)"
    );
    client.cancel().await.unwrap();
    served.stop().await;
}

// Where, as MCP can't ask: an object inside the object.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Address {
    street: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Delivery {
    address: Address,
}

/// Asks the user for what MCP can't carry.
#[atp_tool]
async fn ask_nested(ctx: Context) -> Result<String, CallError> {
    match ctx.elicit::<Delivery>("Where to?").await? {
        Elicitation::Accept(delivery) => Ok(delivery.address.street),
        _ => Ok("nowhere".to_owned()),
    }
}

/// Asks for a type of its own body's, which the registration beside the
/// function can't name: it compiles, and is checked when asked.
#[atp_tool]
async fn ask_local(ctx: Context) -> Result<String, CallError> {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Local {
        name: String,
    }
    match ctx.elicit::<Local>("Name?").await? {
        Elicitation::Accept(local) => Ok(local.name),
        _ => Ok("nobody".to_owned()),
    }
}

#[test]
fn the_types_a_tool_asks_for_are_in_its_definition() {
    let def = |name: &str| {
        atp_sdk::registered_tools()
            .find(|def| def.name == name)
            .unwrap()
    };
    let names =
        |name: &str| -> Vec<&str> { def(name).elicits.iter().map(|e| (e.type_name)()).collect() };
    assert_eq!(names("ask_user"), ["talk_back::Confirm"]);
    assert_eq!(names("ask_nested"), ["talk_back::Delivery"]);
    assert!(names("ask_local").is_empty());
    assert!(names("ask_model").is_empty());
}

#[cfg(feature = "mcp")]
#[test]
fn build_refuses_a_tool_that_asks_for_what_mcp_cannot_ask() {
    let err = atp_sdk::ToolKitClient::builder("", "asking")
        .transport(atp_sdk::Transport::Mcp)
        .tools(["ask_user", "ask_nested", "ask_local"])
        .build()
        .unwrap_err();
    let atp_sdk::Error::ElicitSchema {
        tool,
        type_name,
        reason,
    } = &err
    else {
        panic!("not the elicitation schema's error: {err}");
    };
    assert_eq!(
        (tool.as_str(), *type_name),
        ("ask_nested", "talk_back::Delivery")
    );
    // The property and its schema (whose keys' order depends on
    // serde_json's features).
    let schema = reason
        .strip_prefix("its property `address` is none of them (")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{reason}"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(schema).unwrap(),
        json!({"type": "object", "properties": {"street": {"type": "string"}}, "required": ["street"]})
    );
    assert_eq!(
        err.to_string(),
        format!(
            "tool 'ask_nested' asks the user for talk_back::Delivery (ctx.elicit), whose schema \
             is outside what MCP lets a client ask for (a flat object of strings, numbers, \
             booleans, enums and arrays of enums): {reason}"
        )
    );
}
