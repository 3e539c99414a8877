//! Pass 1 of decoding wire JSON: AWS's SerializationExceptions for wrong JSON types.
//!
//! AWS's JSON deserializer reads the whole request before the model is validated, so
//! a wrong JSON type anywhere beats any ValidationException. The messages are the
//! Jackson-era ones recorded from AWS in dynalite's test/helpers.js `assertType`.
//! Blobs are checked here too: bad base64 is a deserialization failure.

use serde_json::Value;

use crate::model::Error;

pub(crate) const MSG_STRUCTURE: &str = "Start of structure or map found where not expected";
pub(crate) const MSG_FIELD_TYPE: &str = "Unexpected field type";
const MSG_MAP_AS_LIST: &str = "Unrecognized collection type java.util.Map<java.lang.String, \
     com.amazonaws.dynamodb.v20120810.AttributeValue>";

pub(crate) fn ser(msg: impl Into<String>) -> Error {
    Error::serialization(msg)
}

/// What pass 1 expects of a JSON value, by where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An attribute map (`Item`, `Key`, an `M`'s value): values are [`Shape::Value`].
    Item,
    /// One AttributeValue object: its members by their name ([`member_shape`]).
    Value,
    /// `S`, `N`, or a string set's member.
    String,
    /// `B`, or a binary set's member.
    Blob,
    /// `BOOL` or `NULL`.
    Bool,
    /// `SS` or `NS`: a list of [`Shape::String`].
    Strings,
    /// `BS`: a list of [`Shape::Blob`].
    Blobs,
    /// `L`: a list of [`Shape::Value`].
    Values,
}

/// The shape of an AttributeValue member; `None` for a name AWS's deserializer ignores
/// (`{"X": 1}` is an *empty* value: dynalite's tests give "Supplied AttributeValue is
/// empty…" for `{a: ''}`).
pub(crate) fn member_shape(name: &str) -> Option<Shape> {
    Some(match name {
        "S" | "N" => Shape::String,
        "B" => Shape::Blob,
        "BOOL" | "NULL" => Shape::Bool,
        "SS" | "NS" => Shape::Strings,
        "BS" => Shape::Blobs,
        "L" => Shape::Values,
        "M" => Shape::Item,
        _ => return None,
    })
}

/// One JSON token as pass 1 tells them apart: the start of an array or object, or a
/// scalar (integers and decimals apart, as Jackson names them).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Token<'a> {
    Null,
    Bool(bool),
    Integer,
    Decimal,
    Str(&'a str),
    Seq,
    Map,
}

impl<'a> Token<'a> {
    fn of(v: &'a Value) -> Token<'a> {
        match v {
            Value::Null => Token::Null,
            Value::Bool(b) => Token::Bool(*b),
            Value::Number(n) if n.is_i64() || n.is_u64() => Token::Integer,
            Value::Number(_) => Token::Decimal,
            Value::String(s) => Token::Str(s),
            Value::Array(_) => Token::Seq,
            Value::Object(_) => Token::Map,
        }
    }

    /// Jackson's name for the token found instead of the expected type.
    fn name(self) -> &'static str {
        match self {
            Token::Bool(true) => "TRUE_VALUE",
            Token::Bool(false) => "FALSE_VALUE",
            Token::Integer => "NUMBER_VALUE",
            Token::Decimal => "DECIMAL_VALUE",
            _ => "STRING_VALUE",
        }
    }
}

/// Pass 1's rule: whether `token` may start a value of `shape`, with AWS's message when
/// not. A null is always allowed (a null member counts as absent; a null where a value
/// must be is pass 2's business). Arrays and objects are then walked by the caller.
pub(crate) fn check_token(shape: Shape, token: Token) -> Result<(), Error> {
    use Token::*;
    match (shape, token) {
        (_, Null) => Ok(()),
        (Shape::Item, Map) | (Shape::Value, Map) => Ok(()),
        (Shape::Item, Seq) => Err(ser(MSG_MAP_AS_LIST)),
        (Shape::Item, _) => Err(ser(MSG_FIELD_TYPE)),
        (Shape::Value, Seq) => Err(ser(
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        )),
        (Shape::Value, _) => Err(ser("Unexpected value type in payload")),
        (Shape::String, Str(_)) => Ok(()),
        (Shape::String, Seq) => Err(ser("Unrecognized collection type class java.lang.String")),
        (Shape::Blob, Str(s)) => check_base64(s),
        (Shape::Blob, Seq) => Err(ser("Unrecognized collection type class java.nio.ByteBuffer")),
        (Shape::Blob, Bool(_) | Integer | Decimal) => {
            Err(ser("only base-64-encoded strings are convertible to bytes"))
        }
        (Shape::Bool, Bool(_)) => Ok(()),
        (Shape::Bool, Str(s)) if coerce_bool(s).is_some() => Ok(()),
        (Shape::Bool, Str(_)) => Err(ser("Unexpected token received from parser")),
        (Shape::Bool, Seq) => Err(ser("Unrecognized collection type class java.lang.Boolean")),
        (Shape::String | Shape::Blob | Shape::Bool, Map) => Err(ser(MSG_STRUCTURE)),
        (Shape::String, t) => Err(ser(format!("{} cannot be converted to String", t.name()))),
        (Shape::Bool, t) => Err(ser(format!("{} cannot be converted to Boolean", t.name()))),
        (Shape::Strings | Shape::Blobs | Shape::Values, Seq) => Ok(()),
        (Shape::Strings | Shape::Blobs | Shape::Values, Map) => Err(ser(MSG_STRUCTURE)),
        (Shape::Strings | Shape::Blobs | Shape::Values, _) => Err(ser(MSG_FIELD_TYPE)),
    }
}

/// The shape of each element of a list shape.
pub(crate) fn element_shape(list: Shape) -> Shape {
    match list {
        Shape::Strings => Shape::String,
        Shape::Blobs => Shape::Blob,
        _ => Shape::Value,
    }
}

/// Pass 1 over a JSON tree (the legacy parameters, kept as trees): the same rules as the
/// streaming pass over request text (`decode.rs`).
fn walk(shape: Shape, v: &Value) -> Result<(), Error> {
    check_token(shape, Token::of(v))?;
    match v {
        Value::Array(items) => items.iter().try_for_each(|x| walk(element_shape(shape), x)),
        Value::Object(m) if shape == Shape::Item => {
            m.values().try_for_each(|x| walk(Shape::Value, x))
        }
        Value::Object(m) => m.iter().try_for_each(|(k, x)| match member_shape(k) {
            Some(member) => walk(member, x),
            None => Ok(()),
        }),
        _ => Ok(()),
    }
}

/// Pass 1 for a string member of a legacy parameter (`ComparisonOperator`, `Action`).
pub(crate) fn check_string(x: &Value) -> Result<(), Error> {
    check_token(Shape::String, Token::of(x))
}

/// Pass 1 for a boolean member of a legacy parameter (`Exists`).
pub(crate) fn check_bool(x: &Value) -> Result<(), Error> {
    check_token(Shape::Bool, Token::of(x))
}

/// Checks one AttributeValue's JSON types only (pass 1 of decoding).
pub fn check_value_json(v: &Value) -> Result<(), Error> {
    walk(Shape::Value, v)
}

/// Checks the JSON types of an attribute map (`Item`, `Key`, an `M`): pass 1 only.
pub fn check_item_json(v: &Value) -> Result<(), Error> {
    walk(Shape::Item, v)
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
    crate::model::blob::decode(s.as_bytes())
        .ok_or_else(|| ser("Invalid last non-pad Base64 character dectected"))
}

/// Standard base64 with padding, as AWS writes blobs.
pub(super) fn base64_encode(b: &[u8]) -> String {
    crate::model::blob::encode(b)
}
