//! Secrets that must never be printed: the API key and auth tokens.
//!
//! Both types serialize as plain JSON strings (they travel on the wire) but
//! their `Debug` output is redacted, so a `{:?}` of any protocol type or
//! error that holds one can't leak it into a log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The toolkit's ATP API key.
///
/// The key authenticates the toolkit and is part of the WebSocket URL, so
/// it is a secret: `Debug` and `Display` print `ApiKey(<redacted>)`.
///
/// ```
/// let key = atp_sdk::ApiKey::new("sk-123");
/// assert_eq!(key.expose(), "sk-123");
/// assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for building a request. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

/// The auth token (OAuth2 access token, API key, ...) that the platform
/// injects into a call of a tool with an `auth_provider`.
///
/// Declare one parameter of this type to receive it; it is not a tool
/// parameter the agent sees. Use [`AuthToken::as_str`] to put it in your
/// request (as a bearer token, an API key, ... whatever `auth_with` says).
/// `Debug` and `Display` never show it.
///
/// ```
/// use atp_sdk::{atp_tool, AuthToken};
///
/// /// Reads the caller's profile.
/// #[atp_tool(auth_provider = "github")]
/// fn whoami(token: AuthToken) -> String {
///     format!("token of {} bytes", token.as_str().len())
/// }
///
/// fn main() {
///     let token = AuthToken::new("gho_secret");
///     assert_eq!(whoami(token.clone()), "token of 10 bytes");
///     assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token (useful when calling a tool function from your own tests).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper and returns the token.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether the token is the empty string (the platform sends `""` when
    /// the user has not connected the provider).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl fmt::Display for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for AuthToken {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl From<String> for AuthToken {
    fn from(token: String) -> Self {
        Self(token)
    }
}
