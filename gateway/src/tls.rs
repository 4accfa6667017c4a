//! The optional HTTPS listener (Soda requires HTTPS with TLS 1.2 or newer): rustls with the
//! `ring` provider, TLS 1.2 and 1.3 only, HTTP/1.1 over each connection (served by
//! `listener`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;

/// Reads the certificate chain and key; every problem names the setting (and the file).
pub fn acceptor(tls: &Tls) -> anyhow::Result<TlsAcceptor> {
    let certs = read_certs(&tls.cert_file)?;
    let key = match (&tls.key_file, &tls.key_pem) {
        (Some(path), _) => PrivateKeyDer::from_pem_file(path)
            .with_context(|| format!("`tls.key_file`: no private key in {}", path.display()))?,
        (None, Some(pem)) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .context("`tls.key`: no private key in its PEM text")?,
        (None, None) => bail!("`tls` has no private key (`key_file` or `key`)"),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("`tls`: the key does not fit the certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("`tls.cert_file`: cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("`tls.cert_file`: bad PEM in {}", path.display()))?;
    if certs.is_empty() {
        bail!("`tls.cert_file`: no certificate in {}", path.display());
    }
    Ok(certs)
}
