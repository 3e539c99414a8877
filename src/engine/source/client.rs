//! Calls to a DynamoDB endpoint outside sluice (the source table's, and the lease
//! table's): awsJson 1.0 POSTs signed with SigV4 for `dynamodb` (DynamoDB Streams signs
//! as `dynamodb` too), answers read up to a bound, errors reduced to AWS's code and
//! message so callers can tell a throttle, a trimmed shard or a lost condition apart.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;
use tokio::time::Instant;

use crate::clock::SharedClock;
use crate::engine::bridge::remote::sigv4::{self, Signer};
use crate::engine::http_client::{HttpClient, HttpError, truncate};

/// The most of one answer that is read. GetRecords returns at most 1 MB of records (1,000
/// at most); in DynamoDB JSON with both images that stays well under 16 MiB. A larger
/// answer is not one to trust with sluice's memory.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Connecting, sending or reading failed, or no answer came in time.
    #[error("{0}")]
    Http(#[from] HttpError),
    /// The endpoint answered with an error (`code` without its namespace).
    #[error("HTTP {status} {code}: {message}")]
    Aws { status: u16, code: String, message: String },
    /// A 200 whose body is not JSON.
    #[error("an answer that is not JSON: {0}")]
    Malformed(String),
}

impl CallError {
    /// AWS's error code, when the endpoint gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the endpoint asked to slow down.
    pub fn throttled(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "LimitExceededException"
                    | "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        )
    }
}

/// One endpoint, one set of credentials.
pub struct Client {
    http: HttpClient,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    timeout: Duration,
    clock: SharedClock,
}

impl Client {
    /// `None` when `endpoint` is not an http:// or https:// URL (the config loader refuses
    /// those).
    pub fn new(
        endpoint: &str,
        (region, access_key_id, secret_access_key): (&str, &str, &str),
        timeout: Duration,
        clock: SharedClock,
    ) -> Option<Client> {
        Some(Client {
            http: HttpClient::for_url(endpoint)?,
            region: region.to_string(),
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            timeout,
            clock,
        })
    }

    /// Calls `target` (`DynamoDB_20120810.Scan`, `DynamoDBStreams_20120810.GetRecords`)
    /// with `body`, returning the answer's JSON.
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, CallError> {
        let payload = serde_json::to_vec(body).map_err(|e| CallError::Malformed(e.to_string()))?;
        let signer = Signer {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            region: &self.region,
            service: "dynamodb",
        };
        let headers = sigv4::signed_json_post(
            &signer,
            &self.http.authority,
            CONTENT_TYPE,
            target,
            &payload,
            self.clock.now_millis(),
        );
        let payload = Bytes::from(payload);
        let build = || {
            let mut request = hyper::Request::post("/");
            for (name, value) in &headers {
                request = request.header(*name, value.as_str());
            }
            // Every header is a valid value (ASCII the signer wrote): never fails.
            request.body(Full::new(payload.clone())).unwrap_or_default()
        };
        let deadline = Instant::now() + self.timeout;
        let answer = self.http.send(build, MAX_ANSWER_BYTES, deadline).await?;
        if answer.status != 200 {
            return Err(refusal(answer.status, &answer.body));
        }
        serde_json::from_slice(&answer.body).map_err(|e| CallError::Malformed(e.to_string()))
    }
}

/// An error answer as AWS's code and message (kept short: they go into logs).
fn refusal(status: u16, body: &[u8]) -> CallError {
    let error: Value = serde_json::from_slice(body).unwrap_or_default();
    let code = error["__type"].as_str().unwrap_or("Unknown");
    let code = code.rsplit('#').next().unwrap_or(code);
    let message = error["message"]
        .as_str()
        .or_else(|| error["Message"].as_str())
        .map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_string);
    CallError::Aws { status, code: truncate(code, 128), message: truncate(&message, 512) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_keep_the_code_without_its_namespace() {
        let e = refusal(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#LimitExceededException","message":"slow"}"#,
        );
        assert_eq!(e.code(), Some("LimitExceededException"));
        assert!(e.throttled());
        let e = refusal(400, br#"{"__type":"TrimmedDataAccessException","Message":"gone"}"#);
        assert_eq!(e.to_string(), "HTTP 400 TrimmedDataAccessException: gone");
        assert!(!e.throttled());
        let e = refusal(503, b"Service Unavailable");
        assert_eq!(e.to_string(), "HTTP 503 Unknown: Service Unavailable");
    }
}
