// anyhow's `Context` imported by name, and a tool that asks for "Context":
// the macro must say which `Context` it takes, not leave the user with a
// trait used as a type.
use anyhow::Context;
use atp_sdk::atp_tool;

/// Reads a file.
#[atp_tool]
fn read(path: String, ctx: Context) -> anyhow::Result<String> {
    let _ = ctx;
    std::fs::read_to_string(&path).context("reading")
}

fn main() {}
