//! Who is calling: with `auth.enforce`, every API request must carry a valid Signature
//! Version 4 of one of the configured keys (`[[auth.keys]]`), in the `Authorization`
//! header or the presigned query form. The protocol layer parses the signature's parts
//! (`protocol::auth`), this room checks them (`verify`), and the errors are worded as AWS
//! words them (`messages`) and rendered by each protocol's error map.
//!
//! Secrets never leave this room: not in errors, logs or metrics.

pub mod messages;
pub mod policy;
pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{AuthConfig, AuthKey};

/// The configured keys, by access key id, with their parsed policies.
#[derive(Default)]
pub struct Keys {
    enforce: bool,
    keys: HashMap<String, AuthKey>,
    policies: HashMap<String, Arc<policy::Policy>>,
}

impl Keys {
    pub fn new(config: &AuthConfig) -> Keys {
        // Config validation parsed each policy already; one that fails here (a config
        // never validated, in tests) allows nothing rather than everything.
        let policies = config
            .keys
            .iter()
            .filter_map(|k| {
                let parsed = policy::Policy::parse(k.policy.as_ref()?)
                    .unwrap_or_else(|_| policy::Policy::deny_all());
                Some((k.access_key_id.clone(), Arc::new(parsed)))
            })
            .collect();
        Keys {
            enforce: config.enforce,
            keys: config.keys.iter().map(|k| (k.access_key_id.clone(), k.clone())).collect(),
            policies,
        }
    }

    /// The policy of `access_key_id`, if it has one (none: it may do everything).
    pub fn policy(&self, access_key_id: &str) -> Option<Arc<policy::Policy>> {
        self.policies.get(access_key_id).cloned()
    }

    /// Whether requests must be signed by a configured key.
    pub fn enforced(&self) -> bool {
        self.enforce
    }

    fn get(&self, access_key_id: &str) -> Option<&AuthKey> {
        self.keys.get(access_key_id)
    }
}

/// The caller, once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
}

/// Why a request's signature was refused, in AWS's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No signature at all.
    #[error("Request is missing Authentication Token")]
    MissingToken,
    /// A signature missing parts, or not of SigV4's form.
    #[error("{0}")]
    Incomplete(String),
    /// A signature that does not match, or is not current.
    #[error("{0}")]
    InvalidSignature(String),
    /// An access key (or session token) that no configured key has.
    #[error("{}", messages::UNRECOGNIZED_CLIENT)]
    UnrecognizedClient,
    /// Temporary credentials past their `expiration`.
    #[error("{}", messages::EXPIRED_TOKEN)]
    ExpiredToken,
}

impl From<AuthError> for crate::protocol::ProtocolError {
    fn from(e: AuthError) -> Self {
        use crate::protocol::ProtocolError as P;
        match e {
            AuthError::MissingToken => P::MissingAuthenticationToken,
            AuthError::Incomplete(m) => P::IncompleteSignature(m),
            AuthError::InvalidSignature(m) => P::InvalidSignature(m),
            AuthError::UnrecognizedClient => P::UnrecognizedClient,
            AuthError::ExpiredToken => P::ExpiredToken,
        }
    }
}

/// The name a service's requests are signed for (DynamoDB Streams signs as `dynamodb`).
pub fn signing_name(service: crate::protocol::Service) -> &'static str {
    use crate::protocol::Service;
    match service {
        Service::DynamoDb | Service::DynamoDbStreams => "dynamodb",
        Service::Kinesis => "kinesis",
        Service::Lambda => "lambda",
    }
}

impl AuthError {
    /// The reason label of `sluice_auth_denied_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Incomplete(_) => "incomplete_signature",
            AuthError::InvalidSignature(_) => "invalid_signature",
            AuthError::UnrecognizedClient => "unrecognized_client",
            AuthError::ExpiredToken => "expired_token",
        }
    }
}
