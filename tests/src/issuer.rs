//! An OAuth authorization server of the tests' own, for MCP over HTTP as
//! a resource server: P-256 keys made with rcgen, access tokens signed
//! ES256 with them, the public keys published as a JWKS, and the
//! issuer's metadata (RFC 8414), on 127.0.0.1; opaque tokens too, checked
//! at its introspection endpoint (RFC 7662, `POST /introspect`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::raw::{RawServer, Reply};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A P-256 signing key and its public JWK.
pub struct Key {
    kid: String,
    der: Vec<u8>,
    /// The public key, as the JWKS publishes it.
    pub jwk: Value,
}

impl Key {
    /// A new key with this `kid`.
    pub fn new(kid: &str) -> Key {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        Key {
            kid: kid.to_owned(),
            der: pair.serialize_der(),
            jwk: json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                        "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        }
    }

    /// A JWT of `claims`, signed ES256 with this key (its `kid` in the
    /// header).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.der),
        )
        .unwrap()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The authorization server: its metadata at
/// `/.well-known/oauth-authorization-server` and its JWKS at `/jwks`
/// (the keys in `published`, which a test may change).
#[derive(Debug)]
pub struct Issuer {
    raw: RawServer,
    /// The public keys the JWKS holds.
    pub published: Arc<Mutex<Vec<Value>>>,
    /// How many times the JWKS was fetched.
    pub fetches: Arc<AtomicUsize>,
    /// While set, the JWKS is answered HTTP 500 (an issuer having a bad
    /// day).
    pub failing: Arc<AtomicBool>,
    /// The opaque tokens issued, with the claims introspection answers.
    opaque: Arc<Mutex<HashMap<String, Value>>>,
}

impl Issuer {
    /// An issuer publishing `keys`.
    pub async fn start(keys: &[&Key]) -> Issuer {
        let published = Arc::new(Mutex::new(
            keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>(),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let opaque = Arc::new(Mutex::new(HashMap::<String, Value>::new()));
        let addr = Arc::new(OnceLock::<String>::new());
        let raw = RawServer::start({
            let (published, fetches, failing, addr, opaque) = (
                published.clone(),
                fetches.clone(),
                failing.clone(),
                addr.clone(),
                opaque.clone(),
            );
            move |request| match request.path.as_str() {
                // RFC 7662 §2: `token=...` form-encoded; an unknown token
                // is `{"active": false}`.
                "/introspect" if request.method == "POST" => {
                    let body = String::from_utf8_lossy(&request.body).into_owned();
                    let token = body
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("token="))
                        .unwrap_or_default();
                    let answer = match opaque.lock().unwrap().get(token) {
                        Some(claims) => {
                            let mut answer = claims.clone();
                            answer["active"] = json!(true);
                            answer
                        }
                        None => json!({"active": false}),
                    };
                    Reply::Json(200, answer.to_string())
                }
                "/jwks" => {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if failing.load(Ordering::SeqCst) {
                        return Reply::Json(500, "{}".to_owned());
                    }
                    let keys = published.lock().unwrap().clone();
                    Reply::Json(200, json!({ "keys": keys }).to_string())
                }
                "/.well-known/oauth-authorization-server" => {
                    let base = addr.get().cloned().unwrap_or_default();
                    Reply::Json(
                        200,
                        json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string(),
                    )
                }
                _ => Reply::Json(404, "{}".to_owned()),
            }
        })
        .await;
        addr.set(raw.url()).unwrap();
        Issuer {
            raw,
            published,
            fetches,
            failing,
            opaque,
        }
    }

    /// The issuer's URL (its tokens' `iss`).
    pub fn url(&self) -> String {
        self.raw.url()
    }

    /// Its JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.raw.url())
    }

    /// A new opaque token (URL-safe, unique) whose introspection answers
    /// `claims` with `"active": true`.
    pub fn issue_opaque(&self, claims: Value) -> String {
        static ISSUED: AtomicUsize = AtomicUsize::new(0);
        let token = format!("opaque-{}-{}", now(), ISSUED.fetch_add(1, Ordering::SeqCst));
        self.opaque.lock().unwrap().insert(token.clone(), claims);
        token
    }

    /// Its introspection endpoint.
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.raw.url())
    }

    /// The claims of a token for `resource`, valid for 5 minutes.
    pub fn claims(&self, resource: &str, subject: &str, scope: &str) -> Value {
        json!({"iss": self.url(), "aud": resource, "sub": subject, "scope": scope,
               "email": "alice@private.example", "exp": now() + 300, "iat": now()})
    }
}
