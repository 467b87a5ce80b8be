//! Testing your tools in-process: [`TestClient`] calls them through the
//! same dispatcher a served toolkit uses — validation, lenient arguments,
//! state, context, tokens, time limits, limits on calls in flight — with no
//! server, no socket and no port, and answers what ATP and what MCP would
//! have answered.
//!
//! ```
//! use atp_sdk::testing::TestClient;
//! use atp_sdk::{atp_tool, ToolKitClient};
//! use serde_json::json;
//!
//! /// Adds two numbers.
//! #[atp_tool]
//! fn sum_two(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! # fn main() {
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let client = ToolKitClient::builder("test", "maths").tools(["sum_two"]).build().unwrap();
//! let tools = TestClient::new(client);
//!
//! let answer = tools.call("sum_two", json!({"a": 2, "b": "3"})).await;
//! assert_eq!(answer.atp, json!(5));
//! assert_eq!(answer.mcp.text(), "5");
//! assert!(!answer.mcp.is_error);
//!
//! let refused = tools.call("sum_two", json!({"a": 2})).await;
//! assert_eq!(refused.result(), Err("Missing required parameter: b"));
//! assert_eq!(refused.atp, json!({"error": "Missing required parameter: b"}));
//! assert!(refused.mcp.is_error);
//! # });
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::ToolKitClient;
use crate::cancel::Cancel;
use crate::dispatch::Dispatcher;
use crate::error::CallError;
pub use crate::mcp_answer::McpAnswer;
use crate::mcp_answer::is_error_object;
use crate::protocol::{RequestId, ToolRequest};
use crate::secret::AuthToken;
use crate::tool::CallResult;

/// Calls a toolkit's tools in-process, as the platform or an MCP client
/// would, without serving them. Cheap to clone; clones share the tools'
/// state.
///
/// Built from a [`ToolKitClient`], so from the same builder as the
/// program: its tools, [`State`](crate::State), limits and time limits.
/// Nothing connects and no port is bound; the API key is not used.
#[derive(Clone)]
pub struct TestClient {
    dispatcher: Dispatcher,
    next_id: std::sync::Arc<AtomicU64>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// A test client of the tools `client` serves.
    pub fn new(client: ToolKitClient) -> Self {
        Self {
            dispatcher: client.dispatcher.clone(),
            next_id: std::sync::Arc::default(),
        }
    }

    /// Calls `tool` with `args` (a JSON object, or `null` for none), as a
    /// request without a token.
    pub async fn call(&self, tool: &str, args: Value) -> Answer {
        self.send(tool, args, None).await
    }

    /// Calls `tool` with `args` and the user's `token` (what the platform
    /// injects for a tool with an `auth_provider`).
    pub async fn call_with_token(&self, tool: &str, args: Value, token: &str) -> Answer {
        self.send(tool, args, Some(AuthToken::new(token))).await
    }

    async fn send(&self, tool: &str, params: Value, auth_token: Option<AuthToken>) -> Answer {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let request = ToolRequest {
            request_id: RequestId::Str(format!("test-{n}")),
            tool_name: tool.to_owned(),
            params,
            auth_token,
        };
        let (tx, rx) = oneshot::channel();
        let deliver = move |out: crate::dispatch::Outgoing| {
            let _ = tx.send(out);
        };
        let caller = crate::dispatch::Caller::new(Cancel::new());
        let result = match self.dispatcher.call(request, caller, deliver) {
            Some(reply) => reply.result,
            None => rx
                .await
                .map_or(Err(CallError::ShuttingDown), |out| out.reply.result),
        };
        Answer::of(result)
    }
}

/// What a tool answered, as each protocol carries it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Answer {
    /// The `result` a toolkit sends over ATP: the tool's value (a rich
    /// result in [`content`](crate::content)'s JSON shape), or
    /// `{"error": "..."}` (the tool's own error, or the call's: a missing
    /// parameter or token, a time limit).
    pub atp: Value,
    /// What an MCP client gets from `tools/call`.
    pub mcp: McpAnswer,
}

impl Answer {
    fn of(result: CallResult) -> Self {
        Self {
            atp: match &result {
                Ok(output) => output.to_json().into_owned(),
                Err(err) => err.to_result(),
            },
            mcp: McpAnswer::of(result, false),
        }
    }

    /// The tool's value, or the error's text.
    ///
    /// ```
    /// # use atp_sdk::testing::Answer;
    /// # fn check(answer: &Answer) {
    /// match answer.result() {
    ///     Ok(value) => println!("answered {value}"),
    ///     Err(text) => println!("refused: {text}"),
    /// }
    /// # }
    /// ```
    pub fn result(&self) -> Result<&Value, &str> {
        match &self.atp {
            Value::Object(map) if is_error_object(map) => Err(map["error"]
                .as_str()
                .unwrap_or("(an error that is not text)")),
            value => Ok(value),
        }
    }
}
