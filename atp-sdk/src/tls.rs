//! The TLS configuration shared by the HTTP client and the WebSocket:
//! rustls on the `ring` provider (builds with a plain C compiler) and the
//! Mozilla root certificates (plus any the program adds), so certificates
//! are always verified.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::Error;

/// The client configuration with the Mozilla roots and `extra` roots.
pub(crate) fn client_config(extra: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if extra.is_empty() {
        return Ok(DEFAULT
            .get_or_init(|| Arc::new(build(&[]).expect("the Mozilla roots are valid")))
            .clone());
    }
    build(extra).map(Arc::new)
}

fn build(extra: &[CertificateDer<'static>]) -> Result<ClientConfig, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|err| Error::Config(format!("unusable root certificate: {err}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::Config(format!("TLS setup failed: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates of a PEM document.
pub(crate) fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Error::Config(format!("invalid PEM root certificate: {err}")))?;
    if certs.is_empty() {
        return Err(Error::Config(
            "no certificate in the PEM root certificate".to_owned(),
        ));
    }
    Ok(certs)
}
