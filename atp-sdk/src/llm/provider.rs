//! The shapes of each LLM provider's tools, tool calls and tool results:
//! what an LLM is shown of a toolkit, how its tool calls are read, and how
//! their results go back into the conversation.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// An LLM provider, whose shapes of tools, tool calls and results differ.
///
/// ```
/// use atp_sdk::llm::Provider;
/// assert_eq!("mistralai".parse::<Provider>(), Ok(Provider::Mistral));
/// assert_eq!("gemini".parse::<Provider>(), Ok(Provider::Gemini));
/// assert_eq!(Provider::OpenAi.to_string(), "openai");
/// assert!("llama".parse::<Provider>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI: the Responses API's function tools (Chat Completions tool
    /// calls are read too).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic: tools with an `input_schema`, `tool_use` blocks.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Mistral: `{"type": "function", "function": {...}}` tools.
    #[serde(rename = "mistral", alias = "mistralai")]
    Mistral,
    /// Google Gemini: function declarations (`parameters` in its OpenAPI
    /// subset), `functionCall` parts, `functionResponse` parts.
    ///
    /// The platform's LLM-client API speaks only the other three:
    /// [`LlmClient::context`](super::LlmClient::context) asks it for the
    /// JSON Schema (as Anthropic's) and renders Gemini's itself; `atp-dev`
    /// answers `gemini` too.
    #[serde(rename = "gemini", alias = "google")]
    Gemini,
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(Self::OpenAi),
            "anthropic" => Ok(Self::Anthropic),
            "mistral" | "mistralai" => Ok(Self::Mistral),
            "gemini" | "google" => Ok(Self::Gemini),
            other => Err(format!(
                "unknown provider {other:?}: use openai, anthropic, mistral or gemini"
            )),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Mistral => "mistral",
            Self::Gemini => "gemini",
        })
    }
}

/// One tool as an LLM is shown it, before the provider's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its parameters (an object schema), in the
    /// provider's dialect.
    pub parameters: Value,
    /// Whether `parameters` is in the provider's strict form (OpenAI's
    /// `strict: true`).
    pub strict: bool,
}

impl ToolSpec {
    /// The tool with its parameter schema, as announced (JSON Schema
    /// 2020-12), rendered for `provider` by [`crate::schema::render`];
    /// also why it is not strict, where the provider has a strict form
    /// and the schema can't be written in it.
    ///
    /// ```
    /// use atp_sdk::llm::{Provider, ToolSpec};
    /// use serde_json::json;
    /// let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
    /// let (tool, not_strict) = ToolSpec::rendered("echo", "Echoes.", &schema, Provider::OpenAi);
    /// assert!(tool.strict && not_strict.is_none());
    /// assert_eq!(tool.shaped(Provider::OpenAi)["strict"], true);
    /// assert_eq!(tool.parameters["additionalProperties"], false);
    /// ```
    pub fn rendered(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: &Value,
        provider: Provider,
    ) -> (Self, Option<String>) {
        let rendered = crate::schema::render(parameters, provider.into());
        (
            Self {
                name: name.into(),
                description: description.into(),
                parameters: rendered.schema,
                strict: rendered.strict,
            },
            rendered.not_strict,
        )
    }

    /// The tool in `provider`'s shape.
    ///
    /// ```
    /// use atp_sdk::llm::{Provider, ToolSpec};
    /// use serde_json::json;
    /// let tool = ToolSpec { name: "echo".into(), description: "Echoes.".into(), parameters: json!({"type": "object"}), strict: false };
    /// assert_eq!(tool.shaped(Provider::Anthropic)["input_schema"], json!({"type": "object"}));
    /// assert_eq!(tool.shaped(Provider::Mistral)["function"]["name"], "echo");
    /// assert_eq!(tool.shaped(Provider::OpenAi)["type"], "function");
    /// assert_eq!(tool.shaped(Provider::OpenAi)["strict"], false);
    /// assert_eq!(tool.shaped(Provider::Gemini), json!({"name": "echo", "description": "Echoes."}));
    /// ```
    ///
    /// OpenAI's tools always say `strict` (the Responses API makes a tool
    /// strict when it does not); a Gemini
    /// declaration has no `parameters` when the tool takes none (Gemini
    /// refuses an object without properties).
    pub fn shaped(&self, provider: Provider) -> Value {
        match provider {
            Provider::OpenAi => json!({
                "type": "function",
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
                "strict": self.strict,
            }),
            Provider::Anthropic => json!({
                "name": self.name,
                "description": self.description,
                "input_schema": self.parameters,
            }),
            Provider::Gemini => {
                let mut declaration = json!({"name": self.name, "description": self.description});
                if self
                    .parameters
                    .get("properties")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.is_empty())
                {
                    declaration["parameters"] = self.parameters.clone();
                }
                declaration
            }
            Provider::Mistral => json!({
                "type": "function",
                "function": {
                    "name": self.name,
                    "description": self.description,
                    "parameters": self.parameters,
                },
            }),
        }
    }

    /// Reads a tool in any provider's shape.
    pub fn from_shaped(value: &Value) -> Option<Self> {
        let inner = value
            .get("function")
            .filter(|f| f.is_object())
            .unwrap_or(value);
        let parameters = inner
            .get("parameters")
            .or_else(|| inner.get("input_schema"))
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        Some(Self {
            name: inner.get("name")?.as_str()?.to_owned(),
            description: inner
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            parameters,
            strict: inner.get("strict") == Some(&Value::Bool(true)),
        })
    }
}

/// One tool call an LLM asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id of the call (its result goes back under it).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments (an object).
    pub arguments: Value,
}

/// How a provider's tool calls were written, which decides the shape of
/// their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallStyle {
    /// OpenAI Responses API `function_call` items.
    Responses,
    /// OpenAI Chat Completions `tool_calls`.
    ChatCompletions,
    /// Anthropic `tool_use` blocks.
    Anthropic,
    /// Mistral `tool_calls`.
    Mistral,
    /// Gemini `functionCall` parts.
    Gemini,
}

/// Reads the tool calls in a provider's output: a whole response, a
/// message, a list of items or blocks, or one call. Anything that is not
/// a tool call (text, reasoning) is skipped. Returns the calls, each with
/// why its arguments can't be read if they can't (a model cut off mid-way:
/// that call's result is the error, the others still run), and how they
/// were written.
pub(crate) fn read_tool_calls(
    provider: Provider,
    output: &Value,
) -> Result<(Vec<ReadCall>, CallStyle), String> {
    let mut calls = Vec::new();
    let mut style = match provider {
        Provider::OpenAi => CallStyle::Responses,
        Provider::Anthropic => CallStyle::Anthropic,
        Provider::Mistral => CallStyle::Mistral,
        Provider::Gemini => CallStyle::Gemini,
    };
    collect(provider, output, &mut calls, &mut style)?;
    Ok((calls, style))
}

/// A tool call as read, and why its arguments can't be read, if so (its
/// `arguments` are then `{}`).
pub(crate) type ReadCall = (ToolCall, Option<String>);

fn collect(
    provider: Provider,
    value: &Value,
    calls: &mut Vec<ReadCall>,
    style: &mut CallStyle,
) -> Result<(), String> {
    match value {
        Value::Array(items) => {
            for item in items {
                collect(provider, item, calls, style)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            // Containers: a response's `output`, `choices[].message`, a
            // message's `content` or `tool_calls`.
            if let Some(output) = map.get("output").filter(|o| o.is_array()) {
                return collect(provider, output, calls, style);
            }
            // Gemini: `candidates[0].content.parts[]` (further candidates
            // are alternatives, not more calls).
            if let Some(candidates) = map.get("candidates").and_then(Value::as_array) {
                if let Some(content) = candidates.first().and_then(|c| c.get("content")) {
                    collect(provider, content, calls, style)?;
                }
                return Ok(());
            }
            if let Some(parts) = map.get("parts").filter(|p| p.is_array()) {
                return collect(provider, parts, calls, style);
            }
            if let Some(choices) = map.get("choices").and_then(Value::as_array) {
                for choice in choices {
                    if let Some(message) = choice.get("message") {
                        collect(provider, message, calls, style)?;
                    }
                }
                return Ok(());
            }
            if let Some(tool_calls) = map.get("tool_calls").filter(|t| t.is_array()) {
                return collect(provider, tool_calls, calls, style);
            }
            if map.get("role").is_some()
                && let Some(content) = map.get("content").filter(|c| c.is_array())
            {
                return collect(provider, content, calls, style);
            }
            if let Some(call) = one_call(provider, map, style)? {
                calls.push(call);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn read_call(id: String, name: String, arguments: Value, unreadable: Option<String>) -> ReadCall {
    (
        ToolCall {
            id,
            name,
            arguments,
        },
        unreadable,
    )
}

/// One tool call, if `map` is one.
fn one_call(
    provider: Provider,
    map: &Map<String, Value>,
    style: &mut CallStyle,
) -> Result<Option<ReadCall>, String> {
    let kind = map.get("type").and_then(Value::as_str);
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    // Gemini: {"functionCall": {"name", "args": {...}, "id"?}}
    if let Some(call) = map.get("functionCall").filter(|c| c.is_object()) {
        let name = call
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a functionCall without a name")?
            .to_owned();
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (arguments, unreadable) = arguments(call.get("args"));
        *style = CallStyle::Gemini;
        return Ok(Some(read_call(id, name, arguments, unreadable)));
    }
    match kind {
        // Responses API: {"type": "function_call", "call_id", "name", "arguments": "<JSON>"}
        Some("function_call") => {
            let id = text("call_id").or_else(|| text("id")).unwrap_or_default();
            let name = text("name").ok_or("a function_call without a name")?;
            let (arguments, unreadable) = arguments(map.get("arguments"));
            *style = CallStyle::Responses;
            Ok(Some(read_call(id, name, arguments, unreadable)))
        }
        // Anthropic: {"type": "tool_use", "id", "name", "input": {...}}
        Some("tool_use") => {
            let id = text("id").unwrap_or_default();
            let name = text("name").ok_or("a tool_use block without a name")?;
            let arguments = map.get("input").cloned().unwrap_or_else(|| json!({}));
            *style = CallStyle::Anthropic;
            Ok(Some(read_call(id, name, arguments, None)))
        }
        // Chat Completions / Mistral: {"id", "type": "function", "function": {"name", "arguments"}}
        _ if map.get("function").is_some_and(Value::is_object) => {
            let function = &map["function"];
            let id = text("id").unwrap_or_default();
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a tool call without a function name")?
                .to_owned();
            let (arguments, unreadable) = arguments(function.get("arguments"));
            *style = if provider == Provider::Mistral {
                CallStyle::Mistral
            } else {
                CallStyle::ChatCompletions
            };
            Ok(Some(read_call(id, name, arguments, unreadable)))
        }
        _ => Ok(None),
    }
}

/// Arguments as providers write them: a JSON object, or a string holding
/// one (OpenAI, Mistral); `{}` and why, when they can't be read.
fn arguments(value: Option<&Value>) -> (Value, Option<String>) {
    match value {
        None | Some(Value::Null) => (json!({}), None),
        Some(Value::String(text)) if text.trim().is_empty() => (json!({}), None),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(arguments) => (arguments, None),
            Err(err) => (
                json!({}),
                Some(format!("the tool call's arguments are not JSON: {err}")),
            ),
        },
        Some(other) => (other.clone(), None),
    }
}

/// The results of one turn's tool calls, as messages to append to the
/// conversation, in the shape the calls were written in.
pub(crate) fn shape_results(style: CallStyle, results: &[(ToolCall, Value)]) -> Vec<Value> {
    let text = |result: &Value| serde_json::to_string(result).expect("JSON always serializes");
    match style {
        CallStyle::Responses => results
            .iter()
            .map(|(call, result)| {
                json!({"type": "function_call_output", "call_id": call.id, "output": text(result)})
            })
            .collect(),
        CallStyle::ChatCompletions => results
            .iter()
            .map(|(call, result)| {
                json!({"role": "tool", "tool_call_id": call.id, "content": text(result)})
            })
            .collect(),
        CallStyle::Mistral => results
            .iter()
            .map(|(call, result)| {
                json!({"role": "tool", "name": call.name, "content": text(result), "tool_call_id": call.id})
            })
            .collect(),
        // Gemini: one user content of `functionResponse` parts, each
        // result under `output` (an error under `error`), as Google's
        // docs ask.
        CallStyle::Gemini if results.is_empty() => Vec::new(),
        CallStyle::Gemini => vec![json!({
            "role": "user",
            "parts": results
                .iter()
                .map(|(call, result)| {
                    let response = match result {
                        Value::Object(map) if map.len() == 1 && map.contains_key("error") => {
                            result.clone()
                        }
                        _ => json!({"output": result}),
                    };
                    let mut part = json!({"name": call.name, "response": response});
                    if !call.id.is_empty() {
                        part["id"] = json!(call.id);
                    }
                    json!({"functionResponse": part})
                })
                .collect::<Vec<_>>(),
        })],
        // Anthropic wants every result of a turn in one user message.
        CallStyle::Anthropic if results.is_empty() => Vec::new(),
        CallStyle::Anthropic => vec![json!({
            "role": "user",
            "content": results
                .iter()
                .map(|(call, result)| {
                    let mut block = json!({"type": "tool_result", "tool_use_id": call.id, "content": text(result)});
                    if result.get("error").is_some() {
                        block["is_error"] = Value::Bool(true);
                    }
                    block
                })
                .collect::<Vec<_>>(),
        })],
    }
}

/// The schema a provider's tools are described with.
impl From<Provider> for crate::schema::Consumer {
    fn from(provider: Provider) -> Self {
        match provider {
            Provider::OpenAi => Self::OpenAi,
            Provider::Anthropic => Self::Anthropic,
            Provider::Gemini => Self::Gemini,
            Provider::Mistral => Self::Mistral,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_responses_calls_and_outputs() {
        let response = json!({"output": [
            {"type": "reasoning", "summary": []},
            {"type": "function_call", "call_id": "call_1", "name": "echo", "arguments": "{\"text\":\"hi\"}"},
            {"type": "message", "content": [{"type": "output_text", "text": "..."}]},
        ]});
        let (calls, style) = read_tool_calls(Provider::OpenAi, &response).unwrap();
        let calls: Vec<ToolCall> = calls.into_iter().map(|(call, _)| call).collect();
        assert_eq!(
            calls,
            [ToolCall {
                id: "call_1".into(),
                name: "echo".into(),
                arguments: json!({"text": "hi"})
            }]
        );
        assert_eq!(style, CallStyle::Responses);
        let shaped = shape_results(style, &[(calls[0].clone(), json!({"echo": "hi"}))]);
        assert_eq!(
            shaped,
            [
                json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"echo\":\"hi\"}"})
            ]
        );
    }

    #[test]
    fn openai_chat_completions_calls_and_outputs() {
        let response = json!({"choices": [{"message": {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":1,\"b\":2}"}}
        ]}}]});
        let (calls, style) = read_tool_calls(Provider::OpenAi, &response).unwrap();
        let calls: Vec<ToolCall> = calls.into_iter().map(|(call, _)| call).collect();
        assert_eq!(calls[0].arguments, json!({"a": 1, "b": 2}));
        assert_eq!(style, CallStyle::ChatCompletions);
        assert_eq!(
            shape_results(style, &[(calls[0].clone(), json!(3))]),
            [json!({"role": "tool", "tool_call_id": "c1", "content": "3"})]
        );
    }

    #[test]
    fn anthropic_tool_use_and_one_result_message() {
        let message = json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "tu_1", "name": "echo", "input": {"text": "a"}},
            {"type": "tool_use", "id": "tu_2", "name": "fail", "input": {}},
        ]});
        let (calls, style) = read_tool_calls(Provider::Anthropic, &message).unwrap();
        let calls: Vec<ToolCall> = calls.into_iter().map(|(call, _)| call).collect();
        assert_eq!(calls.len(), 2);
        let shaped = shape_results(
            style,
            &[
                (calls[0].clone(), json!("a")),
                (calls[1].clone(), json!({"error": "no"})),
            ],
        );
        assert_eq!(shaped.len(), 1, "one user message");
        assert_eq!(shaped[0]["content"][0]["tool_use_id"], "tu_1");
        assert_eq!(shaped[0]["content"][1]["is_error"], true);
    }

    #[test]
    fn mistral_tool_calls_and_results() {
        let response = json!({"choices": [{"message": {"tool_calls": [
            {"id": "m1", "function": {"name": "echo", "arguments": {"text": "x"}}}
        ]}}]});
        let (calls, style) = read_tool_calls(Provider::Mistral, &response).unwrap();
        let calls: Vec<ToolCall> = calls.into_iter().map(|(call, _)| call).collect();
        assert_eq!(calls[0].arguments, json!({"text": "x"}));
        assert_eq!(
            shape_results(style, &[(calls[0].clone(), json!("x"))]),
            [json!({"role": "tool", "name": "echo", "content": "\"x\"", "tool_call_id": "m1"})]
        );
    }

    #[test]
    fn gemini_function_calls_and_responses() {
        let response = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Looking."},
            {"functionCall": {"name": "echo", "args": {"text": "a"}, "id": "g1"}},
            {"functionCall": {"name": "fail", "args": {}}},
        ]}}]});
        let (calls, style) = read_tool_calls(Provider::Gemini, &response).unwrap();
        let calls: Vec<ToolCall> = calls.into_iter().map(|(call, _)| call).collect();
        assert_eq!(style, CallStyle::Gemini);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].id.as_str(), &calls[0].arguments),
            ("g1", &json!({"text": "a"}))
        );
        let shaped = shape_results(
            style,
            &[
                (calls[0].clone(), json!("a")),
                (calls[1].clone(), json!({"error": "no"})),
            ],
        );
        assert_eq!(
            shaped,
            [json!({"role": "user", "parts": [
                {"functionResponse": {"name": "echo", "id": "g1", "response": {"output": "a"}}},
                {"functionResponse": {"name": "fail", "response": {"error": "no"}}},
            ]})]
        );
    }

    #[test]
    fn bad_arguments_are_that_calls_error_not_the_turns() {
        let calls = json!([
            {"type": "function_call", "call_id": "c1", "name": "echo", "arguments": "{\"text\": \"cut o"},
            {"type": "function_call", "call_id": "c2", "name": "echo", "arguments": "{\"text\": \"fine\"}"},
        ]);
        let (calls, _) = read_tool_calls(Provider::OpenAi, &calls).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0.id, "c1");
        assert!(
            calls[0]
                .1
                .as_deref()
                .is_some_and(|e| e.starts_with("the tool call's arguments are not JSON")),
            "{:?}",
            calls[0].1
        );
        assert_eq!(
            (&calls[1].0.arguments, &calls[1].1),
            (&json!({"text": "fine"}), &None)
        );
    }

    #[test]
    fn tools_round_trip_through_every_shape() {
        let tool = ToolSpec {
            name: "echo".into(),
            description: "Echoes.".into(),
            parameters: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
            strict: false,
        };
        for provider in [
            Provider::OpenAi,
            Provider::Anthropic,
            Provider::Mistral,
            Provider::Gemini,
        ] {
            assert_eq!(
                ToolSpec::from_shaped(&tool.shaped(provider)),
                Some(tool.clone())
            );
        }
    }
}
