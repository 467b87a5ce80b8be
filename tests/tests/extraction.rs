//! Open extraction: what a tool takes besides its JSON parameters is
//! whatever implements `FromCall`, decided by the compiler, not by the
//! type's name. A tenant read from the token and a connection drawn from a
//! pooled `State`, called through a real atp-dev over a real WebSocket; a
//! user's own types called `State` and `Context`, which are parameters.

use std::sync::atomic::{AtomicU32, Ordering};

use atp_sdk::{CallError, CallParts, Context, FromCall, State, atp_tool, registered_tools};
use atp_tests::{builder, call, call_with_token, spawn, start_server};
use serde_json::{Value, json};

/// The tenant a call acts for: the part of the token before the first `.`.
struct Tenant(String);

impl FromCall for Tenant {
    type Rejection = CallError;

    fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
        let token = call.token().ok_or(CallError::MissingAuthToken)?;
        match token.as_str().split_once('.') {
            Some((tenant, _)) if !tenant.is_empty() => Ok(Tenant(tenant.to_owned())),
            _ => Err(CallError::Tool("the token names no tenant".into())),
        }
    }
}

/// A pool of numbered connections, shared with the tools.
#[derive(Default)]
struct Pool {
    next: AtomicU32,
}

/// One connection, drawn from the `State<Pool>` for the call.
struct Conn(u32);

impl FromCall for Conn {
    type Rejection = CallError;

    fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
        let pool: State<Pool> = call.state()?;
        Ok(Conn(pool.next.fetch_add(1, Ordering::SeqCst)))
    }
}

/// How many times `list_deals` ran.
static DEALS_RAN: AtomicU32 = AtomicU32::new(0);

/// Lists the deals at a stage, for the caller's tenant.
#[atp_tool(auth_provider = "crm")]
fn list_deals(stage: String, tenant: Tenant, conn: Conn, ctx: Context) -> Value {
    DEALS_RAN.fetch_add(1, Ordering::SeqCst);
    json!({
        "stage": stage,
        "tenant": tenant.0,
        "conn": conn.0,
        "request": ctx.request_id().to_string().is_empty(),
    })
}

/// One page of a tenant's deals; `page` left out of `required` takes its
/// default, and the tenant is still made from the token.
#[atp_tool(auth_provider = "crm", required = ["stage"])]
async fn deals_page(stage: String, page: u32, tenant: Tenant) -> String {
    format!("{} {stage} page {page}", tenant.0)
}

/// A user's own types that share the SDK's names: parameters like any other.
mod mine {
    /// A workflow state.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    pub(crate) struct State {
        /// How far along.
        pub(crate) level: u8,
    }

    /// Free text about the call.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    pub(crate) struct Context(pub(crate) String);
}

/// Moves a workflow on.
#[atp_tool]
fn advance(state: mine::State, context: mine::Context) -> String {
    format!("level {} ({})", state.level + 1, context.0)
}

fn tool(name: &str) -> &'static atp_sdk::ToolDef {
    registered_tools()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is registered"))
}

#[test]
fn only_json_parameters_are_in_the_schema() {
    let deals = tool("list_deals");
    assert_eq!(deals.required_params(), ["stage"]);
    let schema = deals.parameters_schema();
    assert_eq!(
        schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["stage"],
        "the tenant, the connection and the context are not parameters: {schema}"
    );
    assert!(deals.context, "a type of the user's may read the context");
    assert!(
        deals.states.is_empty(),
        "`Conn` reads its state itself; `build()` checks only `State<T>` arguments"
    );

    let page = tool("deals_page");
    assert_eq!(page.required_params(), ["stage"]);
    let properties = page.parameters_schema()["properties"].clone();
    assert_eq!(
        properties.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["stage", "page"]
    );

    let advance = tool("advance");
    assert_eq!(advance.required_params(), ["state", "context"]);
    let schema = advance.parameters_schema();
    assert_eq!(
        schema["properties"]["state"]["properties"]["level"]["type"], "integer",
        "the user's `State` is described as the struct it is: {schema}"
    );
    assert_eq!(schema["properties"]["context"]["type"], "string");
    assert!(
        !advance.context && advance.states.is_empty(),
        "neither is the SDK's"
    );
}

#[tokio::test]
async fn a_tenant_from_the_token_and_a_connection_from_a_pooled_state() {
    let server = start_server().await;
    let client = builder(
        &server,
        "crm-kit",
        Some(&["list_deals", "deals_page", "advance"]),
    )
    .state(Pool::default())
    .build()
    .expect("the toolkit builds");
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["list_deals", "deals_page", "advance"], atp_tests::WAIT)
        .await
        .expect("the tools connect");

    let first = call_with_token(
        &server,
        "list_deals",
        json!({"stage": "won"}),
        Some("acme.s3cret"),
    )
    .await;
    assert_eq!(
        first,
        json!({"stage": "won", "tenant": "acme", "conn": 0, "request": false})
    );
    let second = call_with_token(
        &server,
        "list_deals",
        json!({"stage": "lost"}),
        Some("globex.k3y"),
    )
    .await;
    assert_eq!(
        (&second["tenant"], &second["conn"]),
        (&json!("globex"), &json!(1)),
        "each call draws its own connection: {second}"
    );
    assert_eq!(DEALS_RAN.load(Ordering::SeqCst), 2);

    // A rejection is the call's answer, and the tool does not run; the
    // arguments after the rejected one are not made (no connection drawn).
    let refused = call_with_token(
        &server,
        "list_deals",
        json!({"stage": "won"}),
        Some("no-tenant-here"),
    )
    .await;
    assert_eq!(refused, json!({"error": "the token names no tenant"}));
    assert_eq!(DEALS_RAN.load(Ordering::SeqCst), 2, "the tool did not run");
    let third = call_with_token(
        &server,
        "list_deals",
        json!({"stage": "open"}),
        Some("acme.s3cret"),
    )
    .await;
    assert_eq!(third["conn"], 2, "the refused call drew no connection");

    // Left out of `required`: the parameter takes its default, the tenant
    // is still made.
    let page = call_with_token(
        &server,
        "deals_page",
        json!({"stage": "won"}),
        Some("acme.s3cret"),
    )
    .await;
    assert_eq!(page, json!("acme won page 0"));

    // The user's own `State` and `Context` are read from the arguments.
    let advanced = call(
        &server,
        "advance",
        json!({"state": {"level": 2}, "context": "by hand"}),
    )
    .await;
    assert_eq!(advanced, json!("level 3 (by hand)"));
    let missing = call(&server, "advance", json!({"state": {"level": 2}})).await;
    assert_eq!(
        missing,
        json!({"error": "Missing required parameter: context"})
    );

    toolkit.shutdown().await.expect("the toolkit stops cleanly");
}

#[tokio::test]
async fn without_the_pool_the_connection_says_what_is_missing() {
    let server = start_server().await;
    let client = builder(&server, "poolless-kit", Some(&["list_deals"]))
        .build()
        .expect("the toolkit builds: `Conn` is the user's, not a `State<T>` argument");
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["list_deals"], atp_tests::WAIT)
        .await
        .expect("the tool connects");
    let answer = call_with_token(
        &server,
        "list_deals",
        json!({"stage": "won"}),
        Some("acme.s3cret"),
    )
    .await;
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("State<") && error.contains("Pool> was not given to the toolkit"),
        "{answer}"
    );
    toolkit.shutdown().await.expect("the toolkit stops cleanly");
}
