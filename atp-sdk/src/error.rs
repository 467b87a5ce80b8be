//! The one error type of the SDK.

/// Why a toolkit could not start or had to stop.
///
/// No variant ever holds the API key or an auth token, so printing an
/// `Error` (with `{}` or `{:?}`) is always safe.
///
/// ```
/// let err = atp_sdk::Error::MissingEnv("ATP_API_KEY");
/// assert_eq!(err.to_string(), "the environment variable ATP_API_KEY is not set");
/// ```
///
/// `Debug` prints the same message as `Display`, so that
/// `fn main() -> Result<(), atp_sdk::Error>` ends with a readable line.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required environment variable is not set.
    #[error("the environment variable {0} is not set")]
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
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
