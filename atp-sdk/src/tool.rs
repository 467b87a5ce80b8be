//! The static description of a tool, as `#[atp_tool]` writes it, and the
//! typed errors of a call.
//!
//! The macro emits one const [`ToolDef`] per tool into an `inventory`
//! collection; everything it points at (`fn` pointers for the JSON Schema of
//! each parameter and for the call) is generated next to the user's function.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;

use crate::params::CallArgs;

/// What a call produced: the tool's result as JSON, or why there is none.
pub type CallResult = Result<Value, CallError>;

/// The future of an `async fn` tool's call.
pub type CallFuture = Pin<Box<dyn Future<Output = CallResult> + Send + 'static>>;

/// A tool registered by `#[atp_tool]`.
///
/// All fields are filled in by the macro; the runtime reads them to
/// announce and call the tool. You don't build these by hand.
#[derive(Debug)]
pub struct ToolDef {
    /// The tool's name, as the agent sees it.
    pub name: &'static str,
    /// The Rust function's name.
    pub rust_name: &'static str,
    /// What the tool does (the doc comment, or `description = "..."`).
    pub description: &'static str,
    /// The parameters, in declaration order (the `AuthToken` excluded).
    pub params: &'static [ParamDef],
    /// The auth the tool needs, if any.
    pub auth: Option<AuthDef>,
    /// The source text of the attribute and the function.
    pub source: &'static str,
    /// Where the tool is defined, for error messages.
    pub file: &'static str,
    /// The line of the `#[atp_tool]` attribute.
    pub line: u32,
    /// The module the tool is defined in.
    pub module_path: &'static str,
    /// The tool's time limit (`timeout = "..."`), if it sets one; else
    /// the client's [`call_timeout`](crate::ToolKitClientBuilder::call_timeout).
    pub timeout: Option<std::time::Duration>,
    /// How to call it.
    pub handler: Handler,
}

impl ToolDef {
    /// `file:line` of the definition.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// One parameter of a [`ToolDef`].
#[derive(Debug)]
pub struct ParamDef {
    /// The parameter's name.
    pub name: &'static str,
    /// The `///` comment on the parameter.
    pub description: Option<&'static str>,
    /// Required, optional or defaulted.
    pub kind: ParamKind,
    /// The JSON Schema of the parameter's type (`T` for `Option<T>`).
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

/// How a parameter is filled from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Must be present and not null.
    Required,
    /// An `Option<T>`: absent or null is `None`.
    Optional,
    /// Left out of an explicit `required` list: absent or null is
    /// `Default::default()`.
    Defaulted,
}

impl ParamKind {
    /// Whether the parameter is in `required_params`.
    pub fn is_required(self) -> bool {
        self == Self::Required
    }
}

/// The auth a tool needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthDef {
    /// The provider, e.g. `"hubspot"`.
    pub provider: &'static str,
    /// The auth type, e.g. `"OAuth2"` (the default) or `"API Key"`.
    pub kind: &'static str,
    /// What the token is used as, e.g. `"access_token"`.
    pub with: Option<&'static str>,
}

/// How a tool is called.
#[derive(Clone, Copy)]
pub enum Handler {
    /// A plain `fn`: run on the blocking thread pool.
    Blocking(fn(CallArgs) -> CallResult),
    /// An `async fn`: run as a task.
    Async(fn(CallArgs) -> CallFuture),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Blocking(_) => "Handler::Blocking",
            Self::Async(_) => "Handler::Async",
        })
    }
}

/// Why a call produced no result of the tool's own.
///
/// Validation errors (the request was wrong) and the tool's own errors are
/// different variants, so code never has to tell them apart by message
/// text. `Display` gives the exact text the platform documents; the
/// toolkit answers with `{"error": "<that text>"}`.
///
/// ```
/// use atp_sdk::CallError;
/// let err = CallError::MissingParameter("name".into());
/// assert_eq!(err.to_string(), "Missing required parameter: name");
/// assert!(err.is_validation());
/// assert_eq!(err.to_result(), serde_json::json!({"error": "Missing required parameter: name"}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No tool of that name in this toolkit.
    UnknownTool(String),
    /// `params` is neither an object nor empty (`null`, `""`).
    InvalidParams(String),
    /// A required parameter is absent or null.
    MissingParameter(String),
    /// The tool has an `auth_provider` and the token is absent, null or empty.
    MissingAuthToken,
    /// A parameter's value does not fit its type.
    InvalidParameter {
        /// The parameter.
        name: String,
        /// Why, as serde says it.
        reason: String,
    },
    /// The tool returned an error; this is its `Display` text.
    Tool(String),
    /// The tool panicked.
    Panicked(String),
    /// The tool's result could not be turned into JSON.
    InvalidOutput(String),
    /// The tool ran past its time limit.
    TimedOut(std::time::Duration),
    /// The toolkit is shutting down and takes no new calls.
    ShuttingDown,
    /// As many calls as the toolkit allows are running or waiting (the
    /// number is that limit); the request was refused at once.
    Overloaded(usize),
    /// No app of that name in this toolkit (`atp_app_request`).
    UnknownApp(String),
    /// No open app session with that id (`atp_app_action`,
    /// `atp_app_terminate`): never started, ended, or dropped for its age
    /// or to make room.
    UnknownSession(String),
    /// An app action's `action_data` does not fit the app's action type.
    InvalidAction(String),
}

impl CallError {
    /// The tool's own error, with `message` as its text.
    pub fn tool(message: impl fmt::Display) -> Self {
        Self::Tool(message.to_string())
    }

    /// Whether the request was at fault (unknown tool, bad or missing
    /// parameters, missing token) rather than the tool.
    pub fn is_validation(&self) -> bool {
        matches!(
            self,
            Self::UnknownTool(_)
                | Self::UnknownApp(_)
                | Self::UnknownSession(_)
                | Self::InvalidAction(_)
                | Self::InvalidParams(_)
                | Self::MissingParameter(_)
                | Self::MissingAuthToken
                | Self::InvalidParameter { .. }
        )
    }

    /// The `{"error": "..."}` result the toolkit answers with.
    pub fn to_result(&self) -> Value {
        crate::protocol::error_result(self.to_string())
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTool(name) => write!(f, "Unknown tool: {name}"),
            Self::InvalidParams(kind) => {
                write!(f, "Invalid params: expected a JSON object, got {kind}")
            }
            Self::MissingParameter(name) => write!(f, "Missing required parameter: {name}"),
            Self::MissingAuthToken => f.write_str("Missing auth_token for authenticated tool"),
            Self::InvalidParameter { name, reason } => {
                write!(f, "Invalid parameter '{name}': {reason}")
            }
            Self::Tool(message) => f.write_str(message),
            Self::Panicked(message) => write!(f, "Tool panicked: {message}"),
            Self::InvalidOutput(reason) => {
                write!(f, "Tool result could not be serialized: {reason}")
            }
            Self::TimedOut(limit) => write!(f, "Tool timed out after {limit:?}"),
            Self::ShuttingDown => f.write_str("Toolkit is shutting down"),
            Self::Overloaded(limit) => write!(
                f,
                "Toolkit overloaded: {limit} calls are already running or waiting; try again later"
            ),
            Self::UnknownApp(name) => write!(f, "Unknown app: {name}"),
            Self::UnknownSession(id) => write!(f, "Unknown app session: {id}"),
            Self::InvalidAction(reason) => write!(f, "Invalid app action: {reason}"),
        }
    }
}

impl std::error::Error for CallError {}

/// The JSON Schema of `T`, for a [`ParamDef`].
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Turns a plain return value into the call's result.
pub fn output<T: Serialize>(value: T) -> CallResult {
    serde_json::to_value(value).map_err(|err| CallError::InvalidOutput(err.to_string()))
}

/// Turns a `Result` return value into the call's result: `Err(e)` becomes
/// `{"error": e.to_string()}`.
pub fn output_result<T: Serialize, E: fmt::Display>(value: Result<T, E>) -> CallResult {
    match value {
        Ok(value) => output(value),
        Err(err) => Err(CallError::Tool(err.to_string())),
    }
}

/// Boxes an `async fn` tool's future.
pub fn boxed<F>(future: F) -> CallFuture
where
    F: Future<Output = CallResult> + Send + 'static,
{
    Box::pin(future)
}

/// A future that is already done (an argument failed to extract).
pub fn ready(result: CallResult) -> CallFuture {
    Box::pin(std::future::ready(result))
}
