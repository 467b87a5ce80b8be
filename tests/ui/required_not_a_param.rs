use atp_sdk::atp_tool;

/// Creates a company.
#[atp_tool(required = ["name", "domian"])]
fn create_company(name: String, domain: String) -> String {
    format!("{name} {domain}")
}

fn main() {}
