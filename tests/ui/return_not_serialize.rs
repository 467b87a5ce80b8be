use atp_sdk::atp_tool;

struct Report {
    lines: Vec<String>,
}

/// Reports.
#[atp_tool]
fn report() -> Report {
    Report { lines: Vec::new() }
}

fn main() {}
