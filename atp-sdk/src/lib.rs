#![doc = include_str!("guide.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod announce;
mod apps;
mod client;
mod connection;
mod dispatch;
mod dynamic;
mod error;
mod inbox;
mod params;
pub mod protocol;
mod registry;
mod secret;
mod tls;
mod tool;

pub use apps::{App, AppDef, AppStep};
pub use client::{
    ENV_API_KEY, ENV_APP_NAME, ENV_BASE_URL, ENV_TRANSPORT, StopHandle, ToolKitClient,
    ToolKitClientBuilder, Transport, run,
};
pub use dynamic::DynamicTool;
pub use error::Error;
pub use params::CallArgs;
pub use registry::registered_tools;
pub use secret::{ApiKey, AuthToken};
pub use tool::{AuthDef, CallError, CallResult, Handler, ParamDef, ParamKind, ToolDef};

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
/// | `name = "..."` | the tool's name (1–64 of `a-z A-Z 0-9 _ -`) | the function's name |
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
/// - One parameter of type [`AuthToken`] receives the request's token; it is
///   not a tool parameter. It needs `auth_provider`.
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
/// without `auth_provider`, a parameter type that can't be deserialized or
/// described by a JSON Schema, a return type that can't be serialized,
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
///     assert_eq!(tool.parameters_schema()["properties"]["per_page"]["type"], "integer");
/// }
/// ```
#[doc(inline)]
pub use atp_sdk_macros::atp_tool;

/// What the code `#[atp_tool]` generates refers to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::params::CallArgs;
    pub use crate::tool::{
        AuthDef, CallError, CallFuture, CallResult, Handler, ParamDef, ParamKind, ToolDef, boxed,
        output, output_result, ready, schema_of,
    };
    pub use inventory;
}
