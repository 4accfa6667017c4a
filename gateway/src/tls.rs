//! The optional HTTPS listener (Soda requires HTTPS with TLS 1.2 or newer): rustls with the
//! `ring` provider, TLS 1.2 and 1.3 only, HTTP/1.1 over each connection.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections in flight may take to finish after shutdown was asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the certificate chain and key; every problem names the file.
pub fn acceptor(tls: &Tls) -> anyhow::Result<TlsAcceptor> {
    let certs = read_certs(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).with_context(|| {
        format!(
            "`tls.key_file`: no private key in {}",
            tls.key_file.display()
        )
    })?;
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

/// Serves `app` over TLS on `listener` until `shutdown` completes; connections in flight then
/// get [`DRAIN_TIMEOUT`] to finish.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("cannot accept a connection: {error}");
                    continue;
                }
            },
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        connections.spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => return tracing::debug!(%peer, "TLS handshake failed: {error}"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            let service = TowerToHyperService::new(app);
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, "connection ended with an error: {error}");
            }
        });
        // Forget connections that are done, so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}
