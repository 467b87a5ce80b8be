//! One parameter schema, rendered for each consumer that is shown it.
//!
//! A tool's parameters have one JSON Schema (draft 2020-12), made from its
//! signature: the one announced to the ATP platform under `"parameters"`,
//! and the source of every other rendering. Each consumer takes a
//! different dialect of JSON Schema, so each gets its own rendering of
//! that one source, from the same function, [`render`]:
//!
//! | consumer | rendering |
//! |---|---|
//! | [`Consumer::Mcp`] | draft 2020-12 as is: `$schema`, `$defs` and `$ref`s kept, optionals as `["T", "null"]` or `anyOf` with `{"type": "null"}`, `additionalProperties: false` at the root |
//! | [`Consumer::OpenAi`] | OpenAI's strict mode when the schema can be written in it (every property required, optionals nullable, `additionalProperties: false` on every object, `anyOf` for `oneOf`, unsupported keywords dropped); otherwise the 2020-12 schema, not strict, with the reason |
//! | [`Consumer::Anthropic`] | the 2020-12 schema as `input_schema` (its strict tool use takes a narrower subset of JSON Schema than OpenAI's, so it is not used) |
//! | [`Consumer::Gemini`] | Gemini's OpenAPI subset: `$ref`s resolved (a recursive type is described a few levels deep, never copied without bound), one upper-case `type`, `nullable`, string enums |
//! | [`Consumer::Mistral`] | the 2020-12 schema |
//!
//! Every rendering keeps the server's view: what a schema allows, the
//! tool accepts (an optional parameter's `null` is `None`, a whole float
//! for an integer is that integer, see the guide's "Arguments the way
//! models send them").
//!
//! ```
//! use atp_sdk::schema::{Consumer, render};
//! use serde_json::json;
//!
//! // The schema of `fn search(query: String, limit: Option<u32>)`.
//! let parameters = json!({
//!     "type": "object",
//!     "properties": {
//!         "query": {"type": "string"},
//!         "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
//!     },
//!     "required": ["query"],
//! });
//! let openai = render(&parameters, Consumer::OpenAi);
//! assert!(openai.strict);
//! // Every property required; `limit` is left out by sending `null`.
//! assert_eq!(openai.schema["required"].as_array().unwrap().len(), 2);
//! assert_eq!(openai.schema["additionalProperties"], false);
//!
//! let gemini = render(&parameters, Consumer::Gemini);
//! assert_eq!(gemini.schema["properties"]["limit"], json!({"type": "INTEGER", "nullable": true, "minimum": 0}));
//! ```

use std::borrow::Cow;

use serde_json::{Map, Value, json};

mod gemini;
mod openai;

/// The `$schema` of draft 2020-12.
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Who is shown a tool's parameter schema.
///
/// ```
/// use atp_sdk::llm::Provider;
/// use atp_sdk::schema::Consumer;
/// assert_eq!(Consumer::from(Provider::Gemini), Consumer::Gemini);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Consumer {
    /// An MCP client: `inputSchema`, JSON Schema 2020-12.
    Mcp,
    /// OpenAI's function tools (Responses and Chat Completions): strict
    /// when the schema can be.
    OpenAi,
    /// Anthropic's `input_schema`.
    Anthropic,
    /// Gemini's function declarations: the OpenAPI subset.
    Gemini,
    /// Mistral's function tools.
    Mistral,
}

/// A parameter schema rendered for one [`Consumer`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rendered {
    /// The schema, in the consumer's dialect.
    pub schema: Value,
    /// Whether the schema is in the consumer's strict form (OpenAI's
    /// `strict: true`): the model's arguments are then held to it by the
    /// provider.
    pub strict: bool,
    /// Why the schema is not strict, for a consumer that has a strict form
    /// (`None` when it is, or when the consumer has none).
    pub not_strict: Option<String>,
}

/// Renders `parameters`, a tool's parameter schema as announced (JSON
/// Schema 2020-12, an object schema with `$defs` when a type needs them),
/// for `consumer`. See the [module docs](self) for what each consumer gets.
///
/// ```
/// use atp_sdk::schema::{Consumer, render};
/// use serde_json::json;
///
/// // A map has free keys: OpenAI's strict mode can't say that.
/// let parameters = json!({
///     "type": "object",
///     "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string"}}},
///     "required": ["tags"],
/// });
/// let openai = render(&parameters, Consumer::OpenAi);
/// assert!(!openai.strict);
/// assert_eq!(openai.not_strict.as_deref(), Some("`tags` is an object with free keys (a map), which strict mode can't describe"));
///
/// let mcp = render(&parameters, Consumer::Mcp);
/// assert_eq!(mcp.schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// assert_eq!(mcp.schema["additionalProperties"], false);
/// ```
pub fn render(parameters: &Value, consumer: Consumer) -> Rendered {
    let plain = |schema| Rendered {
        schema,
        strict: false,
        not_strict: None,
    };
    match consumer {
        Consumer::Mcp => plain(mcp(parameters)),
        // Anthropic's strict tool use takes a narrower subset of JSON
        // Schema than OpenAI's, with no validator of its own to judge a
        // rendering by: it is shown the schema as is.
        Consumer::Mistral | Consumer::Anthropic => plain(Value::Object(object_root(parameters))),
        Consumer::Gemini => plain(gemini::render(&Value::Object(object_root(parameters)))),
        Consumer::OpenAi => {
            let root = Value::Object(object_root(parameters));
            match openai::strict(&root) {
                Ok(schema) => Rendered {
                    schema,
                    strict: true,
                    not_strict: None,
                },
                Err(reason) => Rendered {
                    schema: root,
                    strict: false,
                    not_strict: Some(reason),
                },
            }
        }
    }
}

/// The MCP `inputSchema`: 2020-12, `$schema` said, no other keys than the
/// object's at the root, `additionalProperties: false` there.
fn mcp(parameters: &Value) -> Value {
    let mut root = object_root(parameters);
    root.insert("$schema".to_owned(), json!(DRAFT_2020_12));
    root.entry("additionalProperties")
        .or_insert(Value::Bool(false));
    Value::Object(root)
}

/// `parameters` as an object schema: `type: object`, `properties` always,
/// `required` only when not empty, no `$schema` or `title`.
fn object_root(parameters: &Value) -> Map<String, Value> {
    let mut root = match parameters {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    root.remove("$schema");
    root.remove("title");
    root.insert("type".to_owned(), json!("object"));
    root.entry("properties").or_insert_with(|| json!({}));
    if root
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        root.remove("required");
    }
    if root
        .get("$defs")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        root.remove("$defs");
    }
    root
}

/// Whether `schema` admits `null`, as far as its own keywords say (a
/// `$ref` is not followed).
pub(crate) fn admits_null(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => {
            if let Some(enumerated) = map.get("enum").and_then(Value::as_array) {
                return enumerated.contains(&Value::Null);
            }
            if let Some(constant) = map.get("const") {
                return constant.is_null();
            }
            match map.get("type") {
                Some(Value::String(t)) => return t == "null",
                Some(Value::Array(types)) => return types.iter().any(|t| t == "null"),
                _ => {}
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(branches) = map.get(key).and_then(Value::as_array) {
                    return branches.iter().any(admits_null);
                }
            }
            !map.contains_key("$ref") && !map.contains_key("allOf") && !map.contains_key("not")
        }
        _ => false,
    }
}

/// `schema`, also admitting `null`: `"T"` → `["T", "null"]` when that is
/// all it takes, else `{"anyOf": [schema, {"type": "null"}]}` with the
/// description on the outside.
pub(crate) fn or_null(schema: Value) -> Value {
    if admits_null(&schema) {
        return schema;
    }
    let Value::Object(mut map) = schema else {
        return schema;
    };
    let simple = !map.contains_key("enum")
        && !map.contains_key("const")
        && !map.contains_key("$ref")
        && !map.contains_key("anyOf")
        && !map.contains_key("oneOf")
        && !map.contains_key("allOf");
    if simple {
        match map.get_mut("type") {
            Some(Value::String(t)) => {
                let t = std::mem::take(t);
                map.insert("type".to_owned(), json!([t, "null"]));
                return Value::Object(map);
            }
            Some(Value::Array(types)) => {
                types.push(json!("null"));
                return Value::Object(map);
            }
            _ => {}
        }
    }
    if map.contains_key("anyOf")
        && map
            .keys()
            .all(|k| matches!(k.as_str(), "anyOf" | "description" | "title" | "default"))
        && let Some(Value::Array(branches)) = map.get_mut("anyOf")
    {
        branches.push(json!({"type": "null"}));
        return Value::Object(map);
    }
    let mut outer = Map::new();
    for key in ["description", "title", "default"] {
        if let Some(v) = map.remove(key) {
            outer.insert(key.to_owned(), v);
        }
    }
    outer.insert(
        "anyOf".to_owned(),
        json!([Value::Object(map), {"type": "null"}]),
    );
    Value::Object(outer)
}

/// The JSON types other than `null`: what a required parameter that takes
/// any JSON value is shown (its `null` is a missing parameter).
pub(crate) const ANY_BUT_NULL: [&str; 5] = ["object", "array", "string", "number", "boolean"];

/// `schema`, without `null`: what a required parameter accepts (`null`
/// there is "Missing required parameter").
pub(crate) fn without_null(schema: Value) -> Value {
    if !admits_null(&schema) {
        return schema;
    }
    let mut map = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".to_owned(), only);
        }
        return Value::Object(map);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            branches.retain(|b| b.get("type") != Some(&json!("null")));
            // A branch that takes null itself (an untagged variant of an
            // `Option`) loses it too.
            for branch in branches.iter_mut() {
                *branch = without_null(std::mem::take(branch));
            }
            return Value::Object(map);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
        return Value::Object(map);
    }
    if !map.contains_key("type") && !map.contains_key("anyOf") && !map.contains_key("oneOf") {
        // Any value: any but null.
        map.insert("type".to_owned(), json!(ANY_BUT_NULL));
        return Value::Object(map);
    }
    Value::Object(map)
}

/// The definition a `$ref` names, `#/$defs/<name>`: a URI fragment
/// holding a JSON Pointer, so percent-decoded, then `~1` read as `/` and
/// `~0` as `~` (RFC 3986 §2.1, RFC 6901 §4). `None` for anything else,
/// such as a pointer deeper into a definition.
pub(crate) fn def_name(reference: &str) -> Option<Cow<'_, str>> {
    let raw = reference.strip_prefix("#/$defs/")?;
    if raw.contains('/') {
        return None;
    }
    if !raw.contains(['~', '%']) {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let pointer = String::from_utf8(decoded).ok()?;
    Some(Cow::Owned(pointer.replace("~1", "/").replace("~0", "~")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refs_name_is_read_as_a_json_pointer_in_a_fragment() {
        assert_eq!(def_name("#/$defs/Address").as_deref(), Some("Address"));
        assert_eq!(def_name("#/$defs/a~1b~0c").as_deref(), Some("a/b~c"));
        assert_eq!(def_name("#/$defs/Caf%C3%A9%20x").as_deref(), Some("Café x"));
        // `%7E1` is a `~1` once decoded: percent-decoding comes first.
        assert_eq!(def_name("#/$defs/%7E1").as_deref(), Some("/"));
        assert_eq!(def_name("#/$defs/A/properties/x"), None);
        assert_eq!(def_name("#/$defs/bad%G1"), None);
        assert_eq!(def_name("#/$defs/cut%4"), None);
        assert_eq!(def_name("#/definitions/A"), None);
    }

    #[test]
    fn null_is_added_and_taken_away_in_the_simplest_form() {
        assert_eq!(
            or_null(json!({"type": "string"})),
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            or_null(json!({"type": ["string", "integer"]})),
            json!({"type": ["string", "integer", "null"]})
        );
        // An enum must list null itself: a branch instead.
        assert_eq!(
            or_null(json!({"type": "string", "enum": ["a"], "description": "D."})),
            json!({"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}], "description": "D."})
        );
        assert_eq!(
            or_null(json!({"$ref": "#/$defs/A"})),
            json!({"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]})
        );
        assert_eq!(or_null(json!(true)), json!(true));
        assert_eq!(
            without_null(json!({"type": ["string", "null"]})),
            json!({"type": "string"})
        );
        assert_eq!(
            without_null(json!(true)),
            json!({"type": ["object", "array", "string", "number", "boolean"]})
        );
        assert_eq!(
            without_null(json!({"description": "Anything."})),
            json!({"description": "Anything.", "type": ["object", "array", "string", "number", "boolean"]})
        );
        assert_eq!(
            without_null(json!({"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]})),
            json!({"anyOf": [{"$ref": "#/$defs/A"}]})
        );
        assert_eq!(
            without_null(json!({"type": "string"})),
            json!({"type": "string"})
        );
        assert_eq!(
            without_null(json!({"anyOf": [{"type": ["integer", "null"]}, {"type": "string"}]})),
            json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
        );
    }

    #[test]
    fn no_parameters_is_an_empty_object_schema_everywhere() {
        for parameters in [
            json!({"type": "object", "properties": {}, "required": []}),
            Value::Null,
        ] {
            assert_eq!(
                render(&parameters, Consumer::Mcp).schema,
                json!({"$schema": DRAFT_2020_12, "type": "object", "properties": {}, "additionalProperties": false})
            );
            let openai = render(&parameters, Consumer::OpenAi);
            assert!(openai.strict);
            assert_eq!(
                openai.schema,
                json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false})
            );
            assert_eq!(
                render(&parameters, Consumer::Gemini).schema,
                json!({"type": "OBJECT", "properties": {}})
            );
        }
    }
}
