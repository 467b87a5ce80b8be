//! What the hub's callers see: calls, their options and outcomes, the
//! tools listed, and the frames a fault injection may send.

use std::time::Duration;

use atp_sdk::protocol::{
    RegisterToolRequest, ToolMetadata, VerifyHashRequest, VerifyToolHashRequest,
};
use serde::Serialize;
use serde_json::Value;

/// One announce request, as received.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnounceRecord {
    /// `POST /api/v1/toolkit/verify_hash`.
    VerifyHash(VerifyHashRequest),
    /// `POST /api/v1/toolkit/verify_tool_hash`.
    VerifyToolHash(VerifyToolHashRequest),
    /// `POST /api/v1/register_tool`.
    RegisterTool(Box<RegisterToolRequest>),
}

/// A tool of a connected toolkit, as `GET /api/dev/tools` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ToolInfo {
    /// The tool's name.
    pub name: String,
    /// The toolkit's name.
    pub app_name: String,
    /// The registered metadata, unknown fields included.
    pub metadata: ToolMetadata,
    /// Live WebSocket connections of the toolkit.
    pub connections: usize,
    /// `"websocket"` or `"inbox"`.
    pub transport: String,
}

/// A call's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The id the server gave the request.
    pub request_id: String,
    /// What the toolkit answered (an `{"error": ...}` result included).
    pub result: Value,
    /// From sending the request to receiving the answer.
    pub latency: Duration,
}

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No toolkit registered a tool of that name.
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    /// The tool is registered but its toolkit is not connected.
    #[error("tool {0} is registered but its toolkit is not connected")]
    NotConnected(String),
    /// The toolkit did not answer in time.
    #[error("tool {tool} did not answer within {timeout:?}")]
    Timeout {
        /// The tool.
        tool: String,
        /// The time limit.
        timeout: Duration,
    },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// No app session of that id is open on this server.
    #[error("unknown app session: {0}")]
    UnknownSession(String),
    /// The session is still busy with an earlier action.
    #[error("app session {0} is busy with another action")]
    SessionBusy(String),
    /// The connection that holds the session is gone (and the session
    /// with it).
    #[error("app session {0} was lost: its toolkit connection closed")]
    SessionLost(String),
    /// No connected toolkit has that `app_name`.
    #[error("unknown toolkit: {name}; {}", connected_list(connected))]
    UnknownToolkit {
        /// The name asked for.
        name: String,
        /// The app names of the toolkits that are connected, sorted.
        connected: Vec<String>,
    },
    /// The connection that took the call closed, and no answer came
    /// within the grace a reconnecting toolkit gets to deliver it.
    #[error(
        "the toolkit that took the call went away: no answer within {grace:?} of its connection closing"
    )]
    ToolkitGone {
        /// How long atp-dev waited after the close.
        grace: Duration,
    },
}

/// "connected: a, b", or that none is.
fn connected_list(connected: &[String]) -> String {
    if connected.is_empty() {
        "no toolkit is connected".to_owned()
    } else {
        format!("connected: {}", connected.join(", "))
    }
}

/// Options of one call. Its `Debug` output never shows the token.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The auth token to send with the request.
    pub auth_token: Option<String>,
    /// The time limit (default: the server's call timeout).
    pub timeout: Option<Duration>,
    /// The toolkit to call, when several offer the tool.
    pub app_name: Option<String>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("app_name", &self.app_name)
            .finish()
    }
}

/// A frame for [`DevServer::send_raw`](crate::DevServer::send_raw): sent
/// to the toolkits as it is, however wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFrame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// What a server holds now, for tests and for a look at its memory: each
/// of these is bounded (see [`DevServer::stats`](crate::DevServer::stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Requests sent (or queued) that wait for a toolkit's answer.
    pub waiting_calls: usize,
    /// Open app sessions.
    pub app_sessions: usize,
    /// HTTP inboxes remembered (those polled lately, or with items waiting).
    pub inboxes: usize,
    /// Open toolkit WebSocket connections.
    pub connections: usize,
    /// Stray answers kept (at most 1000, and 16 MiB).
    pub stray_answers: usize,
}
