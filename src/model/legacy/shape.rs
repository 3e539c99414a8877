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
use crate::model::value::check_value_json;

const MSG_STRUCTURE: &str = "Start of structure or map found where not expected";
const MSG_FIELD_TYPE: &str = "Unexpected field type";
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

fn ser(msg: impl Into<String>) -> Error {
    Error::serialization(msg)
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
            member(m, "Value", check_value_json)?;
            member(m, "Exists", check_bool)?;
            member(m, "ComparisonOperator", check_string)?;
            member(m, "AttributeValueList", check_value_list)
        }
        Structure::Condition => {
            member(m, "AttributeValueList", check_value_list)?;
            member(m, "ComparisonOperator", check_string)
        }
        Structure::Update => {
            member(m, "Value", check_value_json)?;
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

/// Jackson's name for the JSON token found instead of the expected type.
fn token_name(x: &Value) -> &'static str {
    match x {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(n) if n.is_i64() || n.is_u64() => "NUMBER_VALUE",
        Value::Number(_) => "DECIMAL_VALUE",
        _ => "STRING_VALUE",
    }
}

fn check_string(x: &Value) -> Result<(), Error> {
    match x {
        Value::String(_) | Value::Null => Ok(()),
        Value::Array(_) => Err(ser("Unrecognized collection type class java.lang.String")),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(format!("{} cannot be converted to String", token_name(x)))),
    }
}

fn check_bool(x: &Value) -> Result<(), Error> {
    match x {
        Value::Bool(_) | Value::Null => Ok(()),
        Value::String(s) if coerce_bool(s).is_some() => Ok(()),
        Value::String(_) => Err(ser("Unexpected token received from parser")),
        Value::Array(_) => Err(ser("Unrecognized collection type class java.lang.Boolean")),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        Value::Number(_) => Err(ser(format!("{} cannot be converted to Boolean", token_name(x)))),
    }
}

fn check_value_list(x: &Value) -> Result<(), Error> {
    match x {
        Value::Null => Ok(()),
        Value::Array(items) => items.iter().try_for_each(check_value_json),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

/// The strings AWS's deserializer takes for a boolean (the rule `value::wire_types`
/// records for `BOOL` / `NULL`).
fn coerce_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
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
