//! Schemas every consumer accepts, judged by validators nobody here wrote
//! (`tests/python/schema_judges.py`): a fixture toolkit of 24 typical
//! signatures, its MCP `inputSchema`s as rmcp's client lists them, and its
//! OpenAI, Anthropic, Mistral and Gemini definitions as atp-dev renders
//! them.
//!
//! - every MCP schema passes jsonschema's `Draft202012Validator.check_schema`,
//!   and for a table of arguments per tool, the schema and the tool agree
//!   (`null` for an optional, `7.0` for a `u8` taken by both, `7.5` by
//!   neither), except where the tool is more lenient than its schema
//!   (`"3"` for 3, unknown arguments): whatever the schema accepts, the
//!   tool accepts;
//! - every OpenAI definition marked strict comes back unchanged from
//!   openai-agents' `ensure_strict_json_schema`, and the ones that are not
//!   strict say why;
//! - every Gemini declaration is taken by google-genai's types.
//!
//! Needs the `mcp` feature and a Python with jsonschema, openai-agents and
//! google-genai (the venv `cargo xtask test` makes, which runs them).
#![cfg(feature = "mcp")]

use std::collections::{BTreeMap, HashMap};

use atp_sdk::{ToolKitClient, Transport, atp_tool};
use atp_tests::mcp_client::{HttpServed, call, http_client};
use atp_tests::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct Address {
    city: String,
    zip: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    first_name: String,
    #[serde(rename = "years")]
    age: u8,
    #[serde(default)]
    nicknames: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Relevance,
    Newest,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    Circle { r: f64 },
    Square { side: f64 },
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IdOrName {
    Id(u64),
    Name(String),
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "t", content = "c", rename_all = "snake_case")]
pub enum Event {
    Click { x: i32, y: i32 },
    Key(String),
    Idle,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Add(i64),
    Neg,
    Scale { by: f32 },
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct Tree {
    value: i64,
    children: Vec<Tree>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct Node {
    label: String,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

/// A k-way recursive filter language.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Eq { field: String, value: String },
}

/// A struct with an enum flattened into it.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct Placed {
    at: u32,
    #[serde(flatten)]
    shape: Shape,
}

/// A flattened enum.
#[atp_tool]
fn s_flattened(placed: Placed) -> Value {
    json!(placed)
}

/// One character.
#[atp_tool]
fn s_char(initial: char) -> Value {
    json!(initial)
}

/// No parameters.
#[atp_tool]
fn s_none() -> Value {
    json!({})
}

/// Options at the top.
#[atp_tool]
fn s_options(limit: Option<u32>, name: Option<String>, order: Option<Order>) -> Value {
    json!({"limit": limit, "name": name, "order": order})
}

/// Parameters with defaults.
#[atp_tool(required = ["query"])]
fn s_defaulted(query: String, limit: u32, order: Order) -> Value {
    json!({"query": query, "limit": limit, "order": order})
}

/// A nested struct.
#[atp_tool]
fn s_nested(address: Address) -> Value {
    json!(address)
}

/// A renamed struct.
#[atp_tool]
fn s_renamed(person: Person) -> Value {
    json!(person)
}

/// A unit enum.
#[atp_tool]
fn s_unit_enum(order: Order) -> Value {
    json!(order)
}

/// An internally tagged enum.
#[atp_tool]
fn s_tagged(shape: Shape) -> Value {
    json!(shape)
}

/// An untagged enum.
#[atp_tool]
fn s_untagged(id: IdOrName) -> Value {
    json!(id)
}

/// An adjacently tagged enum.
#[atp_tool]
fn s_adjacent(event: Event) -> Value {
    json!(event)
}

/// An externally tagged enum with data.
#[atp_tool]
fn s_external(op: Op) -> Value {
    json!(op)
}

/// A map.
#[atp_tool]
fn s_map(counts: HashMap<String, i64>) -> Value {
    json!(counts.into_iter().collect::<BTreeMap<_, _>>())
}

/// A list of options.
#[atp_tool]
fn s_vec_options(values: Vec<Option<u8>>) -> Value {
    json!(values)
}

/// Bounded integers.
#[atp_tool]
fn s_bounded(small: u8, signed: i16, big: u64) -> Value {
    json!([small, signed, big])
}

/// Floats.
#[atp_tool]
fn s_floats(ratio: f32, weight: f64) -> Value {
    json!([ratio, weight])
}

/// Any JSON value.
#[atp_tool]
fn s_value(anything: Value) -> Value {
    json!({"anything": anything})
}

/// Any JSON value, or none.
#[atp_tool]
fn s_maybe_value(anything: Option<Value>) -> Value {
    json!({"anything": anything})
}

/// A recursive type.
#[atp_tool]
fn s_tree(tree: Tree) -> Value {
    json!(tree)
}

/// A k-way recursive enum.
#[atp_tool]
fn s_filter(filter: Filter, fallback: Option<Filter>) -> Value {
    json!([filter, fallback])
}

/// Two self-references per level.
#[atp_tool]
fn s_node(node: Node) -> Value {
    json!(node)
}

/// A tuple.
#[atp_tool]
fn s_tuple(pair: (String, u8)) -> Value {
    json!(pair)
}

/// An optional struct.
#[atp_tool]
fn s_optional_struct(address: Option<Address>, flag: bool) -> Value {
    json!([address, flag])
}

/// A list of tagged enums.
#[atp_tool]
fn s_shapes(shapes: Vec<Shape>) -> Value {
    json!(shapes)
}

/// Arguments tried on a tool: whether the MCP schema accepts them, and
/// whether the tool does. Never accepted by the schema and refused by the
/// tool: the schema is never looser than the tool.
struct Case {
    args: Value,
    schema: bool,
    tool: bool,
}

/// The schema and the tool accept `args`.
fn y(args: Value) -> Case {
    Case {
        args,
        schema: true,
        tool: true,
    }
}

/// Both refuse `args`.
fn n(args: Value) -> Case {
    Case {
        args,
        schema: false,
        tool: false,
    }
}

/// The schema refuses `args`, the tool takes them anyway: what models send
/// that lenient reading converts ("3" for 3), and unknown arguments (which
/// the tool ignores).
fn lax(args: Value) -> Case {
    Case {
        args,
        schema: false,
        tool: true,
    }
}

/// Each tool, the arguments tried on it.
fn table() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("s_none", vec![y(json!({})), lax(json!({"extra": 1}))]),
        (
            "s_flattened",
            vec![
                y(json!({"placed": {"at": 1, "kind": "circle", "r": 2}})),
                n(json!({"placed": {"at": 1}})),
                n(json!({"placed": {"kind": "square", "side": 1}})),
            ],
        ),
        (
            "s_char",
            vec![
                y(json!({"initial": "x"})),
                n(json!({"initial": "xy"})),
                n(json!({"initial": ""})),
            ],
        ),
        (
            "s_options",
            vec![
                y(json!({})),
                y(json!({"limit": null, "name": null, "order": null})),
                y(json!({"limit": 3, "name": "a", "order": "newest"})),
                y(json!({"limit": 3.0})),
                n(json!({"limit": 3.5})),
                n(json!({"limit": -1})),
                n(json!({"order": "oldest"})),
                lax(json!({"limit": "3"})),
            ],
        ),
        (
            "s_defaulted",
            vec![
                y(json!({"query": "q"})),
                y(json!({"query": "q", "limit": null, "order": null})),
                y(json!({"query": "q", "limit": 7, "order": "relevance"})),
                n(json!({"query": null})),
                n(json!({})),
                n(json!({"query": 5})),
            ],
        ),
        (
            "s_nested",
            vec![
                y(json!({"address": {"city": "Oslo"}})),
                y(json!({"address": {"city": "Oslo", "zip": null}})),
                y(json!({"address": {"city": "Oslo", "zip": "0150"}})),
                n(json!({"address": {"zip": "0150"}})),
                n(json!({"address": null})),
            ],
        ),
        (
            "s_renamed",
            vec![
                y(json!({"person": {"firstName": "Ada", "years": 36}})),
                y(json!({"person": {"firstName": "Ada", "years": 36, "nicknames": ["A"]}})),
                n(json!({"person": {"first_name": "Ada", "years": 36}})),
                n(json!({"person": {"firstName": "Ada", "years": 256}})),
                n(json!({"person": {"firstName": "Ada", "years": 36, "nicknames": null}})),
            ],
        ),
        (
            "s_unit_enum",
            vec![
                y(json!({"order": "newest"})),
                n(json!({"order": "Newest"})),
                n(json!({"order": null})),
            ],
        ),
        (
            "s_tagged",
            vec![
                y(json!({"shape": {"kind": "circle", "r": 1.5}})),
                y(json!({"shape": {"kind": "square", "side": 2}})),
                n(json!({"shape": {"kind": "circle", "side": 2}})),
                n(json!({"shape": {"kind": "triangle"}})),
            ],
        ),
        (
            "s_untagged",
            vec![
                y(json!({"id": 7})),
                y(json!({"id": "seven"})),
                n(json!({"id": -7})),
                n(json!({"id": true})),
            ],
        ),
        (
            "s_adjacent",
            vec![
                y(json!({"event": {"t": "click", "c": {"x": 1, "y": -2}}})),
                y(json!({"event": {"t": "key", "c": "a"}})),
                y(json!({"event": {"t": "idle"}})),
                n(json!({"event": {"t": "key"}})),
                n(json!({"event": {"t": "click", "c": {"x": 1}}})),
            ],
        ),
        (
            "s_external",
            vec![
                y(json!({"op": {"add": 5}})),
                y(json!({"op": "neg"})),
                y(json!({"op": {"scale": {"by": 0.5}}})),
                n(json!({"op": {"add": 5, "neg": null}})),
                n(json!({"op": "add"})),
            ],
        ),
        (
            "s_map",
            vec![
                y(json!({"counts": {}})),
                y(json!({"counts": {"a": 1, "b": -2}})),
                n(json!({"counts": {"a": "x"}})),
                n(json!({"counts": [1]})),
            ],
        ),
        (
            "s_vec_options",
            vec![
                y(json!({"values": []})),
                y(json!({"values": [1, null, 255]})),
                n(json!({"values": [256]})),
                n(json!({"values": null})),
            ],
        ),
        (
            "s_bounded",
            vec![
                y(json!({"small": 0, "signed": -32768, "big": 18_446_744_073_709_551_615u64})),
                y(json!({"small": 7.0, "signed": 3, "big": 1})),
                n(json!({"small": 7.5, "signed": 3, "big": 1})),
                n(json!({"small": 256, "signed": 0, "big": 0})),
                n(json!({"small": 1, "signed": 32768, "big": 0})),
                n(json!({"small": 1, "signed": 0, "big": -1})),
                lax(json!({"small": "7", "signed": "-3", "big": "1"})),
            ],
        ),
        (
            "s_floats",
            vec![
                y(json!({"ratio": 0.5, "weight": 1e10})),
                y(json!({"ratio": 1, "weight": -2})),
                n(json!({"ratio": "x", "weight": 1})),
            ],
        ),
        (
            "s_value",
            vec![
                y(json!({"anything": {"a": [1, "b"]}})),
                y(json!({"anything": 0})),
                y(json!({"anything": false})),
                n(json!({"anything": null})),
                n(json!({})),
            ],
        ),
        (
            "s_maybe_value",
            vec![
                y(json!({"anything": {"a": 1}})),
                y(json!({"anything": null})),
                y(json!({})),
                lax(json!({"anything": 1, "extra": 2})),
            ],
        ),
        (
            "s_tree",
            vec![
                y(json!({"tree": {"value": 1, "children": [{"value": 2, "children": []}]}})),
                n(json!({"tree": {"value": 1, "children": [{"value": 2}]}})),
                n(json!({"tree": {"value": 1}})),
            ],
        ),
        (
            "s_filter",
            vec![
                y(
                    json!({"filter": {"and": [{"eq": {"field": "a", "value": "1"}}, {"not": {"or": []}}]}}),
                ),
                y(json!({"filter": {"eq": {"field": "a", "value": "1"}}, "fallback": null})),
                y(json!({"filter": {"eq": {"field": "a", "value": "1"}}, "fallback": {"or": []}})),
                n(json!({"filter": {"xor": []}})),
                lax(json!({"filter": "{\"or\": []}"})),
                n(json!({"filter": {"not": {"eq": {"field": "a"}}}})),
            ],
        ),
        (
            "s_node",
            vec![
                y(
                    json!({"node": {"label": "r", "left": {"label": "l", "left": null, "right": null}, "right": null}}),
                ),
                y(json!({"node": {"label": "r"}})),
                n(json!({"node": {"left": null}})),
            ],
        ),
        (
            "s_tuple",
            vec![
                y(json!({"pair": ["a", 1]})),
                n(json!({"pair": ["a", 1, 2]})),
                n(json!({"pair": ["a"]})),
                n(json!({"pair": [1, 1]})),
            ],
        ),
        (
            "s_optional_struct",
            vec![
                y(json!({"flag": true})),
                y(json!({"address": null, "flag": false})),
                y(json!({"address": {"city": "Oslo"}, "flag": true})),
                n(json!({"address": {}, "flag": true})),
                n(json!({"flag": null})),
                lax(json!({"flag": "true"})),
            ],
        ),
        (
            "s_shapes",
            vec![
                y(json!({"shapes": []})),
                y(json!({"shapes": [{"kind": "circle", "r": 1}, {"kind": "square", "side": 1}]})),
                n(json!({"shapes": [{"kind": "circle"}]})),
            ],
        ),
    ]
}

/// The tools OpenAI's strict mode can't describe, and why.
const NOT_STRICT: [(&str, &str); 6] = [
    (
        "s_flattened",
        "`placed` has properties of its own and a union of shapes (a flattened enum), which strict mode can't describe",
    ),
    (
        "s_char",
        "`initial` has a length limit (`minLength`), which strict mode does not keep",
    ),
    (
        "s_map",
        "`counts` is an object with free keys (a map), which strict mode can't describe",
    ),
    (
        "s_value",
        "`anything` takes any JSON value, which strict mode can't describe",
    ),
    (
        "s_maybe_value",
        "`anything` takes any JSON value, which strict mode can't describe",
    ),
    (
        "s_tuple",
        "`pair` is a tuple (items by position), which strict mode can't describe",
    ),
];

/// Whether the tool refused the arguments (rather than ran).
fn refused(is_error: bool, text: &str) -> bool {
    is_error
        && (text.starts_with("Invalid parameter") || text.starts_with("Missing required parameter"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs jsonschema, openai-agents and google-genai (in .venv or ATP_REF_PYTHON): `cargo xtask test` sets it up and runs it"]
async fn every_consumer_takes_the_schemas_and_they_are_never_looser_than_the_tools() {
    init_logging();
    let table = table();
    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    assert!(names.len() >= 20);

    // The MCP side: rmcp's client lists the tools and calls them.
    let mcp_kit = ToolKitClient::builder("", "schema-kit")
        .transport(Transport::McpHttp)
        .tools(names.iter().copied())
        .build()
        .expect("builds");
    let served = HttpServed::start(mcp_kit).await;
    let mcp = http_client(&served.url, None).await;
    let listed = tokio::time::timeout(WAIT, mcp.list_all_tools())
        .await
        .expect("listed in time")
        .expect("tools/list answers");
    let input_schemas: HashMap<String, Value> = listed
        .iter()
        .map(|t| (t.name.to_string(), Value::Object((*t.input_schema).clone())))
        .collect();

    // The LLM side: the same tools through atp-dev, each provider's shape.
    let server = start_server().await;
    let toolkit = start_toolkit(&server, "schema-kit", Some(&names)).await;
    let dev = atp_dev::client::DevClient::new(server.base_url());
    let mut contexts = HashMap::new();
    for provider in ["openai", "anthropic", "mistral", "gemini"] {
        let context = dev
            .context("schema-kit", provider, "")
            .await
            .unwrap_or_else(|err| panic!("the {provider} context: {err}"));
        contexts.insert(provider, context);
    }
    let shaped = |provider: &str, name: &str| -> Value {
        contexts[provider]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name || t["function"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the {provider} context"))
            .clone()
    };

    let mut judged = Vec::new();
    for (name, instances) in &table {
        judged.push(json!({
            "name": name,
            "mcp": input_schemas.get(*name).unwrap_or_else(|| panic!("{name} listed over MCP")),
            "openai": shaped("openai", name),
            "anthropic": shaped("anthropic", name),
            "mistral": shaped("mistral", name),
            "gemini": shaped("gemini", name),
            "instances": instances.iter().map(|c| &c.args).collect::<Vec<_>>(),
        }));
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/schema_judges.py");
    let mut command =
        tokio::process::Command::new(reference_python("jsonschema openai-agents google-genai"));
    command.arg(script);
    let input = serde_json::to_vec(&json!({"tools": judged})).unwrap();
    let (verdicts, stderr) = run_json_script(command, input, WAIT * 4).await;
    eprintln!("judges: {}", verdicts["versions"]);

    let mut failures = Vec::new();
    let mut checks = 0;
    for (name, instances) in &table {
        let verdict = &verdicts["tools"][*name];
        let schema = &input_schemas[*name];
        checks += 1;
        if verdict["mcp_schema"] != json!([]) {
            failures.push(format!(
                "{name}: MCP schema refused: {}",
                verdict["mcp_schema"]
            ));
            continue;
        }
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let accepts = verdict["accepts"].as_array().expect("one per instance");
        assert_eq!(accepts.len(), instances.len(), "{name}");
        for (case, accepted) in instances.iter().zip(accepts) {
            let args = &case.args;
            checks += 2;
            if accepted != case.schema {
                failures.push(format!(
                    "{name}: the schema {} {args}\n  schema: {schema}",
                    if case.schema { "refuses" } else { "accepts" }
                ));
            }
            let (is_error, text, _) = call(&mcp, name, args.clone()).await;
            if refused(is_error, &text) == case.tool {
                failures.push(format!(
                    "{name}: the tool {} {args}: {text}",
                    if case.tool { "refuses" } else { "accepts" }
                ));
            }
        }

        for provider in ["openai_schema", "anthropic_schema", "mistral_schema"] {
            checks += 1;
            if verdict[provider] != json!([]) {
                failures.push(format!("{name}: {provider} refused: {}", verdict[provider]));
            }
        }
        let why = NOT_STRICT.iter().find(|(tool, _)| tool == name);
        for provider in ["openai", "anthropic"] {
            checks += 1;
            // Anthropic is shown the schema as is.
            let expected = if why.is_some() || provider == "anthropic" {
                "not strict"
            } else {
                "strict, unchanged"
            };
            if verdict[provider] != expected {
                failures.push(format!(
                    "{name}: {provider}: {} (expected {expected})\n  definition: {}",
                    verdict[provider],
                    shaped(provider, name)
                ));
            }
        }
        let said = contexts["openai"]["not_strict"]
            .get(*name)
            .and_then(Value::as_str);
        checks += 1;
        if said != why.map(|(_, reason)| *reason) {
            failures.push(format!("{name}: not strict because {said:?}"));
        }
        checks += 1;
        if verdict["gemini"] != "accepted" {
            failures.push(format!(
                "{name}: gemini {}\n  declaration: {}",
                verdict["gemini"],
                shaped("gemini", name)
            ));
        }
    }
    eprintln!("{checks} checks, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{}\njudges' stderr:\n{stderr}",
        failures.join("\n")
    );

    mcp.cancel().await.unwrap();
    served.stop().await;
    toolkit.shutdown().await.unwrap();
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Note {
    text: String,
}

/// Finds notes.
#[atp_tool]
fn find(query: String, limit: Option<u32>, tags: HashMap<String, String>) -> Vec<Note> {
    let _ = (limit, tags);
    vec![Note { text: query }]
}

/// The guide's "What the model sees", row by row.
#[test]
fn the_guides_table_of_renderings_is_true() {
    use atp_sdk::schema::Consumer;
    let tool = atp_sdk::registered_tools()
        .find(|t| t.name == "find")
        .unwrap();
    let limit = json!({"type": ["integer", "null"], "minimum": 0, "format": "uint32"});
    let tags = json!({"type": "object", "additionalProperties": {"type": "string"}});

    let mcp = tool.schema_for(Consumer::Mcp);
    assert_eq!(mcp.schema["properties"]["limit"], limit);
    assert_eq!(mcp.schema["properties"]["tags"], tags);
    assert_eq!(mcp.schema["$schema"], atp_sdk::schema::DRAFT_2020_12);
    assert_eq!(mcp.schema["additionalProperties"], false);

    let openai = tool.schema_for(Consumer::OpenAi);
    assert!(!openai.strict);
    assert_eq!(
        openai.not_strict.as_deref(),
        Some("`tags` is an object with free keys (a map), which strict mode can't describe")
    );
    assert_eq!(openai.schema["properties"]["limit"], limit);
    let anthropic = tool.schema_for(Consumer::Anthropic);
    assert_eq!(
        (anthropic.strict, &anthropic.schema),
        (false, &openai.schema)
    );
    assert_eq!(tool.schema_for(Consumer::Mistral).schema, openai.schema);

    let gemini = tool.schema_for(Consumer::Gemini);
    assert_eq!(
        gemini.schema["properties"]["limit"],
        json!({"type": "INTEGER", "nullable": true, "minimum": 0})
    );
    assert_eq!(gemini.schema["properties"]["tags"], json!({}));
}
