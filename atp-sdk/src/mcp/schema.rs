//! A tool's parameter schema as MCP clients take it: an object schema
//! with its `$ref`s inlined where that is safe (Gemini and others can't
//! follow them), each `type` a single name, and an optional value's `null`
//! written as `"nullable": true` rather than as a type list or an `anyOf`
//! branch (what Gemini-style validators accept; others ignore the
//! keyword).
//!
//! Inlining copies a definition at each reference, so it is done once per
//! definition and only for definitions that are neither recursive (a type
//! that refers to itself k times per level would become k^depth copies)
//! nor large once expanded: those stay as `$ref`s into a `$defs` kept at
//! the root. The output is never larger than the input by more than the
//! small definitions it copies.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

/// A definition whose expansion has more JSON nodes than this is kept as a
/// reference instead of copied at each use.
const MAX_INLINED_NODES: usize = 512;

/// The `inputSchema` of a tool whose parameters' schema is `schema`.
pub(crate) fn input_schema(schema: &Value) -> Map<String, Value> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut inliner = Inliner::new(&defs);
    let mut root = match inliner.inline(schema) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    root.remove("$schema");
    root.remove("title");
    root.remove("$defs");
    let kept = inliner.kept_defs();
    if !kept.is_empty() {
        // Recursive or large types: their references stay, so do their
        // targets (expanded the same way).
        root.insert("$defs".to_owned(), Value::Object(kept));
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

/// Expands `$ref`s into `#/$defs/...`, each definition once.
struct Inliner<'a> {
    defs: &'a Map<String, Value>,
    /// Definitions that reach themselves through their references.
    recursive: HashSet<String>,
    /// Each definition's expansion, once made; `None` for one kept as a
    /// reference.
    expanded: HashMap<String, Option<Value>>,
    /// The definitions a kept reference points at.
    referenced: Vec<String>,
}

impl<'a> Inliner<'a> {
    fn new(defs: &'a Map<String, Value>) -> Self {
        Self {
            defs,
            recursive: recursive_defs(defs),
            expanded: HashMap::new(),
            referenced: Vec::new(),
        }
    }

    fn inline(&mut self, value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && let Some(name) = def_name(reference)
                    && let Some(target) = self.expansion(&name)
                    && let Value::Object(mut merged) = target
                {
                    // The reference's siblings (a description) win.
                    for (key, sibling) in map.iter().filter(|(k, _)| *k != "$ref") {
                        let sibling = self.inline(sibling);
                        merged.insert(key.clone(), sibling);
                    }
                    return Value::Object(nullable(merged));
                }
                if let Some(Value::String(reference)) = map.get("$ref")
                    && let Some(name) = def_name(reference)
                    && self.defs.contains_key(name.as_ref())
                {
                    self.referenced.push(name.into_owned());
                }
                let mut out = Map::with_capacity(map.len());
                for (key, v) in map.iter().filter(|(key, _)| key.as_str() != "$defs") {
                    let v = self.inline(v);
                    out.insert(key.clone(), v);
                }
                Value::Object(nullable(out))
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.inline(v)).collect()),
            other => other.clone(),
        }
    }

    /// The expansion of definition `name`, or `None` when it stays a
    /// reference (recursive, too large, or unknown).
    fn expansion(&mut self, name: &str) -> Option<Value> {
        if let Some(done) = self.expanded.get(name) {
            return done.clone();
        }
        let target = self.defs.get(name)?;
        if self.recursive.contains(name) {
            self.expanded.insert(name.to_owned(), None);
            return None;
        }
        // Not recursive: expanding it can't come back here.
        let expansion = self.inline(target);
        let expansion = (nodes(&expansion) <= MAX_INLINED_NODES).then_some(expansion);
        self.expanded.insert(name.to_owned(), expansion.clone());
        expansion
    }

    /// The definitions referred to by a kept reference, and those they
    /// refer to in turn, each expanded once.
    fn kept_defs(&mut self) -> Map<String, Value> {
        let mut kept = Map::new();
        while let Some(name) = self.referenced.pop() {
            if kept.contains_key(&name) {
                continue;
            }
            let Some(target) = self.defs.get(&name) else {
                continue;
            };
            // Placeholder first: a recursive body refers to itself.
            kept.insert(name.clone(), Value::Null);
            let body = self.inline(target);
            kept.insert(name, body);
        }
        kept
    }
}

/// The definition a `$ref` names, `#/$defs/<name>`: a URI fragment
/// holding a JSON Pointer, so percent-decoded, then `~1` read as `/` and
/// `~0` as `~` (RFC 3986 §2.1, RFC 6901 §4). `None` for anything else,
/// such as a pointer deeper into a definition.
fn def_name(reference: &str) -> Option<Cow<'_, str>> {
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

/// How many JSON values `value` holds, itself included.
fn nodes(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(nodes).sum::<usize>(),
        Value::Array(items) => 1 + items.iter().map(nodes).sum::<usize>(),
        _ => 1,
    }
}

/// The definitions that reach themselves through `$ref`s (directly or
/// through others).
fn recursive_defs(defs: &Map<String, Value>) -> HashSet<String> {
    let edges: HashMap<&str, Vec<String>> = defs
        .iter()
        .map(|(name, body)| {
            let mut refs = Vec::new();
            collect_refs(body, &mut refs);
            (name.as_str(), refs)
        })
        .collect();
    let mut recursive = HashSet::new();
    for start in defs.keys() {
        // Depth-first from `start`'s references: does it come back?
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = edges
            .get(start.as_str())
            .map(|refs| refs.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(next) = stack.pop() {
            if next == start {
                recursive.insert(start.clone());
                break;
            }
            if seen.insert(next)
                && let Some(more) = edges.get(next)
            {
                stack.extend(more.iter().map(String::as_str));
            }
        }
    }
    recursive
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(name) = def_name(reference)
            {
                into.push(name.into_owned());
            }
            map.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
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
        // An escaped name is inlined like any other.
        let schema = json!({
            "type": "object",
            "properties": {"x": {"$ref": "#/$defs/a~1b"}},
            "$defs": {"a/b": {"type": "integer"}},
        });
        assert_eq!(
            Value::Object(input_schema(&schema)),
            json!({"type": "object", "properties": {"x": {"type": "integer"}}})
        );
    }

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
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {"tree": {"$ref": "#/$defs/Node"}},
                "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
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

    /// Guards review fault (round 2) 1: a type referring to itself k times
    /// per level was inlined 16 levels deep, k^16 copies (29.6 MB for a
    /// tree, an abort on memory for a filter enum).
    #[test]
    fn recursive_types_stay_small_references() {
        let out = Value::Object(input_schema(&params_schema::<Params>()));
        let text = out.to_string();
        assert!(text.len() < 4096, "{} bytes: {text}", text.len());
        for def in ["Tree", "Node", "Filter"] {
            assert!(out["$defs"][def].is_object(), "{def} kept: {text}");
        }
        assert_eq!(out["properties"]["tree"]["$ref"], "#/$defs/Tree");
        assert_eq!(out["properties"]["maybe"]["nullable"], true, "{text}");
        // Every reference has its target.
        let mut refs = Vec::new();
        collect_refs(&out, &mut refs);
        assert!(!refs.is_empty());
        for name in refs {
            assert!(
                out["$defs"][name.as_str()].is_object(),
                "#/$defs/{name} missing: {text}"
            );
        }
    }

    /// A definition used many times that is not recursive is copied only
    /// while it stays small; a big one stays a reference, so a chain of
    /// types each using the next twice doesn't double per level.
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
        let out = Value::Object(input_schema(&schema));
        assert!(
            out.to_string().len() < 64 * 1024,
            "{}",
            out.to_string().len()
        );
        let mut refs = Vec::new();
        collect_refs(&out, &mut refs);
        for name in refs {
            assert!(
                out["$defs"][name.as_str()].is_object(),
                "#/$defs/{name} missing"
            );
        }
    }
}
