//! Gemini's dialect: the OpenAPI 3.0 subset of its function declarations
//! (`type` one upper-case name, `nullable`, string `enum`s, `anyOf`, no
//! `$ref`, no `const`, no boolean schemas).
//!
//! `$ref`s are resolved by copying their definition in place. A recursive
//! type is described a few levels deep ([`MAX_REPEAT`] times along one
//! path) and then as "more of the same", and the whole rendering stops
//! copying definitions past [`MAX_NODES`] JSON values, so no type — one
//! that refers to itself k times per level, or a chain of types each
//! using the next twice — makes it grow without bound.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::def_name;

/// How many times one definition is expanded along one path.
const MAX_REPEAT: usize = 2;

/// Past this many JSON values written, a `$ref` is no longer expanded.
const MAX_NODES: usize = 4096;

/// The Gemini rendering of `root`, an object schema.
pub(super) fn render(root: &Value) -> Value {
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut converter = Converter {
        defs: &defs,
        path: HashMap::new(),
        written: 0,
    };
    let mut out = converter.convert(root);
    if let Value::Object(map) = &mut out {
        map.insert("type".to_owned(), json!("OBJECT"));
        map.entry("properties").or_insert_with(|| json!({}));
        map.remove("nullable");
    }
    out
}

struct Converter<'a> {
    defs: &'a Map<String, Value>,
    /// How many times each definition is being expanded on the current
    /// path.
    path: HashMap<String, usize>,
    /// JSON values written so far.
    written: usize,
}

impl Converter<'_> {
    /// The Gemini rendering of one schema node.
    fn convert(&mut self, node: &Value) -> Value {
        self.written += 1;
        let Value::Object(map) = node else {
            // `true` (any value) and `false`: Gemini has no boolean
            // schema; an empty one takes anything.
            return json!({});
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            return Value::Object(self.convert_ref(map, reference));
        }
        let mut out = Map::new();
        let mut nullable = convert_type(map, &mut out);
        nullable |= self.convert_branches(map, &mut out);
        self.convert_all_of(map, &mut out);
        nullable |= convert_const(map, &mut out);
        nullable |= convert_enum(map, &mut out);
        self.convert_properties(map, &mut out);
        self.convert_items(map, &mut out);
        copy_annotations(map, &mut out);
        copy_format(map, &mut out);
        drop_free_object(&mut out);
        if nullable {
            out.insert("nullable".to_owned(), Value::Bool(true));
        }
        Value::Object(out)
    }

    /// A `$ref` node: its definition in place, with the node's own
    /// description and title.
    fn convert_ref(&mut self, map: &Map<String, Value>, reference: &str) -> Map<String, Value> {
        let mut out = self.resolve(reference);
        for key in ["description", "title"] {
            if let Some(text) = map.get(key) {
                out.insert(key.to_owned(), text.clone());
            }
        }
        out
    }

    /// Writes the non-null branches of `anyOf`/`oneOf` into `out` (merged
    /// in if only one is left); true if a branch was null.
    fn convert_branches(&mut self, map: &Map<String, Value>, out: &mut Map<String, Value>) -> bool {
        let mut nullable = false;
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = map.get(key) else {
                continue;
            };
            let mut kept = Vec::new();
            for branch in branches {
                if branch.get("type") == Some(&json!("null")) {
                    nullable = true;
                } else {
                    kept.push(self.convert(branch));
                }
            }
            if kept.len() == 1 && !out.contains_key("type") && !out.contains_key("anyOf") {
                if let Value::Object(only) = kept.remove(0) {
                    nullable |= only.get("nullable") == Some(&Value::Bool(true));
                    out.extend(only);
                }
            } else if !kept.is_empty() {
                out.insert("anyOf".to_owned(), Value::Array(kept));
            }
        }
        nullable
    }

    /// Merges a one-schema `allOf` into `out`, keeping the keys already
    /// there.
    fn convert_all_of(&mut self, map: &Map<String, Value>, out: &mut Map<String, Value>) {
        if let Some(Value::Array(all)) = map.get("allOf")
            && let [only] = all.as_slice()
            && let Value::Object(only) = self.convert(only)
        {
            for (key, value) in only {
                out.entry(key).or_insert(value);
            }
        }
    }

    /// Writes the converted `properties` into `out`, with the `required`
    /// names among them.
    fn convert_properties(&mut self, map: &Map<String, Value>, out: &mut Map<String, Value>) {
        let Some(Value::Object(properties)) = map.get("properties") else {
            return;
        };
        let converted: Map<String, Value> = properties
            .iter()
            .map(|(name, schema)| (name.clone(), self.convert(schema)))
            .collect();
        if let Some(Value::Array(required)) = map.get("required") {
            let required: Vec<&Value> = required
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| converted.contains_key(r)))
                .collect();
            if !required.is_empty() {
                out.insert("required".to_owned(), json!(required));
            }
        }
        out.insert("properties".to_owned(), Value::Object(converted));
    }

    /// Writes the converted `items` (or a tuple's `prefixItems`, as what
    /// every item is) into `out`.
    fn convert_items(&mut self, map: &Map<String, Value>, out: &mut Map<String, Value>) {
        match (map.get("items"), map.get("prefixItems")) {
            (_, Some(Value::Array(prefix))) => {
                // A tuple: Gemini has no positions, only what every item is.
                let mut kinds: Vec<Value> = prefix.iter().map(|p| self.convert(p)).collect();
                kinds.dedup();
                let items = if kinds.len() == 1 {
                    kinds.remove(0)
                } else {
                    json!({"anyOf": kinds})
                };
                out.insert("items".to_owned(), items);
            }
            (Some(items), _) => {
                let items = self.convert(items);
                out.insert("items".to_owned(), items);
            }
            _ => {}
        }
    }

    /// A definition, copied in place (or "more of the same" once it has
    /// been expanded [`MAX_REPEAT`] times on this path, or past
    /// [`MAX_NODES`]).
    fn resolve(&mut self, reference: &str) -> Map<String, Value> {
        let Some(name) = def_name(reference) else {
            return Map::new();
        };
        let Some(target) = self.defs.get(name.as_ref()) else {
            return Map::new();
        };
        let depth = self.path.get(name.as_ref()).copied().unwrap_or(0);
        if depth >= MAX_REPEAT || self.written > MAX_NODES {
            let mut stub = Map::new();
            if let Some(Value::String(t)) = target.get("type") {
                stub.insert("type".to_owned(), json!(upper(t)));
            }
            let described = target
                .get("description")
                .and_then(Value::as_str)
                .map_or_else(|| name.to_string(), str::to_owned);
            stub.insert(
                "description".to_owned(),
                json!(format!("{described} (nested further, of the same shape)")),
            );
            return stub;
        }
        self.path.insert(name.to_string(), depth + 1);
        let out = self.convert(target);
        self.path.insert(name.to_string(), depth);
        match out {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// Writes `type` into `out` as Gemini's upper-case name (several as an
/// `anyOf`); true if one of the types was `null`.
fn convert_type(map: &Map<String, Value>, out: &mut Map<String, Value>) -> bool {
    let mut nullable = false;
    match map.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".to_owned(), json!(upper(t)));
        }
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            nullable = named.len() < types.len();
            match named.as_slice() {
                [one] => {
                    out.insert("type".to_owned(), json!(upper(one)));
                }
                [] => {}
                many => {
                    let branches: Vec<Value> =
                        many.iter().map(|t| json!({"type": upper(t)})).collect();
                    out.insert("anyOf".to_owned(), Value::Array(branches));
                }
            }
        }
        _ => {}
    }
    nullable
}

/// Writes a string `const` into `out` as a one-value enum; true if the
/// `const` is null.
fn convert_const(map: &Map<String, Value>, out: &mut Map<String, Value>) -> bool {
    match map.get("const") {
        Some(Value::String(text)) => {
            out.insert("enum".to_owned(), json!([text]));
            out.entry("type").or_insert_with(|| json!("STRING"));
            false
        }
        Some(Value::Null) => true,
        _ => false,
    }
}

/// Writes an all-string `enum` into `out` (without its null); true if the
/// `enum` holds null.
fn convert_enum(map: &Map<String, Value>, out: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(values)) = map.get("enum") else {
        return false;
    };
    let texts: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    // Gemini's enums are strings; others are left to the type.
    if !texts.is_empty() && texts.iter().all(|v| v.is_string()) {
        out.insert("enum".to_owned(), json!(texts));
        out.entry("type").or_insert_with(|| json!("STRING"));
    }
    values.contains(&Value::Null)
}

/// Copies the descriptive keys and bounds Gemini takes as they are, and a
/// non-null `default`, into `out`.
fn copy_annotations(map: &Map<String, Value>, out: &mut Map<String, Value>) {
    for key in [
        "description",
        "title",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
    ] {
        if let Some(value) = map.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(default) = map.get("default").filter(|d| !d.is_null()) {
        out.insert("default".to_owned(), default.clone());
    }
}

/// Copies `format` into `out` if Gemini knows it for the type written.
fn copy_format(map: &Map<String, Value>, out: &mut Map<String, Value>) {
    if let Some(Value::String(format)) = map.get("format") {
        let kept = match out.get("type").and_then(Value::as_str) {
            Some("STRING") => matches!(format.as_str(), "date-time" | "enum"),
            Some("INTEGER") => matches!(format.as_str(), "int32" | "int64"),
            Some("NUMBER") => matches!(format.as_str(), "float" | "double"),
            _ => false,
        };
        if kept {
            out.insert("format".to_owned(), json!(format));
        }
    }
}

/// Drops `type` and `properties` from an object schema with no properties
/// listed.
fn drop_free_object(out: &mut Map<String, Value>) {
    if out.get("type") == Some(&json!("OBJECT"))
        && out
            .get("properties")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
    {
        // Gemini wants an object's properties listed; one with free
        // keys (a map) is shown as any value, with its description.
        out.remove("type");
        out.remove("properties");
    }
}

fn upper(t: &str) -> String {
    t.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_resolved_and_nulls_become_nullable() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Who."},
                "nick": {"type": ["string", "null"]},
                "address": {"$ref": "#/$defs/Address", "description": "Where."},
                "backup": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
                "kind": {"const": "person"},
                "size": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255},
                "any": true,
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["name", "address"],
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        });
        let address = json!({"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]});
        let mut described = address.clone();
        described["description"] = json!("Where.");
        let mut backup = address.clone();
        backup["nullable"] = json!(true);
        assert_eq!(
            render(&schema),
            json!({
                "type": "OBJECT",
                "properties": {
                    "name": {"type": "STRING", "description": "Who."},
                    "nick": {"type": "STRING", "nullable": true},
                    "address": described,
                    "backup": backup,
                    "kind": {"type": "STRING", "enum": ["person"]},
                    "size": {"type": "INTEGER", "minimum": 0, "maximum": 255},
                    "any": {},
                    "tags": {},
                },
                "required": ["name", "address"],
            })
        );
    }

    /// The schema schemars makes for a tool's parameters.
    fn params_schema<T: schemars::JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap()
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Tree {
        value: i64,
        children: Vec<Tree>,
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Node {
        left: Option<Box<Node>>,
        right: Option<Box<Node>>,
        label: String,
    }

    /// A filter language: k-way recursive.
    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    enum Filter {
        And(Vec<Filter>),
        Or(Vec<Filter>),
        Not(Box<Filter>),
        Eq { field: String, value: String },
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Params {
        tree: Tree,
        node: Node,
        filter: Filter,
        maybe: Option<Filter>,
    }

    /// Guards review fault (round 2) 1 in this rendering: a type referring
    /// to itself k times per level is described a few levels deep, not
    /// k^depth copies.
    #[test]
    fn recursive_types_stay_small() {
        let out = render(&params_schema::<Params>());
        let text = out.to_string();
        assert!(text.len() < 32 * 1024, "{} bytes: {text}", text.len());
        assert!(!text.contains("$ref") && !text.contains("$defs"), "{text}");
        let tree = &out["properties"]["tree"];
        assert_eq!(tree["properties"]["children"]["type"], "ARRAY", "{text}");
        let nested = &tree["properties"]["children"]["items"]["properties"]["children"]["items"];
        assert!(
            nested["description"]
                .as_str()
                .is_some_and(|d| d.ends_with("(nested further, of the same shape)")),
            "{text}"
        );
        assert_eq!(out["properties"]["maybe"]["nullable"], true, "{text}");
    }

    /// A chain of types each using the next twice stops being copied past
    /// the budget.
    #[test]
    fn a_wide_acyclic_chain_does_not_grow_exponentially() {
        let mut defs = Map::new();
        for level in 0..20 {
            let next = format!("#/$defs/L{}", level + 1);
            defs.insert(
                format!("L{level}"),
                json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        defs.insert("L20".to_owned(), json!({"type": "string"}));
        let schema =
            json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/L0"}}, "$defs": defs});
        let text = render(&schema).to_string();
        assert!(text.len() < 512 * 1024, "{}", text.len());
        assert!(!text.contains("$ref"));
    }
}
