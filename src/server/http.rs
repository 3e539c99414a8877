//! One HTTP request, end to end: health and metrics, then the AWS front end in AWS's order
//! (method, body codec, target, auth), the API call, and the one place where results and errors
//! become responses and request metrics are recorded.
//!
//! SubscribeToShard answers with an event stream: the `initial-response` event first, then
//! each event of the subscription framed in the request's codec as the connection asks
//! for it. The stream is pulled, never pushed into a buffer: while the client does not
//! read (HTTP/2 flow control, a full socket), nothing is read for it, and it resumes from
//! storage.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::{once, unfold};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST,
};
use hyper::{Method, Request, Response};
use tokio::sync::OwnedSemaphorePermit;

use super::AppState;
use crate::api;
use crate::api::kinesis::subscribe::{EventSource, OPERATION, StreamEvent, subscribe_to_shard};
use crate::protocol::eventstream::EventWriter;
use crate::protocol::response::{self, Body};
use crate::protocol::target::guess_service;
use crate::protocol::{
    Codec, ProtocolError, RequestBody, RequestContext, Service, Target, WireError, auth, encoding,
    malformed, new_request_id,
};

/// Handles one request; never fails (errors are responses). A cross-origin API request
/// gets CORS's headers, a preflight its answer (`super::cors`).
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    let Some(cors) = super::cors::Cors::of(&req) else { return route(state, req).await };
    if let Some(preflight) = cors.preflight(&req) {
        return preflight;
    }
    let mut response = route(state, req).await;
    cors.apply(&mut response);
    response
}

/// `GET /`, as DynamoDB's endpoint answers it: `healthy: <the host asked for>`.
fn root(req: &Request<Incoming>) -> Response<Body> {
    let host = req.headers().get(HOST).and_then(|v| v.to_str().ok());
    let host = host.or_else(|| req.uri().authority().map(|a| a.as_str())).unwrap_or_default();
    response::text(200, "text/plain", format!("healthy: {host}\n"))
}

/// The handlers below are awaited boxed: inline, this future would be as large as the
/// largest of them, and hyper's service call copies it whole once per request.
async fn route(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => return root(&req),
        (&Method::GET, "/health") => return health(&state.engine.store),
        (&Method::GET, "/metrics") => {
            if let Err(refused) = super::admin::signed(state, req).await {
                return refused;
            }
            return response::text(200, "text/plain; version=0.0.4", state.metrics.render());
        }
        (_, path) if path.starts_with(super::admin::PREFIX) => {
            return Box::pin(super::admin::handle(state, req)).await;
        }
        // Lambda speaks restJson1: routed by method and path, not by X-Amz-Target.
        (_, path) if path.starts_with(crate::protocol::rest::LAMBDA_PREFIX) => {
            return Box::pin(super::lambda::handle(state, req)).await;
        }
        _ => {}
    }
    let started = Instant::now();
    let request_id = new_request_id();
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let target_header = header("x-amz-target");
    let content_type = header(CONTENT_TYPE.as_str());
    let service = guess_service(target_header.as_deref(), content_type.as_deref());

    if req.method() != Method::POST {
        let mut r = response::plain(404, "<UnknownOperationException/>\n");
        r.headers_mut().insert("x-amzn-RequestId", request_id.parse().expect("alphanumeric id"));
        return r;
    }
    let codec = Codec::for_request(content_type.as_deref(), target_header.as_deref());
    // DynamoDB reads the last of repeated Accept-Encoding headers.
    let accept_encoding = req.headers().get_all(ACCEPT_ENCODING).iter().next_back();
    let coding = accept_encoding.and_then(|v| v.to_str().ok()).and_then(encoding::accepted);
    let front = front_end(state, req, codec, &request_id).await;
    // Held until the answer is encoded: the decoded input lives through the handler.
    let _budget = match &front {
        Ok((_, _, body)) => Some(decode_budget(state, body).await),
        Err(_) => None,
    };
    let front = match front {
        Ok((target, ctx, body)) => match inject_fault(state, &target, &body).await {
            Some(injected) => Err(injected),
            None => Ok((target, ctx, body)),
        },
        Err(e) => Err(("unknown", e.to_wire_in(service))),
    };
    let (operation, result) = match front {
        // Its answer is an event stream, not one value: opened here, then written as it goes.
        Ok((target, ctx, body)) if is_subscribe(&target) => {
            let opened = match state.engine_for(&ctx).await {
                Ok(engine) => {
                    Box::pin(subscribe_to_shard(&engine, &ctx, body)).await.map_err(|e| e.to_wire())
                }
                Err(e) => Err(e.to_wire_in(Service::Kinesis)),
            };
            match opened {
                Ok(events) => {
                    record(state, Service::Kinesis, OPERATION, 200, started);
                    return event_stream(events, codec, &request_id);
                }
                Err(e) => (OPERATION, Err(e)),
            }
        }
        Ok((target, ctx, body)) => {
            let handled = match state.engine_for(&ctx).await {
                Ok(engine) => {
                    // awsJson is written straight from the output; CBOR from its tree.
                    let form = if codec == Codec::Json { api::Form::Json } else { api::Form::Tree };
                    let handled = api::handle_as(
                        &engine,
                        target.service,
                        &target.operation,
                        &ctx,
                        body,
                        form,
                    );
                    Box::pin(handled).await
                }
                Err(e) => api::Handled {
                    operation: api::operation_name(target.service, &target.operation)
                        .unwrap_or("unknown"),
                    result: Err(e.to_wire_in(target.service)),
                },
            };
            let encoded = handled.result.and_then(|output| match output {
                api::Output::Json(bytes) => Ok(bytes),
                api::Output::Tree(v) => codec.encode_output(&target.operation, &v),
            });
            (handled.operation, encoded.map(|body| (target.service, body)))
        }
        Err((operation, e)) => (operation, Err(e)),
    };
    let (service, status, body) = match result {
        Ok((service, body)) => (service, 200, body),
        Err(error) => (service, error.status, render_error(&error, service, codec)),
    };
    record(state, service, operation, status, started);
    response::encoded(service, codec.content_type(service), status, body, &request_id, coding)
}

/// `/health` (on the API port and the metrics listener alike). A store that failed a
/// journal write takes no writes until restart: 503, so an orchestrator restarts it once
/// the disk is back. Commit groups a caught panic failed are reported (writes go on, 200)
/// so the bug behind them is seen.
pub fn health(store: &crate::storage::Store) -> Response<Body> {
    match (store.failure(), store.caught_panics()) {
        (Some(reason), _) => response::text(
            503,
            "text/plain",
            format!("storage failed ({reason}); restart sluice\n"),
        ),
        (None, Some((count, last))) => response::text(
            200,
            "text/plain",
            format!(
                "ok; {count} write group(s) failed on a caught panic before reaching storage \
                 (the last: {last}); see the log\n"
            ),
        ),
        (None, None) => response::plain(200, "ok\n"),
    }
}

/// Applies the first fault rule matching this call (see `crate::faults`): waits its
/// latency, then answers its error in place of the handler (labelled with the operation).
async fn inject_fault(
    state: &AppState,
    target: &Target,
    body: &RequestBody,
) -> Option<(&'static str, WireError)> {
    let operation = api::operation_name(target.service, &target.operation)?;
    let injection = state.engine.faults.for_call(target.service, operation, body)?;
    if !injection.latency.is_zero() {
        tokio::time::sleep(injection.latency).await;
    }
    injection.error.map(|e| (operation, e))
}

/// Waits until the memory this body may take when decoded fits `server.max_decode_bytes`
/// beside the requests in flight; a body estimated above all of it waits for all of it.
async fn decode_budget(state: &AppState, body: &RequestBody) -> Option<OwnedSemaphorePermit> {
    let budget = &state.decode_budget;
    let kib = body.decode_cost().div_ceil(1024).min(state.config.server.max_decode_bytes / 1024);
    // The semaphore is never closed; were it, the request would simply run unbudgeted.
    budget.clone().acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX)).await.ok()
}

fn is_subscribe(target: &Target) -> bool {
    target.service == Service::Kinesis && target.operation == OPERATION
}

/// Request metrics (a SubscribeToShard counts until its stream opens).
fn record(state: &AppState, service: Service, operation: &str, status: u16, started: Instant) {
    let m = &state.metrics;
    m.requests_total.with_label_values(&[service.label(), operation, &status.to_string()]).inc();
    m.request_duration_seconds
        .with_label_values(&[service.label(), operation])
        .observe(started.elapsed().as_secs_f64());
}

fn render_error(error: &WireError, service: Service, codec: Codec) -> Vec<u8> {
    if error.status >= 500 {
        tracing::error!("{}: {:?}", error.code, error.message);
    }
    codec.encode_error(error, service)
}

/// Body, body codec, target and auth checks, in the order AWS's front end applies them.
async fn front_end(
    state: &AppState,
    req: Request<Incoming>,
    codec: Codec,
    request_id: &str,
) -> Result<(Target, RequestContext, RequestBody), ProtocolError> {
    let limit = state.config.server.max_body_bytes;
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ProtocolError::RequestTooLarge);
    }
    let (parts, body) = req.into_parts();
    let deadline = Duration::from_millis(state.config.server.request_read_timeout_ms);
    let bytes = tokio::time::timeout(deadline, Limited::new(body, limit).collect())
        .await
        .map_err(|_| ProtocolError::RequestTimeout)?
        .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
            Some(_) => ProtocolError::RequestTooLarge,
            // The client broke off mid-body: it will not read the answer anyway.
            None => ProtocolError::Serialization(malformed::MSG_EOF.into()),
        })?
        .to_bytes();
    let encoding = parts.headers.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    // The signature covers the body as sent (compressed, if it was).
    let raw = state.keys.enforced().then(|| bytes.clone());
    let bytes = encoding::decode(encoding, bytes, limit)?;
    let json = if bytes.is_empty() { None } else { Some(codec.decode(bytes)?) };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    // A refusal is counted only once it is the answer (a malformed body goes first).
    type Refusal = (ProtocolError, Option<(Service, String, &'static str, String)>);
    let checks = || -> Result<_, Refusal> {
        let target = header("x-amz-target")
            .and_then(Target::parse)
            .ok_or((ProtocolError::UnknownOperation, None))?;
        let has_date = header("x-amz-date").is_some() || header("date").is_some();
        let credential = match parts.uri.query().and_then(auth::parse_presigned) {
            Some(c) => c,
            None => auth::parse_authorization(header(AUTHORIZATION.as_str()), has_date).map_err(
                |e| match raw.is_some() {
                    true => {
                        let reason = unsigned_reason(&e);
                        (e, Some((target.service, target.operation.clone(), reason, String::new())))
                    }
                    false => (e, None),
                },
            )?,
        };
        if let Some(raw) = &raw {
            let request = crate::auth::verify::Incoming {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                authority: parts.uri.authority().map(|a| a.as_str()),
                body: raw,
                service: Some(crate::auth::signing_name(target.service)),
            };
            let now = state.engine.clock.now_millis();
            let identity = crate::auth::verify::verify(&state.keys, &request, &credential, now)
                .map_err(|e| {
                    let key = credential.access_key_id.clone();
                    let reason = e.reason();
                    (e.into(), Some((target.service, target.operation.clone(), reason, key)))
                })?;
            return Ok((target, credential, Some(identity)));
        }
        Ok((target, credential, None))
    };
    let (target, credential, identity) = checks().map_err(|(e, refusal)| {
        // A malformed body is answered before the target and the signature.
        match json.as_ref().map(RequestBody::check_syntax) {
            Some(Err(malformed)) => malformed,
            _ => {
                if let Some((service, operation, reason, key)) = refusal {
                    count_denied(state, service, &operation, reason, &key);
                }
                e
            }
        }
    })?;
    let body = json.ok_or_else(|| ProtocolError::Serialization(malformed::MSG_EMPTY.into()))?;
    let ctx = RequestContext {
        region: credential.region.unwrap_or_else(|| state.config.aws.region.clone()),
        account_id: state
            .config
            .aws
            .account_of(&credential.access_key_id, &state.config.auth)
            .to_string(),
        request_id: request_id.to_string(),
        host: header(HOST.as_str())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string())),
    };
    // Permissions: the key's policy, if it has one, must allow what the call checks.
    if let Some(identity) = identity
        && let Some(policy) = state.keys.policy(&identity.access_key_id)
    {
        let names = api::authorize::resource_names(&body);
        let checks = api::authorize::json_checks(
            &state.engine,
            target.service,
            &target.operation,
            &names,
            &ctx,
        );
        api::authorize::decide(&policy, &identity.access_key_id, &checks, &ctx).map_err(
            |(message, reason)| {
                let key = identity.access_key_id.as_str();
                count_denied(state, target.service, &target.operation, reason, key);
                ProtocolError::AccessDenied(message)
            },
        )?;
    }
    Ok((target, ctx, body))
}

/// Counts and logs a refused signature (`auth.enforce`).
pub fn denied(
    state: &AppState,
    service: Service,
    operation: &str,
    e: crate::auth::AuthError,
    access_key_id: &str,
) -> ProtocolError {
    count_denied(state, service, operation, e.reason(), access_key_id);
    e.into()
}

/// [`denied`] for a request whose signature is missing or malformed.
pub fn unsigned(
    state: &AppState,
    service: Service,
    operation: &str,
    e: ProtocolError,
) -> ProtocolError {
    count_denied(state, service, operation, unsigned_reason(&e), "");
    e
}

/// The reason label of a missing or malformed signature.
fn unsigned_reason(e: &ProtocolError) -> &'static str {
    match e {
        ProtocolError::MissingAuthenticationToken => "missing_token",
        _ => "incomplete_signature",
    }
}

/// Counted by service, operation and reason; logged with the access key id (never a
/// secret).
pub fn count_denied(state: &AppState, service: Service, op: &str, reason: &str, key: &str) {
    let operation = api::operation_name(service, op).unwrap_or("unknown");
    let labels = [service.label(), operation, reason];
    state.metrics.auth_denied_total.with_label_values(&labels).inc();
    tracing::info!(
        service = service.label(),
        operation,
        reason,
        access_key_id = key,
        "refused a request's signature"
    );
}

/// The event-stream response of an open subscription.
fn event_stream(source: EventSource, codec: Codec, request_id: &str) -> Response<Body> {
    let writer = EventWriter::new(codec);
    let initial = writer.initial_response();
    let events = unfold(source, move |mut source| async move {
        let frame = match source.next().await? {
            // awsJson straight to bytes; CBOR through the tree it is shaped from.
            StreamEvent::Event(body) => match writer.codec() {
                Codec::Json => writer.event_payload("SubscribeToShardEvent", body.json()),
                Codec::Cbor => match body.tree() {
                    Ok(tree) => writer.event("SubscribeToShardEvent", &tree),
                    Err(e) => {
                        tracing::error!("event not written: {e}");
                        writer.exception("InternalFailureException", "Internal Service Failure")
                    }
                },
            },
            StreamEvent::Exception { code, message } => writer.exception(code, &message),
        };
        Some((frame, source))
    });
    response::event_stream(once(async move { initial }).chain(events), request_id)
}
