//! The same `#[atp_tool]` functions, served to any MCP client (Claude
//! Desktop and Code, Cursor, VS Code, ...) instead of an ATP server: no
//! account and no API key. Needs atp-sdk's `mcp` feature.
//!
//! ```text
//! cargo build --release -p atp-examples --features mcp --example mcp_server
//! ```
//!
//! Then point the client at the binary; for Claude Desktop
//! (`claude_desktop_config.json`) or Claude Code (`.mcp.json`):
//!
//! ```json
//! {
//!   "mcpServers": {
//!     "tickets": {
//!       "command": "/path/to/target/release/examples/mcp_server",
//!       "args": [],
//!       "env": { "ATP_AUTH_TOKEN": "your-tracker-token" }
//!     }
//!   }
//! }
//! ```
//!
//! Over streamable HTTP instead (`--http`, at `http://127.0.0.1:8788/mcp`;
//! here the token comes from each request's `Authorization: Bearer ...`,
//! token passthrough, which the MCP spec forbids for a server others
//! reach: it is chosen explicitly and works on loopback only. To deploy,
//! see the `mcp_oauth` example):
//!
//! ```text
//! cargo run -p atp-examples --features mcp --example mcp_server -- --http
//! ```
//!
//! `atp_sdk::run()` does the same from the environment:
//! `ATP_TRANSPORT=mcp` or `ATP_TRANSPORT=mcp-http` (+ `ATP_MCP_ADDR`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use atp_sdk::{AuthToken, State, ToolKitClient, Transport, atp_tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Priority {
    Low,
    Normal,
    Urgent,
}

/// A ticket.
#[derive(Debug, Clone, Serialize)]
struct Ticket {
    id: u64,
    title: String,
    priority: Priority,
}

/// The tickets, shared by every call.
#[derive(Default)]
struct Tracker {
    tickets: Mutex<BTreeMap<u64, Ticket>>,
    next: AtomicU64,
}

/// Opens a ticket; answers it with its number.
#[atp_tool]
fn open_ticket(
    /// One line saying what is wrong.
    title: String,
    /// How urgent it is (default: normal).
    priority: Option<Priority>,
    tracker: State<Tracker>,
) -> Result<Ticket, String> {
    if title.trim().is_empty() {
        return Err("a ticket needs a title".to_owned());
    }
    let ticket = Ticket {
        id: tracker.next.fetch_add(1, Ordering::Relaxed) + 1,
        title,
        priority: priority.unwrap_or(Priority::Normal),
    };
    let mut tickets = tracker
        .tickets
        .lock()
        .map_err(|_| "the tracker is broken")?;
    tickets.insert(ticket.id, ticket.clone());
    Ok(ticket)
}

/// Lists the open tickets, most urgent first.
#[atp_tool]
async fn list_tickets(tracker: State<Tracker>) -> Vec<Ticket> {
    let mut tickets: Vec<Ticket> = tracker
        .tickets
        .lock()
        .map(|t| t.values().cloned().collect())
        .unwrap_or_default();
    tickets.sort_by_key(|t| std::cmp::Reverse(t.priority as u8));
    tickets
}

/// Says which tracker account the user's token belongs to (a stand-in
/// for a call to the tracker's API: it reports only the token's length).
#[atp_tool(auth_provider = "tracker", auth_type = "API Key")]
async fn whoami(token: AuthToken) -> String {
    format!("signed in with a {}-character token", token.as_str().len())
}

fn main() -> Result<(), atp_sdk::Error> {
    let http = std::env::args().any(|a| a == "--http");
    ToolKitClient::builder("", "tickets")
        .transport(if http {
            Transport::McpHttp
        } else {
            Transport::Mcp
        })
        .mcp_bearer_passthrough(http)
        .state(Tracker::default())
        .run()
}
