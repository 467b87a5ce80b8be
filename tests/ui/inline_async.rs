use atp_sdk::atp_tool;

/// `inline` is for a plain fn: an async fn already runs in the call's task.
#[atp_tool(inline)]
async fn add(a: f64, b: f64) -> f64 {
    a + b
}

fn main() {}
