//! What an MCP client reads of a call's result: [`McpAnswer`], decided in
//! one place for the MCP server and for [`testing`](crate::testing).

use serde_json::{Map, Value, json};

use crate::tool::CallResult;

/// A `tools/call` result as an MCP client reads it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct McpAnswer {
    /// The content blocks, as JSON (`{"type": "text", "text": "..."}`).
    pub content: Vec<Value>,
    /// `structuredContent`: a result that is a JSON object.
    pub structured: Option<Value>,
    /// `isError`: the tool's error, or the call's.
    pub is_error: bool,
    /// A JSON-RPC error instead of a result (code -32602, invalid params),
    /// with its message: a call of a tool the server does not have, as the
    /// MCP spec lists it. The message is ATP's text (`Unknown tool:
    /// <name>`); `content` holds it too, and `is_error` is set.
    pub protocol_error: Option<String>,
}

impl McpAnswer {
    /// The MCP answer to `result`: an object is structured content and its
    /// JSON as text; a string is text; any other value its JSON as text;
    /// an error (`{"error": ...}` or the call's) a text with `isError`.
    /// The one place MCP's answers are decided: the MCP server sends
    /// these.
    pub(crate) fn of(result: CallResult) -> Self {
        let text = |text: String| vec![json!({"type": "text", "text": text})];
        match result {
            Err(err @ crate::error::CallError::UnknownTool(_)) => Self {
                content: text(err.to_string()),
                structured: None,
                is_error: true,
                protocol_error: Some(err.to_string()),
            },
            Err(err) => Self {
                content: text(err.to_string()),
                structured: None,
                is_error: true,
                protocol_error: None,
            },
            Ok(Value::Object(mut map)) if is_error_object(&map) => Self {
                content: text(match map.remove("error") {
                    Some(Value::String(text)) => text,
                    other => other.unwrap_or_default().to_string(),
                }),
                structured: None,
                is_error: true,
                protocol_error: None,
            },
            Ok(value @ Value::Object(_)) => Self {
                content: text(value.to_string()),
                structured: Some(value),
                is_error: false,
                protocol_error: None,
            },
            Ok(Value::String(s)) => Self {
                content: text(s),
                structured: None,
                is_error: false,
                protocol_error: None,
            },
            Ok(value) => Self {
                content: text(value.to_string()),
                structured: None,
                is_error: false,
                protocol_error: None,
            },
        }
    }

    /// The text blocks, joined with newlines.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `{"error": ...}` and nothing else: a tool's error in ATP's shape.
pub(crate) fn is_error_object(map: &Map<String, Value>) -> bool {
    map.len() == 1 && map.contains_key("error")
}
