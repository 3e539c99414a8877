//! The wire: which service and operation a request is for, its auth header, its body
//! (awsJson, or CBOR for Kinesis), and how a typed result or error becomes an HTTP response.
//!
//! Nothing here knows about tables or storage; handlers never see HTTP.

pub mod auth;
pub mod body;
pub mod cbor;
pub mod codec;
pub mod encoding;
pub mod error;
pub mod eventstream;
pub mod malformed;
pub mod response;
pub mod rest;
pub mod target;

pub use body::RequestBody;
pub use codec::Codec;
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

impl RequestContext {
    /// The context of a call sluice makes to its own API (bootstrap, the console), in
    /// `account`'s namespace in `region`.
    pub fn internal(region: &str, account: &str, request_id: &str) -> RequestContext {
        RequestContext {
            region: region.to_string(),
            account_id: account.to_string(),
            request_id: request_id.to_string(),
            host: None,
        }
    }
}

/// A fresh request id: 52 uppercase alphanumerics, the shape DynamoDB uses (from
/// `crate::ids`' per-thread generator: no getrandom call per request).
pub fn new_request_id() -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..52)
        .map(|_| ALPHABET[(crate::ids::next_u64() >> 32) as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn request_ids_are_52_uppercase_alphanumerics_and_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_eq!(a.len(), 52);
        assert!(a.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_ne!(a, b);
    }
}
