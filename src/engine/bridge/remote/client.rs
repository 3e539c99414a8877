//! A minimal Kinesis client: PutRecords over HTTP/1.1 in awsJson 1.1, signed with SigV4,
//! on one keep-alive connection that is reopened whenever it fails.
//!
//! It reports what the remote said and nothing more; deciding what to retry, and when,
//! is `deliver`'s job.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use serde::{Deserialize, Serialize};

use super::deliver::{EntryOutcome, Sink};
use super::sigv4::{self, Signer};
use crate::clock::SharedClock;
use crate::config::RemoteConfig;
use crate::engine::kinesis::NewRecord;

const TARGET: &str = "Kinesis_20131202.PutRecords";

/// The most of a remote's answer that is read. A PutRecords answer for 500 entries, each
/// with a 56-digit sequence number or an error message, is well under 256 KiB; anything
/// larger is not an answer to trust, and reading it whole would let the remote decide how
/// much memory sluice takes.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Why a PutRecords call failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Connecting, sending or reading the answer failed.
    #[error("connection to {endpoint} failed: {message}")]
    Connection { endpoint: String, message: String },
    #[error("no answer from {endpoint} within {timeout:?}")]
    Timeout { endpoint: String, timeout: Duration },
    /// The remote answered with an error.
    #[error("{endpoint} answered HTTP {status} {code}: {message}")]
    Refused { endpoint: String, status: u16, code: String, message: String },
    /// A 200 whose body is not a PutRecords answer.
    #[error("{endpoint} answered something that is not a PutRecords result: {message}")]
    Malformed { endpoint: String, message: String },
    /// An answer past `MAX_ANSWER_BYTES`: refused unread, the connection dropped.
    #[error("{endpoint} answered more than {limit} bytes; refused unread")]
    TooLarge { endpoint: String, limit: usize },
}

impl RemoteError {
    /// Whether the remote turned the call down for rate (retried like the rest, but
    /// counted as throttling, AWS's ThrottledPutRecordCount).
    pub fn throttled(&self) -> bool {
        matches!(self, RemoteError::Refused { code, .. } if matches!(
            code.as_str(),
            "ProvisionedThroughputExceededException" | "ThrottlingException" | "LimitExceededException"
        ))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsBody<'a> {
    #[serde(rename = "StreamARN")]
    stream_arn: &'a str,
    records: Vec<PutRecordsEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsEntry<'a> {
    data: String,
    partition_key: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsAnswer {
    records: Vec<AnswerEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerEntry {
    error_code: Option<String>,
    error_message: Option<String>,
}

/// A Kinesis endpoint outside sluice, for one stream.
pub struct KinesisClient {
    remote: RemoteConfig,
    /// Where to connect (an IPv6 literal in brackets), and whether over TLS.
    host: String,
    port: u16,
    tls: bool,
    /// The `Host` header, which the signature covers.
    authority: String,
    timeout: Duration,
    clock: SharedClock,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl KinesisClient {
    /// A client for `remote` (None when its endpoint is not an http:// or https:// URL,
    /// which the config loader already refuses).
    pub fn new(remote: &RemoteConfig, timeout: Duration, clock: SharedClock) -> Option<Self> {
        let (tls, host, port) = remote.host_port()?;
        let default = if tls { 443 } else { 80 };
        let authority = if port == default { host.to_string() } else { format!("{host}:{port}") };
        Some(KinesisClient {
            remote: remote.clone(),
            host: host.to_string(),
            port,
            tls,
            authority,
            timeout,
            clock,
            connection: None,
        })
    }

    /// The signed request for `records`.
    fn request(&self, records: &[&NewRecord]) -> Result<hyper::Request<Full<Bytes>>, String> {
        let body = PutRecordsBody {
            stream_arn: &self.remote.stream_arn,
            records: records
                .iter()
                .map(|r| PutRecordsEntry {
                    data: base64::engine::general_purpose::STANDARD.encode(&r.data),
                    partition_key: &r.partition_key,
                })
                .collect(),
        };
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let signer = Signer {
            access_key_id: &self.remote.access_key_id,
            secret_access_key: &self.remote.secret_access_key,
            region: self.remote.signing_region(),
            service: "kinesis",
        };
        let headers = sigv4::signed_json_post(
            &signer,
            &self.authority,
            CONTENT_TYPE,
            TARGET,
            &body,
            self.clock.now_millis(),
        );
        let mut request = hyper::Request::post("/");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())
    }

    fn connection_error(&self, message: impl ToString) -> RemoteError {
        RemoteError::Connection {
            endpoint: self.remote.endpoint.clone(),
            message: message.to_string(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RemoteError> {
        crate::engine::remote_tls::connect(&self.host, self.port, self.tls)
            .await
            .map_err(|e| self.connection_error(e))
    }

    /// One exchange; the connection is kept for the next call only after a complete one.
    async fn exchange(&mut self, records: &[&NewRecord]) -> Result<(u16, Bytes), RemoteError> {
        let kept = match self.connection.take() {
            Some(mut s) if !s.is_closed() => s.ready().await.is_ok().then_some(s),
            _ => None,
        };
        let (mut sender, reused) = match kept {
            Some(s) => (s, true),
            None => (self.connect().await?, false),
        };
        let request = self.request(records).map_err(|e| self.connection_error(e))?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            // A kept-alive connection the peer closed while idle: one fresh try at once
            // rather than a backoff pause for nothing.
            Err(_) if reused => {
                sender = self.connect().await?;
                let request = self.request(records).map_err(|e| self.connection_error(e))?;
                sender.send_request(request).await.map_err(|e| self.connection_error(e))?
            }
            Err(e) => return Err(self.connection_error(e)),
        };
        let status = response.status().as_u16();
        let too_large = || RemoteError::TooLarge {
            endpoint: self.remote.endpoint.clone(),
            limit: MAX_ANSWER_BYTES,
        };
        let declared = response.headers().get(hyper::header::CONTENT_LENGTH);
        if declared
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            // Dropping the sender with the response closes the connection unread.
            return Err(too_large());
        }
        let body =
            Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await.map_err(|e| {
                match e.downcast_ref::<LengthLimitError>() {
                    Some(_) => too_large(),
                    None => self.connection_error(e),
                }
            })?;
        self.connection = Some(sender);
        Ok((status, body.to_bytes()))
    }

    fn outcomes(
        &self,
        status: u16,
        body: &[u8],
        sent: usize,
    ) -> Result<Vec<EntryOutcome>, RemoteError> {
        let endpoint = self.remote.endpoint.clone();
        if status != 200 {
            let error: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let code = error["__type"].as_str().unwrap_or("Unknown");
            // Some services prefix the type with its namespace.
            let code = truncate(code.rsplit('#').next().unwrap_or(code).to_string(), 128);
            let message = error["message"]
                .as_str()
                .or_else(|| error["Message"].as_str())
                .map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_string);
            // It goes into logs: a remote's message is kept short.
            let message = truncate(message, 512);
            return Err(RemoteError::Refused { endpoint, status, code, message });
        }
        let answer: PutRecordsAnswer = serde_json::from_slice(body).map_err(|e| {
            RemoteError::Malformed { endpoint: endpoint.clone(), message: e.to_string() }
        })?;
        if answer.records.len() != sent {
            let message = format!("{} results for {sent} records", answer.records.len());
            return Err(RemoteError::Malformed { endpoint, message });
        }
        Ok(answer
            .records
            .into_iter()
            .map(|r| match r.error_code.as_deref() {
                None => EntryOutcome::Delivered,
                Some("ProvisionedThroughputExceededException") => EntryOutcome::Throttled,
                Some(code) => {
                    let why = format!("{code}: {}", r.error_message.unwrap_or_default());
                    EntryOutcome::Failed(truncate(why, 512))
                }
            })
            .collect())
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

impl Sink for KinesisClient {
    async fn put(&mut self, records: &[&NewRecord]) -> Result<Vec<EntryOutcome>, RemoteError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(records)).await {
            Ok(Ok((status, body))) => self.outcomes(status, &body, records.len()),
            Ok(Err(e)) => Err(e),
            // The dropped exchange took its connection with it: the next call reconnects.
            Err(_) => Err(RemoteError::Timeout { endpoint: self.remote.endpoint.clone(), timeout }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn client() -> KinesisClient {
        let remote = RemoteConfig {
            stream_arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/feed".into(),
            endpoint: "http://127.0.0.1:4567".into(),
            region: String::new(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
        };
        let clock = ManualClock::new(1_772_355_907_000);
        KinesisClient::new(&remote, Duration::from_secs(1), clock).unwrap()
    }

    #[test]
    fn requests_are_signed_awsjson_put_records_by_stream_arn() {
        let c = client();
        let record = NewRecord::keyed("PK".into(), b"{\"a\":1}".to_vec());
        let request = c.request(&[&record]).unwrap();
        let header = |n: &str| request.headers()[n].to_str().unwrap().to_string();
        assert_eq!(header("host"), "127.0.0.1:4567");
        assert_eq!(header("x-amz-target"), "Kinesis_20131202.PutRecords");
        assert_eq!(header("content-type"), "application/x-amz-json-1.1");
        assert_eq!(header("x-amz-date"), "20260301T090507Z");
        assert!(header("authorization").starts_with(
            "AWS4-HMAC-SHA256 Credential=AKID/20260301/eu-west-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        let body = request.into_body();
        let bytes = body_bytes(body);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "StreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/feed",
                "Records": [{"Data": "eyJhIjoxfQ==", "PartitionKey": "PK"}]
            })
        );
    }

    fn body_bytes(body: Full<Bytes>) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(body.collect()).unwrap().to_bytes()
    }

    #[test]
    fn answers_become_outcomes_or_errors() {
        let c = client();
        let ok = br#"{"FailedRecordCount":2,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded"},{"ErrorCode":"InternalFailure","ErrorMessage":"Internal Service Failure"}]}"#;
        assert_eq!(
            c.outcomes(200, ok, 3).unwrap(),
            [
                EntryOutcome::Delivered,
                EntryOutcome::Throttled,
                EntryOutcome::Failed("InternalFailure: Internal Service Failure".into())
            ]
        );
        let e = c.outcomes(200, ok, 2).unwrap_err();
        assert!(matches!(e, RemoteError::Malformed { .. }), "{e}");
        let e = c.outcomes(200, b"<html>", 1).unwrap_err();
        assert!(matches!(e, RemoteError::Malformed { .. }), "{e}");
        let throttled = br#"{"__type":"com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException","message":"slow down"}"#;
        let e = c.outcomes(400, throttled, 1).unwrap_err();
        assert!(e.throttled(), "{e}");
        assert!(
            e.to_string().contains("HTTP 400 ProvisionedThroughputExceededException: slow down")
        );
        let e = c.outcomes(503, b"Service Unavailable", 1).unwrap_err();
        assert!(!e.throttled());
        assert!(e.to_string().contains("HTTP 503 Unknown: Service Unavailable"), "{e}");
    }
}
