//! A tool's parameter schema as MCP clients take it: an object schema
//! with its `$ref`s inlined (Gemini and others can't follow them), each
//! `type` a single name, and an optional value's `null` written as
//! `"nullable": true` rather than as a type list or an `anyOf` branch
//! (what Gemini-style validators accept; others ignore the keyword).

use serde_json::{Map, Value, json};

/// How deep `$ref`s are followed before a recursive type is left as a
/// reference (with its `$defs` kept).
const MAX_DEPTH: usize = 16;

/// The `inputSchema` of a tool whose parameters' schema is `schema`.
pub(crate) fn input_schema(schema: &Value) -> Map<String, Value> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut unresolved = false;
    let mut root = match inline(schema, &defs, 0, &mut unresolved) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    root.remove("$schema");
    root.remove("title");
    root.remove("$defs");
    if unresolved && !defs.is_empty() {
        // A recursive type: its references stay, so do their targets.
        root.insert("$defs".to_owned(), Value::Object(defs));
    }
    root.insert("type".to_owned(), json!("object"));
    root.entry("properties").or_insert_with(|| json!({}));
    if root
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        root.remove("required");
    }
    root
}

fn inline(value: &Value, defs: &Map<String, Value>, depth: usize, unresolved: &mut bool) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let target = reference
                    .strip_prefix("#/$defs/")
                    .and_then(|name| defs.get(name));
                match target {
                    Some(target) if depth < MAX_DEPTH => {
                        // The reference's siblings (a description) win.
                        let mut merged = match inline(target, defs, depth + 1, unresolved) {
                            Value::Object(target) => target,
                            other => return other,
                        };
                        for (key, sibling) in map.iter().filter(|(k, _)| *k != "$ref") {
                            merged.insert(key.clone(), inline(sibling, defs, depth, unresolved));
                        }
                        return Value::Object(nullable(merged));
                    }
                    _ => *unresolved = true,
                }
            }
            let map: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| key.as_str() != "$defs")
                .map(|(key, v)| (key.clone(), inline(v, defs, depth, unresolved)))
                .collect();
            Value::Object(nullable(map))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| inline(v, defs, depth, unresolved))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `{"type": ["T", "null"]}` → `{"type": "T", "nullable": true}`, and
/// `{"anyOf": [S, {"type": "null"}]}` → S with `"nullable": true`.
fn nullable(mut map: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Array(types)) = map.get("type") {
        let named: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if named.len() < types.len() && named.len() == 1 {
            map.insert("type".to_owned(), named[0].clone());
            map.insert("nullable".to_owned(), Value::Bool(true));
        }
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = map.get(key) else {
            continue;
        };
        let is_null = |b: &Value| {
            b.get("type") == Some(&json!("null")) && b.as_object().is_some_and(|o| o.len() == 1)
        };
        if branches.len() == 2 && branches.iter().filter(|b| is_null(b)).count() == 1 {
            let Some(Value::Object(other)) = branches.iter().find(|b| !is_null(b)).cloned() else {
                continue;
            };
            map.remove(key);
            for (k, v) in other {
                map.entry(k).or_insert(v);
            }
            map.insert("nullable".to_owned(), Value::Bool(true));
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_inlined_and_nulls_become_nullable() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Who."},
                "nick": {"type": ["string", "null"]},
                "address": {"$ref": "#/$defs/Address", "description": "Where."},
                "backup": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
            },
            "required": ["name", "address"],
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        });
        let out = Value::Object(input_schema(&schema));
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Who."},
                    "nick": {"type": "string", "nullable": true},
                    "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "description": "Where."},
                    "backup": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "nullable": true},
                },
                "required": ["name", "address"],
            })
        );
        assert!(!out.to_string().contains("$ref"));
    }

    #[test]
    fn no_parameters_is_an_empty_object_schema() {
        let out = Value::Object(input_schema(
            &json!({"type": "object", "properties": {}, "required": []}),
        ));
        assert_eq!(out, json!({"type": "object", "properties": {}}));
        let out = Value::Object(input_schema(&Value::Null));
        assert_eq!(out, json!({"type": "object", "properties": {}}));
    }

    #[test]
    fn a_recursive_type_keeps_its_reference() {
        let schema = json!({
            "type": "object",
            "properties": {"tree": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
        });
        let out = Value::Object(input_schema(&schema));
        assert!(out["$defs"]["Node"].is_object(), "{out}");
        assert_eq!(out["properties"]["tree"]["type"], "object");
    }
}
