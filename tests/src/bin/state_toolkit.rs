//! A toolkit whose tool takes `State<Visits>`, started with
//! `builder_from_env()?.state(..).run()` — or, without
//! `ATP_GIVE_STATE=1`, without the state: then `run()` must fail before
//! connecting, naming the tool and the type.

use std::sync::atomic::{AtomicU64, Ordering};

use atp_sdk::{State, ToolKitClient, atp_tool};

/// The visits so far.
#[derive(Default)]
struct Visits(AtomicU64);

/// Counts a visit.
#[atp_tool]
fn visits(visits: State<Visits>) -> u64 {
    visits.0.fetch_add(1, Ordering::Relaxed) + 1
}

fn main() -> Result<(), atp_sdk::Error> {
    let builder = ToolKitClient::builder_from_env()?.tools(["visits"]);
    let builder = if std::env::var_os("ATP_GIVE_STATE").is_some() {
        builder.state(Visits::default())
    } else {
        builder
    };
    builder.run()
}
