//! One accepted connection: a TLS handshake first when `server.tls_cert` and
//! `server.tls_key` are set (rustls with the `ring` provider, offering ALPN `h2` then
//! `http/1.1`), then hyper-util's auto builder, which tells HTTP/2 from HTTP/1.1 by the
//! client's preface, so cleartext h2c with prior knowledge and TLS-negotiated h2 are
//! served by the same code; ALPN only tells the client what it may send. Each connection
//! counts its requests in progress, is closed once it has had none for
//! `server.idle_timeout_ms`, and is drained by the shutdown.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use super::{AppState, http};
use crate::config::ServerConfig as ListenerConfig;
use crate::protocol::response::Body;

/// The connection builder with the `[server]` limits: header read timeout (which also
/// ends idle HTTP/1.1 keep-alive connections), head size and header count, HTTP/2
/// keep-alive pings and concurrent streams. Without a timer hyper applies no timeout at all.
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
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .max_send_buf_size(H2_SEND_BUFFER)
        .keep_alive_interval(ms(config.http2_keepalive_interval_ms))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// What one HTTP/2 stream may have queued for the socket beyond what the client's window
/// lets through (hyper's default: 400 KiB). A SubscribeToShard whose reader stopped
/// reading holds this much for as long as it stays open; an event stream is handed over
/// in pieces of this size (`protocol::response`), so one piece at a time still keeps
/// the socket busy.
const H2_SEND_BUFFER: usize = 64 * 1024;

/// How long an HTTP/2 PING may go unanswered before the connection is closed.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `stream` on its own task until the client leaves, it idles past
/// `server.idle_timeout_ms`, or `shutdown` turns true and the drain ends it; then frees
/// its `slot` of `server.max_connections`. Dropping the receiver tells the shutdown this
/// connection is done.
pub fn spawn(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    shutdown: watch::Receiver<bool>,
    state: Arc<AppState>,
    slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let idle = Duration::from_millis(state.config.server.idle_timeout_ms);
    let (service, in_flight) = counted(move |req| {
        let state = state.clone();
        async move { http::handle(&state, req).await }
    });
    let shutdown = Some(shutdown);
    tokio::spawn(async move {
        // The handshake runs here, not in the accept loop, so a slow client cannot hold
        // up the others.
        let ended = match tls {
            None => drive(&builder, TokioIo::new(stream), service, shutdown, in_flight, idle).await,
            Some(acceptor) => {
                let Some(stream) = handshake(&acceptor, stream).await else { return };
                drive(&builder, TokioIo::new(stream), service, shutdown, in_flight, idle).await
            }
        };
        if let Err(e) = ended {
            tracing::debug!("connection ended: {e}");
        }
        drop(slot);
    });
}

/// A service answering with `handler` that counts each request in progress, from the
/// call (while the body is read and the handler runs) until its response body is done or
/// dropped (a reset stream, a closed connection); and the receiver of that count.
pub fn counted<F, Fut>(
    handler: F,
) -> (
    impl hyper::service::Service<
        Request<Incoming>,
        Response = Response<Counted>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static,
    Arc<Activity>,
)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let requests = activity.clone();
    let service = service_fn(move |req| {
        let request = InFlight::start(&requests);
        let response = handler(req);
        // Boxed: hyper's HTTP/1.1 dispatcher reserves a slot the size of this future for
        // the whole life of a connection, busy or idle, and the handler's future is
        // kilobytes (every operation's state machine). Boxed, an idle connection holds a
        // pointer, and the handler's state lives only while a request does.
        let answer: ServiceFuture = Box::pin(async move {
            Ok::<_, Infallible>(response.await.map(|body| Counted { body, _request: request }))
        });
        answer
    });
    (service, activity)
}

/// Runs one connection to its end. On `shutdown` (if given), and when it has had no
/// request in progress for `idle`, it is told to close gracefully: HTTP/2 sends GOAWAY
/// and finishes the streams it has, HTTP/1.1 closes between requests, a connection still
/// waiting for its first bytes is dropped. One still open and idle an `idle` later (a
/// peer that never completes the HTTP/2 handshake or never reads the GOAWAY) is dropped.
pub async fn drive<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    shutdown: Option<watch::Receiver<bool>>,
    activity: Arc<Activity>,
    idle: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Counted>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // The shutdown waits until every connection has dropped its receiver, then stops the
    // writers: so one is held until this connection has ended, not just until shutdown is
    // asked for (requests still in flight would otherwise find their writers stopped).
    let _held_until_closed = shutdown.clone();
    // Resolves when shutdown is asked for; never without a shutdown signal, or once
    // the signal is gone.
    let stop = async {
        let asked = match shutdown {
            Some(mut shutdown) => shutdown.wait_for(|stop| *stop).await.is_ok(),
            None => false,
        };
        if !asked {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stop);
    let mut draining = false;
    let mut idled = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => return ended,
            () = &mut stop, if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = idle_for(&activity, idle) => {
                if idled {
                    return Ok(());
                }
                idled = true;
                tracing::debug!("closing a connection idle for {idle:?}");
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves once no request has been in progress for `idle`. It wakes only at
/// deadlines, never per request: a busy connection pays two atomic updates a request.
async fn idle_for(activity: &Activity, idle: Duration) {
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        tokio::time::sleep_until(deadline).await;
        deadline = match activity.idle_since() {
            Some(since) if since.elapsed() >= idle => return,
            Some(since) => tokio::time::Instant::from_std(since) + idle,
            // Busy (a long stream): look again an `idle` later.
            None => tokio::time::Instant::now() + idle,
        };
    }
}

/// What one connection is doing: its requests in progress, and when the last one ended.
pub struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended, in milliseconds after `opened`.
    last_end_ms: AtomicU64,
    opened: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            last_end_ms: AtomicU64::new(0),
            opened: Instant::now(),
        }
    }

    /// Since when nothing has been in progress (the connection's opening if nothing
    /// ever was); `None` while a request is.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.opened + Duration::from_millis(self.last_end_ms.load(Ordering::Acquire)))
    }
}

/// A request's answer as the service gives it to hyper.
type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<Counted>, Infallible>> + Send + 'static>>;

/// One request in progress on a connection, counted until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        // The end time first, so whoever sees the count reach 0 sees it too.
        let ended = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.last_end_ms.fetch_max(ended, Ordering::AcqRel);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress while it lasts, so an
/// event stream that runs for minutes is never taken for an idle connection.
pub struct Counted {
    body: Body,
    _request: InFlight,
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
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
