use atp_sdk::atp_tool;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Point {
    x: i32,
}

/// Plots.
#[atp_tool(required = ["label"])]
fn plot(label: String, point: Point) -> String {
    format!("{label} {}", point.x)
}

fn main() {}
