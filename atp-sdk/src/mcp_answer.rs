//! What an MCP client reads of a call's result: [`McpAnswer`], decided in
//! one place for the MCP server and for [`testing`](crate::testing).

use serde_json::{Map, Value, json};

use crate::content::Content;
use crate::tool::{CallResult, Output};

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
    /// JSON as text; a string is text; any other value its JSON as text
    /// (and structured content too when `any_structured`: the negotiated
    /// version, 2026-07-28 on, allows it); rich content its blocks, with
    /// its structured data; an error (`{"error": ...}` or the call's) a
    /// text with `isError`. The one place MCP's answers are decided: the
    /// MCP server sends these.
    pub(crate) fn of(result: CallResult, any_structured: bool) -> Self {
        let text = |text: String| vec![json!({"type": "text", "text": text})];
        let answer = |content, structured| Self {
            content,
            structured,
            is_error: false,
            protocol_error: None,
        };
        let error = |message: String, protocol: bool| Self {
            content: text(message.clone()),
            structured: None,
            is_error: true,
            protocol_error: protocol.then_some(message),
        };
        match result {
            Err(err @ crate::error::CallError::UnknownTool(_)) => error(err.to_string(), true),
            Err(err) => error(err.to_string(), false),
            Ok(Output::Rich(rich)) => answer(
                rich.content().iter().map(Content::to_json).collect(),
                rich.structured().cloned(),
            ),
            Ok(Output::Json(Value::Object(mut map))) if is_error_object(&map) => error(
                match map.remove("error") {
                    Some(Value::String(text)) => text,
                    other => other.unwrap_or_default().to_string(),
                },
                false,
            ),
            Ok(Output::Json(value @ Value::Object(_))) => {
                answer(text(value.to_string()), Some(value))
            }
            Ok(Output::Json(Value::String(s))) if !any_structured => answer(text(s), None),
            Ok(Output::Json(Value::Null)) => answer(text("null".to_owned()), None),
            Ok(Output::Json(value)) => {
                let shown = match &value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                answer(text(shown), any_structured.then_some(value))
            }
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
