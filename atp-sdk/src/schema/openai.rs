//! OpenAI's strict mode (Structured Outputs, `strict: true` on a function
//! tool): every object lists
//! every property as required and says `additionalProperties: false`
//! (an optional value is left out by sending `null`), unions are `anyOf`,
//! and only the supported keywords appear.
//!
//! A schema is rendered strict only when that keeps its meaning; when a
//! part of it can't be said in strict mode (a map's free keys, any JSON
//! value, a tuple), the reason names that part and the tool stays
//! non-strict.

use serde_json::{Map, Value, json};

/// OpenAI's limit on nested objects.
const MAX_DEPTH: usize = 10;

/// OpenAI's limit on properties in one schema.
const MAX_PROPERTIES: usize = 5000;

/// The keywords strict mode takes (besides the structural ones handled
/// one by one).
const KEPT: [&str; 12] = [
    "description",
    "title",
    "enum",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
];

/// The string formats strict mode takes.
const FORMATS: [&str; 9] = [
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Keywords that change what a schema accepts and have no strict form.
const REFUSED: [(&str, &str); 9] = [
    ("not", "`not`"),
    ("if", "`if`/`then`/`else`"),
    ("patternProperties", "properties named by a pattern"),
    ("propertyNames", "a rule on property names"),
    ("dependentSchemas", "`dependentSchemas`"),
    ("dependentRequired", "`dependentRequired`"),
    ("unevaluatedProperties", "`unevaluatedProperties`"),
    ("unevaluatedItems", "`unevaluatedItems`"),
    ("contains", "`contains`"),
];

/// The strict form of `root` (an object schema), or why there is none.
pub(super) fn strict(root: &Value) -> Result<Value, String> {
    let mut writer = Writer { properties: 0 };
    let mut out = writer.node(root, "", 0)?;
    if let Some(Value::Object(defs)) = root.get("$defs") {
        let mut strict_defs = Map::new();
        for (name, def) in defs {
            let at = format!("$defs/{name}");
            strict_defs.insert(name.clone(), writer.node(def, &at, 0)?);
        }
        out["$defs"] = Value::Object(strict_defs);
    }
    if writer.properties > MAX_PROPERTIES {
        return Err(format!(
            "it has {} properties, more than the {MAX_PROPERTIES} strict mode takes",
            writer.properties
        ));
    }
    Ok(out)
}

struct Writer {
    properties: usize,
}

impl Writer {
    /// The strict form of the schema at `at` (a path for the reason),
    /// `depth` objects deep.
    fn node(&mut self, node: &Value, at: &str, depth: usize) -> Result<Value, String> {
        let shown = if at.is_empty() { "the root" } else { at };
        let map = match node {
            Value::Object(map) => map,
            Value::Bool(true) => return Err(any_value(shown)),
            _ => return Err(format!("`{shown}` accepts nothing")),
        };
        refuse_keywords(map, shown)?;
        if let Some(Value::String(reference)) = map.get("$ref") {
            return Ok(reference_node(map, reference));
        }
        refuse_any_value(map, shown)?;
        refuse_length_limits(map, shown)?;
        refuse_mixed_unions(map, shown)?;
        let mut out = kept_keywords(map);
        self.write_branches(map, at, shown, depth, &mut out)?;
        if is_object(map) {
            self.write_object(map, at, shown, depth, &mut out)?;
        }
        self.write_items(map, at, depth, &mut out)?;
        Ok(Value::Object(out))
    }

    /// Writes the strict forms of the `anyOf`/`oneOf` branches and a
    /// one-schema `allOf` into `out` as one `anyOf`.
    fn write_branches(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        shown: &str,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        let mut branches = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(list)) = map.get(key) {
                for (i, branch) in list.iter().enumerate() {
                    branches.push(self.node(branch, &format!("{at}/{key}/{i}"), depth)?);
                }
            }
        }
        if let Some(Value::Array(all)) = map.get("allOf") {
            match all.as_slice() {
                [only] => branches.push(self.node(only, &format!("{at}/allOf/0"), depth)?),
                _ => {
                    return Err(format!(
                        "`{shown}` is an intersection (`allOf`), which strict mode can't describe"
                    ));
                }
            }
        }
        if !branches.is_empty() {
            out.insert("anyOf".to_owned(), Value::Array(branches));
        }
        Ok(())
    }

    /// Writes an object's strict form into `out`: every property strict
    /// and required, no others allowed.
    fn write_object(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        shown: &str,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        if depth + 1 > MAX_DEPTH {
            return Err(format!(
                "`{shown}` is nested more than {MAX_DEPTH} objects deep, the most strict mode takes"
            ));
        }
        let closed = map.get("additionalProperties") == Some(&Value::Bool(false));
        match map.get("additionalProperties") {
            None if map.contains_key("properties") => {}
            _ if closed => {}
            _ => {
                return Err(format!(
                    "`{shown}` is an object with free keys (a map), which strict mode can't describe"
                ));
            }
        }
        let properties = self.strict_properties(map, at, depth)?;
        self.properties += properties.len();
        let names: Vec<Value> = properties.keys().map(|k| json!(k)).collect();
        out.insert("properties".to_owned(), Value::Object(properties));
        out.insert("required".to_owned(), Value::Array(names));
        out.insert("additionalProperties".to_owned(), Value::Bool(false));
        if !out.contains_key("type") {
            out.insert("type".to_owned(), json!("object"));
        }
        Ok(())
    }

    /// The strict forms of an object's `properties`, one object deeper.
    fn strict_properties(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let mut properties = Map::new();
        if let Some(Value::Object(given)) = map.get("properties") {
            for (name, schema) in given {
                let path = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                // Every property is required: an optional one that
                // takes `null` (an `Option`, any parameter left out of
                // `required`) is left out by sending `null`, which the
                // tool reads as absent; one with a default that does
                // not take `null` is always given a value, as the
                // OpenAI Agents SDK makes it.
                properties.insert(name.clone(), self.node(schema, &path, depth + 1)?);
            }
        }
        Ok(properties)
    }

    /// Writes the strict form of `items` into `out`.
    fn write_items(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        match map.get("items") {
            None => {}
            Some(Value::Bool(true)) => return Err(any_value(&format!("{at}[]"))),
            Some(Value::Bool(false)) => {}
            Some(items) => {
                let items = self.node(items, &format!("{at}[]"), depth)?;
                out.insert("items".to_owned(), items);
            }
        }
        Ok(())
    }
}

/// Refuses the keywords that have no strict form, and tuples.
fn refuse_keywords(map: &Map<String, Value>, shown: &str) -> Result<(), String> {
    if let Some((_, what)) = REFUSED.iter().find(|(key, _)| map.contains_key(*key)) {
        return Err(format!(
            "`{shown}` uses {what}, which strict mode can't describe"
        ));
    }
    if map.contains_key("prefixItems") {
        return Err(format!(
            "`{shown}` is a tuple (items by position), which strict mode can't describe"
        ));
    }
    Ok(())
}

/// The strict form of a `$ref` node, with its description and title.
fn reference_node(map: &Map<String, Value>, reference: &str) -> Value {
    // A `$ref` stands alone in strict mode: its description goes
    // on a one-branch `anyOf` around it.
    let mut out = Map::new();
    for key in ["description", "title"] {
        if let Some(text) = map.get(key) {
            out.insert(key.to_owned(), text.clone());
        }
    }
    if out.is_empty() {
        return json!({"$ref": reference});
    }
    out.insert("anyOf".to_owned(), json!([{"$ref": reference}]));
    Value::Object(out)
}

/// Refuses a schema that takes any JSON value (or any but `null`).
fn refuse_any_value(map: &Map<String, Value>, shown: &str) -> Result<(), String> {
    let typed = map.contains_key("type")
        || ["anyOf", "oneOf", "allOf", "enum", "const", "properties"]
            .iter()
            .any(|k| map.contains_key(*k));
    if !typed {
        return Err(any_value(shown));
    }
    if let Some(Value::Array(types)) = map.get("type")
        && super::ANY_BUT_NULL
            .iter()
            .all(|t| types.iter().any(|given| given == t))
    {
        // Any value but `null`: a required parameter of any JSON.
        return Err(any_value(shown));
    }
    Ok(())
}

/// Refuses a length limit, which strict mode does not keep.
fn refuse_length_limits(map: &Map<String, Value>, shown: &str) -> Result<(), String> {
    for key in ["minLength", "maxLength"] {
        if map.contains_key(key) {
            // Strict mode would drop it, and the schema would take
            // what the tool refuses (a `char` is one character).
            return Err(format!(
                "`{shown}` has a length limit (`{key}`), which strict mode does not keep"
            ));
        }
    }
    Ok(())
}

/// Refuses unions of more than one kind, and a union beside properties
/// of its own.
fn refuse_mixed_unions(map: &Map<String, Value>, shown: &str) -> Result<(), String> {
    let kinds = ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter(|k| map.contains_key(**k))
        .count();
    if kinds > 1 {
        return Err(format!(
            "`{shown}` combines `anyOf`, `oneOf` and `allOf`, which strict mode can't describe"
        ));
    }
    if kinds == 1 && map.contains_key("properties") {
        // An object of its own properties and one of several shapes (a
        // flattened enum): closing it would refuse the shapes' keys.
        return Err(format!(
            "`{shown}` has properties of its own and a union of shapes (a flattened enum), which strict mode can't describe"
        ));
    }
    Ok(())
}

/// The `type`, the keywords strict mode takes and a supported `format`,
/// copied from `map`.
fn kept_keywords(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(t) = map.get("type") {
        out.insert("type".to_owned(), t.clone());
    }
    for key in KEPT {
        if let Some(value) = map.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(Value::String(format)) = map.get("format")
        && FORMATS.contains(&format.as_str())
    {
        out.insert("format".to_owned(), json!(format));
    }
    out
}

/// Whether the schema describes an object.
fn is_object(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => map.contains_key("properties"),
    }
}

fn any_value(shown: &str) -> String {
    format!("`{shown}` takes any JSON value, which strict mode can't describe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optionals_become_required_and_nullable_and_unions_any_of() {
        let schema = json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "format": "uint32-ish"},
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "default": 10},
                "page": {"type": "integer", "format": "uint32", "minimum": 0, "default": 1},
                "shape": {"oneOf": [
                    {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "format": "double"}}, "required": ["kind", "r"]},
                    {"type": "string", "enum": ["dot"]},
                ]},
                "at": {"$ref": "#/$defs/Point", "description": "Where."},
            },
            "required": ["query", "shape", "at"],
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
        });
        let mut out = strict(&schema).unwrap();
        // `required` lists the properties in their order (which
        // serde_json's `preserve_order` decides): every one of them.
        let names: Vec<Value> = out["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        assert_eq!(out["required"], Value::Array(names));
        out["required"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|v| v.to_string());
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "limit": {"type": ["integer", "null"], "minimum": 0},
                    "page": {"type": "integer", "minimum": 0},
                    "shape": {"anyOf": [
                        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}, "required": ["kind", "r"], "additionalProperties": false},
                        {"type": "string", "enum": ["dot"]},
                    ]},
                    "at": {"anyOf": [{"$ref": "#/$defs/Point"}], "description": "Where."},
                },
                "required": ["at", "limit", "page", "query", "shape"],
                "additionalProperties": false,
                "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"], "additionalProperties": false}},
            })
        );
    }

    #[test]
    fn what_strict_mode_cant_say_is_named() {
        let reason = |property: Value| {
            strict(&json!({"type": "object", "properties": {"p": property}, "required": ["p"]}))
                .unwrap_err()
        };
        assert_eq!(
            reason(json!(true)),
            "`p` takes any JSON value, which strict mode can't describe"
        );
        assert_eq!(
            reason(
                json!({"type": "object", "properties": {"q": {"type": "array", "items": true}}})
            ),
            "`p.q[]` takes any JSON value, which strict mode can't describe"
        );
        assert_eq!(
            reason(json!({"type": "array", "prefixItems": [{"type": "string"}], "items": false})),
            "`p` is a tuple (items by position), which strict mode can't describe"
        );
        assert_eq!(
            reason(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
            "`p` is an object with free keys (a map), which strict mode can't describe"
        );
        assert_eq!(
            reason(json!({"type": "string", "minLength": 1, "maxLength": 1})),
            "`p` has a length limit (`minLength`), which strict mode does not keep"
        );
        assert!(
            reason(
                json!({"type": "object", "properties": {"a": {"type": "integer"}},
                          "oneOf": [{"properties": {"k": {"const": "x"}}}]})
            )
            .contains("a union of shapes (a flattened enum)")
        );
        assert!(
            reason(json!({"anyOf": [{"type": "string"}], "allOf": [{"type": "string"}]}))
                .contains("combines")
        );
        let mut deep = json!({"type": "string"});
        for _ in 0..MAX_DEPTH {
            deep = json!({"type": "object", "properties": {"d": deep}, "required": ["d"]});
        }
        assert!(reason(deep).contains("nested more than 10 objects deep"));
    }
}
