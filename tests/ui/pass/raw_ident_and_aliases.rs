use atp_sdk::atp_tool;

/// A raw identifier parameter is named without `r#`.
#[atp_tool]
fn classify(r#type: String, count: Option<u8>) -> std::io::Result<String> {
    Ok(format!("{type}{count:?}", type = r#type))
}

/// No parameters, unit return.
#[atp_tool]
fn nothing() {}

/// Async with a reference-free generic-free signature.
#[atp_tool]
async fn wait(ms: u64) -> u64 {
    ms
}

fn main() {
    let tool = atp_sdk::registered_tools().find(|t| t.name == "classify").unwrap();
    assert_eq!(tool.params[0].name, "type");
    nothing();
    let _ = wait(1);
}
