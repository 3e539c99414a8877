//! The connections sluice opens to the servers it calls (remote Kinesis destinations,
//! Lambda endpoints and Invoke URLs, SQS/SNS on-failure endpoints): plain TCP for
//! `http://`, TLS for `https://` with the server's certificate verified against the
//! system's certificate authorities (or `tls.ca_file`'s), SNI set to the host and ALPN
//! `http/1.1` offered, since every client here speaks HTTP/1.1.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// How long a TLS handshake with a remote may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a remote is: scheme, host (an IPv6 literal in brackets, as a URL writes it),
/// port, and the path the URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl<'a> {
    pub tls: bool,
    pub host: &'a str,
    pub port: u16,
    pub path: &'a str,
}

/// Splits an `http://` or `https://` URL; the port defaults to 80 or 443 and the path to
/// `/`. `None` for anything else (other schemes, user info, fragments).
pub fn split_url(url: &str) -> Option<RemoteUrl<'_>> {
    let (tls, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://")?),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', '?', '#']) || path.contains('#') {
        return None;
    }
    let default = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        // A bracketed IPv6 literal keeps its colons.
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (authority, default),
    };
    (!host.is_empty()).then_some(RemoteUrl { tls, host, port, path })
}

/// The certificate authorities file set at start (`tls.ca_file`; empty: the system's).
static CA_FILE: OnceLock<String> = OnceLock::new();
static CLIENT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();

/// Sets `tls.ca_file` for every https:// remote of this process (the first call wins).
pub fn init(ca_file: &str) {
    let _ = CA_FILE.set(ca_file.to_string());
}

/// The TLS client configuration of `ca_file` (empty: the system's roots), or why there
/// is none. Config validation builds it once to report a bad file at start.
pub fn client_config(ca_file: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if ca_file.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A system certificate rustls cannot use is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(format!(
                "no usable certificate authority in the system's store ({:?}); set tls.ca_file",
                found.errors.first()
            ));
        }
    } else {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("tls.ca_file {ca_file}: {e}"))?;
        for cert in certs {
            roots.add(cert).map_err(|e| format!("tls.ca_file {ca_file}: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("tls.ca_file {ca_file}: no certificate in it"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The process's client configuration, built on first use.
fn shared() -> Result<Arc<ClientConfig>, String> {
    CLIENT.get_or_init(|| client_config(CA_FILE.get().map_or("", String::as_str))).clone()
}

/// What runs an HTTP/1.1 connection: it must be polled for the connection's sender to
/// make progress (`hyper::client::conn::http1::Connection`, boxed over TCP or TLS).
pub type Driver = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

/// An HTTP/1.1 connection to `host:port`, over TLS when `tls`; its driver runs as a task
/// that ends when the sender is dropped or the peer hangs up.
pub async fn connect(host: &str, port: u16, tls: bool) -> Result<SendRequest<Full<Bytes>>, String> {
    let (sender, driver) = connect_driven(host, port, tls).await?;
    tokio::spawn(driver);
    Ok(sender)
}

/// [`connect`], with the driver left to the caller, which polls it beside each exchange
/// (`http_client`): no task of its own, so an exchange wakes one task, not two.
pub async fn connect_driven(
    host: &str,
    port: u16,
    tls: bool,
) -> Result<(SendRequest<Full<Bytes>>, Driver), String> {
    // A bracketed IPv6 literal connects without its brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((bare, port)).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    if !tls {
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        return Ok((sender, Box::pin(connection)));
    }
    let config = shared()?;
    let name = ServerName::try_from(bare.to_string()).map_err(|e| format!("{host}: {e}"))?;
    let handshake = TlsConnector::from(config).connect(name, stream);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| format!("no TLS handshake with {host} within {HANDSHAKE_TIMEOUT:?}"))?
        .map_err(|e| format!("TLS with {host}: {e}"))?;
    let (sender, connection) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    Ok((sender, Box::pin(connection)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_with_their_schemes_default_port() {
        let u = |tls, host, port, path| Some(RemoteUrl { tls, host, port, path });
        assert_eq!(split_url("http://h:9000/a/b"), u(false, "h", 9000, "/a/b"));
        assert_eq!(split_url("http://h"), u(false, "h", 80, "/"));
        assert_eq!(
            split_url("https://kinesis.us-east-1.amazonaws.com"),
            u(true, "kinesis.us-east-1.amazonaws.com", 443, "/")
        );
        assert_eq!(split_url("https://[::1]:8443/x"), u(true, "[::1]", 8443, "/x"));
        assert_eq!(split_url("https://[::1]/x"), u(true, "[::1]", 443, "/x"));
        for bad in ["ftp://h", "https://", "https://u@h", "http://h/#x", "h:80"] {
            assert_eq!(split_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_ca_file_that_is_not_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let e = client_config(path.to_str().unwrap()).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
        assert!(client_config("/nonexistent/ca.pem").unwrap_err().contains("tls.ca_file"));
    }
}
