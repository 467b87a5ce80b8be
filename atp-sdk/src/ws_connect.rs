//! Opening a WebSocket to the ATP server, for both sides that do: the
//! toolkit's link (`ws`) and the LLM client's connection
//! (`llm::connection`). TCP with no Nagle delay, TLS for `wss://`, the
//! handshake, all within one time limit.
//!
//! The URL holds the API key: nothing here quotes it, and [`Refused`]
//! carries no URL.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_websockets::{ClientBuilder, Connector, Limits, MaybeTlsStream, WebSocketStream};

/// Why no WebSocket was opened.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The URL does not parse.
    InvalidUrl,
    /// The server answered the handshake with 401 or 403: the key.
    Unauthorized(u16),
    /// TCP, TLS or the handshake failed otherwise.
    Failed(tokio_websockets::Error),
    /// Not done within the time limit.
    TimedOut(Duration),
}

/// Opens `url` (`ws://` or `wss://`, TLS through `tls`), reading frames of
/// at most `max_payload` bytes, within `limit`. `wrap` sees the TCP stream
/// first (to count its progress, say).
pub(crate) async fn open<S>(
    url: &str,
    tls: &Connector,
    max_payload: usize,
    limit: Duration,
    wrap: impl FnOnce(TcpStream) -> S,
) -> Result<WebSocketStream<MaybeTlsStream<S>>, Refused>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let uri: http::Uri = url.parse().map_err(|_| Refused::InvalidUrl)?;
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let connect = async {
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        // Frames are small and latency matters: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let tcp = wrap(tcp);
        let stream = if secure {
            tls.wrap(&host, tcp).await?
        } else {
            Connector::Plain.wrap(&host, tcp).await?
        };
        ClientBuilder::from_uri(uri)
            .limits(Limits::default().max_payload_len(Some(max_payload)))
            .connect_on(stream)
            .await
    };
    match timeout(limit, connect).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(tokio_websockets::Error::Upgrade(
            tokio_websockets::upgrade::Error::DidNotSwitchProtocols(status @ (401 | 403)),
        ))) => Err(Refused::Unauthorized(status)),
        Ok(Err(err)) => Err(Refused::Failed(err)),
        Err(_) => Err(Refused::TimedOut(limit)),
    }
}
