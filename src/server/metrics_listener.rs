//! The optional second listener (`server.metrics_listen`): only `/metrics` and `/health`,
//! so Prometheus can scrape on a port the API is not exposed on.

use std::sync::Arc;

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::protocol::response;
use crate::storage::Store;

/// Serves `/metrics` and `/health` on `listener` until the process ends.
pub fn spawn(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    config: &ServerConfig,
) {
    // The API listener's timeouts, head limits and idle timeout, so stalled or idle
    // scrapers cannot pile up.
    let builder = super::conn::builder(config);
    let idle = Duration::from_millis(config.idle_timeout_ms);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of fds: pause as the API listener does rather than spin on it.
                    tracing::warn!("metrics listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let (metrics, store) = (metrics.clone(), store.clone());
            let (service, in_flight) = super::conn::counted(move |req: Request<Incoming>| {
                let (metrics, store) = (metrics.clone(), store.clone());
                async move {
                    match (req.method(), req.uri().path()) {
                        (&Method::GET, "/metrics") => {
                            response::text(200, "text/plain; version=0.0.4", metrics.render())
                        }
                        (&Method::GET, "/health") => super::http::health(&store),
                        _ => response::plain(404, "not found\n"),
                    }
                }
            });
            let builder = builder.clone();
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = super::conn::drive(&builder, io, service, None, in_flight, idle).await;
            });
        }
    });
}
