//! The wire: which service and operation a request is for, its auth header, its body,
//! and how a typed result or error becomes an HTTP response.
//!
//! Nothing here knows about tables or storage; handlers never see HTTP.

pub mod auth;
pub mod error;
pub mod response;
pub mod target;

pub use error::{ProtocolError, WireError};
pub use target::{Service, Target};

/// What every handler may know about the request it serves.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's region: from the SigV4 credential scope, else the configured default.
    pub region: String,
    /// The configured account id.
    pub account_id: String,
    /// The `x-amzn-RequestId` this request is answered with.
    pub request_id: String,
    /// The `Host` the client addressed (DescribeEndpoints answers with it).
    pub host: Option<String>,
}

/// A fresh request id: 52 uppercase alphanumerics, the shape DynamoDB uses.
pub fn new_request_id() -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 52];
    for chunk in bytes.chunks_mut(16) {
        let random = uuid::Uuid::new_v4().into_bytes();
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    bytes.iter().map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char).collect()
}
