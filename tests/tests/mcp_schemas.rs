//! The parameter schemas MCP clients are shown, for types whose schema
//! refers to itself: a tree, a node with two self-references, a k-way
//! recursive filter enum. Served over streamable HTTP in-process and
//! judged by rmcp's client.
//!
//! Needs the `mcp` feature: `cargo test -p atp-tests --features mcp`.
#![cfg(feature = "mcp")]

use std::time::Instant;

use atp_sdk::{ToolKitClient, Transport, atp_tool};
use atp_tests::mcp_client::{HttpServed, call, http_client};
use atp_tests::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// A tree of numbers.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Tree {
    value: i64,
    children: Vec<Tree>,
}

/// A binary node: two self-references per level.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Node {
    label: String,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

/// A filter language: three self-references per level.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Eq { field: String, value: String },
}

fn sum(tree: &Tree) -> i64 {
    tree.value + tree.children.iter().map(sum).sum::<i64>()
}

fn depth(node: &Option<Box<Node>>) -> usize {
    node.as_ref()
        .map_or(0, |n| 1 + depth(&n.left).max(depth(&n.right)))
}

fn count(filter: &Filter) -> usize {
    match filter {
        Filter::And(all) | Filter::Or(all) => 1 + all.iter().map(count).sum::<usize>(),
        Filter::Not(inner) => 1 + count(inner),
        Filter::Eq { field, value } => usize::from(!field.is_empty() || !value.is_empty()),
    }
}

/// Sums a tree.
#[atp_tool]
fn tree_sum(tree: Tree) -> i64 {
    sum(&tree)
}

/// The depth of a binary node.
#[atp_tool]
fn node_depth(node: Node) -> Value {
    json!({"label": node.label, "depth": 1 + depth(&node.left).max(depth(&node.right))})
}

/// Counts a filter's terms.
#[atp_tool]
fn filter_terms(filter: Filter, fallback: Option<Filter>) -> usize {
    count(&filter) + fallback.as_ref().map_or(0, count)
}

/// Guards review fault (round 2) 1: `$ref`s were inlined 16 levels deep,
/// so a type referring to itself k times per level became k^16 copies
/// (a 29.6 MB `tools/list` for a tree, 19.7 s before `initialize` was
/// answered, an abort on memory for a filter enum). Recursive types stay
/// `$defs` + `$ref`: a few kB, listed at once, and the calls work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_parameter_types_are_served_as_small_references() {
    init_logging();
    let client = ToolKitClient::builder("", "mcp-recursive-kit")
        .transport(Transport::McpHttp)
        .tools(["tree_sum", "node_depth", "filter_terms"])
        .build()
        .expect("builds");
    let served = HttpServed::start(client).await;
    let url = served.url.clone();

    let started = Instant::now();
    let mcp = http_client(&url, None).await;
    let initialized = started.elapsed();
    let tools = tokio::time::timeout(WAIT, mcp.list_all_tools())
        .await
        .expect("listed in time")
        .expect("tools/list answers");
    eprintln!(
        "initialize answered in {initialized:?}; tools/list {} bytes",
        serde_json::to_string(&tools).unwrap().len()
    );
    assert_eq!(tools.len(), 3);
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        let text = schema.to_string();
        assert!(
            text.len() < 4096,
            "{}: a {}-byte schema: {text}",
            tool.name,
            text.len()
        );
        assert_eq!(schema["type"], "object", "{text}");
        // Every reference points at a definition that is there.
        let defs = schema["$defs"].as_object().expect("$defs kept");
        for (at, _) in text.match_indices("\"$ref\":\"#/$defs/") {
            let name: String = text[at + 16..].chars().take_while(|c| *c != '"').collect();
            assert!(
                defs.contains_key(&name),
                "{}: #/$defs/{name} missing",
                tool.name
            );
        }
    }

    let tree = json!({"value": 1, "children": [{"value": 2, "children": []}, {"value": 3, "children": [{"value": 4, "children": []}]}]});
    let (is_error, text, _) = call(&mcp, "tree_sum", json!({"tree": tree})).await;
    assert_eq!((is_error, text.as_str()), (false, "10"));
    let node =
        json!({"label": "root", "left": {"label": "l", "left": {"label": "ll"}}, "right": null});
    let (is_error, _, structured) = call(&mcp, "node_depth", json!({"node": node})).await;
    assert!(!is_error);
    assert_eq!(structured, Some(json!({"label": "root", "depth": 3})));
    let filter = json!({"and": [{"eq": {"field": "a", "value": "1"}}, {"not": {"or": [{"eq": {"field": "b", "value": "2"}}]}}]});
    let (is_error, text, _) = call(&mcp, "filter_terms", json!({"filter": filter})).await;
    assert_eq!((is_error, text.as_str()), (false, "5"));

    mcp.cancel().await.unwrap();
    served.stop().await;
}
