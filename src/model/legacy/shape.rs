//! Pass 1 for the legacy parameters: AWS's SerializationExceptions for JSON of the
//! wrong type anywhere in `Expected`, `QueryFilter`, `ScanFilter`, `KeyConditions`
//! or `AttributeUpdates`, before any ValidationException.
//!
//! The converters run these checks themselves; they are public so the api layer
//! can run them over the whole request first, as AWS's deserializer does.
//!
//! The messages follow the Jackson-era wording recorded from AWS for attribute
//! values and items (dynalite test/helpers.js `assertType`, as used by
//! `value::wire_types`): a string member given a number is "NUMBER_VALUE cannot be
//! converted to String", a boolean member given a list is "Unrecognized collection
//! type class java.lang.Boolean", and so on. For the legacy structures themselves
//! (a map of `ExpectedAttributeValue`, `Condition` or `AttributeValueUpdate`) the
//! class names are inferred by analogy with the recorded
//! `java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>`;
//! no AWS recording of those exact strings was found.

use serde_json::{Map, Value};

use crate::model::Error;
use crate::model::value::wire_types::{
    MSG_FIELD_TYPE, MSG_STRUCTURE, check_bool, check_string, coerce_bool, ser,
};

const MODEL: &str = "com.amazonaws.dynamodb.v20120810";

/// Which legacy structure a map holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// `Expected`: `ExpectedAttributeValue` entries.
    Expected,
    /// `QueryFilter`, `ScanFilter`, `KeyConditions`: `Condition` entries.
    Condition,
    /// `AttributeUpdates`: `AttributeValueUpdate` entries.
    Update,
}

impl Structure {
    fn class(self) -> &'static str {
        match self {
            Structure::Expected => "ExpectedAttributeValue",
            Structure::Condition => "Condition",
            Structure::Update => "AttributeValueUpdate",
        }
    }
}

/// Checks the JSON types of a whole legacy map parameter (null is absent).
pub fn check(param: &Value, what: Structure) -> Result<(), Error> {
    match param {
        Value::Null => Ok(()),
        Value::Object(m) => m.values().try_for_each(|e| check_entry(e, what)),
        Value::Array(_) => Err(ser(format!(
            "Unrecognized collection type java.util.Map<java.lang.String, {MODEL}.{}>",
            what.class()
        ))),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

fn check_entry(entry: &Value, what: Structure) -> Result<(), Error> {
    let m = match entry {
        Value::Null => return Ok(()),
        Value::Object(m) => m,
        Value::Array(_) => {
            return Err(ser(format!(
                "Unrecognized collection type class {MODEL}.{}",
                what.class()
            )));
        }
        _ => return Err(ser("Unexpected value type in payload")),
    };
    // Unknown members are ignored by AWS's deserializer, as in attribute values.
    match what {
        Structure::Expected => {
            member(m, "Value", super::raw::check_attribute_value)?;
            member(m, "Exists", check_bool)?;
            member(m, "ComparisonOperator", check_string)?;
            member(m, "AttributeValueList", check_value_list)
        }
        Structure::Condition => {
            member(m, "AttributeValueList", check_value_list)?;
            member(m, "ComparisonOperator", check_string)
        }
        Structure::Update => {
            member(m, "Value", super::raw::check_attribute_value)?;
            member(m, "Action", check_string)
        }
    }
}

fn member(
    m: &Map<String, Value>,
    key: &str,
    check: fn(&Value) -> Result<(), Error>,
) -> Result<(), Error> {
    m.get(key).map_or(Ok(()), check)
}

fn check_value_list(x: &Value) -> Result<(), Error> {
    match x {
        Value::Null => Ok(()),
        Value::Array(items) => items.iter().try_for_each(super::raw::check_attribute_value),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

/// A member that pass 1 accepted as a boolean: its value, `None` when absent.
pub(crate) fn bool_member(x: Option<&Value>) -> Option<bool> {
    match x? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => coerce_bool(s),
        _ => None,
    }
}

/// A member that pass 1 accepted as a string: its value, `None` when absent.
pub(crate) fn str_member(x: Option<&Value>) -> Option<&str> {
    x?.as_str()
}

/// A member that is present, JSON null counting as absent.
pub(crate) fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}
