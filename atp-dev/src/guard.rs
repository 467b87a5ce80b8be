//! Who may ask atp-dev what — what makes it safe to leave running on a
//! laptop that browses the web:
//!
//! - **Host allow-list** on every route: `localhost`, any IP address (a
//!   DNS-rebinding page reaches 127.0.0.1 under a name of its own, never
//!   under an IP literal) and the names given with `--allow-host`; any
//!   other `Host` is refused (403).
//! - **Origin check** on every API (all but the playground page itself):
//!   a request carrying an `Origin` other than atp-dev's own (`http://` +
//!   the request's host) or one given with `--allow-origin` is refused
//!   (403), and so is one a browser marks as coming from another site
//!   (`Sec-Fetch-Site`) without an allowed `Origin` — an image or a
//!   no-cors GET of the inbox would otherwise take a toolkit's requests.
//! - **JSON only**: a body (`POST`, or a `DELETE` with one) must be
//!   `application/json` (415), so no cross-site "simple" form or
//!   `text/plain` request gets through without a preflight.
//! - **One key**: with `--api-key K`, the dev API needs
//!   `Authorization: Bearer K` (401); the LLM-client API checks K as the
//!   reference client sends it (`Authorization: ApiKey K`, or the key in
//!   the WebSocket path and its `auth` message: `llm_api.rs`); toolkits
//!   send K as ever (`hub.accepts`).
//! - **Bounded streams**: at most N event streams and WebSockets open at
//!   once per client address (429 past it).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::credentials::{authorization, constant_time_eq};

/// What the guard lets through.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuardConfig {
    /// The key the dev and LLM-client APIs need, if any.
    pub(crate) api_key: Option<String>,
    /// Host names besides `localhost` and IP addresses.
    pub(crate) allow_hosts: Vec<String>,
    /// Origins besides atp-dev's own.
    pub(crate) allow_origins: Vec<String>,
    /// Event streams and WebSockets open at once per client address.
    pub(crate) max_streams_per_client: usize,
}

/// What part of the server a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// The playground page.
    Page,
    /// `/api/dev/*`: the call API, the call log, the event streams.
    Dev,
    /// The toolkit side: announce, the toolkit WebSocket, the inbox.
    Toolkit,
    /// The toolkit WebSocket (a browser could open one).
    ToolkitSocket,
    /// The LLM-client API (HTTP and WebSocket).
    LlmClient,
}

fn area(path: &str) -> Area {
    if path.starts_with("/api/dev/") || path == "/api/dev" {
        Area::Dev
    } else if path.starts_with("/ws/v1/atp/toolkit-client/") {
        Area::ToolkitSocket
    } else if path.starts_with("/ws/v1/atp/llm-client/")
        || path.starts_with("/api/v1/atp/llm-client/")
    {
        Area::LlmClient
    } else if path.starts_with("/api/") {
        Area::Toolkit
    } else {
        Area::Page
    }
}

/// The middleware in front of every route.
pub(crate) async fn guard(
    State(config): State<Arc<GuardConfig>>,
    request: Request,
    next: Next,
) -> Response {
    match check(&config, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn check(config: &GuardConfig, request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    let Some(host) = host(request) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a Host header is required",
        ));
    };
    if !host_allowed(&host, &config.allow_hosts) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "host {host:?} is not allowed: atp-dev answers to localhost and IP addresses (add a name with --allow-host)"
            ),
        ));
    }
    let area = area(request.uri().path());
    if area != Area::Page {
        match headers.get(header::ORIGIN) {
            Some(origin) => {
                let origin = origin.to_str().unwrap_or_default();
                let own = format!("http://{host}");
                if !origin.eq_ignore_ascii_case(&own)
                    && !config
                        .allow_origins
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(origin))
                {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        format!("origin {origin:?} is not allowed (add it with --allow-origin)"),
                    ));
                }
            }
            // A browser sends no Origin on some requests (an image, a
            // no-cors GET), but it says where they come from.
            None if from_another_site(headers) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "requests from another site's pages are not allowed",
                ));
            }
            None => {}
        }
    }
    if has_body(request) && !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    if area == Area::Dev
        && let Some(key) = &config.api_key
        && !bearer_is(headers, key)
        // The event WebSocket authenticates with its first message: a
        // browser can't set headers on a WebSocket.
        && request.uri().path() != "/api/dev/events/ws"
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this atp-dev needs its key: send `Authorization: Bearer <key>` (the CLI: --key or ATP_DEV_KEY)",
        ));
    }
    Ok(())
}

/// The request's host (`name[:port]`), from `Host` (HTTP/1.1) or the URI.
fn host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
}

/// Whether a `Host` value (`name[:port]`) may be answered.
pub(crate) fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        // [v6]:port
        Some(rest) => match rest.split_once(']') {
            Some((v6, _)) => return v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// Whether a browser says the request comes from another site's page
/// (`Sec-Fetch-Site: cross-site` or `same-site`; programs send none).
fn from_another_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.eq_ignore_ascii_case("cross-site") || v.eq_ignore_ascii_case("same-site")
        })
}

fn has_body(request: &Request) -> bool {
    let method = request.method();
    if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        return true;
    }
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn bearer_is(headers: &HeaderMap, key: &str) -> bool {
    authorization(headers, "bearer").is_some_and(|given| constant_time_eq(given, key))
}

/// The long-lived connections (event streams, WebSockets) open per client
/// address.
#[derive(Debug, Default)]
pub(crate) struct StreamSlots {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open stream; its slot is given back when it is dropped.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    slots: Arc<StreamSlots>,
    peer: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

impl StreamSlots {
    /// A slot for one more stream of `peer`, or 429 past `max`.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        peer: Option<SocketAddr>,
        max: usize,
    ) -> Result<Option<StreamSlot>, ApiError> {
        // In-process callers (tests' own routers) have no address to count.
        let Some(peer) = peer else { return Ok(None) };
        let peer = peer.ip();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(peer).or_default();
        if *n >= max {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many streams open from {peer}: at most {max} at once"),
            ));
        }
        *n += 1;
        Ok(Some(StreamSlot {
            slots: self.clone(),
            peer,
        }))
    }
}

/// The client's address, when the server knows it.
pub(crate) fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<crate::listener::Peer>>()
        .map(|ConnectInfo(peer)| peer.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_by_ip_or_localhost_or_listed() {
        let listed = vec!["devbox.lan".to_owned()];
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST",
            "[::1]:8787",
            "192.168.1.20:8787",
            "devbox.lan:8787",
        ] {
            assert!(host_allowed(ok, &listed), "{ok}");
        }
        for refused in [
            "evil.example:8787",
            "evil.example",
            "127.0.0.1.evil.example",
            "[nope]:1",
            "localhost.evil",
        ] {
            assert!(!host_allowed(refused, &listed), "{refused}");
        }
    }

    #[test]
    fn bearer_keys_compare_exactly() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(bearer_is(&headers, "s3cret"));
        assert!(!bearer_is(&headers, "s3cre"));
        assert!(!bearer_is(&headers, "s3cret2"));
        headers.insert(header::AUTHORIZATION, "ApiKey s3cret".parse().unwrap());
        assert!(!bearer_is(&headers, "s3cret"));
        assert_eq!(authorization(&headers, "apikey"), Some("s3cret"));
    }
}
