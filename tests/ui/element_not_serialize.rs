use std::collections::HashMap;

use atp_sdk::atp_tool;

struct Report {
    lines: Vec<String>,
}

/// Reports, as a list: the error is on `Report`, with the SDK's message.
#[atp_tool]
fn reports() -> Vec<Report> {
    Vec::new()
}

/// Reports by name, behind a `Result`.
#[atp_tool]
fn by_name() -> std::io::Result<HashMap<String, Option<Report>>> {
    Ok(HashMap::new())
}

fn main() {}
