//! One accepted connection: a TLS handshake first when `server.tls_cert` and
//! `server.tls_key` are set (rustls with the `ring` provider, offering ALPN `h2` then
//! `http/1.1`), then hyper-util's auto builder, which tells HTTP/2 from HTTP/1.1 by the
//! client's preface, so cleartext h2c with prior knowledge and TLS-negotiated h2 are
//! served by the same code; ALPN only tells the client what it may send. Each connection
//! is watched by the graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use super::{AppState, http};
use crate::config::ServerConfig as ListenerConfig;

/// The connection builder with the `[server]` limits: header read timeout (which also
/// ends idle HTTP/1.1 keep-alive connections), head size and header count, HTTP/2
/// keep-alive pings. Without a timer hyper applies no timeout at all.
pub fn builder(config: &ListenerConfig) -> auto::Builder<TokioExecutor> {
    let ms = Duration::from_millis;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(ms(config.header_read_timeout_ms))
        .max_buf_size(config.max_header_bytes)
        .max_headers(config.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(ms(config.http2_keepalive_interval_ms))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// How long an HTTP/2 PING may go unanswered before the connection is closed.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `stream` on its own task until the client leaves or shutdown drains it, then
/// frees its `slot` of `server.max_connections`.
pub fn spawn(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
    state: Arc<AppState>,
    slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(http::handle(&state, req).await) }
    });
    tokio::spawn(async move {
        // The handshake runs here, not in the accept loop, so a slow client cannot hold
        // up the others.
        let ended = match tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn.into_owned()).await
            }
            Some(acceptor) => {
                let Some(stream) = handshake(&acceptor, stream).await else { return };
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn.into_owned()).await
            }
        };
        if let Err(e) = ended {
            tracing::debug!("connection ended: {e}");
        }
        drop(slot);
    });
}

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor the config asks for (`None` for cleartext), or why it cannot be built.
pub fn tls_acceptor(config: &ListenerConfig) -> Result<Option<TlsAcceptor>, String> {
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
async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
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
        assert!(tls_acceptor(&config).unwrap().is_none());
        config.tls_cert = "/nonexistent/cert.pem".into();
        config.tls_key = "/nonexistent/key.pem".into();
        let e = tls_acceptor(&config).err().unwrap();
        assert!(e.starts_with("server.tls_cert /nonexistent/cert.pem"), "{e}");
    }
}
