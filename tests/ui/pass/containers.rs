//! Containers of types that are parameters and results: the element
//! checks the expansion adds refuse none of them.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use atp_sdk::atp_tool;

#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Row {
    id: u32,
}

/// Every container the checks look into.
#[atp_tool]
fn containers(
    rows: Vec<Row>,
    by_name: HashMap<String, Vec<Row>>,
    ordered: Option<BTreeMap<String, Row>>,
    queue: VecDeque<Option<Row>>,
    tags: HashSet<String>,
    text: Box<str>,
    pair: Option<(Row, String)>,
    fixed: Option<[u8; 4]>,
) -> Vec<(String, Row)> {
    let _ = (by_name, ordered, queue, tags, text, pair, fixed);
    rows.into_iter().map(|r| (r.id.to_string(), r)).collect()
}

/// A `Result` of a map, and borrowed strings in a list.
#[atp_tool]
fn names() -> anyhow::Result<BTreeMap<String, Vec<&'static str>>> {
    Ok(BTreeMap::new())
}

/// A boxed slice.
#[atp_tool]
fn boxed() -> Box<[Row]> {
    Vec::new().into_boxed_slice()
}

fn main() {}
