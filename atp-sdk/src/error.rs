//! The SDK's two error types: [`Error`], why a toolkit could not start
//! or had to stop, and [`CallError`], why one call has no result of the
//! tool's own.

use std::fmt;

use serde_json::Value;

/// Why a toolkit could not start or had to stop.
///
/// No variant ever holds the API key or an auth token, so printing an
/// `Error` (with `{}` or `{:?}`) is always safe.
///
/// ```
/// let err = atp_sdk::Error::MissingEnv("ATP_BASE_URL");
/// assert_eq!(err.to_string(), "the environment variable ATP_BASE_URL is not set");
/// // The API key's says how to do without one.
/// let err = atp_sdk::Error::MissingEnv("ATP_API_KEY");
/// assert!(err.to_string().contains("atp-dev -- cargo run"));
/// ```
///
/// `Debug` prints the same message as `Display`, so that
/// `fn main() -> Result<(), atp_sdk::Error>` ends with a readable line.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required environment variable is not set.
    #[error("the environment variable {var} is not set{hint}", var = .0, hint = missing_env_hint(.0))]
    MissingEnv(&'static str),
    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The program has no `#[atp_tool]` functions.
    #[error(
        "no tools to serve: the program has no #[atp_tool] functions. If they live in another \
         crate, make sure it is linked: add `use that_crate as _;` to your main.rs"
    )]
    NoTools,
    /// Two tools share a name.
    #[error(
        "two tools are named `{name}`: one at {first}, another at {second}; give one a different `name = \"...\"`"
    )]
    DuplicateTool {
        /// The shared name.
        name: String,
        /// Where the first is defined (`file:line`).
        first: String,
        /// Where the second is defined (`file:line`).
        second: String,
    },
    /// A tool named in the configuration is not registered.
    #[error("no #[atp_tool] named `{0}` is registered in this program")]
    UnknownTool(String),
    /// The server refused the API key.
    #[error("the ATP server rejected the API key ({0}); check ATP_API_KEY")]
    Unauthorized(String),
    /// The async runtime could not be started.
    #[error("could not start the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A fatal protocol or connection error.
    #[error("{0}")]
    Connection(String),
    /// A tool takes a [`State<T>`](crate::State) that was not provided.
    #[error("tool '{tool}' needs State<{type_name}>: add it with .state(...)")]
    MissingState {
        /// The tool.
        tool: String,
        /// The state's type, as `std::any::type_name` spells it.
        type_name: &'static str,
    },
    /// A tool asks the user for a type (`ctx.elicit::<T>`) whose schema is
    /// outside what MCP lets a client ask for: a flat object of strings,
    /// numbers, booleans, enums and arrays of enums.
    #[error(
        "tool '{tool}' asks the user for {type_name} (ctx.elicit), whose schema is outside what \
         MCP lets a client ask for (a flat object of strings, numbers, booleans, enums and \
         arrays of enums): {reason}"
    )]
    ElicitSchema {
        /// The tool.
        tool: String,
        /// The type, as `std::any::type_name` spells it.
        type_name: &'static str,
        /// What is outside.
        reason: String,
    },
    /// [`build`](crate::ToolKitClientBuilder::build) found more than one
    /// problem: every one, in the order they were found (a single problem
    /// is returned as itself).
    ///
    /// ```
    /// use atp_sdk::{Error, ToolKitClient};
    ///
    /// let err = ToolKitClient::builder("", "").base_url("ftp://nowhere").build().unwrap_err();
    /// let Error::Several(problems) = &err else { panic!("{err}") };
    /// assert!(problems.len() >= 2, "{err}");
    /// assert!(err.to_string().contains("the app name is empty"), "{err}");
    /// ```
    #[error("{} problems:{}", .0.len(), list(.0))]
    Several(Vec<Error>),
}

/// The problems, one per line.
fn list(errors: &[Error]) -> String {
    errors.iter().map(|err| format!("\n  - {err}")).collect()
}

impl Error {
    /// `Ok` for no problem, the problem itself for one, [`Error::Several`]
    /// for more.
    pub(crate) fn all(mut errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Several(errors)),
        }
    }

    /// This error's problems: itself, or each one of [`Error::Several`].
    pub(crate) fn into_problems(self) -> Vec<Error> {
        match self {
            Error::Several(errors) => errors,
            other => vec![other],
        }
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
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
    /// Arguments the tool does not take, given to a tool that refuses
    /// them (`#[atp_tool(deny_unknown_fields)]`).
    UnknownParameters {
        /// The arguments it does not take, in name order.
        unknown: Vec<String>,
        /// The parameters it does take.
        known: Vec<String>,
    },
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
    /// The request could not be read (a number out of range in its
    /// params, say), though its id could.
    MalformedRequest(String),
    /// The caller cancelled the call (MCP's `notifications/cancelled`).
    Cancelled,
    /// The tool asked its caller for something the caller can't give: the
    /// user's input ([`Context::elicit`](crate::Context::elicit)) or its
    /// model's ([`Context::sample`](crate::Context::sample)) over ATP, or
    /// from an MCP client that declared no such capability. The text says
    /// which, and what is needed.
    Unsupported(String),
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
                | Self::MalformedRequest(_)
                | Self::InvalidParams(_)
                | Self::MissingParameter(_)
                | Self::MissingAuthToken
                | Self::InvalidParameter { .. }
                | Self::UnknownParameters { .. }
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
            Self::UnknownParameters { unknown, known } => {
                let s = if unknown.len() == 1 { "" } else { "s" };
                write!(f, "Unknown parameter{s}: {}", unknown.join(", "))?;
                if known.is_empty() {
                    f.write_str(" (the tool takes none)")
                } else {
                    write!(f, " (the tool takes: {})", known.join(", "))
                }
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
            Self::MalformedRequest(reason) => write!(f, "Malformed request: {reason}"),
            Self::Cancelled => f.write_str("Call cancelled by the caller"),
            Self::Unsupported(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for CallError {}

/// The way out when `var` is missing, for the variables that have one.
fn missing_env_hint(var: &str) -> &'static str {
    if var == crate::config::ENV_API_KEY {
        ": run the toolkit under atp-dev for a local server and key \
         (`atp-dev -- cargo run`), give the platform's key, or set \
         ATP_TRANSPORT=mcp to serve MCP clients, which need none"
    } else {
        ""
    }
}

/// A reqwest error's text, safe to log: the URL (which holds the API key)
/// is left out.
#[cfg(any(feature = "atp", feature = "mcp-http"))]
pub(crate) fn describe_http(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A panic's payload as the call's error text.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a non-string panic payload".to_owned(),
        },
    }
}
