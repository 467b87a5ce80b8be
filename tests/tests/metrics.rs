//! The toolkit's metrics, scraped from a real Prometheus exporter after a
//! few calls through a real atp-dev: counts per tool and outcome,
//! latencies, the connection gauge, the in-flight and queued gauges.

use std::time::Duration;

use atp_tests::*;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::json;

/// The exporter's text, once it holds every one of `wanted`.
async fn scrape_until(url: &str, wanted: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = http()
            .get(url)
            .send()
            .await
            .expect("the exporter answers")
            .text()
            .await
            .unwrap();
        if wanted.iter().all(|line| text.lines().any(|l| l == *line)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing from /metrics: {:?}\n{text}",
            wanted
                .iter()
                .filter(|line| !text.lines().any(|l| l == **line))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_outcomes_and_the_connection_are_scraped_from_prometheus() {
    // A free port for the exporter's listener.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .expect("the exporter starts");
    let server = start_server().await;
    let toolkit = start_toolkit(
        &server,
        "metrics-kit",
        Some(&["echo", "fail", "explode", "stuck_async"]),
    )
    .await;
    for params in [json!({"text": "a"}), json!({"text": "b"}), json!({})] {
        server.call("echo", params, None).await.unwrap();
    }
    server
        .call("fail", json!({"reason": "x"}), None)
        .await
        .unwrap();
    server.call("explode", json!({}), None).await.unwrap();
    server
        .call("stuck_async", json!({"ms": 5000}), None)
        .await
        .unwrap();

    let url = format!("http://{addr}/metrics");
    let text = scrape_until(
        &url,
        &[
            r#"atp_calls_total{tool="echo",outcome="ok"} 2"#,
            r#"atp_calls_total{tool="echo",outcome="invalid"} 1"#,
            r#"atp_calls_total{tool="fail",outcome="tool_error"} 1"#,
            r#"atp_calls_total{tool="explode",outcome="panic"} 1"#,
            r#"atp_calls_total{tool="stuck_async",outcome="timeout"} 1"#,
            r#"atp_call_duration_seconds_count{tool="echo"} 3"#,
            "atp_connected 1",
            "atp_calls_in_flight 0",
            "atp_calls_queued 0",
        ],
    )
    .await;
    assert!(
        text.contains(r#"atp_calls_total{tool="echo",outcome="timeout"} 0"#),
        "every outcome of a called tool is registered, at 0 until it happens:\n{text}"
    );
    toolkit.shutdown().await.unwrap();
    // A stop shows in the connection gauge.
    scrape_until(&url, &["atp_connected 0"]).await;
    server.shutdown().await;
}
