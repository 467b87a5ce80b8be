//! Creates companies in HubSpot with the user's OAuth2 token.
//!
//! The platform injects the token of the user's HubSpot connection into
//! each call; the tool receives it as an `AuthToken` and calls the HubSpot
//! CRM API with it, through one HTTP client the program shares with its
//! tools as `State<Crm>`. Locally, pass a token yourself:
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example hubspot
//! cargo run -p atp-dev -- call create_company name=Acme domain=acme.com --token "$HUBSPOT_TOKEN"
//! ```

use anyhow::{Context as _, bail};
use atp_sdk::{AuthToken, State, ToolKitClient, atp_tool};
use serde_json::{Value, json};

/// What the tools share: one HTTP client (connection reuse) and where the
/// API is.
struct Crm {
    http: reqwest::Client,
    base: String,
}

/// Creates a company in HubSpot.
#[atp_tool(
    name = "create_company",
    required = ["name", "domain"],
    auth_provider = "hubspot",
    auth_type = "OAuth2",
    auth_with = "access_token"
)]
async fn create_company(
    /// The company's name.
    name: String,
    /// The company's web domain, e.g. `acme.com`.
    domain: String,
    /// The industry, as HubSpot names it (e.g. `COMPUTER_SOFTWARE`).
    industry: Option<String>,
    crm: State<Crm>,
    token: AuthToken,
) -> anyhow::Result<Value> {
    let mut properties = json!({ "name": name, "domain": domain });
    if let Some(industry) = industry {
        properties["industry"] = json!(industry);
    }
    let response = crm
        .http
        .post(format!("{}/crm/v3/objects/companies", crm.base))
        .bearer_auth(token.as_str())
        .json(&json!({ "properties": properties }))
        .send()
        .await
        .context("calling HubSpot")?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("HubSpot answered {status}: {body}");
    }
    response.json().await.context("reading HubSpot's answer")
}

fn main() -> anyhow::Result<()> {
    // The SDK builds on rustls with the `ring` provider; make it the
    // process default so this reqwest client uses it too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let crm = Crm {
        http: reqwest::Client::builder()
            .user_agent("atp-sdk-example-hubspot")
            .build()
            .context("building the HTTP client")?,
        base: std::env::var("HUBSPOT_API").unwrap_or_else(|_| "https://api.hubapi.com".to_owned()),
    };
    ToolKitClient::builder_from_env()?.state(crm).run()?;
    Ok(())
}
