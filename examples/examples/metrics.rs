//! A toolkit's metrics in Prometheus: calls, errors and latency per tool,
//! calls in flight and queued, the connection, reconnects — recorded by
//! atp-sdk through the `metrics` facade and served here at `/metrics` by
//! `metrics-exporter-prometheus` (any other `metrics` exporter works the
//! same: StatsD, OpenTelemetry, ...).
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example metrics
//! cargo run -p atp-dev -- call lookup_price sku=A-1
//! curl -s http://127.0.0.1:9000/metrics | grep atp_
//! ```
//!
//! `ATP_METRICS_ADDR` moves the listener (default `127.0.0.1:9000`).

use std::net::SocketAddr;

use atp_sdk::atp_tool;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Looks up the price of a product by its SKU.
#[atp_tool]
async fn lookup_price(
    /// The product's SKU, e.g. "A-1".
    sku: String,
) -> Result<f64, String> {
    match sku.as_str() {
        "A-1" => Ok(9.5),
        "B-2" => Ok(120.0),
        other => Err(format!("no product with SKU {other}")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("ATP_METRICS_ADDR")
        .ok()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9000)));
    // Install the recorder before serving: atp-sdk registers each tool's
    // metrics at its first call. Latencies as real histogram buckets.
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full("atp_call_duration_seconds".to_owned()),
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0],
        )?
        .install()?;
    eprintln!("metrics at http://{addr}/metrics");
    atp_sdk::run()?;
    Ok(())
}
