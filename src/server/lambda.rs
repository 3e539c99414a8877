//! One Lambda API request (restJson1), end to end: the route (method and path), auth and
//! the bounded body in the order AWS's front end checks them, the operation, and the one
//! place where its output or error becomes a response: status, `X-Amzn-ErrorType` and
//! the JSON error body, or Invoke's payload and `X-Amz-*` headers. Request metrics are
//! recorded here, labelled `lambda` and the operation.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Response};

use super::AppState;
use crate::api::lambda::{self as api, LambdaError, Output};
use crate::lambda::invocation::MAX_REQUEST_PAYLOAD;
use crate::protocol::response::{Body, full};
use crate::protocol::rest::{self, LAMBDA_HEADERS, RestCall};
use crate::protocol::{ProtocolError, RequestContext, Service, WireError, auth};

/// The most of a GET's body that is read (and ignored): its operations take none.
const MAX_IGNORED_BODY: usize = 64 * 1024;

/// The most of a JSON input (an event source mapping's) that is read: its largest legal
/// content, five 4 KiB filter patterns and 50 tags, is far below it.
const MAX_JSON_BODY: usize = 256 * 1024;

/// Handles one request under `/2015-03-31/`; never fails (errors are responses).
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let request_id = crate::lambda::new_request_id();
    let (operation, result) = match front_end(state, req).await {
        Ok((call, signed)) => {
            let operation = call.operation;
            let ctx = context(state, &call, &signed, &request_id);
            match state.engine_for(&ctx).await {
                Ok(engine) => (operation, api::handle(&engine, &ctx, call).await),
                Err(e) => {
                    let mut wire = e.to_wire_in(Service::Lambda);
                    wire.status = 403;
                    (operation, Err(wire))
                }
            }
        }
        Err((operation, e)) => (operation, Err(e)),
    };
    let response = match result {
        Ok(output) => render(output, &request_id),
        Err(error) => render_error(&error, &request_id),
    };
    let m = &state.metrics;
    let status = response.status().as_u16().to_string();
    m.requests_total.with_label_values(&[Service::Lambda.label(), operation, &status]).inc();
    m.request_duration_seconds
        .with_label_values(&[Service::Lambda.label(), operation])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Who signed a call: the access key and the credential scope's region.
struct Signed {
    access_key_id: String,
    region: Option<String>,
}

/// The call's account (its key's) in the region it was signed for: the namespace whose
/// event source mappings it sees. (The functions themselves are sluice's, in every
/// namespace: their ARNs are in the configured region and account.)
fn context(state: &AppState, call: &RestCall, signed: &Signed, request_id: &str) -> RequestContext {
    let aws = &state.config.aws;
    RequestContext {
        region: signed.region.clone().unwrap_or_else(|| aws.region.clone()),
        account_id: aws.account_of(&signed.access_key_id, &state.config.auth).to_string(),
        request_id: request_id.to_string(),
        host: call.header("host").map(str::to_string),
    }
}

/// Route, auth, then the body (bounded by Lambda's payload limit).
async fn front_end(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<(RestCall, Signed), (&'static str, WireError)> {
    let (parts, body) = req.into_parts();
    let Some(route) = rest::route(parts.method.as_str(), parts.uri.path()) else {
        return Err(("unknown", LambdaError::UnknownOperation.to_wire()));
    };
    let operation = route.operation;
    let fail = |e: ProtocolError| {
        let mut wire = e.to_wire_in(Service::Lambda);
        // REST front ends refuse a request without a usable signature with 403.
        if matches!(
            e,
            ProtocolError::MissingAuthenticationToken
                | ProtocolError::IncompleteSignature(_)
                | ProtocolError::InvalidSignature(_)
                | ProtocolError::UnrecognizedClient
                | ProtocolError::ExpiredToken
        ) {
            wire.status = 403;
        }
        (operation, wire)
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let has_date = header("x-amz-date").is_some() || header("date").is_some();
    let enforced = state.keys.enforced();
    let credential = match parts.uri.query().and_then(auth::parse_presigned) {
        Some(c) => c,
        None => auth::parse_authorization(header(AUTHORIZATION.as_str()), has_date)
            .map_err(|e| match enforced {
                true => super::http::unsigned(state, Service::Lambda, operation, e),
                false => e,
            })
            .map_err(fail)?,
    };
    let invoke = operation == "Invoke";
    let json = rest::JSON_BODY_OPERATIONS.contains(&operation);
    let limit = match (invoke, json) {
        (true, _) => MAX_REQUEST_PAYLOAD,
        (_, true) => MAX_JSON_BODY,
        _ => MAX_IGNORED_BODY,
    };
    let invocation_type = header("x-amz-invocation-type")
        .filter(|t| matches!(*t, "Event" | "DryRun"))
        .unwrap_or("RequestResponse");
    let declared = header(CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    let deadline = Duration::from_millis(state.config.server.request_read_timeout_ms);
    if let Some(n) = declared.filter(|n| *n > limit) {
        let e = if invoke {
            api::invoke::too_large(n, invocation_type)
        } else {
            request_too_large(limit, operation)
        };
        // Read and dropped (up to server.max_body_bytes), so a client still writing it
        // reads the answer instead of a broken pipe.
        if n <= state.config.server.max_body_bytes {
            let _ = tokio::time::timeout(deadline, drain(body)).await;
        }
        return Err((operation, e.to_wire()));
    }
    let bytes = tokio::time::timeout(deadline, Limited::new(body, limit).collect())
        .await
        .map_err(|_| fail(ProtocolError::RequestTimeout))?
        .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
            Some(_) => (operation, request_too_large(limit, operation).to_wire()),
            None => fail(ProtocolError::Serialization("The request body could not be read".into())),
        })?
        .to_bytes();
    if enforced {
        let request = crate::auth::verify::Incoming {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
            body: &bytes,
            service: Some("lambda"),
        };
        let now = state.engine.clock.now_millis();
        let identity = crate::auth::verify::verify(&state.keys, &request, &credential, now)
            .map_err(|e| {
                let key = credential.access_key_id.as_str();
                fail(super::http::denied(state, Service::Lambda, operation, e, key))
            })?;
        // Permissions: the key's policy, if it has one, must allow the call.
        if let Some(policy) = state.keys.policy(&identity.access_key_id)
            && let Some(op) = crate::api::lambda::Operation::from_name(operation)
        {
            let ctx = RequestContext {
                region: credential
                    .region
                    .clone()
                    .unwrap_or_else(|| state.config.aws.region.clone()),
                account_id: state
                    .config
                    .aws
                    .account_of(&identity.access_key_id, &state.config.auth)
                    .to_string(),
                request_id: String::new(),
                host: None,
            };
            let checks = crate::api::authorize::lambda_checks(
                op,
                route.function_name.as_deref(),
                route.uuid.as_deref(),
                &ctx,
            );
            crate::api::authorize::decide(&policy, &identity.access_key_id, &checks, &ctx)
                .map_err(|(message, reason)| {
                    let key = identity.access_key_id.as_str();
                    super::http::count_denied(state, Service::Lambda, operation, reason, key);
                    let mut wire = ProtocolError::AccessDenied(message).to_wire_in(Service::Lambda);
                    wire.status = 403;
                    (operation, wire)
                })?;
        }
    }
    let mut headers: Vec<(String, String)> = LAMBDA_HEADERS
        .iter()
        .filter_map(|name| header(name).map(|v| (name.to_string(), v.to_string())))
        .collect();
    if let Some(host) = header(HOST.as_str()) {
        headers.push(("host".into(), host.into()));
    }
    let signed = Signed {
        access_key_id: credential.access_key_id.clone(),
        region: credential.region.clone(),
    };
    let call = RestCall {
        operation,
        function_name: route.function_name,
        uuid: route.uuid,
        query: parts.uri.query().map(rest::parse_query).unwrap_or_default(),
        headers,
        body: if invoke || json { bytes } else { Bytes::new() },
    };
    Ok((call, signed))
}

/// Reads a body to its end, keeping nothing.
async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

fn request_too_large(limit: usize, operation: &str) -> LambdaError {
    let operation = if operation == "Invoke" { "InvokeFunction" } else { operation };
    LambdaError::RequestTooLarge(format!(
        "Request must be smaller than {limit} bytes for the {operation} operation"
    ))
}

fn base(status: u16, request_id: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

fn json_type(response: &mut Response<Body>) {
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
}

fn json_response(status: u16, value: &serde_json::Value, request_id: &str) -> Response<Body> {
    let mut r = base(status, request_id, Bytes::from(value.to_string()));
    json_type(&mut r);
    r
}

fn render(output: Output, request_id: &str) -> Response<Body> {
    match output {
        Output::Json(value) => json_response(200, &value, request_id),
        Output::Accepted(value) => json_response(202, &value, request_id),
        Output::Invoke(o) => {
            let mut r = base(o.status, request_id, o.payload);
            if o.status == 200 {
                json_type(&mut r);
            }
            let headers = r.headers_mut();
            let mut set = |name: &'static str, value: Option<String>| {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, v);
                }
            };
            set("x-amz-function-error", o.function_error);
            set("x-amz-executed-version", o.executed_version);
            set("x-amz-log-result", o.log_result);
            r
        }
    }
}

fn render_error(error: &WireError, request_id: &str) -> Response<Body> {
    if error.status >= 500 {
        tracing::error!("lambda: {}: {:?}", error.code, error.message);
    }
    let mut r = base(error.status, request_id, Bytes::from(error.rest_json_body().to_string()));
    json_type(&mut r);
    r.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    r
}
