//! The Lambda Runtime API, served to one runtime instance: what an official runtime
//! interface client (`awslambdaric`, `aws-lambda-ric`, `lambda_runtime`) started with
//! `AWS_LAMBDA_RUNTIME_API=<this address>` talks to inside a Lambda sandbox.
//!
//! - `GET /2018-06-01/runtime/invocation/next`: waits for an invocation (long poll);
//!   200 with the payload and the `Lambda-Runtime-*` headers.
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: 202 `{"status":"OK"}`; 400
//!   `InvalidRequestID` for an id not in flight (202 for one that timed out lately); 413 `RequestEntityTooLarge` past
//!   6291556 bytes (the caller then gets `Function.ResponseSizeTooLarge`).
//! - `POST /2018-06-01/runtime/invocation/{id}/error`: the same, the body (the error JSON)
//!   becoming the caller's payload with `X-Amz-Function-Error: Unhandled`.
//! - `POST /2018-06-01/runtime/init/error`: 202; a waiting invocation gets the error.
//!
//! Status codes and error bodies are those of AWS's Runtime Interface Emulator
//! (`lambda/rapi`, docs/lambda.md). Anything else is 404, or 405 for a known path.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::stopped;

use super::invocation::MAX_RESPONSE_PAYLOAD;
use super::queue::{Outcome, RuntimeQueue};

const PREFIX: &str = "/2018-06-01/runtime/";

/// Serves the Runtime API on `listener` for runtime instance `instance` of `queue`'s
/// function, until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    queue: Arc<RuntimeQueue>,
    instance: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("runtime API accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let queue = queue.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let queue = queue.clone();
                async move { Ok::<_, Infallible>(handle(&queue, instance, req).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stopped(&mut stop) => {}
            }
        });
    }
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
        .headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn error(status: u16, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string())
}

fn accepted() -> Response<Full<Bytes>> {
    json(202, "{\"status\":\"OK\"}".into())
}

fn invalid_request_id() -> Response<Full<Bytes>> {
    error(400, "InvalidRequestID", "Invalid request ID")
}

fn too_large() -> Response<Full<Bytes>> {
    let message = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).");
    error(413, "RequestEntityTooLarge", &message)
}

/// The request's body, or `None` past the payload limit (or when the runtime broke off).
async fn body(req: Request<Incoming>) -> Result<Bytes, bool> {
    match Limited::new(req.into_body(), MAX_RESPONSE_PAYLOAD).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => Err(e.downcast_ref::<LengthLimitError>().is_some()),
    }
}

async fn handle(
    queue: &RuntimeQueue,
    instance: usize,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some(route) = path.strip_prefix(PREFIX) else { return not_found() };
    let method = req.method().clone();
    match (route, route.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/'))) {
        ("invocation/next", _) if method == Method::GET => next(queue, instance).await,
        ("init/error", _) if method == Method::POST => {
            let error_type = header(&req, "lambda-runtime-function-error-type");
            match body(req).await {
                Ok(body) => {
                    tracing::warn!(
                        "a runtime failed to initialize ({})",
                        error_type.as_deref().unwrap_or("no error type")
                    );
                    queue.init_failed(error_body(body, error_type.as_deref()));
                    accepted()
                }
                Err(true) => too_large(),
                Err(false) => error(400, "InvalidRequest", "Could not read the request body"),
            }
        }
        (_, Some((id, verb @ ("response" | "error")))) if !id.is_empty() && !id.contains('/') => {
            if method != Method::POST {
                return method_not_allowed();
            }
            if !queue.holds(id) {
                // A late answer to an invocation that timed out: taken and dropped.
                return if queue.expired(id) { accepted() } else { invalid_request_id() };
            }
            let id = id.to_string();
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let outcome = match (body(req).await, verb) {
                (Ok(body), "response") => Outcome::Response(body),
                (Ok(body), _) => Outcome::Error(error_body(body, error_type.as_deref())),
                (Err(true), _) => {
                    let _ = queue.finish(&id, Outcome::TooLarge);
                    return too_large();
                }
                (Err(false), _) => {
                    return error(400, "InvalidRequest", "Could not read the request body");
                }
            };
            match queue.finish(&id, outcome) {
                Ok(()) => accepted(),
                // It timed out while its answer was being read.
                Err(_) => invalid_request_id(),
            }
        }
        ("invocation/next" | "init/error", _) => method_not_allowed(),
        _ => not_found(),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The error JSON a runtime posted; an empty body gets one from its error type header.
fn error_body(body: Bytes, error_type: Option<&str>) -> Bytes {
    if !body.is_empty() {
        return body;
    }
    let error_type = error_type.unwrap_or("Unknown");
    Bytes::from(serde_json::json!({"errorMessage": "", "errorType": error_type}).to_string())
}

async fn next(queue: &RuntimeQueue, instance: usize) -> Response<Full<Bytes>> {
    let job = queue.next(instance).await;
    let mut response = Response::new(Full::new(job.payload.clone()));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", &job.id);
    set("lambda-runtime-deadline-ms", &job.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &job.invoked_arn);
    set("lambda-runtime-trace-id", &job.trace_id);
    set("content-type", "application/json");
    if let Some(cc) = &job.client_context {
        set("lambda-runtime-client-context", cc);
    }
    response
}

fn not_found() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *r.status_mut() = hyper::StatusCode::NOT_FOUND;
    r
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::METHOD_NOT_ALLOWED;
    r
}
