//! An MCP server you can deploy where others reach it: MCP over HTTP as an
//! OAuth 2.0 resource server. Every request needs an access token issued
//! for this server (its `aud` is the resource URI); a tool's `scopes` are
//! checked; a tool that calls an upstream API gets the *user's* token for
//! it from a `TokenSource` — never the MCP client's token.
//!
//! To run without an account anywhere, the example is its own
//! development authorization server: it makes a P-256 key at start,
//! serves its JWKS and metadata on 127.0.0.1:8790, and mints a token for
//! the user `alice`. Then it serves the tools at
//! `http://127.0.0.1:8788/mcp` and prints a token and a `curl` to try:
//!
//! ```text
//! cargo run -p atp-examples --features mcp --example mcp_oauth
//! cargo run -p atp-examples --features mcp --example mcp_oauth -- --once   # calls itself, then exits
//! ```
//!
//! With a real authorization server (Keycloak, Auth0, Entra ID, ...), drop
//! the development one and configure the toolkit from the environment
//! (`atp_sdk::run()` or `ToolKitClient::builder_from_env()`):
//!
//! ```text
//! ATP_TRANSPORT=mcp-http
//! ATP_MCP_ADDR=0.0.0.0:8788
//! ATP_MCP_RESOURCE=https://tickets.example.com/mcp    # the URL clients reach, the tokens' aud
//! ATP_MCP_ISSUER=https://auth.example.com/realms/acme # the tokens' iss; its metadata names its JWKS
//! ```
//!
//! and give the builder your `TokenSource` (`.mcp_token_source(...)`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atp_sdk::oauth::{BoxFuture, JwtVerifier, ResourceServer, TokenSource};
use atp_sdk::{AuthToken, Context, Principal, ToolKitClient, Transport, atp_tool};
use base64::Engine as _;
use serde_json::{Value, json};

/// Lists the open tickets.
#[atp_tool(scopes = ["tickets:read"])]
fn list_tickets(ctx: Context) -> Value {
    let who = ctx.principal().map(Principal::subject).unwrap_or("nobody");
    json!({"for": who, "tickets": [{"id": 1, "title": "Printer on fire"}]})
}

/// Closes a ticket in the tracker, with the user's tracker token.
#[atp_tool(auth_provider = "tracker", scopes = ["tickets:write"])]
async fn close_ticket(id: u64, token: AuthToken) -> Value {
    // A real tool calls the tracker's API with `token` here.
    json!({"closed": id, "with_a_tracker_token_of": token.as_str().len()})
}

/// The users' tracker tokens (a stand-in for the store your app keeps
/// after each user connected their tracker account).
struct Vault(HashMap<&'static str, &'static str>);

impl TokenSource for Vault {
    fn token<'a>(
        &'a self,
        principal: &'a Principal,
        provider: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthToken>, String>> {
        Box::pin(async move {
            if provider != "tracker" {
                return Err(format!("no {provider} accounts here"));
            }
            Ok(self.0.get(principal.subject()).map(|t| AuthToken::new(*t)))
        })
    }
}

/// The development authorization server: a key made now, its public half
/// as a JWKS, the issuer's metadata, and tokens signed with it.
struct DevIssuer {
    url: String,
    der: Vec<u8>,
}

impl DevIssuer {
    async fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let pair = rcgen::KeyPair::generate()?;
        let point = pair.public_key_raw().to_vec();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let url = format!("http://{addr}");
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": "dev", "x": b64(&point[1..33]), "y": b64(&point[33..])}]});
        let metadata = json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
            "token_endpoint": format!("{url}/token"), "response_types_supported": ["code"]});
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || async move { axum::Json(metadata) }),
            );
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url,
            der: pair.serialize_der(),
        })
    }

    /// An access token for `subject` with `scope`, for `resource`, valid
    /// for an hour.
    fn token(&self, resource: &str, subject: &str, scope: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = json!({"iss": self.url, "aud": resource, "sub": subject, "scope": scope,
                            "iat": now, "exp": now + 3600});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("dev".to_owned());
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.der);
        Ok(jsonwebtoken::encode(&header, &claims, &key)?)
    }
}

/// One JSON-RPC exchange over MCP's streamable HTTP: the status, the
/// session id, and the message.
async fn exchange(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    session: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, Option<String>, Value)> {
    let mut request = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // An event stream may stay open after its message: read until one
    // JSON-RPC message has come (or the body ends).
    let mut response = response;
    let mut text = String::new();
    let mut message = Value::Null;
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_secs(5), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(found) = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(text.as_str()))
            .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        {
            message = found;
            break;
        }
    }
    Ok((status, id, message))
}

/// What `--once` shows: a call with each token, then exits.
async fn demo(url: &str, issuer: &DevIssuer) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "demo", "version": "0"}}});
    let no_token = http.post(url).json(&initialize).send().await?;
    println!(
        "no token          -> HTTP {} {}",
        no_token.status().as_u16(),
        no_token
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    );
    for (who, scope) in [
        ("alice", "tickets:read tickets:write"),
        ("bob", "tickets:read"),
    ] {
        let token = issuer.token(url, who, scope)?;
        let (_, session, _) = exchange(&http, url, &token, None, initialize.clone()).await?;
        let session = session.ok_or_else(|| anyhow::anyhow!("no session for {who}"))?;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        exchange(&http, url, &token, Some(&session), initialized).await?;
        for tool in ["list_tickets", "close_ticket"] {
            let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                              "params": {"name": tool, "arguments": {"id": 1}}});
            let (status, _, message) = exchange(&http, url, &token, Some(&session), call).await?;
            let shown = match status {
                200 => message["result"]["content"][0]["text"].to_string(),
                _ => message["error"]["message"].to_string(),
            };
            println!("{who:5} {tool:12} -> HTTP {status} {shown}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let once = std::env::args().any(|a| a == "--once");
    // The demo's own HTTP client (reqwest on rustls) uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Port 0 with --once, so a run in CI never collides.
    let port = |fixed: u16| if once { 0 } else { fixed };
    let issuer_addr: SocketAddr = ([127, 0, 0, 1], port(8790)).into();
    let mcp = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port(8788)))).await?;
    let issuer_probe = tokio::net::TcpListener::bind(issuer_addr).await?;
    let issuer_addr = issuer_probe.local_addr()?;
    drop(issuer_probe);
    let issuer = DevIssuer::start(issuer_addr).await?;
    let url = format!("http://{}/mcp", mcp.local_addr()?);

    let verifier = JwtVerifier::new(issuer.url.clone(), url.clone());
    let client = ToolKitClient::builder("", "tickets")
        .transport(Transport::McpHttp)
        .tools(["list_tickets", "close_ticket"])
        .mcp_resource_server(ResourceServer::new(
            url.clone(),
            [issuer.url.clone()],
            verifier,
        ))
        .mcp_token_source(Vault(HashMap::from([("alice", "alice-tracker-token")])))
        .build()?;
    let stop = client.stop_handle();
    let serving = tokio::spawn(client.serve_mcp_http_on(mcp));

    if once {
        demo(&url, &issuer).await?;
        stop.stop();
        serving.await??;
        return Ok(());
    }
    let token = issuer.token(&url, "alice", "tickets:read tickets:write")?;
    println!("MCP server (an OAuth resource server): {url}");
    println!(
        "its metadata: {}",
        url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    );
    println!("a development token for alice (valid for an hour):\n{token}\n");
    println!(
        "curl -i {url} -H 'Authorization: Bearer {token}' -H 'Accept: application/json, text/event-stream' \\\n  -H 'Content-Type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"0\"}}}}}}'"
    );
    println!("Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    stop.stop();
    serving.await??;
    Ok(())
}
