//! A tiny awsJson client for the torture harness: one keep-alive HTTP/1.1 connection,
//! requests with a well-formed (unchecked) SigV4 header, and errors that say whether the
//! request may have reached the server — the difference between a write that certainly
//! did not happen and one whose fate the harness must find out.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=TORTURE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0";
/// Longest one call may take; a call cut by a kill fails long before.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call has no answer.
#[derive(Debug)]
pub enum CallError {
    /// No connection could be made: the request never left.
    NotSent(String),
    /// The connection broke (or timed out) after the request may have been sent.
    Cut(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(e) => write!(f, "not sent: {e}"),
            CallError::Cut(e) => write!(f, "connection cut: {e}"),
        }
    }
}

/// A connection to one sluice (reopened when it breaks).
pub struct Http {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http { addr, sender: None }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CallError> {
        let stream =
            TcpStream::connect(self.addr).await.map_err(|e| CallError::NotSent(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// One call of `target` (e.g. `DynamoDB_20120810.PutItem`): the status and the JSON
    /// answer (Null when the body is not JSON).
    pub async fn call(&mut self, target: &str, body: &Value) -> Result<(u16, Value), CallError> {
        match tokio::time::timeout(TIMEOUT, self.exchange(target, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(CallError::Cut(format!("no answer within {TIMEOUT:?}")))
            }
        }
    }

    async fn exchange(&mut self, target: &str, body: &Value) -> Result<(u16, Value), CallError> {
        let kept = match self.sender.take() {
            Some(mut s) if !s.is_closed() => s.ready().await.is_ok().then_some(s),
            _ => None,
        };
        let mut sender = match kept {
            Some(s) => s,
            None => self.connect().await?,
        };
        let content_type = if target.starts_with("Kinesis") {
            "application/x-amz-json-1.1"
        } else {
            "application/x-amz-json-1.0"
        };
        let request = hyper::Request::post("/")
            .header("host", self.addr.to_string())
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .header("x-amz-date", "20260101T000000Z")
            .header("authorization", AUTH)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        let response =
            sender.send_request(request).await.map_err(|e| CallError::Cut(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Cut(e.to_string()))?
            .to_bytes();
        self.sender = Some(sender);
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// A call that must succeed (setup and reads): the answer, or what went wrong.
    pub async fn ok(&mut self, target: &str, body: Value) -> Result<Value, String> {
        match self.call(target, &body).await {
            Ok((200, answer)) => Ok(answer),
            Ok((status, answer)) => Err(format!("{target} answered HTTP {status}: {answer}")),
            Err(e) => Err(format!("{target}: {e}")),
        }
    }
}
