//! The TLS configuration shared by the HTTP client and the WebSocket:
//! rustls on the `ring` provider (builds with a plain C compiler) and the
//! Mozilla root certificates, so certificates are always verified.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;

/// One client configuration for the process.
pub(crate) fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}
