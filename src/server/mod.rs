//! The accept loop: one listener speaking HTTP/1.1 and h2c (prior knowledge) through
//! hyper-util's auto builder, or both over TLS (ALPN) when a certificate is configured;
//! and the designed shutdown path: stop accepting, end open SubscribeToShard streams,
//! drain in-flight requests under a deadline, stop the writers, sync storage.

pub mod admin;
pub mod conn;
pub mod console;
pub mod cors;
pub mod faults;
pub mod http;
pub mod lambda;
pub mod metrics_listener;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::engine::Engine;
use crate::engine::kinesis::fanout::EndReason;
use crate::metrics::Metrics;

/// What every request handler shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// `server.max_decode_bytes`, in KiB: what request inputs decoded at once may cost.
    pub decode_budget: Arc<Semaphore>,
    /// Who may call (`[auth]`).
    pub keys: Arc<crate::auth::Keys>,
}

impl AppState {
    pub fn new(config: Arc<Config>, engine: Arc<Engine>, metrics: Arc<Metrics>) -> AppState {
        let decode_budget = Arc::new(Semaphore::new(config.server.max_decode_bytes / 1024));
        let keys = Arc::new(crate::auth::Keys::new(&config.auth));
        AppState { config, engine, metrics, decode_budget, keys }
    }

    /// The engine of the request's namespace: its account (from its access key) in its
    /// region (from its credential scope).
    pub async fn engine_for(
        &self,
        ctx: &crate::protocol::RequestContext,
    ) -> Result<Arc<Engine>, crate::protocol::ProtocolError> {
        use crate::protocol::ProtocolError;
        match self.engine.in_namespace(&ctx.account_id, &ctx.region).await {
            Ok(Some(engine)) => Ok(engine),
            Ok(None)
                if crate::engine::namespace::Namespace::valid(&ctx.account_id, &ctx.region) =>
            {
                Err(ProtocolError::InvalidSignature(format!(
                    "This sluice serves at most {} account and region pairs at once; region '{}' is one too many.",
                    crate::engine::MAX_NAMESPACES,
                    ctx.region
                )))
            }
            Ok(None) => Err(ProtocolError::InvalidSignature(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                ctx.region
            ))),
            Err(e) => {
                tracing::error!(region = %ctx.region, account = %ctx.account_id, "cannot open the namespace: {e}");
                Err(ProtocolError::InvalidSignature(format!(
                    "The namespace of region '{}' cannot be opened: {e}",
                    ctx.region
                )))
            }
        }
    }
}

/// The least time the engine's own stop (writers, pollers, the final sync) gets after the
/// drain; `server.shutdown_grace_seconds` when that is longer.
const ENGINE_STOP_MIN: Duration = Duration::from_secs(10);

/// Serves `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// drains and stops. Err when the engine did not stop in time (see [`ENGINE_STOP_MIN`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let builder = conn::builder(&state.config.server);
    // Every connection holds a receiver: `true` asks it to close gracefully, and the
    // channel closes once the last connection has dropped its receiver.
    let (drain, _) = watch::channel(false);
    // One permit per open connection: at the limit, nothing more is accepted and new
    // clients wait in the listen backlog.
    let slots = Arc::new(Semaphore::new(state.config.server.max_connections));
    // Sources hand their leases back first, while this port still serves (their lease
    // table may live here).
    let engine = state.engine.clone();
    let shutdown = async move {
        shutdown.await;
        engine.stop_sources().await;
    };
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of fds or a reset before accept: keep serving the others.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                conn::spawn(stream, tls.clone(), builder.clone(), drain.subscribe(), state.clone(), slot);
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // Open event streams would otherwise hold their connections for up to 5 minutes:
    // they end now, cleanly, and the drain below waits for the last frames to go out.
    state.engine.kinesis.fanout.end_all(EndReason::Shutdown);
    let grace = Duration::from_secs(state.config.server.shutdown_grace_seconds);
    tracing::info!("shutting down: draining in-flight requests (up to {}s)", grace.as_secs());
    drain.send_replace(true);
    if tokio::time::timeout(grace, drain.closed()).await.is_err() {
        tracing::warn!("shutdown deadline passed with requests still in flight");
    }
    // The writers stop once the writes they hold are committed. A store that makes no
    // progress (fjall halting writes, a hung disk) would hold SIGTERM forever, so the stop
    // is bounded: past it sluice exits without the final sync. Nothing acknowledged is
    // lost (a write is answered only once durable), and a commit cut short is a crash the
    // store recovers from at the next start.
    let bound = grace.max(ENGINE_STOP_MIN);
    if tokio::time::timeout(bound, state.engine.shutdown()).await.is_err() {
        // `main` prints it and exits with a failure status.
        return Err(format!(
            "the writers and storage did not stop within {}s of the drain (a commit that \
             makes no progress); exiting without the final sync: nothing acknowledged is lost",
            bound.as_secs()
        ));
    }
    tracing::info!("storage flushed; bye");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // The handlers are installed here, not when the future is first polled: a SIGTERM
    // that arrived between the "listening" line and the serve loop's first poll killed
    // the daemon outright (the default action), with no drain, no final sync, and an
    // in-memory store's directory left behind.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        /// The first delivery of a handler installed already (never, if it could not be).
        async fn received(handler: Option<Signal>) {
            match handler {
                Some(mut s) => drop(s.recv().await),
                None => std::future::pending().await,
            }
        }
        let term = received(signal(SignalKind::terminate()).ok());
        let int = received(signal(SignalKind::interrupt()).ok());
        async move {
            tokio::select! {
                () = term => {},
                () = int => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
