#![doc = include_str!("guide.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Without the ATP links (feature `atp` off), the one codec's reading of
// server frames, the app sessions and the reconnecting half of the one
// lifecycle are compiled but never reached. They are checked for dead
// code in every build that serves ATP (the default one among them).
#![cfg_attr(not(feature = "atp"), allow(dead_code))]

// The path of one call, top to bottom: a link (`ws`, `inbox`) reads the
// server's message, `codec` turns it into a typed `Inbound`, `dispatch`
// admits and runs it (`registry` finds the tool, `params` fills its
// arguments, `context`/`state` what else it takes) and hands back a typed
// `Reply`, which the link frames and sends. `session` drives every link
// through announce (`announce`) → open → serve → back off (`backoff`) →
// stop; `client` builds it all from `config`, and `run` owns a process.
#[cfg(feature = "atp")]
mod announce;
mod apps;
mod asking;
mod backoff;
mod blocking;
mod call_metrics;
mod cancel;
mod client;
mod codec;
mod config;
pub mod content;
mod context;
mod dispatch;
mod dynamic;
mod error;
mod extract;
#[cfg(feature = "atp")]
mod inbox;
mod lenient;
#[cfg(feature = "atp")]
#[cfg_attr(docsrs, doc(cfg(feature = "atp")))]
pub mod llm;
#[cfg(any(feature = "mcp-stdio", feature = "mcp-http"))]
mod mcp;
mod mcp_answer;
#[cfg(feature = "mcp-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp-http")))]
pub mod oauth;
mod params;
mod principal;
mod process;
pub mod protocol;
mod registry;
mod run;
pub mod schema;
mod secret;
mod session;
mod state;
mod status;
pub mod testing;
#[cfg(any(feature = "atp", feature = "mcp-http"))]
mod tls;
mod tool;
#[cfg(feature = "atp")]
mod ws;
#[cfg(feature = "atp")]
mod ws_connect;

pub use apps::{App, AppDef, AppStep};
pub use asking::{Elicitation, Sampling};
pub use client::{ENV_SEND_SOURCE, StopHandle, ToolKitClient, ToolKitClientBuilder};
pub use config::{
    ENV_API_KEY, ENV_APP_NAME, ENV_AUTH_TOKEN, ENV_BASE_URL, ENV_MCP_ADDR, ENV_MCP_ALLOWED_ORIGINS,
    ENV_MCP_AUTH, ENV_MCP_ISSUER, ENV_MCP_JWKS_URL, ENV_MCP_MAX_SESSIONS, ENV_MCP_RESOURCE,
    ENV_MCP_STATELESS, ENV_TRANSPORT, Transport,
};
pub use context::{Context, LogLevel};
pub use dynamic::DynamicTool;
pub use error::{CallError, Error};
pub use extract::{CallParts, FromCall};
pub use params::CallArgs;
pub use principal::Principal;
pub use registry::registered_tools;
pub use run::run;
pub use secret::{ApiKey, AuthToken};
pub use state::State;
pub use status::Status;
pub use tool::{
    AuthDef, CallResult, ElicitDef, Handler, Output, ParamDef, ParamKind, StateDef, ToolDef,
    ToolHints,
};

/// Registers a function as an ATP tool.
///
/// Put it on a free `fn` or `async fn` at module level. The function keeps
/// working as an ordinary Rust function; the attribute adds a registration
/// that [`run()`] and [`ToolKitClient`] find at start-up.
///
/// # Keys (all optional)
///
/// | key | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the tool's name (1–64 of `a-z A-Z 0-9 _ -`, starting with a letter or `_`: what every provider takes) | the function's name |
/// | `description = "..."` | what the tool does, for the agent | the doc comment |
/// | `required = ["a", ...]` | the required parameters | every parameter that is not an `Option` |
/// | `auth_provider = "..."` | the provider whose token the tool needs | none |
/// | `auth_type = "..."` | `"OAuth2"`, `"API Key"`, ... | `"OAuth2"` with a provider |
/// | `auth_with = "..."` | what the token is used as (`"access_token"`, ...) | none |
/// | `timeout = "..."` | the call's time limit: `"500ms"`, `"30s"`, `"5m"`, `"1h"` | the client's [`call_timeout`](crate::ToolKitClientBuilder::call_timeout) (5 min) |
/// | `crate = "..."` | the path of `atp_sdk`, if renamed | `::atp_sdk` |
///
/// # Parameters
///
/// Each parameter is a tool parameter of the same name, of any type that
/// implements `serde::de::DeserializeOwned` and `schemars::JsonSchema`
/// (numbers, `String`, `bool`, `Vec`, maps, `serde_json::Value`, your own
/// structs and enums with both derives). A `///` comment on a parameter
/// becomes its description in the JSON Schema.
///
/// - `Option<T>` is optional: absent or `null` is `None`.
/// - With `required = [...]`, a non-`Option` parameter left out of the list
///   is optional and takes `Default::default()` when absent.
/// - An argument whose type implements [`FromCall`] is made by the toolkit,
///   not read from the arguments, and is not in the schema: [`AuthToken`]
///   (the request's token; it needs `auth_provider`), [`Context`],
///   [`State<T>`](State), and your own types. The compiler decides, not
///   the type's name: your own type called `State` is a parameter.
/// - Parameters may not be named `auth_token`, `access_token` or `api_key`,
///   nor be references, `impl Trait`, patterns or `self`; the function may
///   not be generic.
///
/// # Return
///
/// Any `T: Serialize` (sent as the result), or `Result<T, E>` with
/// `T: Serialize` and `E: Display` (an `Err` is sent as
/// `{"error": "<E's Display>"}`).
///
/// # Errors at compile time
///
/// Mistakes are reported on the token they are about: a `required` name
/// that is not a parameter, an `Option` in `required`, a defaulted
/// parameter without `Default`, an `AuthToken` or `auth_type`/`auth_with`
/// without `auth_provider`, an argument type that is neither a parameter
/// (deserialized and described by a JSON Schema) nor a [`FromCall`], a
/// toolkit-made argument in `required`, a return type that can't be serialized,
/// unknown or repeated keys, and use inside a function body.
///
/// # Example
///
/// ```
/// use atp_sdk::{atp_tool, AuthToken};
///
/// /// Adds two numbers.
/// #[atp_tool]
/// fn add(
///     /// The first number.
///     a: f64,
///     /// The second number.
///     b: f64,
/// ) -> f64 {
///     a + b
/// }
///
/// /// Lists the user's repositories.
/// #[atp_tool(name = "list_repos", required = ["owner"], auth_provider = "github", auth_with = "access_token")]
/// async fn list_repos(owner: String, per_page: u32, token: AuthToken) -> Result<Vec<String>, String> {
///     let _ = (per_page, token.as_str());
///     Ok(vec![format!("{owner}/hello")])
/// }
///
/// fn main() {
///     // Still ordinary functions:
///     assert_eq!(add(1.0, 2.0), 3.0);
///
///     let tool = atp_sdk::registered_tools().find(|t| t.name == "list_repos").unwrap();
///     assert_eq!(tool.required_params(), ["owner"]);
///     assert_eq!(tool.auth.unwrap().kind, "OAuth2"); // the default with a provider
///     // Left out of `required`: absent or `null` is the default.
///     assert_eq!(tool.parameters_schema()["properties"]["per_page"]["type"], serde_json::json!(["integer", "null"]));
/// }
/// ```
#[doc(inline)]
pub use atp_sdk_macros::atp_tool;

/// What the code `#[atp_tool]` generates refers to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::asking::schema_for as elicit_schema;
    pub use crate::context::Context;
    pub use crate::error::CallError;
    pub use crate::extract::{
        ArgDef, Args, Defaulted, FromCall, Take, arg, optional_arg, param_count, params,
        state_count, states, takes_context,
    };
    pub use crate::params::CallArgs;
    pub use crate::state::State;
    pub use crate::tool::{
        AuthDef, CallFuture, CallResult, ContentSchema, ElicitDef, Handler, JsonTag, NoSchema, Out,
        ParamDef, ParamKind, PlainTag, Probe, ResultTag, RichTag, StateDef, ToolDef, ToolHints,
        TypedSchema, boxed, check_output, check_schema, check_value, optional, ready, schema_of,
    };
    pub use inventory;
    pub use serde_json;
}
