//! `atp_sdk::testing::TestClient`: a toolkit's tools called in-process,
//! through the dispatcher a served toolkit uses — state, context, a token,
//! a time limit, a tool's error, the validation texts — answered as ATP and
//! as MCP would, with no socket opened.
//!
//! One test in its own binary: it counts the process's sockets before and
//! after, which other tests running beside it would change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use atp_sdk::testing::TestClient;
use atp_sdk::{AuthToken, Context, State, ToolKitClient, atp_tool};
use serde_json::{Value, json};

/// What the tools share.
#[derive(Default)]
struct Tally {
    total: AtomicU64,
}

/// Adds to the tally; answers the total and the call's id.
#[atp_tool]
fn tally_add(by: u64, tally: State<Tally>, ctx: Context) -> Value {
    let total = tally.total.fetch_add(by, Ordering::Relaxed) + by;
    json!({"total": total, "request": ctx.request_id().to_string()})
}

/// Who the token belongs to.
#[atp_tool(auth_provider = "github")]
async fn token_owner(token: AuthToken) -> String {
    format!("owner of {}", token.as_str())
}

/// Never finishes in its time.
#[atp_tool(timeout = "100ms")]
async fn too_slow() -> u32 {
    tokio::time::sleep(Duration::from_secs(60)).await;
    1
}

/// Fails with its own error.
#[atp_tool]
fn refuses(why: String) -> Result<u32, String> {
    Err(format!("no: {why}"))
}

/// The sockets this process has open.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn tools_are_called_in_process_and_answered_as_atp_and_mcp_would() {
    let before = sockets();
    let client = ToolKitClient::builder("unused-key", "tally-kit")
        .tools(["tally_add", "token_owner", "too_slow", "refuses"])
        .state(Tally::default())
        .build()
        .expect("the toolkit builds");
    let tools = TestClient::new(client);

    // State and context; arguments read as models send them.
    let first = tools.call("tally_add", json!({"by": 2})).await;
    assert_eq!(first.atp["total"], 2);
    assert_eq!(first.atp["request"], "test-1", "the call's own id");
    let second = tools.clone().call("tally_add", json!({"by": "3"})).await;
    assert_eq!(second.atp["total"], 5, "clones share the state");
    // An object: MCP's structured content, and its JSON as text.
    assert_eq!(second.mcp.structured.as_ref(), Some(&second.atp));
    assert_eq!(second.mcp.text(), second.atp.to_string());
    assert!(!second.mcp.is_error);

    // The validation texts.
    let missing = tools.call("tally_add", json!({})).await;
    assert_eq!(missing.result(), Err("Missing required parameter: by"));
    assert_eq!(
        tools.call("tally_add", json!({"by": 1.5})).await.result(),
        Err("Invalid parameter 'by': expected an integer ≥ 0, got 1.5")
    );
    let unknown = tools.call("nope", Value::Null).await;
    assert_eq!(unknown.result(), Err("Unknown tool: nope"));
    // Over MCP a JSON-RPC error (-32602) with the same text.
    assert_eq!(
        unknown.mcp.protocol_error.as_deref(),
        Some("Unknown tool: nope")
    );

    // A token: missing, then given.
    let without = tools.call("token_owner", json!({})).await;
    assert_eq!(
        without.atp,
        json!({"error": "Missing auth_token for authenticated tool"})
    );
    assert!(without.mcp.is_error);
    assert_eq!(
        without.mcp.text(),
        "Missing auth_token for authenticated tool"
    );
    let with = tools
        .call_with_token("token_owner", json!({}), "tok-1")
        .await;
    assert_eq!(with.result(), Ok(&json!("owner of tok-1")));
    // A string: text only.
    assert_eq!(
        (with.mcp.text(), with.mcp.structured.is_none()),
        ("owner of tok-1".to_owned(), true)
    );

    // A time limit.
    let slow = tools.call("too_slow", json!({})).await;
    assert_eq!(slow.result(), Err("Tool timed out after 100ms"));
    assert!(slow.mcp.is_error);

    // The tool's own error.
    let refused = tools.call("refuses", json!({"why": "because"})).await;
    assert_eq!(refused.atp, json!({"error": "no: because"}));
    assert_eq!(
        (refused.mcp.is_error, refused.mcp.text()),
        (true, "no: because".to_owned())
    );

    assert_eq!(sockets(), before, "no socket was opened");
}
