//! `State`, `Context` and every spelling of a `Result` compile, and a
//! `Result` under any name answers `{"error": ...}`.
use atp_sdk::{atp_tool, Context, State};

struct Counter(std::sync::atomic::AtomicU64);

type AppResult<T> = Result<T, String>;

mod mine {
    /// A crate's own `Result` alias, as many crates have.
    pub type Result<T> = std::result::Result<T, std::fmt::Error>;
}

/// Counts, with the context.
#[atp_tool]
fn count(counter: State<Counter>, ctx: Context, step: u64) -> u64 {
    let _ = ctx.request_id();
    counter.0.fetch_add(step, std::sync::atomic::Ordering::Relaxed) + step
}

/// An alias of `Result` under another name.
#[atp_tool]
fn alias(n: i64) -> AppResult<i64> {
    if n < 0 { Err("neg".to_owned()) } else { Ok(n) }
}

/// `io::Result`.
#[atp_tool]
async fn io(n: u8) -> std::io::Result<u8> {
    Ok(n)
}

/// `anyhow::Result`.
#[atp_tool]
fn chained() -> anyhow::Result<u8> {
    Err(anyhow::anyhow!("root")).map_err(|e| e.context("outer"))
}

/// A crate's own alias named `Result`.
#[atp_tool]
fn own(n: u8) -> mine::Result<u8> {
    Ok(n)
}

fn main() {
    let alias = atp_sdk::registered_tools().find(|t| t.name == "alias").unwrap();
    let atp_sdk::Handler::Blocking(call) = alias.handler else { panic!("a plain fn") };
    let mut params = serde_json::Map::new();
    params.insert("n".to_owned(), serde_json::json!(-1));
    let answer = call(atp_sdk::CallArgs::new(params, None)).unwrap_err();
    assert_eq!(answer.to_string(), "neg");
    let chained = atp_sdk::registered_tools().find(|t| t.name == "chained").unwrap();
    let atp_sdk::Handler::Blocking(call) = chained.handler else { panic!("a plain fn") };
    assert_eq!(
        call(atp_sdk::CallArgs::default()).unwrap_err().to_string(),
        "outer: root"
    );
    let count = atp_sdk::registered_tools().find(|t| t.name == "count").unwrap();
    assert_eq!(count.params.len(), 1, "only `step` is a tool parameter");
    assert_eq!(count.states.len(), 1);
}
