//! Who a call was made for: the subject and claims of the access token an
//! MCP client presented, when MCP over HTTP runs as an OAuth resource
//! server ([`ResourceServer`](crate::oauth::ResourceServer), feature
//! `mcp`). A tool reads it from its [`Context`](crate::Context); a
//! [`TokenSource`](crate::oauth::TokenSource) gets it to find the user's
//! upstream token.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The authenticated caller of a call: the verified token's subject, its
/// scopes and all its claims. Cheap to clone. Its `Debug` shows none of
/// them (claims can be personal data).
///
/// ```
/// use atp_sdk::Principal;
/// use serde_json::json;
///
/// let claims = json!({"sub": "user-42", "scope": "tickets:read tickets:write", "tenant": "acme"});
/// let who = Principal::from_claims(claims.as_object().unwrap().clone());
/// assert_eq!(who.subject(), "user-42");
/// assert!(who.has_scope("tickets:write"));
/// assert_eq!(who.claim("tenant"), Some(&json!("acme")));
/// assert_eq!(format!("{who:?}"), "Principal { .. }");
/// ```
#[derive(Clone, PartialEq)]
pub struct Principal(Arc<Inner>);

#[derive(PartialEq)]
struct Inner {
    subject: String,
    scopes: Vec<String>,
    claims: Map<String, Value>,
}

impl Principal {
    /// A principal with this subject and these scopes, and `claims`.
    pub fn new(
        subject: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
        claims: Map<String, Value>,
    ) -> Self {
        Self(Arc::new(Inner {
            subject: subject.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            claims,
        }))
    }

    /// A principal read from a token's claims: `sub` is the subject, and
    /// the scopes are `scope` (space-separated, RFC 8693 / RFC 9068) or
    /// `scp` (a list or a string, as some servers write them).
    pub fn from_claims(claims: Map<String, Value>) -> Self {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let scopes: Vec<String> = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Self::new(subject, scopes, claims)
    }

    /// The token's subject (`sub`).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The scopes the token grants.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// Every claim of the token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    /// One claim of the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal").finish_non_exhaustive()
    }
}

/// Whether `scope` is one OAuth scope token (RFC 6749 §3.3): visible
/// ASCII but space, `"` and `\`, at least one character. The macro checks
/// `#[atp_tool(scopes = [...])]` with the same rule.
pub(crate) fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The reason `scope` is refused, for a configuration error.
pub(crate) const SCOPE_RULE: &str = "an OAuth scope is one word of visible ASCII (no spaces, quotes or backslashes), e.g. \"tickets:write\"";

#[cfg(test)]
mod scope_tests {
    use super::valid_scope;

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        for good in ["tickets:write", "a", "https://x.example/read", "!#[]~"] {
            assert!(valid_scope(good), "{good}");
        }
        for bad in [
            "",
            "two words",
            "quo\"te",
            "back\\slash",
            "tab\t",
            "é",
            "line\n",
        ] {
            assert!(!valid_scope(bad), "{bad:?}");
        }
    }
}
