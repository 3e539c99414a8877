//! Functions behind Lambda's Invoke API: one URL per function (`invoke_url`, such as a
//! Runtime Interface Emulator's), or `lambda.endpoint`, a whole Lambda-compatible server
//! (AWS Lambda, LocalStack, another sluice) asked for any function sluice does not declare.
//!
//! A function error comes back as a 200 with `X-Amz-Function-Error` and the error JSON,
//! an error answer (404 ResourceNotFoundException, ...) as Lambda's restJson1 error; both
//! are passed on as they came, bounded. No answer within the function's timeout is the
//! timeout Lambda reports.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::time::Instant;

use super::invocation::{Invocation, InvokeError, LATEST, MAX_RESPONSE_PAYLOAD};
use crate::clock::SharedClock;
use crate::engine::bridge::remote::sigv4::{self, Signer};
use crate::engine::http_client::{Answer, HttpClient, HttpError, encode_segment, truncate};
use crate::engine::remote_tls::split_url;

/// The longest a GetFunction asked of the endpoint may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a GetFunction answer that is read.
const MAX_LOOKUP_ANSWER: usize = 1 << 20;
/// How long an Invoke sent to the endpoint may take: Lambda's longest timeout, and a
/// little for the trip.
const ENDPOINT_INVOKE_TIMEOUT: Duration = Duration::from_secs(900 + 10);

/// What the caller asks of an Invoke-API server besides the payload.
#[derive(Debug, Clone, Default)]
pub struct InvokeHeaders<'a> {
    /// `RequestResponse` (the default), `Event` or `DryRun`.
    pub invocation_type: Option<&'a str>,
    /// `X-Amz-Client-Context` as the caller sent it (base64).
    pub client_context: Option<&'a str>,
}

fn invoke_request(
    client: &HttpClient,
    path: &str,
    payload: &Bytes,
    headers: &InvokeHeaders<'_>,
    signed: &[(&'static str, String)],
) -> hyper::Request<Full<Bytes>> {
    let mut request = hyper::Request::post(path)
        .header("host", &client.authority)
        .header("content-type", "application/json")
        .header("x-amz-invocation-type", headers.invocation_type.unwrap_or("RequestResponse"));
    if let Some(cc) = headers.client_context {
        request = request.header("x-amz-client-context", cc);
    }
    for (name, value) in signed {
        request = request.header(*name, value);
    }
    request.body(Full::new(payload.clone())).unwrap_or_default()
}

/// An Invoke answer as an invocation, or the error it carries.
fn invocation_of(answer: Answer) -> Result<Invocation, InvokeError> {
    if !(200..300).contains(&answer.status) {
        return Err(remote_error(&answer));
    }
    Ok(Invocation {
        status: answer.status,
        function_error: answer.header("x-amz-function-error").map(|v| truncate(v, 64)),
        executed_version: answer
            .header("x-amz-executed-version")
            .map_or(LATEST.into(), |v| truncate(v, 64)),
        payload: answer.body,
    })
}

/// A failed exchange as Lambda reports it: no answer in time is the function's
/// timeout, an oversize answer the function's oversize response.
fn exchange_failed(
    e: HttpError,
    request_id: &str,
    timeout_seconds: u32,
) -> Result<Invocation, InvokeError> {
    match e {
        HttpError::Timeout(_) => Ok(Invocation::timed_out(request_id, timeout_seconds)),
        HttpError::TooLarge(..) => Ok(Invocation::response_too_large()),
        HttpError::Connection(..) => Err(InvokeError::Unreachable(e.to_string())),
    }
}

/// A Lambda restJson1 error answer, its code from `X-Amzn-ErrorType` (or the body).
pub fn remote_error(answer: &Answer) -> InvokeError {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let code = answer
        .header("x-amzn-errortype")
        .map(|h| h.split(':').next().unwrap_or(h).to_string())
        .or_else(|| body["__type"].as_str().or_else(|| body["code"].as_str()).map(str::to_string))
        .map(|c| c.rsplit('#').next().unwrap_or(&c).to_string())
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        .unwrap_or_else(|| {
            if answer.status >= 500 { "ServiceException" } else { "InvalidRequestContentException" }
                .to_string()
        });
    let message = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|k| body[*k].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned());
    let status = if (400..600).contains(&answer.status) { answer.status } else { 502 };
    InvokeError::Remote {
        status,
        code: truncate(&code, 128),
        message: truncate(&message, 1024),
        user: status < 500,
    }
}

/// How requests to a function's host are signed: SigV4, service `lambda`, with
/// `lambda.access_key_id` / `secret_access_key`, or a placeholder pair (`sluice`) that
/// emulators accept. A Runtime Interface Emulator ignores the signature; AWS, LocalStack
/// and another sluice read it.
/// A signing key and the day (`YYYYMMDD`) it signs for.
type DayKey = (String, Vec<u8>);

pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    clock: SharedClock,
    /// The signing key of the day it was derived for (`YYYYMMDD`).
    key: std::sync::Mutex<Option<DayKey>>,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret: &str, region: &str, clock: SharedClock) -> Credentials {
        let (access_key_id, secret_access_key) = if access_key_id.is_empty() {
            ("sluice".to_string(), "sluice".to_string())
        } else {
            (access_key_id.to_string(), secret.to_string())
        };
        Credentials {
            access_key_id,
            secret_access_key,
            region: region.to_string(),
            clock,
            key: std::sync::Mutex::new(None),
        }
    }

    /// SigV4 headers for a request to `authority` `path?query` with `payload`.
    fn sign(
        &self,
        authority: &str,
        method: &str,
        path: &str,
        query: &str,
        payload: &[u8],
    ) -> Vec<(&'static str, String)> {
        let date = sigv4::amz_date(self.clock.now_millis());
        // Every service but S3 signs the path encoded once more.
        let canonical: Vec<String> = path.split('/').map(encode_segment).collect();
        let canonical = canonical.join("/");
        let headers = [("host", authority), ("x-amz-date", date.as_str())];
        let request =
            sigv4::Request { method, path: &canonical, query, headers: &headers, payload };
        let signer = Signer {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            region: &self.region,
            service: "lambda",
        };
        let key = {
            let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
            match &*cached {
                Some((day, key)) if date.starts_with(day.as_str()) => key.clone(),
                _ => {
                    let key = signer.signing_key(&date);
                    *cached = Some((date[..8.min(date.len())].to_string(), key.clone()));
                    key
                }
            }
        };
        let authorization = signer.authorization_with_key(&request, &date, &key);
        vec![("x-amz-date", date), ("authorization", authorization)]
    }
}

/// One function behind one Invoke-API URL.
pub struct InvokeUrl {
    client: HttpClient,
    path: String,
    credentials: Credentials,
}

impl InvokeUrl {
    /// `None` when `url` is not an http:// or https:// URL (the config loader refuses
    /// those).
    pub fn new(url: &str, credentials: Credentials) -> Option<InvokeUrl> {
        let u = split_url(url)?;
        let client = HttpClient::new(u.host, u.port, u.tls);
        Some(InvokeUrl { client, path: u.path.to_string(), credentials })
    }

    /// Invokes with `payload`, waiting up to `timeout_seconds` for the answer.
    pub async fn invoke(
        &self,
        payload: Bytes,
        client_context: Option<&str>,
        request_id: &str,
        timeout_seconds: u32,
    ) -> Result<Invocation, InvokeError> {
        let headers = InvokeHeaders { invocation_type: None, client_context };
        let deadline = Instant::now() + Duration::from_secs(timeout_seconds.into());
        let signed =
            self.credentials.sign(&self.client.authority, "POST", &self.path, "", &payload);
        let build = || invoke_request(&self.client, &self.path, &payload, &headers, &signed);
        match self.client.send(build, MAX_RESPONSE_PAYLOAD, deadline).await {
            Ok(answer) => invocation_of(answer),
            Err(e) => exchange_failed(e, request_id, timeout_seconds),
        }
    }
}

/// What the endpoint says of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// 404 ResourceNotFoundException.
    Missing,
    /// A GetFunction answer (a JSON object).
    Found(serde_json::Value),
    /// The server does not serve GetFunction (a Runtime Interface Emulator answers a
    /// plain 404): the function is taken to exist.
    Assumed,
}

/// `lambda.endpoint`.
pub struct Endpoint {
    client: HttpClient,
    credentials: Credentials,
}

impl Endpoint {
    /// `None` when `base` is not an http:// base URL (the config loader refuses those).
    pub fn new(
        base: &str,
        access_key_id: &str,
        secret: &str,
        region: &str,
        clock: SharedClock,
    ) -> Option<Endpoint> {
        Some(Endpoint {
            client: HttpClient::for_url(base)?,
            credentials: Credentials::new(access_key_id, secret, region, clock),
        })
    }

    /// SigV4 headers for a request to `path?query` with `payload`.
    fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        payload: &[u8],
    ) -> Vec<(&'static str, String)> {
        self.credentials.sign(&self.client.authority, method, path, query, payload)
    }

    fn path(name: &str, qualifier: Option<&str>, suffix: &str) -> (String, String) {
        let path = format!("/2015-03-31/functions/{}{suffix}", encode_segment(name));
        let query =
            qualifier.map(|q| format!("Qualifier={}", encode_segment(q))).unwrap_or_default();
        (path, query)
    }

    /// GetFunction of `name` (as the caller gave it) at the endpoint.
    pub async fn lookup(&self, name: &str, qualifier: Option<&str>) -> Result<Lookup, InvokeError> {
        let (path, query) = Endpoint::path(name, qualifier, "");
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let build = || {
            let mut request = hyper::Request::get(&uri).header("host", &self.client.authority);
            for (n, v) in self.sign("GET", &path, &query, b"") {
                request = request.header(n, v);
            }
            request.body(Full::new(Bytes::new())).unwrap_or_default()
        };
        let deadline = Instant::now() + LOOKUP_TIMEOUT;
        let answer = self
            .client
            .send(build, MAX_LOOKUP_ANSWER, deadline)
            .await
            .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
        match answer.status {
            200 => match serde_json::from_slice::<serde_json::Value>(&answer.body) {
                Ok(v) if v.is_object() => Ok(Lookup::Found(v)),
                _ => Ok(Lookup::Assumed),
            },
            404 => match remote_error(&answer) {
                InvokeError::Remote { code, .. } if code == "ResourceNotFoundException" => {
                    Ok(Lookup::Missing)
                }
                _ => Ok(Lookup::Assumed),
            },
            _ => Err(remote_error(&answer)),
        }
    }

    /// Invoke of `name` (as the caller gave it) at the endpoint.
    pub async fn invoke(
        &self,
        name: &str,
        qualifier: Option<&str>,
        payload: Bytes,
        headers: InvokeHeaders<'_>,
        request_id: &str,
    ) -> Result<Invocation, InvokeError> {
        let (path, query) = Endpoint::path(name, qualifier, "/invocations");
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let build = || {
            let signed = self.sign("POST", &path, &query, &payload);
            invoke_request(&self.client, &uri, &payload, &headers, &signed)
        };
        let deadline = Instant::now() + ENDPOINT_INVOKE_TIMEOUT;
        match self.client.send(build, MAX_RESPONSE_PAYLOAD, deadline).await {
            Ok(answer) => invocation_of(answer),
            Err(e) => exchange_failed(e, request_id, 900),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = hyper::HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Answer { status, headers: map, body: Bytes::from(body.to_string()) }
    }

    #[test]
    fn the_days_signing_key_is_derived_once_and_again_the_next_day() {
        // 2026-12-05T23:59:59Z, then a second later on the 6th.
        let clock = crate::clock::ManualClock::new(1_796_515_199_000);
        let credentials = Credentials::new("AKID", "secret", "us-east-1", clock.clone());
        let fresh = |date: &str| {
            let signer = Signer {
                access_key_id: "AKID",
                secret_access_key: "secret",
                region: "us-east-1",
                service: "lambda",
            };
            let headers = [("host", "h:1"), ("x-amz-date", date)];
            let request = sigv4::Request {
                method: "POST",
                path: "/2015-03-31/functions/f/invocations",
                query: "",
                headers: &headers,
                payload: b"{}",
            };
            signer.authorization(&request, date)
        };
        for (date, advance) in
            [("20261205T235959Z", 0), ("20261205T235959Z", 0), ("20261206T000000Z", 1000)]
        {
            clock.advance_millis(advance);
            let signed =
                credentials.sign("h:1", "POST", "/2015-03-31/functions/f/invocations", "", b"{}");
            assert_eq!(signed[0], ("x-amz-date", date.to_string()));
            assert_eq!(signed[1], ("authorization", fresh(date)));
        }
    }

    #[test]
    fn lambda_errors_pass_through_with_their_code_and_message() {
        let e = remote_error(&answer(
            404,
            &[("x-amzn-errortype", "ResourceNotFoundException:http://internal.amazon.com/coral/")],
            r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:1:function:f"}"#,
        ));
        assert_eq!(
            e,
            InvokeError::Remote {
                status: 404,
                code: "ResourceNotFoundException".into(),
                message: "Function not found: arn:aws:lambda:us-east-1:1:function:f".into(),
                user: true
            }
        );
        let e = remote_error(&answer(502, &[], "<html>bad gateway</html>"));
        assert!(
            matches!(e, InvokeError::Remote { status: 502, ref code, user: false, .. } if code == "ServiceException"),
            "{e:?}"
        );
        let e = remote_error(&answer(400, &[], r#"{"__type":"x#Weird Code","message":"m"}"#));
        assert!(
            matches!(e, InvokeError::Remote { ref code, .. } if code == "InvalidRequestContentException"),
            "{e:?}"
        );
    }

    #[test]
    fn answers_become_invocations() {
        let ok = invocation_of(answer(200, &[("x-amz-executed-version", "7")], "{}")).unwrap();
        assert_eq!((ok.function_error, ok.executed_version.as_str()), (None, "7"));
        let failed =
            invocation_of(answer(200, &[("x-amz-function-error", "Unhandled")], "{}")).unwrap();
        assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
        let timed_out = exchange_failed(HttpError::Timeout("h".into()), "r", 5).unwrap();
        assert!(
            String::from_utf8_lossy(&timed_out.payload)
                .contains("Task timed out after 5.00 seconds")
        );
        assert!(
            exchange_failed(HttpError::Connection("h".into(), "refused".into()), "r", 5).is_err()
        );
    }
}
