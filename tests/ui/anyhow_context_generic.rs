// rustc's advice for anyhow's `Context` used as a type is a generic
// parameter bound by it: the macro says what to do instead.
use anyhow::Context;
use atp_sdk::atp_tool;

/// Reads a file.
#[atp_tool]
fn read<C: Context>(path: String, ctx: C) -> anyhow::Result<String> {
    let _ = ctx;
    std::fs::read_to_string(&path).context("reading")
}

/// Reads a file, the other way rustc suggests.
#[atp_tool]
fn read_too(path: String, ctx: impl Context) -> anyhow::Result<String> {
    let _ = ctx;
    std::fs::read_to_string(&path).context("reading")
}

fn main() {}
