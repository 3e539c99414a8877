//! Kinesis's errors, each with its exact `__type` and status (awsJson 1.1 writes the bare
//! name). The mapping is exhaustive: a new variant does not compile until it has a wire
//! form. Messages follow AWS's as kinesalite recorded them.

use crate::api::wire::DecodeError;
use crate::engine::kinesis::{StreamError, StreamStatus};
use crate::protocol::error::{Namespace, WireError};
use crate::storage::StorageError;

/// Every error a Kinesis operation can return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KinesisError {
    #[error("{0}")]
    Validation(String),
    #[error("serialization")]
    /// SerializationException; [`WireError::serialization`] keeps its message non-empty.
    Serialization(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ExpiredIterator(String),
    #[error("{0}")]
    ExpiredNextToken(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    #[error("{0}")]
    InternalFailure(String),
}

impl KinesisError {
    /// `Stream <name> under account <account> not found.`
    pub fn stream_not_found(name: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!("Stream {name} under account {account} not found."))
    }

    /// `Stream <name> under account <account> not ACTIVE, instead in state <STATUS>`.
    pub fn not_active(name: &str, account: &str, status: StreamStatus) -> Self {
        KinesisError::ResourceInUse(format!(
            "Stream {name} under account {account} not ACTIVE, instead in state {}",
            status.as_str()
        ))
    }

    /// `Could not find shard <id> in stream <name> under account <account>.`
    pub fn shard_not_found(shard: &str, name: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!(
            "Could not find shard {shard} in stream {name} under account {account}."
        ))
    }

    /// `Shard <id> in stream <name> under account <account> does not exist`.
    pub fn shard_does_not_exist(shard: &str, name: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!(
            "Shard {shard} in stream {name} under account {account} does not exist"
        ))
    }

    /// The per-shard throughput message (AWS: it names the account, stream and shard).
    pub fn throughput(shard: &str, name: &str, account: &str) -> Self {
        KinesisError::ProvisionedThroughputExceeded(format!(
            "Rate exceeded for shard {shard} in stream {name} under account {account}."
        ))
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireError {
        // The namespace only matters to JSON 1.0 services; Kinesis writes bare names.
        let e = |code: &'static str, m: &String| {
            WireError::new(Namespace::CoralService, code, Some(m.clone()))
        };
        match self {
            KinesisError::Validation(m) => {
                WireError::new(Namespace::CoralValidate, "ValidationException", Some(m.clone()))
            }
            KinesisError::Serialization(m) => WireError::serialization(m.clone()),
            KinesisError::InvalidArgument(m) => e("InvalidArgumentException", m),
            KinesisError::ResourceNotFound(m) => e("ResourceNotFoundException", m),
            KinesisError::ResourceInUse(m) => e("ResourceInUseException", m),
            KinesisError::LimitExceeded(m) => e("LimitExceededException", m),
            KinesisError::ExpiredIterator(m) => e("ExpiredIteratorException", m),
            KinesisError::ExpiredNextToken(m) => e("ExpiredNextTokenException", m),
            KinesisError::ProvisionedThroughputExceeded(m) => {
                e("ProvisionedThroughputExceededException", m)
            }
            KinesisError::InternalFailure(m) => {
                WireError { status: 500, ..e("InternalFailure", m) }
            }
        }
    }
}

impl From<DecodeError> for KinesisError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Serialization(m) => KinesisError::Serialization(m),
            DecodeError::Validation(m) => KinesisError::Validation(m),
        }
    }
}

impl From<StorageError> for KinesisError {
    fn from(e: StorageError) -> Self {
        tracing::error!("{e}");
        KinesisError::InternalFailure("Internal Service Failure".into())
    }
}

/// Engine errors without the request's context; callers that can hit `NotFound` or
/// `Exists` map them with the stream's name and account first.
impl From<StreamError> for KinesisError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound => KinesisError::ResourceNotFound("Stream not found.".into()),
            StreamError::Exists => KinesisError::ResourceInUse("Stream already exists.".into()),
            StreamError::Storage(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Service;

    #[test]
    fn bodies_use_bare_names_and_statuses() {
        let e = KinesisError::stream_not_found("s", "000000000000").to_wire();
        assert_eq!(
            e.body(Service::Kinesis),
            serde_json::json!({"__type": "ResourceNotFoundException", "message": "Stream s under account 000000000000 not found."})
        );
        assert_eq!(e.status, 400);
        let e = KinesisError::InternalFailure("x".into()).to_wire();
        assert_eq!((e.status, e.code), (500, "InternalFailure"));
        let e = KinesisError::Serialization("m".into()).to_wire();
        assert_eq!(e.body(Service::Kinesis)["Message"], "m");
    }
}
