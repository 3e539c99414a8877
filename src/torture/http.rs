//! The torture harness's client: the benchmark's signed keep-alive connection
//! (`bench::client::Conn`), with every call bounded in time and errors that say whether
//! the request may have reached the server — the difference between a write that
//! certainly did not happen and one whose fate the harness must find out.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::bench::client::{Client, Conn, Credentials, Endpoint, Failure};

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
    conn: Conn,
}

impl Http {
    /// A client signing for us-east-1 (the default region).
    pub fn new(addr: SocketAddr) -> Http {
        Http::in_region(addr, "us-east-1")
    }

    /// A client signing for `region`: resources are regional, so it sees that region's.
    pub fn in_region(addr: SocketAddr, region: &str) -> Http {
        let endpoint = Endpoint { addr, host: addr.to_string() };
        let creds = Credentials {
            access_key: "TORTURE".into(),
            secret_key: "torture".into(),
            region: region.into(),
        };
        Http { conn: Client::new(endpoint, creds).conn() }
    }

    /// One call of `target` (e.g. `DynamoDB_20120810.PutItem`): the status and the JSON
    /// answer (Null when the body is not JSON).
    pub async fn call(&mut self, target: &str, body: &Value) -> Result<(u16, Value), CallError> {
        match self.conn.send_within(target, body.to_string().into_bytes(), TIMEOUT).await {
            Ok(reply) => {
                Ok((reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null)))
            }
            Err(Failure::NotSent(e)) => Err(CallError::NotSent(e)),
            Err(e) => Err(CallError::Cut(e.to_string())),
        }
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
