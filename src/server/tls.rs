//! TLS for the one listener, when `server.tls_cert` and `server.tls_key` are set: rustls
//! with the `ring` provider, offering ALPN `h2` then `http/1.1`. The connection after the
//! handshake is served by the same auto builder as cleartext ones (it tells HTTP/2 from
//! HTTP/1.1 by the client's preface), so ALPN only tells the client what it may send.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::config::ServerConfig as ListenerConfig;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The acceptor the config asks for (`None` for cleartext), or why it cannot be built.
pub fn acceptor(config: &ListenerConfig) -> Result<Option<TlsAcceptor>, String> {
    if config.tls_cert.is_empty() {
        return Ok(None);
    }
    let certs = CertificateDer::pem_file_iter(&config.tls_cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("server.tls_cert {}: {e}", config.tls_cert))?;
    if certs.is_empty() {
        return Err(format!("server.tls_cert {}: no certificate in it", config.tls_cert));
    }
    let key = PrivateKeyDer::from_pem_file(&config.tls_key)
        .map_err(|e| format!("server.tls_key {}: {e}", config.tls_key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server.tls_cert / server.tls_key: {e}"))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(tls))))
}

/// The server side of a handshake, or `None` (logged) when it fails or stalls.
pub async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleartext_unless_configured_and_bad_files_are_named() {
        let mut config = ListenerConfig::default();
        assert!(acceptor(&config).unwrap().is_none());
        config.tls_cert = "/nonexistent/cert.pem".into();
        config.tls_key = "/nonexistent/key.pem".into();
        let e = acceptor(&config).err().unwrap();
        assert!(e.starts_with("server.tls_cert /nonexistent/cert.pem"), "{e}");
    }
}
