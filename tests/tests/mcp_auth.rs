//! MCP over streamable HTTP as an OAuth 2.0 resource server, over real
//! HTTP on 127.0.0.1: access tokens the test signs (ES256, keys made with
//! rcgen) against a JWKS it serves; every way a token can be wrong is a
//! `401` pointing at the Protected Resource Metadata, a missing scope a
//! `403`, a good token runs the call with the upstream token the
//! `TokenSource` gave — never the bearer; no token, key or claim in the
//! log at TRACE.
//!
//! Needs the `mcp` feature: `cargo test -p atp-tests --features mcp`.
#![cfg(feature = "mcp")]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use atp_sdk::oauth::{
    BoxFuture, JwtVerifier, Rejection, ResourceServer, TokenSource, TokenVerifier,
};
use atp_sdk::{AuthToken, Context, Principal, ToolKitClient, Transport, atp_tool};
use atp_tests::issuer::{Issuer, Key, now};
use atp_tests::mcp_client::raw::{self, initialize};
use atp_tests::mcp_client::{HttpServed, call, http_client};
use atp_tests::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The tools
// ---------------------------------------------------------------------------

/// Closes a ticket in the tracker (its API takes the user's token).
#[atp_tool(auth_provider = "tracker", scopes = ["tickets:write"])]
async fn close_ticket(id: u64, token: AuthToken, ctx: Context) -> Value {
    json!({
        "closed": id,
        "upstream_token": token.as_str(),
        "subject": ctx.principal().map(Principal::subject),
    })
}

/// Lists the tickets (any authenticated caller).
#[atp_tool]
fn list_tickets() -> Vec<u64> {
    vec![1, 2, 3]
}

/// The upstream token each user holds: made from the subject and the
/// provider, so a test can tell it from the bearer.
struct Vault;

impl TokenSource for Vault {
    fn token<'a>(
        &'a self,
        principal: &'a Principal,
        provider: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthToken>, String>> {
        Box::pin(async move {
            Ok(match principal.subject() {
                "mallory" => None,
                subject => Some(AuthToken::new(format!("upstream-{provider}-{subject}"))),
            })
        })
    }
}

/// A toolkit serving the two tools as a resource server of `issuer`,
/// checking its JWTs (with `configure`'s settings).
async fn protected(
    issuer: &Issuer,
    configure: impl FnOnce(JwtVerifier) -> JwtVerifier,
) -> HttpServed {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let verifier = configure(
        JwtVerifier::new(issuer.url(), url.clone()).jwks_url(format!("{}/jwks", issuer.url())),
    );
    protected_by(issuer, listener, &url, verifier)
}

/// The same on `listener` (at `url`), tokens checked by `verifier`.
fn protected_by(
    issuer: &Issuer,
    listener: tokio::net::TcpListener,
    url: &str,
    verifier: impl TokenVerifier,
) -> HttpServed {
    init_logging();
    let client = ToolKitClient::builder("", "tickets")
        .transport(Transport::McpHttp)
        .tools(["close_ticket", "list_tickets"])
        .mcp_resource_server(ResourceServer::new(url, [issuer.url()], verifier))
        .mcp_token_source(Vault)
        .build()
        .unwrap();
    HttpServed::on(client, listener)
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// Every token that is not good for this server is a 401 pointing at the
/// metadata: none, another audience, expired, not yet valid, signed with
/// another key, from another issuer, not a JWT, a symmetric algorithm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_good_token_is_a_401_pointing_at_the_metadata() {
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let served = protected(&issuer, |v| v).await;
    let url = served.url.clone();
    let metadata = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp");

    let none = raw::post(&url, None, None, initialize()).await;
    assert_eq!(none.status(), 401);
    let text = challenge(&none);
    assert!(text.starts_with("Bearer "), "{text}");
    assert!(
        text.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{text}"
    );
    assert!(text.contains("scope=\"tickets:write\""), "{text}");
    assert!(!text.contains("error="), "no token is no error: {text}");

    let good = issuer.claims(&url, "alice", "tickets:write");
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 600);
    let mut early = good.clone();
    early["nbf"] = json!(now() + 600);
    let mut elsewhere = good.clone();
    elsewhere["aud"] = json!("https://another.example/mcp");
    let mut foreign = good.clone();
    foreign["iss"] = json!("http://127.0.0.1:9/another-issuer");
    let mut anonymous = good.clone();
    anonymous.as_object_mut().unwrap().remove("sub");
    let mut nobody = good.clone();
    nobody["sub"] = json!("");
    let mut numbered = good.clone();
    numbered["sub"] = json!(42);
    let impostor = Key::new("k1"); // the same kid, another key
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
    )
    .unwrap();
    let cases = [
        (
            "another audience",
            key.sign(&elsewhere),
            "not issued for this server",
        ),
        ("expired", key.sign(&expired), "expired"),
        ("not yet valid", key.sign(&early), "not valid yet"),
        ("another key", impostor.sign(&good), "signature"),
        ("another issuer", key.sign(&foreign), "another issuer"),
        ("no subject", key.sign(&anonymous), "lacks a required claim"),
        ("an empty subject", key.sign(&nobody), "subject (sub)"),
        (
            "a subject not a string",
            key.sign(&numbered),
            "lacks a required claim",
        ),
        ("not a JWT", "opaque-token-abc".to_owned(), "not a JWT"),
        ("HS256", hs256, "algorithm"),
    ];
    for (what, token, says) in cases {
        let response = raw::post(&url, None, Some(&token), initialize()).await;
        assert_eq!(response.status(), 401, "{what}");
        let text = challenge(&response);
        assert!(text.contains("error=\"invalid_token\""), "{what}: {text}");
        assert!(text.contains(says), "{what}: {text}");
        assert!(
            text.contains(&format!("resource_metadata=\"{metadata}\"")),
            "{what}: {text}"
        );
        assert!(
            !text.contains(&token),
            "{what}: the token is not quoted back"
        );
    }
    // A good one passes.
    let session = raw::open_session(&url, Some(&key.sign(&good))).await;
    assert!(!session.is_empty());
    served.stop().await;
}

/// A good token runs the call: the tool's `AuthToken` is what the
/// `TokenSource` gave for the principal, never the bearer; the principal
/// is in the call's `Context`; a tool's scopes the token lacks are a 403
/// `insufficient_scope`; no upstream token for the user is the seed's
/// text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_token_runs_the_call_with_the_users_upstream_token_never_the_bearer() {
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let served = protected(&issuer, |v| v).await;
    let url = served.url.clone();

    // rmcp's own client, with the bearer.
    let bearer = key.sign(&issuer.claims(&url, "alice", "tickets:read tickets:write"));
    let mcp = http_client(&url, Some(&bearer)).await;
    let (is_error, _, structured) = call(&mcp, "close_ticket", json!({"id": 7})).await;
    assert!(!is_error);
    let answer = structured.expect("an object");
    assert_eq!(answer["upstream_token"], "upstream-tracker-alice");
    assert_ne!(answer["upstream_token"], json!(bearer));
    assert_eq!(answer["subject"], "alice");
    let (is_error, text, _) = call(&mcp, "list_tickets", json!({})).await;
    assert_eq!((is_error, text.as_str()), (false, "[1,2,3]"));
    mcp.cancel().await.unwrap();

    // Without the tool's scope: 403, the scope named.
    let reader = key.sign(&issuer.claims(&url, "bob", "tickets:read"));
    let session = raw::open_session(&url, Some(&reader)).await;
    let (status, _) = raw::request(&url, &session, Some(&reader), "tools/list", json!({})).await;
    assert_eq!(status, 200, "listing needs no scope");
    let call_close = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                            "params": {"name": "close_ticket", "arguments": {"id": 1}}});
    let refused = raw::post(&url, Some(&session), Some(&reader), call_close.to_string()).await;
    assert_eq!(refused.status(), 403);
    let text = challenge(&refused);
    assert!(text.contains("error=\"insufficient_scope\""), "{text}");
    assert!(text.contains("scope=\"tickets:write\""), "{text}");
    assert!(text.contains("resource_metadata=\""), "{text}");
    let (status, listed) = raw::request(
        &url,
        &session,
        Some(&reader),
        "tools/call",
        json!({"name": "list_tickets"}),
    )
    .await;
    assert_eq!(status, 200, "a tool without scopes still runs: {listed}");

    // A user without an upstream token: the seed's text.
    let mallory = key.sign(&issuer.claims(&url, "mallory", "tickets:write"));
    let session = raw::open_session(&url, Some(&mallory)).await;
    let (status, result) = raw::request(
        &url,
        &session,
        Some(&mallory),
        "tools/call",
        json!({"name": "close_ticket", "arguments": {"id": 2}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(result["result"]["isError"], true, "{result}");
    assert_eq!(
        result["result"]["content"][0]["text"],
        "Missing auth_token for authenticated tool"
    );
    served.stop().await;
}

/// Opaque tokens, checked by introspection (RFC 7662) the way the
/// `TokenVerifier` docs tell a user to write it: POST the token to the
/// authorization server, require `active` and this resource in `aud`.
struct Introspection {
    url: String,
    resource: String,
    http: reqwest::Client,
}

impl TokenVerifier for Introspection {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Rejection>> {
        Box::pin(async move {
            let answer: Value = self
                .http
                .post(&self.url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .map_err(|_| Rejection::new("the introspection endpoint is down"))?
                .json()
                .await
                .map_err(|_| Rejection::new("the introspection answer is not JSON"))?;
            if answer["active"] != true {
                return Err(Rejection::new("the access token is not active"));
            }
            if answer["aud"] != self.resource.as_str() {
                return Err(Rejection::new(
                    "the access token was not issued for this server",
                ));
            }
            let claims = answer.as_object().cloned().unwrap_or_default();
            Ok(Principal::from_claims(claims))
        })
    }
}

/// A `TokenVerifier` of the program's own (opaque tokens, introspected)
/// is the whole check: a good token runs the call with the user's
/// upstream token and its principal; an unknown or inactive one, or one
/// for another resource, is a 401 with the verifier's reason and the
/// metadata pointer; scopes are checked the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_token_is_checked_by_the_programs_own_verifier() {
    let issuer = Issuer::start(&[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let verifier = Introspection {
        url: issuer.introspection_url(),
        resource: url.clone(),
        http: reqwest::Client::new(),
    };
    let served = protected_by(&issuer, listener, &url, verifier);

    let good = issuer.issue_opaque(issuer.claims(&url, "carol", "tickets:write"));
    let mcp = http_client(&url, Some(&good)).await;
    let (is_error, _, structured) = call(&mcp, "close_ticket", json!({"id": 9})).await;
    assert!(!is_error);
    let answer = structured.expect("an object");
    assert_eq!(answer["upstream_token"], "upstream-tracker-carol");
    assert_eq!(answer["subject"], "carol");
    mcp.cancel().await.unwrap();

    let elsewhere =
        issuer.issue_opaque(issuer.claims("https://elsewhere.example/mcp", "carol", ""));
    let reader = issuer.issue_opaque(issuer.claims(&url, "dan", "tickets:read"));
    for (what, token, says) in [
        ("unknown", "opaque-never-issued".to_owned(), "not active"),
        ("another resource", elsewhere, "not issued for this server"),
    ] {
        let response = raw::post(&url, None, Some(&token), initialize()).await;
        assert_eq!(response.status(), 401, "{what}");
        let text = challenge(&response);
        assert!(text.contains("error=\"invalid_token\""), "{what}: {text}");
        assert!(text.contains(says), "{what}: {text}");
        assert!(text.contains("resource_metadata=\""), "{what}: {text}");
    }
    let session = raw::open_session(&url, Some(&reader)).await;
    let call_close = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                            "params": {"name": "close_ticket", "arguments": {"id": 1}}});
    let refused = raw::post(&url, Some(&session), Some(&reader), call_close.to_string()).await;
    assert_eq!(refused.status(), 403, "scopes are checked for any verifier");
    served.stop().await;
}

/// The Protected Resource Metadata (RFC 9728) at both paths, valid JSON
/// with `resource` (required) and the fields clients read; the issuer's
/// keys found through its own metadata when no JWKS URL is given; a key
/// rotation (a token with a new `kid`) fetches the keys again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_is_published_and_keys_are_found_and_rotated() {
    let old = Key::new("old");
    let issuer = Issuer::start(&[&old]).await;
    // Discovery: ResourceServer::jwt finds the JWKS in the issuer's metadata.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{base}/mcp");
    let client = ToolKitClient::builder("", "tickets")
        .transport(Transport::McpHttp)
        .tools(["close_ticket", "list_tickets"])
        .mcp_resource_server(
            ResourceServer::jwt(url.clone(), issuer.url()).scopes_supported(["tickets:read"]),
        )
        .build()
        .unwrap();
    let served = HttpServed::on(client, listener);

    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let document: Value = response.json().await.expect("JSON");
        assert_eq!(document["resource"], json!(url), "{path}: {document}");
        assert_eq!(document["authorization_servers"], json!([issuer.url()]));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        let scopes = document["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&json!("tickets:read")), "{document}");
        assert!(scopes.contains(&json!("tickets:write")), "{document}");
    }
    let token = old.sign(&issuer.claims(&url, "alice", "tickets:write"));
    raw::open_session(&url, Some(&token)).await;
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "fetched once");
    raw::open_session(&url, Some(&token)).await;
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "then cached");
    served.stop().await;

    // Rotation: a token signed with a key published after the first fetch.
    let new = Key::new("new");
    let served = protected(&issuer, |v| v.min_refresh_interval(Duration::ZERO)).await;
    let url = served.url.clone();
    raw::open_session(&url, Some(&old.sign(&issuer.claims(&url, "a", "")))).await;
    let before = issuer.fetches.load(Ordering::SeqCst);
    issuer.published.lock().unwrap().push(new.jwk.clone());
    raw::open_session(&url, Some(&new.sign(&issuer.claims(&url, "a", "")))).await;
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        before + 1,
        "fetched again for the new kid"
    );
    served.stop().await;
}

/// An issuer whose JWKS fails costs one fetch per refresh interval, not
/// one per request: 20 requests at once make one fetch, the next ones
/// none until the interval has passed, and then one fetch gets the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_is_down_is_asked_once_per_interval() {
    use atp_sdk::oauth::TokenVerifier as _;
    const GAP: Duration = Duration::from_millis(300);
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    issuer.failing.store(true, Ordering::SeqCst);
    let verifier = Arc::new(
        JwtVerifier::new(issuer.url(), "https://mcp.example/mcp")
            .jwks_url(issuer.jwks_url())
            .min_refresh_interval(GAP),
    );
    let token = key.sign(&issuer.claims("https://mcp.example/mcp", "alice", ""));
    // Before the first fetch is tried: the next may come GAP after it.
    let tried = std::time::Instant::now();
    let asks: Vec<_> = (0..20)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for ask in asks {
        let refused = ask.await.unwrap().expect_err("no keys, no entry");
        assert!(
            refused.to_string().contains("keys could not be fetched"),
            "{refused}"
        );
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "one fetch for 20");
    issuer.failing.store(false, Ordering::SeqCst);
    // Within the interval: refused again without asking.
    while tried.elapsed() < GAP / 2 {
        assert!(verifier.verify(&token).await.is_err(), "not asked yet");
        assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "not asked again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // After it: asked once more, and the keys serve.
    let admitted = tokio::time::timeout(WAIT, async {
        loop {
            if verifier.verify(&token).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        admitted.is_ok(),
        "the keys are fetched once the issuer is back"
    );
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2, "asked once more");
    assert!(tried.elapsed() >= GAP, "not before the interval");
}

/// A resource server may listen off loopback; token passthrough may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_may_listen_off_loopback_but_passthrough_may_not() {
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let verifier =
        JwtVerifier::new(issuer.url(), url.clone()).jwks_url(format!("{}/jwks", issuer.url()));
    let client = ToolKitClient::builder("", "tickets")
        .transport(Transport::McpHttp)
        .tools(["list_tickets"])
        .mcp_resource_server(ResourceServer::new(url.clone(), [issuer.url()], verifier))
        .build()
        .unwrap();
    let served = HttpServed::on(client, listener);
    let token = key.sign(&issuer.claims(&url, "alice", ""));
    raw::open_session(&url, Some(&token)).await;
    assert_eq!(
        raw::post(&url, None, None, initialize()).await.status(),
        401
    );
    served.stop().await;

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = ToolKitClient::builder("", "tickets")
        .transport(Transport::McpHttp)
        .tools(["list_tickets"])
        .mcp_bearer_passthrough(true)
        .mcp_allow_unauthenticated(true)
        .build()
        .unwrap()
        .serve_mcp_http_on(listener)
        .await
        .expect_err("passthrough off loopback");
    assert!(
        matches!(&err, atp_sdk::Error::Config(text) if text.contains("passthrough is for loopback only")),
        "{err}"
    );
}

/// A configured scope that is not one OAuth scope token (RFC 6749 §3.3)
/// fails `build()`, naming it: it would otherwise break the
/// `WWW-Authenticate` challenge it is published in.
#[test]
fn a_configured_scope_that_is_not_a_scope_token_fails_the_build() {
    for scope in ["tickets read", "quo\"te", "caf\u{e9}", ""] {
        let verifier = JwtVerifier::new("https://issuer.example", "https://crm.example/mcp");
        let server = ResourceServer::new(
            "https://crm.example/mcp",
            ["https://issuer.example"],
            verifier,
        )
        .scopes_supported(["tickets:read", scope]);
        let err = ToolKitClient::builder("", "tickets")
            .transport(Transport::McpHttp)
            .tools(["list_tickets"])
            .mcp_resource_server(server)
            .build()
            .expect_err("a bad scope");
        assert!(
            matches!(&err, atp_sdk::Error::Config(text)
                if text.contains(&format!("the scope {scope:?}"))
                    && text.contains("an OAuth scope is one word")),
            "{err}"
        );
    }
}

/// No token (the bearer, the upstream one), no key of the JWKS and no
/// claim reaches the log at TRACE, rmcp's included: the toolkit as a
/// process, configured from the environment, its stderr read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_key_or_claim_reaches_the_log_at_trace() {
    use tokio::io::AsyncBufReadExt;
    let key = Key::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_env_toolkit"))
        .env("ATP_TRANSPORT", "mcp-http")
        .env("ATP_MCP_ADDR", format!("127.0.0.1:{port}"))
        .env("ATP_MCP_RESOURCE", &url)
        .env("ATP_MCP_ISSUER", issuer.url())
        .env("ATP_MCP_JWKS_URL", format!("{}/jwks", issuer.url()))
        .env("ATP_APP_NAME", "tickets-logged")
        .env_remove("ATP_API_KEY")
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    tokio::spawn({
        let log = log.clone();
        async move {
            let mut ready_tx = Some(ready_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("url=http://")
                    && let Some(tx) = ready_tx.take()
                {
                    let _ = tx.send(());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    tokio::time::timeout(WAIT, ready).await.unwrap().unwrap();
    let claims = issuer.claims(&url, "alice-subject-4711", "tickets:write");
    let token = key.sign(&claims);
    let mcp = http_client(&url, Some(&token)).await;
    let (is_error, text, _) = call(&mcp, "echo", json!({"text": "logged?"})).await;
    assert!(!is_error, "{text}");
    let (is_error, text, _) = call(&mcp, "whoami", json!({})).await;
    assert_eq!(
        (is_error, text.as_str()),
        (true, "Missing auth_token for authenticated tool"),
        "no passthrough: the bearer is not the tool's token"
    );
    mcp.cancel().await.unwrap();
    // A refused token is logged as refused, not quoted.
    let mut wrong = claims.clone();
    wrong["aud"] = json!("https://elsewhere.example");
    let refused = key.sign(&wrong);
    assert_eq!(
        raw::post(&url, None, Some(&refused), initialize())
            .await
            .status(),
        401
    );
    child.kill().await.unwrap();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "a verbose log: {log}"
    );
    let signature = token.rsplit('.').next().unwrap().to_owned();
    for secret in [
        token.as_str(),
        refused.as_str(),
        signature.as_str(),
        "alice@private.example",
        "alice-subject-4711",
        key.jwk["x"].as_str().unwrap(),
        key.jwk["y"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
