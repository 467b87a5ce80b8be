//! `async fn` tools run as tasks; plain `fn` tools run on the blocking
//! thread pool. Either way calls run concurrently, and a slow tool never
//! stalls the connection.
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example async_tool
//! cargo run -p atp-dev -- call slow_lookup key=a delay_ms=500
//! cargo run -p atp-dev -- call hash_rounds text=hello rounds=100000
//! ```

use std::time::Duration;

use atp_sdk::atp_tool;
use serde_json::{Value, json};

/// Looks a key up in a slow (simulated) remote store.
#[atp_tool]
async fn slow_lookup(
    /// The key to look up.
    key: String,
    /// How long the store takes, in milliseconds (default 200).
    delay_ms: Option<u64>,
) -> Value {
    tokio::time::sleep(Duration::from_millis(delay_ms.unwrap_or(200))).await;
    json!({ "key": key, "value": key.to_uppercase() })
}

/// CPU-bound work: hashes `text` `rounds` times (a plain `fn`: it runs on the
/// SDK's worker threads, not on the connection's).
#[atp_tool]
fn hash_rounds(text: String, rounds: u32) -> String {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for _ in 0..rounds {
        for byte in text.bytes() {
            state ^= u64::from(byte);
            state = state.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{state:016x}")
}

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
