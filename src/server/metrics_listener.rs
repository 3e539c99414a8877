//! The optional second listener (`server.metrics_listen`): only `/metrics` and `/health`,
//! so Prometheus can scrape on a port the API is not exposed on.

use std::sync::Arc;

use hyper::service::service_fn;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::protocol::response;

/// Serves `/metrics` and `/health` on `listener` until the process ends.
pub fn spawn(listener: TcpListener, metrics: Arc<Metrics>, config: &ServerConfig) {
    // The API listener's timeouts and head limits, so a stalled scraper cannot pile up.
    let builder = super::conn::builder(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(match (req.method(), req.uri().path()) {
                        (&Method::GET, "/metrics") => {
                            response::text(200, "text/plain; version=0.0.4", metrics.render())
                        }
                        (&Method::GET, "/health") => response::plain(200, "ok\n"),
                        _ => response::plain(404, "not found\n"),
                    })
                }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
}
