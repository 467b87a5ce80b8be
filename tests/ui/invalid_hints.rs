use atp_sdk::atp_tool;

/// A hint given twice, and one that is not a bool.
#[atp_tool(read_only, read_only = false, destructive = "yes", title = 3)]
fn tidy() -> String {
    String::new()
}

fn main() {}
