//! Creates companies in HubSpot with the user's OAuth2 token.
//!
//! The platform injects the token of the user's HubSpot connection into
//! each call; the tool receives it as an `AuthToken` and calls the HubSpot
//! CRM API with it. Locally, pass a token yourself:
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example hubspot
//! cargo run -p atp-dev -- call create_company name=Acme domain=acme.com --token "$HUBSPOT_TOKEN"
//! ```

use atp_sdk::{AuthToken, atp_tool};
use serde_json::{Value, json};

/// What can go wrong talking to HubSpot.
#[derive(Debug, thiserror::Error)]
enum HubSpotError {
    #[error("HubSpot request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("HubSpot answered {status}: {body}")]
    Api { status: u16, body: String },
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
    token: AuthToken,
) -> Result<Value, HubSpotError> {
    let mut properties = json!({ "name": name, "domain": domain });
    if let Some(industry) = industry {
        properties["industry"] = json!(industry);
    }
    let response = http()
        .post("https://api.hubapi.com/crm/v3/objects/companies")
        .bearer_auth(token.as_str())
        .json(&json!({ "properties": properties }))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(HubSpotError::Api {
            status: status.as_u16(),
            body,
        });
    }
    Ok(response.json().await?)
}

/// One HTTP client for the process (connection reuse), on rustls.
fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        // The SDK builds on rustls with the `ring` provider; make it the
        // process default so this reqwest client uses it too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .user_agent("atp-sdk-example-hubspot")
            .build()
            .expect("the HTTP client builds")
    })
}

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
