//! The HTTP side of the resource server (see [`crate::oauth`]): every
//! request to `/mcp` carries a bearer token that verifies, or is answered
//! `401` with `WWW-Authenticate` pointing at the metadata; a `tools/call`
//! of a tool whose scopes the token lacks is answered `403
//! insufficient_scope`; the Protected Resource Metadata documents. The
//! verified principal rides in the request's extensions to the handler.
//! No token, key or claim is ever logged.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::oauth::{ResourceServer, ToolScopes};

/// The largest request body looked into for the tool it calls.
const MAX_BODY: usize = 4 << 20;

/// What the guard needs.
pub(crate) struct Guard {
    server: ResourceServer,
    metadata_url: String,
    scopes: ToolScopes,
    metadata: serde_json::Value,
}

impl Guard {
    pub(crate) fn new(server: ResourceServer, scopes: ToolScopes, app_name: &str) -> Arc<Self> {
        let mut all: Vec<String> = scopes.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        Arc::new(Self {
            metadata_url: server.metadata_url(),
            metadata: server.metadata(&all, app_name),
            server,
            scopes,
        })
    }

    /// The paths the metadata is served at: the one the resource URI
    /// names (`/.well-known/oauth-protected-resource/mcp`) and the bare
    /// one, which clients try too.
    pub(crate) fn metadata_paths(&self) -> Vec<String> {
        let mut paths = vec!["/.well-known/oauth-protected-resource".to_owned()];
        if let Some(at) = self.metadata_url.find("/.well-known/") {
            let path = self.metadata_url[at..].to_owned();
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    pub(crate) fn metadata(&self) -> serde_json::Value {
        self.metadata.clone()
    }

    /// `401`: no token, or one that does not verify.
    fn unauthorized(&self, why: Option<&str>) -> Response {
        let mut challenge = String::from("Bearer");
        let mut params = Vec::new();
        if let Some(why) = why {
            params.push("error=\"invalid_token\"".to_owned());
            params.push(format!("error_description=\"{}\"", quoted(why)));
        }
        params.push(format!(
            "resource_metadata=\"{}\"",
            quoted(&self.metadata_url)
        ));
        let scopes = self.metadata["scopes_supported"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        if !scopes.is_empty() {
            params.push(format!("scope=\"{}\"", quoted(&scopes)));
        }
        challenge.push(' ');
        challenge.push_str(&params.join(", "));
        let text =
            why.unwrap_or("this MCP server needs an access token: Authorization: Bearer ...");
        error_response(StatusCode::UNAUTHORIZED, challenge, text)
    }

    /// `403`: the token lacks the tool's scopes.
    fn forbidden(&self, tool: &str, needed: &[String]) -> Response {
        let scope = quoted(&needed.join(" "));
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\", error_description=\"{}\"",
            quoted(&self.metadata_url),
            quoted(&format!("the tool {tool} needs the scopes {scope}")),
        );
        error_response(
            StatusCode::FORBIDDEN,
            challenge,
            &format!("the access token lacks the scopes the tool {tool} needs: {scope}"),
        )
    }
}

fn error_response(status: StatusCode, challenge: String, text: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32001, "message": text},
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// A text inside a quoted-string: no `"` or `\`, one line, visible
/// ASCII only (a header value's other bytes are read differently, or
/// refused, by each client).
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_control() => ' ',
            c if !c.is_ascii() => '?',
            c => c,
        })
        .collect()
}

/// The token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Authenticates one request to `/mcp`.
pub(crate) async fn authenticate(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let principal = match bearer(request.headers()) {
        None => {
            tracing::debug!("MCP request without an access token: 401");
            return guard.unauthorized(None);
        }
        Some(token) => match guard.server.verifier.verify(token).await {
            Ok(principal) => principal,
            Err(why) => {
                tracing::debug!(%why, "MCP request with a refused access token: 401");
                return guard.unauthorized(Some(&why.to_string()));
            }
        },
    };
    let mut request = request;
    if request.method() == Method::POST && !guard.scopes.is_empty() {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        };
        if let Some(tool) = called_tool(&bytes)
            && let Some(needed) = guard.scopes.get(&tool)
            && needed.iter().any(|scope| !principal.has_scope(scope))
        {
            tracing::debug!(%tool, "MCP call without the tool's scopes: 403");
            return guard.forbidden(&tool, needed);
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The tool a `tools/call` request body calls. Read as a JSON value, where
/// a repeated key keeps its last value, as any parser that accepts it
/// does: a body with `"params"` twice can't name one tool here and run
/// another.
fn called_tool(body: &[u8]) -> Option<String> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    Some(message.get("params")?.get("name")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_called_tool_is_read_from_a_tools_call_only() {
        let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"close_ticket","arguments":{}}}"#;
        assert_eq!(called_tool(call).as_deref(), Some("close_ticket"));
        assert_eq!(
            called_tool(br#"{"method":"tools/list","params":{"name":"x"}}"#),
            None
        );
        assert_eq!(called_tool(b"[1]"), None);
        let twice =
            br#"{"method":"tools/call","params":{"name":"list"},"params":{"name":"close_ticket"}}"#;
        assert_eq!(called_tool(twice).as_deref(), Some("close_ticket"));
    }

    #[test]
    fn a_bearer_token_is_read_in_any_case_of_the_scheme() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }

    #[test]
    fn quoted_texts_stay_one_quoted_string() {
        assert_eq!(quoted("a \"b\" \\ c\nd"), "a 'b' ' c d");
        assert_eq!(quoted("café €"), "caf? ?");
    }
}
