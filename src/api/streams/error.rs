//! DynamoDB Streams' errors, each with its exact `__type`, namespace and status. The
//! mapping is exhaustive: a new variant does not compile until it has a wire form.
//!
//! Streams speaks JSON 1.0 like DynamoDB and namespaces its modelled errors the same way
//! (`com.amazonaws.dynamodb.v20120810#`); input validation comes from AWS's framework
//! (`com.amazon.coral.validate#`). Messages are AWS's where a public source shows them.

use crate::api::wire::DecodeError;
use crate::engine::EngineError;
use crate::protocol::error::{Namespace, WireError};
use crate::storage::StorageError;

/// Every error a DynamoDB Streams operation can return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamsError {
    #[error("{0}")]
    Validation(String),
    #[error("serialization")]
    /// SerializationException; [`WireError::serialization`] keeps its message non-empty.
    Serialization(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("The provided iterator exceeds the maximum age allowed.")]
    ExpiredIterator,
    #[error("The data you are trying to access has been trimmed.")]
    TrimmedDataAccess,
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Internal(String),
}

impl StreamsError {
    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        StreamsError::Validation(message.into())
    }

    /// "One or more parameter values were invalid: <message>", the service's own
    /// validation wording (the framework's is `Validator`'s).
    pub fn invalid(message: &str) -> Self {
        StreamsError::Validation(format!("One or more parameter values were invalid: {message}"))
    }

    /// The ResourceNotFoundException for a stream ARN that names no stream (AWS's
    /// wording, seen in real responses).
    pub fn stream_not_found(arn: &str) -> Self {
        StreamsError::ResourceNotFound(format!(
            "Requested resource not found: Stream: {arn} not found"
        ))
    }

    /// The ResourceNotFoundException for a shard id the stream does not have.
    pub fn shard_not_found() -> Self {
        StreamsError::ResourceNotFound("Requested resource not found: Shard does not exist".into())
    }

    /// The ResourceNotFoundException ListStreams sends for a missing table, worded as
    /// DynamoDB's table operations word it.
    pub fn table_not_found(name: &str) -> Self {
        StreamsError::ResourceNotFound(format!(
            "Requested resource not found: Table: {name} not found"
        ))
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireError {
        use Namespace::{CoralValidate, DynamoDb};
        let msg = |m: &String| Some(m.clone());
        let text = |e: &StreamsError| Some(e.to_string());
        match self {
            StreamsError::Validation(m) => {
                WireError::new(CoralValidate, "ValidationException", msg(m))
            }
            StreamsError::Serialization(m) => WireError::serialization(m.clone()),
            StreamsError::ResourceNotFound(m) => {
                WireError::new(DynamoDb, "ResourceNotFoundException", msg(m))
            }
            StreamsError::ExpiredIterator => {
                WireError::new(DynamoDb, "ExpiredIteratorException", text(self))
            }
            StreamsError::TrimmedDataAccess => {
                WireError::new(DynamoDb, "TrimmedDataAccessException", text(self))
            }
            StreamsError::LimitExceeded(m) => {
                WireError::new(DynamoDb, "LimitExceededException", msg(m))
            }
            StreamsError::Internal(m) => {
                WireError { status: 500, ..WireError::new(DynamoDb, "InternalServerError", msg(m)) }
            }
        }
    }
}

impl From<DecodeError> for StreamsError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Serialization(m) => StreamsError::Serialization(m),
            DecodeError::Validation(m) => StreamsError::Validation(m),
        }
    }
}

impl From<StorageError> for StreamsError {
    fn from(e: StorageError) -> Self {
        tracing::error!("{e}");
        StreamsError::Internal("Internal server error".into())
    }
}

impl From<EngineError> for StreamsError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Storage(s) => s.into(),
            // No streams operation creates or looks up tables through these paths.
            EngineError::TableExists | EngineError::TableNotFound => {
                tracing::error!("unexpected engine error in a streams operation: {e}");
                StreamsError::Internal("Internal server error".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Service;
    use serde_json::json;

    #[test]
    fn wire_forms() {
        let body = |e: StreamsError| e.to_wire().body(Service::DynamoDbStreams);
        assert_eq!(
            body(StreamsError::ExpiredIterator),
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException",
                   "message": "The provided iterator exceeds the maximum age allowed."})
        );
        assert_eq!(
            body(StreamsError::validation("Invalid ShardIterator")),
            json!({"__type": "com.amazon.coral.validate#ValidationException",
                   "message": "Invalid ShardIterator"})
        );
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x";
        assert_eq!(
            body(StreamsError::stream_not_found(arn))["message"],
            format!("Requested resource not found: Stream: {arn} not found")
        );
        assert_eq!(StreamsError::Internal("x".into()).to_wire().status, 500);
        assert_eq!(StreamsError::TrimmedDataAccess.to_wire().status, 400);
    }
}
