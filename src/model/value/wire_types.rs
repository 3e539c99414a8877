//! Pass 1 of decoding wire JSON: AWS's SerializationExceptions for wrong JSON types.
//!
//! AWS's JSON deserializer reads the whole request before the model is validated, so
//! a wrong JSON type anywhere beats any ValidationException. The messages are the
//! Jackson-era ones recorded from AWS in dynalite's test/helpers.js `assertType`.
//! Blobs are checked here too: bad base64 is a deserialization failure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::model::Error;

pub(crate) const MSG_STRUCTURE: &str = "Start of structure or map found where not expected";
pub(crate) const MSG_FIELD_TYPE: &str = "Unexpected field type";
const MSG_MAP_AS_LIST: &str = "Unrecognized collection type java.util.Map<java.lang.String, \
     com.amazonaws.dynamodb.v20120810.AttributeValue>";

pub(crate) fn ser(msg: impl Into<String>) -> Error {
    Error::serialization(msg)
}

/// Checks one AttributeValue's JSON types only (pass 1 of decoding), so the api
/// layer can run it over every AttributeValue of a request before any validation.
pub fn check_value_json(v: &Value) -> Result<(), Error> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| check_member(k, x)),
        Value::Array(_) => Err(ser(
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        )),
        _ => Err(ser("Unexpected value type in payload")),
    }
}

/// Checks the JSON types of an attribute map (`Item`, `Key`, an `M`): pass 1 only.
pub fn check_item_json(v: &Value) -> Result<(), Error> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) => m.values().try_for_each(check_value_json),
        Value::Array(_) => Err(ser(MSG_MAP_AS_LIST)),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

fn check_member(key: &str, x: &Value) -> Result<(), Error> {
    if x.is_null() {
        return Ok(()); // a null member counts as absent
    }
    match key {
        "S" | "N" => check_string(x),
        "B" => check_blob(x),
        "BOOL" | "NULL" => check_bool(x),
        "SS" | "NS" => check_list(x, check_string),
        "BS" => check_list(x, check_blob),
        "L" => check_list(x, check_value_json),
        "M" => check_item_json(x),
        // AWS's deserializer ignores unknown members: {"X": 1} is an *empty* value
        // (dynalite tests: {a: ''} gives "Supplied AttributeValue is empty…").
        _ => Ok(()),
    }
}

/// Jackson's name for the JSON token that was found instead of the expected type.
fn token_name(x: &Value) -> &'static str {
    match x {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(n) if n.is_i64() || n.is_u64() => "NUMBER_VALUE",
        Value::Number(_) => "DECIMAL_VALUE",
        _ => "STRING_VALUE",
    }
}

pub(crate) fn check_string(x: &Value) -> Result<(), Error> {
    match x {
        Value::String(_) | Value::Null => Ok(()),
        Value::Array(_) => Err(ser("Unrecognized collection type class java.lang.String")),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(format!("{} cannot be converted to String", token_name(x)))),
    }
}

pub(crate) fn check_bool(x: &Value) -> Result<(), Error> {
    match x {
        Value::Bool(_) | Value::Null => Ok(()),
        Value::String(s) if coerce_bool(s).is_some() => Ok(()),
        Value::String(_) => Err(ser("Unexpected token received from parser")),
        Value::Array(_) => Err(ser("Unrecognized collection type class java.lang.Boolean")),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        Value::Number(_) => Err(ser(format!("{} cannot be converted to Boolean", token_name(x)))),
    }
}

/// The strings AWS's deserializer takes for a boolean. The recordings show {"NULL":
/// "no"} reaching validation as false while "23" is refused; the rest of this list
/// (case-insensitive true/false/yes/no/1/0) is dynalite's older recorded rule.
pub(crate) fn coerce_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A JSON boolean, or a string AWS coerces to one (pass 1 checked which).
pub(super) fn as_bool(x: &Value) -> bool {
    x.as_bool().or_else(|| x.as_str().and_then(coerce_bool)).unwrap_or_default()
}

fn check_blob(x: &Value) -> Result<(), Error> {
    match x {
        Value::String(s) => check_base64(s),
        Value::Null => Ok(()),
        Value::Array(_) => Err(ser("Unrecognized collection type class java.nio.ByteBuffer")),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser("only base-64-encoded strings are convertible to bytes")),
    }
}

fn check_list(x: &Value, member: fn(&Value) -> Result<(), Error>) -> Result<(), Error> {
    match x {
        Value::Array(items) => items.iter().try_for_each(member),
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

fn sextet(c: char) -> Option<u8> {
    STANDARD_ALPHABET.iter().position(|&a| char::from(a) == c).map(|p| p as u8)
}

const STANDARD_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// AWS's base64 rules, in the order that reproduces its recorded answers: length,
/// then the unused bits of the last data character, then each character.
fn check_base64(s: &str) -> Result<(), Error> {
    if !s.len().is_multiple_of(4) {
        return Err(ser(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        )));
    }
    let data = s.trim_end_matches('=');
    let pads = s.len() - data.len();
    if let Some(last) = data.chars().last() {
        // 2 or 3 characters in the last quantum leave 4 or 2 bits that must be zero
        // ("=+/=" and "+/+=" are refused this way in the recordings).
        let unused_mask = match data.len() % 4 {
            0 => Some(0),
            2 => Some(0x0F),
            3 => Some(0x03),
            _ => None,
        };
        match (sextet(last), unused_mask) {
            (Some(v), Some(mask)) if v & mask == 0 => {}
            (None, _) => return Err(ser(format!("Invalid Base64 character: '{last}'"))),
            _ => return Err(ser("Invalid last non-pad Base64 character dectected")),
        }
    }
    if let Some(c) = data.chars().find(|&c| sextet(c).is_none()) {
        return Err(ser(format!("Invalid Base64 character: '{c}'")));
    }
    if pads > 2 || (pads > 0 && data.len().is_multiple_of(4)) {
        return Err(ser("Invalid Base64 character: '='"));
    }
    Ok(())
}

/// Decodes base64 that [`check_base64`] accepted.
pub(super) fn base64_decode(s: &str) -> Result<Vec<u8>, Error> {
    check_base64(s)?;
    STANDARD.decode(s).map_err(|_| ser("Invalid last non-pad Base64 character dectected"))
}

/// Standard base64 with padding, as AWS writes blobs.
pub(super) fn base64_encode(b: &[u8]) -> String {
    STANDARD.encode(b)
}
