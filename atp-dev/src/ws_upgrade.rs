//! WebSocket upgrades for atp-dev's endpoints, served by `tokio-websockets`
//! (like the SDK's client): it logs nothing, so no frame — and no token in
//! one — can reach a logger, whatever a program embedding atp-dev bridges
//! (tungstenite, behind axum's own `ws`, logs every frame at TRACE through
//! `log`).

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio_websockets::{Limits, ServerBuilder, WebSocketStream};

use crate::api::{ApiError, AppState};
use crate::guard::{StreamSlot, peer};

/// An open WebSocket on an upgraded HTTP connection.
pub(crate) type WebSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A request to upgrade to a WebSocket (RFC 6455 section 4.2.1). It holds
/// one of its client's stream slots for as long as the socket is open.
#[derive(Debug)]
pub(crate) struct WsUpgrade {
    on_upgrade: hyper::upgrade::OnUpgrade,
    accept: HeaderValue,
    slot: Option<StreamSlot>,
}

impl FromRequestParts<AppState> for WsUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bad = |why: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("not a WebSocket upgrade: {why}"),
            )
        };
        if parts.method != Method::GET {
            return Err(bad("the method is not GET"));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(bad("no `Connection: upgrade`"));
        }
        if !has_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(bad("no `Upgrade: websocket`"));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            != Some(b"13")
        {
            return Err(bad("`Sec-WebSocket-Version` is not 13"));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(bad("no `Sec-WebSocket-Key`"));
        };
        let accept = accept_key(key.as_bytes());
        let slot = state
            .streams
            .acquire(peer(&parts.extensions), state.guard.max_streams_per_client)?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(|| bad("the connection can't be upgraded"))?;
        Ok(Self {
            on_upgrade,
            accept,
            slot,
        })
    }
}

impl WsUpgrade {
    /// Answers `101 Switching Protocols` and runs `serve` on the WebSocket
    /// once the connection is upgraded. Messages longer than `max_bytes`
    /// are refused (the connection closes with 1009).
    pub(crate) fn on_upgrade<F, Fut>(self, max_bytes: usize, serve: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        let slot = self.slot;
        tokio::spawn(async move {
            let _slot = slot;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let socket = ServerBuilder::new()
                        .limits(Limits::default().max_payload_len(Some(max_bytes)))
                        .serve(TokioIo::new(upgraded));
                    serve(socket).await;
                }
                Err(err) => tracing::debug!(%err, "WebSocket upgrade failed"),
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept)
            .body(Body::empty())
            .expect("a valid response")
    }
}

/// Whether a comma-separated header holds `token` (in any case).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + the RFC's GUID)).
fn accept_key(key: &[u8]) -> HeaderValue {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha1.finalize());
    HeaderValue::from_str(&accept).expect("base64 is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfcs() {
        // RFC 6455, section 1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
