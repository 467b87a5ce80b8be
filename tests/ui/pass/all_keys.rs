use atp_sdk::{atp_tool, AuthToken};
use serde_json::{json, Value};

/// Ignored: `description` wins.
#[atp_tool(
    name = "create-company_v2",
    description = "Creates a company.",
    required = ["name"],
    auth_provider = "hubspot",
    auth_type = "OAuth2",
    auth_with = "access_token",
    timeout = "30s",
    scopes = ["crm:write", "crm.companies/create"],
    strict_args,
    crate = "::atp_sdk"
)]
async fn create_company(
    /// The name.
    name: String,
    size: u32,
    tags: Vec<String>,
    note: Option<String>,
    token: AuthToken,
) -> Result<Value, String> {
    Ok(json!({ "name": name, "size": size, "tags": tags, "note": note, "t": token.as_str().len() }))
}

fn main() {
    let tool = atp_sdk::registered_tools().find(|t| t.name == "create-company_v2").unwrap();
    assert_eq!(tool.description, "Creates a company.");
    assert_eq!(tool.required_params(), ["name"]);
    assert_eq!(tool.scopes, ["crm:write", "crm.companies/create"]);
    assert!(tool.strict_args);
    let _ = create_company;
}
