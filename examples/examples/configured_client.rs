//! Configuring the toolkit in code instead of the environment, inside a
//! tokio runtime of your own, with a stop handle.
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example configured_client
//! ```

use std::time::Duration;

use atp_sdk::{ToolKitClient, atp_tool};

/// Tells the time on the toolkit's machine (seconds since the Unix epoch).
#[atp_tool]
fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reverses a string.
#[atp_tool]
fn reverse(text: String) -> String {
    text.chars().rev().collect()
}

#[tokio::main]
async fn main() -> Result<(), atp_sdk::Error> {
    // Values from code, falling back to the variables `atp-dev` sets.
    let api_key = std::env::var("ATP_API_KEY").unwrap_or_else(|_| "dev".to_owned());
    let base_url =
        std::env::var("ATP_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8787".to_owned());

    let client = ToolKitClient::builder(api_key, "configured-example")
        .base_url(base_url)
        .tools(["unix_time", "reverse"])
        .ping_interval(Duration::from_secs(20))
        .shutdown_timeout(Duration::from_secs(5))
        .build()?;

    let stop = client.stop_handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.stop();
    });
    client.serve().await
}
