//! `https://` and `wss://`: a toolkit announces and serves through a TLS
//! front (a private CA's certificate, terminated here and forwarded to
//! atp-dev). Certificates are verified: without the CA the toolkit refuses
//! the server; with it, everything works over TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use atp_tests::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// A private CA and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server,
    }
}

/// Terminates TLS and forwards each connection to `backend`. Counts the
/// handshakes that failed (the client refused the certificate).
struct TlsFront {
    addr: SocketAddr,
    failed: Arc<AtomicUsize>,
    failure: Arc<Notify>,
}

async fn tls_front(config: rustls::ServerConfig, backend: SocketAddr) -> TlsFront {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let failed = Arc::new(AtomicUsize::new(0));
    let failure = Arc::new(Notify::new());
    let (counter, notify) = (failed.clone(), failure.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let (counter, notify) = (counter.clone(), notify.clone());
            tokio::spawn(async move {
                match acceptor.accept(socket).await {
                    Ok(mut tls) => {
                        if let Ok(mut plain) = TcpStream::connect(backend).await {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                        }
                    }
                    Err(_) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        notify.notify_waiters();
                    }
                }
            });
        }
    });
    TlsFront {
        addr,
        failed,
        failure,
    }
}

#[tokio::test]
async fn a_toolkit_serves_over_https_and_wss_with_verified_certificates() {
    let server = start_server().await;
    let pki = pki();
    let front = tls_front(pki.server, server.local_addr()).await;
    let base_url = format!("https://{}", front.addr);

    // Without the CA: the server's certificate is refused, nothing is registered.
    let untrusted = atp_sdk::ToolKitClient::builder("key-tls", "tls")
        .base_url(&base_url)
        .tools(["echo"])
        .build()
        .unwrap();
    let refused = front.failure.notified();
    let toolkit = spawn(untrusted);
    tokio::time::timeout(WAIT, refused)
        .await
        .expect("the client refuses the certificate");
    assert!(front.failed.load(Ordering::SeqCst) >= 1);
    toolkit.shutdown().await.unwrap();
    assert!(server.registrations().is_empty());

    // With the CA: announce over https, serve over wss.
    let trusted = atp_sdk::ToolKitClient::builder("key-tls", "tls")
        .base_url(&base_url)
        .add_root_certificate_pem(&pki.ca_pem)
        .tools(["echo"])
        .build()
        .unwrap();
    let toolkit = spawn(trusted);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert_eq!(
        call(&server, "echo", json!({"text": "over tls"})).await,
        json!({"echo": "over tls"})
    );
    assert_eq!(server.registrations().len(), 1);
    toolkit.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_toolkit_polls_the_inbox_over_https_with_verified_certificates() {
    let server = start_server().await;
    let pki = pki();
    let front = tls_front(pki.server, server.local_addr()).await;
    let base_url = format!("https://{}", front.addr);

    // Without the CA: refused, so nothing is registered or polled.
    let untrusted = atp_sdk::ToolKitClient::builder("key-tls-inbox", "tls-inbox")
        .base_url(&base_url)
        .transport(atp_sdk::Transport::Http)
        .tools(["echo"])
        .build()
        .unwrap();
    let refused = front.failure.notified();
    let toolkit = spawn(untrusted);
    tokio::time::timeout(WAIT, refused)
        .await
        .expect("the client refuses the certificate");
    toolkit.shutdown().await.unwrap();
    assert!(server.registrations().is_empty());
    assert_eq!(server.inbox_polls(), 0);

    // With the CA: announce, poll and answer over https.
    let trusted = atp_sdk::ToolKitClient::builder("key-tls-inbox", "tls-inbox")
        .base_url(&base_url)
        .transport(atp_sdk::Transport::Http)
        .add_root_certificate_pem(&pki.ca_pem)
        .tools(["echo"])
        .build()
        .unwrap();
    let toolkit = spawn(trusted);
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    assert!(server.tools().iter().all(|t| t.transport == "inbox"));
    assert_eq!(
        call(&server, "echo", json!({"text": "polled over tls"})).await,
        json!({"echo": "polled over tls"})
    );
    toolkit.shutdown().await.unwrap();
}

#[test]
fn a_bad_root_certificate_is_a_configuration_error() {
    let err = atp_sdk::ToolKitClient::builder("k", "a")
        .tools(["echo"])
        .add_root_certificate_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("root certificate"), "{err}");
}
