//! DynamoDB's errors, each with its exact `__type`, namespace and status. The mapping is
//! exhaustive: a new variant does not compile until it has a wire form.

use serde_json::{Map, Value};

use crate::api::wire::DecodeError;
use crate::engine::{EngineError, WriteError};
use crate::model::{self, Item, value};
use crate::protocol::error::{Namespace, WireError};
use crate::storage::StorageError;

/// Every error a DynamoDB operation can return.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DynamoError {
    #[error("{0}")]
    Validation(String),
    #[error("serialization")]
    /// SerializationException; [`WireError::serialization`] keeps its message non-empty.
    Serialization(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<Box<Item>> },
    #[error("{0}")]
    LimitExceeded(String),
    /// A TransactWriteItems (or TransactGetItems) that did not happen: one reason per
    /// action, in request order.
    #[error("{}", cancelled_message(.0))]
    TransactionCanceled(Vec<CancellationReason>),
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    #[error("{0}")]
    TransactionInProgress(String),
    /// A PartiQL INSERT of an item that exists.
    #[error("{0}")]
    DuplicateItem(String),
    /// Another modelled error with a plain message (the backup operations' own:
    /// TableNotFoundException, BackupNotFoundException, TableAlreadyExistsException).
    #[error("{1}")]
    Named(&'static str, String),
    #[error("{0}")]
    Internal(String),
}

/// Why one action of a cancelled transaction failed (`Code` "None" when it did not).
#[derive(Debug, Clone)]
pub struct CancellationReason {
    pub code: &'static str,
    pub message: Option<String>,
    /// The current item, for ReturnValuesOnConditionCheckFailure=ALL_OLD.
    pub item: Option<Box<Item>>,
}

impl CancellationReason {
    /// The reason of an action that would have succeeded.
    pub fn none() -> Self {
        CancellationReason { code: "None", message: None, item: None }
    }

    /// The reason of an action refused for what it asks (its key against its table's).
    pub fn validation(message: &str) -> Self {
        CancellationReason { code: "ValidationError", message: Some(message.into()), item: None }
    }

    /// A transaction cancelled before it ran because of the actions `faults` names
    /// (index, message); the other `count - faults` actions answer "None".
    pub fn cancelled(count: usize, faults: &[(usize, String)]) -> DynamoError {
        let mut reasons = vec![CancellationReason::none(); count];
        for (at, message) in faults {
            reasons[*at] = CancellationReason::validation(message);
        }
        DynamoError::TransactionCanceled(reasons)
    }

    fn to_json(&self) -> Value {
        let mut reason = Map::new();
        if let Some(item) = &self.item {
            reason.insert("Item".into(), value::item_to_json(item));
        }
        reason.insert("Code".into(), Value::String(self.code.into()));
        if let Some(message) = &self.message {
            reason.insert("Message".into(), Value::String(message.clone()));
        }
        Value::Object(reason)
    }
}

/// AWS's top-level message: the codes in action order.
fn cancelled_message(reasons: &[CancellationReason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code).collect();
    format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    )
}

/// An error whose modelled message member is `Message` (the transaction errors), which
/// AWS writes capitalized; the protocol layer writes `message` for the rest.
fn capitalized(code: &'static str, message: String, mut extra: Map<String, Value>) -> WireError {
    extra.insert("Message".into(), Value::String(message));
    WireError { extra, ..WireError::new(Namespace::DynamoDb, code, None) }
}

impl DynamoError {
    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        DynamoError::Validation(message.into())
    }

    /// The ResourceNotFoundException item operations send for a missing table.
    pub fn no_table() -> Self {
        DynamoError::ResourceNotFound("Requested resource not found".into())
    }

    /// The ResourceNotFoundException table operations send, naming the table.
    pub fn table_not_found(name: &str) -> Self {
        DynamoError::ResourceNotFound(format!(
            "Requested resource not found: Table: {name} not found"
        ))
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireError {
        use Namespace::{CoralValidate, DynamoDb};
        let msg = |m: &String| Some(m.clone());
        match self {
            DynamoError::Validation(m) => {
                WireError::new(CoralValidate, "ValidationException", msg(m))
            }
            DynamoError::Serialization(m) => WireError::serialization(m.clone()),
            DynamoError::ResourceNotFound(m) => {
                WireError::new(DynamoDb, "ResourceNotFoundException", msg(m))
            }
            DynamoError::ResourceInUse(m) => {
                WireError::new(DynamoDb, "ResourceInUseException", msg(m))
            }
            DynamoError::ConditionalCheckFailed { item } => {
                let mut e = WireError::new(
                    DynamoDb,
                    "ConditionalCheckFailedException",
                    Some("The conditional request failed".into()),
                );
                if let Some(item) = item {
                    e.extra = Map::from_iter([("Item".to_string(), value::item_to_json(item))]);
                }
                e
            }
            DynamoError::LimitExceeded(m) => {
                WireError::new(DynamoDb, "LimitExceededException", msg(m))
            }
            DynamoError::TransactionCanceled(reasons) => capitalized(
                "TransactionCanceledException",
                cancelled_message(reasons),
                Map::from_iter([(
                    "CancellationReasons".to_string(),
                    Value::Array(reasons.iter().map(CancellationReason::to_json).collect()),
                )]),
            ),
            DynamoError::IdempotentParameterMismatch(m) => {
                capitalized("IdempotentParameterMismatchException", m.clone(), Map::new())
            }
            DynamoError::TransactionInProgress(m) => {
                capitalized("TransactionInProgressException", m.clone(), Map::new())
            }
            DynamoError::DuplicateItem(m) => {
                WireError::new(DynamoDb, "DuplicateItemException", msg(m))
            }
            DynamoError::Named(code, m) => WireError::new(DynamoDb, code, msg(m)),
            DynamoError::Internal(m) => {
                WireError { status: 500, ..WireError::new(DynamoDb, "InternalServerError", msg(m)) }
            }
        }
    }
}

impl From<DecodeError> for DynamoError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Serialization(m) => DynamoError::Serialization(m),
            DecodeError::Validation(m) => DynamoError::Validation(m),
        }
    }
}

impl From<model::Error> for DynamoError {
    fn from(e: model::Error) -> Self {
        match e {
            model::Error::Validation(m) => DynamoError::Validation(m),
            model::Error::Serialization(m) => DynamoError::Serialization(m),
        }
    }
}

impl From<StorageError> for DynamoError {
    fn from(e: StorageError) -> Self {
        tracing::error!("{e}");
        DynamoError::Internal("Internal server error".into())
    }
}

impl From<EngineError> for DynamoError {
    fn from(e: EngineError) -> Self {
        match e {
            // Callers that can hit these map them with the table's name first.
            EngineError::TableExists => DynamoError::ResourceInUse("Table already exists".into()),
            EngineError::TableNotFound => DynamoError::no_table(),
            EngineError::Storage(s) => s.into(),
        }
    }
}

impl From<WriteError> for DynamoError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::ConditionalCheckFailed { item } => {
                DynamoError::ConditionalCheckFailed { item }
            }
            WriteError::Validation(m) => DynamoError::Validation(m),
            WriteError::TableGone => DynamoError::no_table(),
            WriteError::Storage(s) => s.into(),
        }
    }
}
