//! One command, no account, no key: a local ATP server (atp-dev, embedded)
//! and a toolkit served against it, called once per tool so you can see it
//! work, then left running with the playground open for you:
//!
//! ```text
//! cargo run --example playground
//! ```
//!
//! Open the printed address in a browser to see the tools, call them from
//! forms, and watch the live log. Ctrl-C stops both. `--port N` picks the
//! port (default 8787; 0 means any free port).

use std::net::SocketAddr;
use std::time::Duration;

use atp_sdk::{AuthToken, ToolKitClient, atp_tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Echoes the input text back, with its length.
#[atp_tool(name = "echo")]
fn echo(
    /// The text to send back.
    text: String,
) -> Value {
    json!({ "echo": text, "length": text.chars().count() })
}

/// How to round a price.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Rounding {
    /// To the cent.
    #[default]
    Cent,
    /// To the whole unit.
    Unit,
}

/// A priced quote.
#[derive(Debug, Serialize)]
struct Quote {
    items: usize,
    subtotal: f64,
    discount: f64,
    total: f64,
}

/// Prices a basket: the sum of the prices, times the quantity, less a
/// discount.
#[atp_tool(required = ["prices"])]
fn price_basket(
    /// The unit prices, e.g. `[2.5, 4]`.
    prices: Vec<f64>,
    /// How many of each (default 1).
    quantity: Option<u32>,
    /// A discount in percent, 0–100.
    discount_percent: f64,
    /// How to round the total.
    rounding: Rounding,
) -> Result<Quote, String> {
    if !(0.0..=100.0).contains(&discount_percent) {
        return Err(format!(
            "discount_percent must be between 0 and 100, not {discount_percent}"
        ));
    }
    let quantity = f64::from(quantity.unwrap_or(1));
    let subtotal = prices.iter().sum::<f64>() * quantity;
    let discount = subtotal * discount_percent / 100.0;
    let round = |x: f64| match rounding {
        Rounding::Cent => (x * 100.0).round() / 100.0,
        Rounding::Unit => x.round(),
    };
    Ok(Quote {
        items: prices.len(),
        subtotal: round(subtotal),
        discount: round(discount),
        total: round(subtotal - discount),
    })
}

/// Shows which account a token belongs to (a stand-in for a real API call:
/// it only reports the token's length).
#[atp_tool(
    auth_provider = "example",
    auth_type = "API Key",
    auth_with = "api_key"
)]
async fn whoami(token: AuthToken) -> Value {
    json!({ "account": "demo", "token_length": token.as_str().len() })
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(8787)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server, in this process; a busy port falls back to any free one.
    let port = port_from_args();
    let server = match atp_dev::DevServer::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .start()
        .await
    {
        Ok(server) => server,
        Err(_) => atp_dev::DevServer::start().await?,
    };

    // The toolkit, against it.
    let client = ToolKitClient::builder("dev", "playground-example")
        .base_url(server.base_url())
        .tools(["echo", "price_basket", "whoami"])
        .build()?;
    let stop = client.stop_handle();
    let toolkit = tokio::spawn(client.serve());
    server
        .wait_for_tools(&["echo", "price_basket", "whoami"], Duration::from_secs(10))
        .await?;

    // One call of each tool, as an agent would make them.
    println!("Toolkit 'playground-example' is serving 3 tools. Calling each once:\n");
    let calls = [
        ("echo", json!({ "text": "hello" }), None),
        (
            "price_basket",
            json!({ "prices": [2.5, 4.0], "quantity": 3, "discount_percent": 10 }),
            None,
        ),
        ("price_basket", json!({}), None),
        ("whoami", json!({}), Some("demo-token")),
        ("whoami", json!({}), None),
    ];
    for (tool, params, token) in calls {
        let options = atp_dev::CallOptions {
            auth_token: token.map(str::to_owned),
            ..Default::default()
        };
        let answer = server.call_with(tool, params.clone(), options).await?;
        println!(
            "  {tool} {params}{}\n    -> {}   ({:.2} ms)",
            if token.is_some() { " + token" } else { "" },
            answer.result,
            answer.latency.as_secs_f64() * 1000.0
        );
    }

    println!("\nPlayground: {}", server.playground_url());
    println!("  open it in a browser to call the tools and watch every call live;");
    println!(
        "  or from a terminal: cargo run -p atp-dev -- call --server {} echo text=hi",
        server.base_url()
    );
    println!("Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    stop.stop();
    toolkit.await??;
    server.shutdown().await;
    Ok(())
}
