//! Primary keys of requests: pulling them out of a `Key` or an `Item` and checking them
//! against the table's key schema with AWS's messages.

use crate::engine::{Engine, KeyAttribute, TableMeta};
use crate::model::key_limits::check_key_size;
use crate::model::{AttributeValue, Item};

use super::DynamoError;

/// A validated primary key and its storage key.
pub struct PrimaryKey {
    pub hash: AttributeValue,
    pub range: Option<AttributeValue>,
    pub storage_key: Vec<u8>,
}

fn is_empty(value: &AttributeValue) -> bool {
    matches!(value, AttributeValue::S(s) if s.is_empty())
        || matches!(value, AttributeValue::B(b) if b.is_empty())
}

pub(super) fn check_value(
    attr: &KeyAttribute,
    value: &AttributeValue,
    is_hash: bool,
) -> Result<(), DynamoError> {
    if is_empty(value) {
        return Err(DynamoError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
            if matches!(value, AttributeValue::S(_)) { "string" } else { "binary" },
            attr.name
        )));
    }
    check_key_size(value, is_hash).map_err(DynamoError::validation)
}

/// AWS's message for a `Key` that is not the table's key.
const MSG_KEY_MISMATCH: &str = "The provided key element does not match the schema";
/// The start of AWS's message for an item whose key attribute has the wrong type.
const MSG_TYPE_MISMATCH: &str = "One or more parameter values were invalid: Type mismatch for key";

/// True for the refusals that compare a request's key with its table's schema: in a
/// transaction AWS reports these as the action's `ValidationError` cancellation reason,
/// not as the request's error (nubo-db/dynamodb-conformance
/// error-messages/transactWriteItems and transactGetItems, AWS). An empty key value is
/// still the request's error.
pub fn mismatches_schema(e: &DynamoError) -> Option<&str> {
    match e {
        DynamoError::Validation(m) if m == MSG_KEY_MISMATCH || m.starts_with(MSG_TYPE_MISMATCH) => {
            Some(m)
        }
        _ => None,
    }
}

/// The key of a `Key` parameter (GetItem, UpdateItem, DeleteItem): exactly the key
/// attributes, of the right types.
pub fn from_key(meta: &TableMeta, key: &Item) -> Result<PrimaryKey, DynamoError> {
    let schema = &meta.key_schema;
    let mismatch = || DynamoError::validation(MSG_KEY_MISMATCH);
    let expected = 1 + usize::from(schema.range.is_some());
    if key.len() != expected {
        return Err(mismatch());
    }
    let mut parts = Vec::with_capacity(2);
    for (attr, is_hash) in
        std::iter::once((&schema.hash, true)).chain(schema.range.iter().map(|r| (r, false)))
    {
        let value = key.get(&attr.name).ok_or_else(mismatch)?;
        if !attr.ty.matches(value) {
            return Err(mismatch());
        }
        check_value(attr, value, is_hash)?;
        parts.push(value.clone());
    }
    Ok(build(meta, parts))
}

/// The key of a whole item (PutItem): every key attribute present, of the right type.
pub fn from_item(meta: &TableMeta, item: &Item) -> Result<PrimaryKey, DynamoError> {
    let schema = &meta.key_schema;
    let mut parts = Vec::with_capacity(2);
    for (attr, is_hash) in
        std::iter::once((&schema.hash, true)).chain(schema.range.iter().map(|r| (r, false)))
    {
        let value = item.get(&attr.name).ok_or_else(|| {
            DynamoError::validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attr.name
            ))
        })?;
        if !attr.ty.matches(value) {
            return Err(DynamoError::validation(format!(
                "{MSG_TYPE_MISMATCH} {} expected: {} actual: {}",
                attr.name,
                attr.ty.as_str(),
                value.type_name()
            )));
        }
        check_value(attr, value, is_hash)?;
        parts.push(value.clone());
    }
    Ok(build(meta, parts))
}

fn build(meta: &TableMeta, mut parts: Vec<AttributeValue>) -> PrimaryKey {
    let range = (parts.len() == 2).then(|| parts.pop()).flatten();
    let hash = parts.pop().unwrap_or(AttributeValue::Null);
    let storage_key = Engine::storage_key(meta, &hash, range.as_ref());
    PrimaryKey { hash, range, storage_key }
}
