//! CBOR ⇄ awsJson, so Kinesis handlers see one form whatever the client spoke.
//!
//! Into JSON no model is needed: a CBOR body says what its items are. Byte strings
//! become base64 strings and tag 1 (epoch milliseconds, as the Java SDK writes them)
//! becomes epoch seconds, exactly what an awsJson client would have sent.
//!
//! Out of JSON the types are gone (a blob and a string are both JSON strings), so the
//! Kinesis model decides: the operation's generated `Shape` marks which members are
//! blobs and timestamps, structure by structure. Timestamps go out as tag 1 + an
//! INTEGER of milliseconds because the Java SDK v2 reads them with `Long.parseLong`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value as Json};

use super::decode::{Limits, decode_with};
use super::encode::{head, write_float, write_i64, write_text};
use super::{Error, Shape, Value, operation_shapes};

/// Bounds for a request body. No Kinesis request nests past four levels (ListShards'
/// `ShardFilter.Timestamp` is map, map, tag, number) or holds more than a few thousand
/// items (PutRecords: 500 entries of three members); past these bounds a body is an
/// attack. Without the item cap, 16 Mi one-byte items would become ~1 GiB of values.
pub const REQUEST_LIMITS: Limits = Limits { max_depth: 32, max_items: 100_000 };

/// A CBOR request body as the awsJson value a Kinesis handler takes.
pub fn decode_to_json(body: &[u8]) -> Result<Json, Error> {
    to_json(decode_with(body, REQUEST_LIMITS)?)
}

/// A decoded CBOR item as awsJson (also how a test reads a CBOR response).
pub fn to_json(value: Value) -> Result<Json, Error> {
    Ok(match value {
        Value::Unsigned(n) => Json::from(n),
        Value::Negative(n) => {
            Json::from(i64::try_from(n).map(|n| -1 - n).map_err(|_| Error::NoJson("integer"))?)
        }
        Value::Bytes(bytes) => Json::String(STANDARD.encode(bytes)),
        Value::Text(text) => Json::String(text),
        Value::Array(items) => {
            Json::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(pairs) => {
            let mut map = Map::new();
            for (key, value) in pairs {
                let Value::Text(key) = key else { return Err(Error::NoJson("map key")) };
                map.insert(key, to_json(value)?);
            }
            Json::Object(map)
        }
        Value::Tag(1, millis) => epoch_seconds(*millis)?,
        // Other tags (bignums, text dates, ...) mean nothing to awsJson: the item stands.
        Value::Tag(_, item) => to_json(*item)?,
        Value::Bool(b) => Json::Bool(b),
        Value::Null | Value::Undefined => Json::Null,
        Value::Simple(_) => return Err(Error::NoJson("simple value")),
        Value::Float(f) => float(f)?,
    })
}

fn float(f: f64) -> Result<Json, Error> {
    Number::from_f64(f).map(Json::Number).ok_or(Error::NoJson("NaN or infinity"))
}

/// Tag 1's epoch milliseconds as awsJson epoch seconds: an integer when whole, so
/// nothing is lost, else the nearest double (millisecond-exact for any real date).
fn epoch_seconds(millis: Value) -> Result<Json, Error> {
    let millis = match millis {
        Value::Unsigned(ms) => i64::try_from(ms).ok(),
        Value::Negative(n) => i64::try_from(n).ok().map(|n| -1 - n),
        Value::Float(ms) => return float(ms / 1000.0),
        _ => return Err(Error::NoJson("tag 1 on a non-number")),
    };
    let millis = millis.ok_or(Error::NoJson("timestamp"))?;
    if millis % 1000 == 0 { Ok(Json::from(millis / 1000)) } else { float(millis as f64 / 1000.0) }
}

/// The CBOR body of a response to Kinesis `operation`, from the handler's awsJson output.
pub fn encode_output(operation: &str, output: &Json) -> Result<Vec<u8>, Error> {
    encode_optional(operation_shapes(operation).1, output)
}

/// The CBOR body a Java SDK sends for Kinesis `operation`, from its awsJson input (how
/// tests and tools build requests).
pub fn encode_input(operation: &str, input: &Json) -> Result<Vec<u8>, Error> {
    encode_optional(operation_shapes(operation).0, input)
}

/// `value` as the modelled `shape` (e.g. a `SubscribeToShardEvent` payload).
pub fn encode_shaped(shape: &Shape, value: &Json) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_shaped(&mut out, value, shape, "")?;
    Ok(out)
}

/// `value` with every member its natural CBOR type (error bodies: nothing to type).
pub fn encode_plain(value: &Json) -> Vec<u8> {
    let mut out = Vec::new();
    write_plain(&mut out, value);
    out
}

fn encode_optional(shape: Option<&Shape>, value: &Json) -> Result<Vec<u8>, Error> {
    match shape {
        Some(shape) => encode_shaped(shape, value),
        None => Ok(encode_plain(value)),
    }
}

fn write_shaped(out: &mut Vec<u8>, json: &Json, shape: &Shape, member: &str) -> Result<(), Error> {
    let problem = |problem| Error::Shape { member: member.to_string(), problem };
    match (shape, json) {
        // A handler may write an optional member as null; null needs no typing.
        (_, Json::Null) => out.push(0xf6),
        (Shape::Blob, Json::String(base64)) => {
            let bytes = STANDARD.decode(base64).map_err(|_| problem("blob is not base64"))?;
            head(out, 2, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        (Shape::Timestamp, Json::Number(seconds)) => {
            let millis = epoch_millis(seconds).ok_or_else(|| problem("timestamp out of range"))?;
            head(out, 6, 1);
            write_i64(out, millis);
        }
        (Shape::List(item_shape), Json::Array(items)) => {
            head(out, 4, items.len() as u64);
            for item in items {
                write_shaped(out, item, item_shape, member)?;
            }
        }
        (Shape::Structure(members), Json::Object(map)) => {
            head(out, 5, map.len() as u64);
            for (name, value) in map {
                write_text(out, name);
                match members.iter().find(|(modelled, _)| modelled == name) {
                    Some((_, shape)) => write_shaped(out, value, shape, name)?,
                    None => write_plain(out, value),
                }
            }
        }
        (Shape::Blob, _) => return Err(problem("blob is not a string")),
        (Shape::Timestamp, _) => return Err(problem("timestamp is not a number")),
        (Shape::List(_), _) => return Err(problem("list is not an array")),
        (Shape::Structure(_), _) => return Err(problem("structure is not an object")),
    }
    Ok(())
}

/// awsJson epoch seconds (integer or fractional) as whole epoch milliseconds.
fn epoch_millis(seconds: &Number) -> Option<i64> {
    if let Some(seconds) = seconds.as_i64() {
        return seconds.checked_mul(1000);
    }
    let millis = (seconds.as_f64()? * 1000.0).round();
    // `as` saturates: the range check keeps a saturated value from passing as a date.
    (millis.is_finite() && millis >= i64::MIN as f64 && millis < i64::MAX as f64)
        .then_some(millis as i64)
}

fn write_plain(out: &mut Vec<u8>, json: &Json) {
    match json {
        Json::Null => out.push(0xf6),
        Json::Bool(false) => out.push(0xf4),
        Json::Bool(true) => out.push(0xf5),
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(n), _, _) => head(out, 0, n),
            (None, Some(n), _) => write_i64(out, n),
            (None, None, Some(f)) => write_float(out, f),
            // serde_json numbers are always one of the three.
            (None, None, None) => out.push(0xf6),
        },
        Json::String(text) => write_text(out, text),
        Json::Array(items) => {
            head(out, 4, items.len() as u64);
            items.iter().for_each(|item| write_plain(out, item));
        }
        Json::Object(map) => {
            head(out, 5, map.len() as u64);
            for (name, value) in map {
                write_text(out, name);
                write_plain(out, value);
            }
        }
    }
}
