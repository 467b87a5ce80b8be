//! MCP over streamable HTTP as an OAuth 2.0 resource server (feature
//! `mcp`), as the MCP authorization spec asks of a remote server: every
//! request carries an access token issued *for this server* (its audience
//! is the server's resource URI, RFC 8707), which is verified; the
//! server publishes its Protected Resource Metadata (RFC 9728) and points
//! to it from every `401`; a tool's `scopes` are checked (`403
//! insufficient_scope`); and the client's token is never passed on. A
//! tool that calls an upstream API (`auth_provider`) gets the *user's*
//! token for it from a [`TokenSource`] you implement.
//!
//! ```no_run
//! use atp_sdk::oauth::{BoxFuture, ResourceServer, TokenSource};
//! use atp_sdk::{AuthToken, Principal, ToolKitClient, Transport};
//!
//! /// Looks up the user's HubSpot token in your own store.
//! struct Vault;
//!
//! impl TokenSource for Vault {
//!     fn token<'a>(
//!         &'a self,
//!         principal: &'a Principal,
//!         provider: &'a str,
//!     ) -> BoxFuture<'a, Result<Option<AuthToken>, String>> {
//!         Box::pin(async move {
//!             // e.g. SELECT token FROM grants WHERE user = principal.subject() AND provider = ...
//!             let _ = (principal.subject(), provider);
//!             Ok(None) // no grant yet: "Missing auth_token for authenticated tool"
//!         })
//!     }
//! }
//!
//! # async fn serve() -> Result<(), atp_sdk::Error> {
//! ToolKitClient::builder("", "crm")
//!     .transport(Transport::McpHttp)
//!     .mcp_addr("0.0.0.0:8788".parse().unwrap())
//!     // Tokens from this issuer, for this resource, checked against the
//!     // issuer's JWKS (found through its metadata).
//!     .mcp_resource_server(ResourceServer::jwt(
//!         "https://crm.example.com/mcp",
//!         "https://auth.example.com",
//!     ))
//!     .mcp_token_source(Vault)
//!     .build()?
//!     .serve()
//!     .await
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::principal::Principal;
use crate::secret::AuthToken;

/// A boxed future, as the traits of this module return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an access token was refused. Answered `401` with
/// `error="invalid_token"` and this text as `error_description`, so it
/// must not quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(String);

impl Rejection {
    /// A refusal saying `why`.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// Checks an access token and says whom it was issued to. [`JwtVerifier`]
/// checks JWTs against the authorization server's keys; implement it
/// yourself for opaque tokens (token introspection, RFC 7662: POST the
/// token to the server's introspection endpoint, require `"active":
/// true` and your resource in `aud`, and build a
/// [`Principal::from_claims`] of the answer).
pub trait TokenVerifier: Send + Sync + 'static {
    /// The token's principal, or why it is refused.
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Rejection>>;
}

/// Gives a tool with an `auth_provider` the user's token for that
/// provider: the upstream token is a separate token the server holds for
/// the authenticated user, never the MCP client's own.
///
/// `Ok(None)` answers the call `Missing auth_token for authenticated
/// tool`; `Err(text)` answers it with `text` as the tool's error.
pub trait TokenSource: Send + Sync + 'static {
    /// The token `principal` holds for `provider` (the tool's
    /// `auth_provider`).
    fn token<'a>(
        &'a self,
        principal: &'a Principal,
        provider: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthToken>, String>>;
}

/// How long fetched keys are kept before they are fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// The least time between two fetches for an unknown `kid`, by default (a
/// token naming made-up keys must not make the server fetch on every
/// request).
const JWKS_REFRESH_GAP: Duration = Duration::from_secs(10);

/// Verifies JWT access tokens: the signature against the issuer's JWKS
/// (fetched, cached for 5 minutes, fetched again for an unknown `kid`),
/// `iss`, `aud` (the resource URI), `exp` and `nbf` (60 s of leeway), and a
/// non-empty string `sub` (RFC 9068: who a [`TokenSource`] looks up).
/// Only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are taken.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    leeway: Duration,
    refresh_gap: Duration,
    http: reqwest::Client,
    keys: Mutex<Keys>,
    /// Held while the keys are fetched: one fetch at a time, and those
    /// waiting use its outcome.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Keys {
    set: Option<Arc<JwkSet>>,
    /// When `set` was fetched.
    fetched: Option<Instant>,
    /// When a fetch was last tried, whatever came of it.
    attempted: Option<Instant>,
    /// Where the keys are, once found (the issuer's metadata names it).
    url: Option<String>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys are public, but they are nobody's business in a log.
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Tokens from `issuer` (its `iss`) for `audience` (its `aud`: this
    /// server's resource URI). The keys are at the `jwks_uri` of the
    /// issuer's metadata (`/.well-known/oauth-authorization-server`, then
    /// `/.well-known/openid-configuration`) unless [`jwks_url`](Self::jwks_url)
    /// names them.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        let tls = crate::tls::client_config(&[]).expect("the Mozilla roots always load");
        Self::with_tls(issuer.into(), audience.into(), tls)
    }

    fn with_tls(issuer: String, audience: String, tls: Arc<rustls::ClientConfig>) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            issuer,
            audience,
            jwks_url: None,
            leeway: Duration::from_secs(60),
            refresh_gap: JWKS_REFRESH_GAP,
            http,
            keys: Mutex::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Where the issuer's keys are (a JWKS document), instead of finding
    /// them through its metadata.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// The least time between two fetches of the keys, whatever prompts
    /// them (a token whose `kid` is not among them, as after a key
    /// rotation, or a fetch that failed); default 10 s.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_gap = interval;
        self
    }

    /// How far `exp` and `nbf` may be off; default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    async fn verify_jwt(&self, token: &str) -> Result<Principal, Rejection> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Rejection::new("the access token is not a JWT"))?;
        if !asymmetric(header.alg) {
            return Err(Rejection::new(
                "the access token's algorithm is not accepted",
            ));
        }
        let keys = self.keys(header.kid.as_deref()).await?;
        let jwk = match header.kid.as_deref() {
            Some(kid) => keys.find(kid),
            // No `kid`: the one key there is, if there is one.
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            Rejection::new("the access token is signed with a key the issuer does not publish")
        })?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|_| Rejection::new("the issuer's key can't be used"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // RFC 9068 §2.2: an access token names its subject, which is who
        // a TokenSource finds the upstream token for.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(
            |err| {
                use jsonwebtoken::errors::ErrorKind;
                Rejection::new(match err.kind() {
                    ErrorKind::ExpiredSignature => "the access token has expired",
                    ErrorKind::ImmatureSignature => "the access token is not valid yet",
                    ErrorKind::InvalidAudience => "the access token was not issued for this server",
                    ErrorKind::InvalidIssuer => "the access token is from another issuer",
                    ErrorKind::InvalidSignature => "the access token's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => {
                        "the access token lacks a required claim (exp, iss, aud, sub)"
                    }
                    _ => "the access token is not valid",
                })
            },
        )?;
        if data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Rejection::new(
                "the access token's subject (sub) is not a non-empty string",
            ));
        }
        Ok(Principal::from_claims(data.claims))
    }

    /// The issuer's keys: cached, fetched again when stale or when `kid`
    /// is not among them — but never twice within `refresh_gap`, whatever
    /// came of the last try, and by one request at a time (the others
    /// waiting use what it got). An issuer that is down costs one fetch
    /// per `refresh_gap`, not one per request.
    async fn keys(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, Rejection> {
        if let Some(known) = self.cached(kid) {
            return known;
        }
        let _flight = self.fetching.lock().await;
        // A fetch may have ended while this one waited.
        if let Some(known) = self.cached(kid) {
            return known;
        }
        self.keys.lock().expect("not poisoned").attempted = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                let mut keys = self.keys.lock().expect("not poisoned");
                keys.set = Some(set.clone());
                keys.fetched = Some(Instant::now());
                Ok(set)
            }
            Err(why) => {
                tracing::warn!(issuer = %self.issuer, %why, "could not fetch the issuer's keys");
                // Stale keys beat none while the issuer is away.
                let keys = self.keys.lock().expect("not poisoned");
                keys.set.clone().ok_or_else(unavailable)
            }
        }
    }

    /// What the cache answers without a fetch, or `None` when it is time
    /// to fetch.
    fn cached(&self, kid: Option<&str>) -> Option<Result<Arc<JwkSet>, Rejection>> {
        let keys = self.keys.lock().expect("not poisoned");
        let tried_lately = keys
            .attempted
            .is_some_and(|at| at.elapsed() < self.refresh_gap);
        match &keys.set {
            Some(set) => {
                let fresh = keys.fetched.is_some_and(|at| at.elapsed() < JWKS_TTL);
                let known = kid.is_none_or(|kid| set.find(kid).is_some());
                (tried_lately || (fresh && known)).then(|| Ok(set.clone()))
            }
            None => tried_lately.then(|| Err(unavailable())),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let url = match self.jwks_url.clone() {
            Some(url) => url,
            None => self.discover().await?,
        };
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|err| format!("{url}: {}", err.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|_| format!("{url}: not a JWKS document"))
    }

    /// The `jwks_uri` of the issuer's metadata.
    async fn discover(&self) -> Result<String, String> {
        if let Some(url) = self.keys.lock().expect("not poisoned").url.clone() {
            return Ok(url);
        }
        let issuer = self.issuer.trim_end_matches('/');
        // RFC 8414 puts the well-known part before the issuer's path;
        // OpenID Connect Discovery appends it.
        let candidates = [
            well_known(issuer, "oauth-authorization-server"),
            format!("{issuer}/.well-known/openid-configuration"),
        ];
        for url in candidates {
            let Ok(response) = self.http.get(&url).send().await else {
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            let Ok(metadata) = response.json::<Value>().await else {
                continue;
            };
            if let Some(jwks) = metadata.get("jwks_uri").and_then(Value::as_str) {
                self.keys.lock().expect("not poisoned").url = Some(jwks.to_owned());
                return Ok(jwks.to_owned());
            }
        }
        Err(format!(
            "no jwks_uri in the metadata of {issuer} (tried /.well-known/oauth-authorization-server and /.well-known/openid-configuration)"
        ))
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Rejection>> {
        Box::pin(self.verify_jwt(token))
    }
}

fn unavailable() -> Rejection {
    Rejection::new("the issuer's keys could not be fetched")
}

fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// `https://host/.well-known/{document}{path}` for `https://host{path}`
/// (RFC 8414 §3, RFC 9728 §3.1: the well-known part goes before the
/// path).
pub(crate) fn well_known(url: &str, document: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let path = path.trim_end_matches('/');
    format!("{scheme}://{authority}/.well-known/{document}{path}")
}

/// What MCP over HTTP needs to act as a resource server: its resource URI
/// (the audience its tokens must name), the authorization servers that
/// issue them, and how to verify one.
#[derive(Clone)]
pub struct ResourceServer {
    pub(crate) resource: String,
    pub(crate) authorization_servers: Vec<String>,
    pub(crate) scopes_supported: Vec<String>,
    pub(crate) verifier: Arc<dyn TokenVerifier>,
}

impl fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServer")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// The resource `resource` (this server's URL as clients reach it,
    /// e.g. `https://crm.example.com/mcp`), whose tokens are verified by
    /// `verifier` and issued by `authorization_servers`.
    pub fn new(
        resource: impl Into<String>,
        authorization_servers: impl IntoIterator<Item = impl Into<String>>,
        verifier: impl TokenVerifier,
    ) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: authorization_servers.into_iter().map(Into::into).collect(),
            scopes_supported: Vec::new(),
            verifier: Arc::new(verifier),
        }
    }

    /// JWTs issued by `issuer` for `resource`, verified with the issuer's
    /// JWKS found through its metadata ([`JwtVerifier::new`]).
    pub fn jwt(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        let (resource, issuer) = (resource.into(), issuer.into());
        let verifier = JwtVerifier::new(issuer.clone(), resource.clone());
        Self::new(resource, [issuer], verifier)
    }

    /// The scopes to publish in the metadata besides the tools' own
    /// `scopes` (which are always there). Each is one OAuth scope token
    /// (visible ASCII, no spaces, quotes or backslashes): `build()` fails
    /// otherwise.
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Fails on a configured scope that is not one OAuth scope token.
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        for scope in &self.scopes_supported {
            if !crate::principal::valid_scope(scope) {
                return Err(crate::Error::Config(format!(
                    "ResourceServer::scopes_supported: the scope {scope:?}: {}",
                    crate::principal::SCOPE_RULE
                )));
            }
        }
        Ok(())
    }

    /// The resource URI.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the Protected Resource Metadata is (RFC 9728 §3.1).
    pub fn metadata_url(&self) -> String {
        well_known(&self.resource, "oauth-protected-resource")
    }

    /// The Protected Resource Metadata document, with `scopes` (the
    /// tools' and the configured ones) as `scopes_supported`.
    pub(crate) fn metadata(&self, scopes: &[String], name: &str) -> Value {
        let mut all: Vec<String> = self.scopes_supported.clone();
        for scope in scopes {
            if !all.contains(scope) {
                all.push(scope.clone());
            }
        }
        serde_json::json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "scopes_supported": all,
            "bearer_methods_supported": ["header"],
            "resource_name": name,
        })
    }
}

/// Where a tool's upstream token comes from, over MCP.
#[derive(Clone, Default)]
pub(crate) enum Upstream {
    /// Nowhere: tools with an `auth_provider` are answered "Missing
    /// auth_token ..." (MCP over HTTP, unless configured).
    #[default]
    None,
    /// The [`TokenSource`] given, for the authenticated principal.
    Source(Arc<dyn TokenSource>),
    /// The MCP client's own bearer token, passed on: outside the MCP spec,
    /// for loopback only, chosen explicitly.
    BearerPassthrough,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Upstream::None => "None",
            Upstream::Source(_) => "Source(..)",
            Upstream::BearerPassthrough => "BearerPassthrough",
        })
    }
}

/// The scopes each tool needs, by name (only tools that need some).
pub(crate) type ToolScopes = HashMap<String, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_documents_go_before_the_path() {
        assert_eq!(
            well_known("https://crm.example.com/mcp", "oauth-protected-resource"),
            "https://crm.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known("https://auth.example.com", "oauth-authorization-server"),
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            well_known(
                "http://127.0.0.1:9/tenants/a/",
                "oauth-authorization-server"
            ),
            "http://127.0.0.1:9/.well-known/oauth-authorization-server/tenants/a"
        );
    }

    #[test]
    fn debug_shows_no_keys_or_claims() {
        let server = ResourceServer::jwt("https://r.example/mcp", "https://i.example");
        let text = format!("{server:?}");
        assert!(text.contains("https://r.example/mcp"), "{text}");
        let verifier = JwtVerifier::new("https://i.example", "aud").jwks_url("https://i.example/k");
        assert!(!format!("{verifier:?}").contains("/k"));
    }
}
