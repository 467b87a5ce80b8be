//! Shared state and the call context: a small in-memory notebook shared by
//! two tools, and a slow plain `fn` that gives its thread back once nobody
//! waits for it.
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example stateful
//! cargo run -p atp-dev -- call note_add text="buy milk"
//! cargo run -p atp-dev -- call note_list
//! cargo run -p atp-dev -- call count_slowly to=100      # answered "timed out" after 2 s
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use atp_sdk::{Context, State, ToolKitClient, atp_tool};
use serde_json::{Value, json};

/// What the tools share: the notes, and the next note's number.
#[derive(Default)]
struct Notebook {
    notes: Mutex<BTreeMap<u64, String>>,
    next: AtomicU64,
}

/// Adds a note; answers its number.
#[atp_tool]
fn note_add(
    /// What to write down.
    text: String,
    book: State<Notebook>,
    ctx: Context,
) -> anyhow::Result<Value> {
    let id = book.next.fetch_add(1, Ordering::Relaxed) + 1;
    book.notes
        .lock()
        .map_err(|_| anyhow::anyhow!("the notebook is broken"))
        .context("adding a note")?
        .insert(id, text);
    // Logged inside the call's span: `call{tool=note_add request_id=..}`.
    tracing::info!(id, "note added");
    Ok(json!({ "id": id, "request": ctx.request_id().to_string() }))
}

/// Lists the notes, oldest first.
#[atp_tool]
async fn note_list(book: State<Notebook>) -> Value {
    let notes = book.notes.lock().map(|n| n.clone()).unwrap_or_default();
    json!(notes)
}

/// Counts slowly to `to`, one a tenth of a second; past its 2 s limit it
/// stops as soon as it sees that nobody waits any more.
#[atp_tool(timeout = "2s")]
fn count_slowly(to: u64, ctx: Context) -> Result<u64, String> {
    for i in 0..to {
        if ctx.is_cancelled() {
            tracing::info!(reached = i, "nobody waits any more; stopping");
            return Err(format!("stopped at {i}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(to)
}

fn main() -> anyhow::Result<()> {
    ToolKitClient::builder_from_env()?
        .state(Notebook::default())
        .run()
        .context("serving the notebook")
}

#[cfg(test)]
mod tests {
    use atp_sdk::testing::TestClient;
    use serde_json::json;

    use super::*;

    /// The notebook's tools, in-process: no server, no port.
    fn notebook() -> TestClient {
        let client = ToolKitClient::builder("test", "stateful")
            .tools(["note_add", "note_list", "count_slowly"])
            .state(Notebook::default())
            .build()
            .expect("the toolkit builds");
        TestClient::new(client)
    }

    #[tokio::test]
    async fn notes_are_added_and_listed() {
        let tools = notebook();
        let added = tools.call("note_add", json!({"text": "buy milk"})).await;
        assert_eq!(added.atp["id"], 1);
        let listed = tools.call("note_list", json!({})).await;
        assert_eq!(listed.result(), Ok(&json!({"1": "buy milk"})));
    }

    #[tokio::test]
    async fn a_slow_count_is_answered_at_its_time_limit() {
        let answer = notebook().call("count_slowly", json!({"to": 100})).await;
        assert_eq!(answer.result(), Err("Tool timed out after 2s"));
        assert!(answer.mcp.is_error);
    }
}
