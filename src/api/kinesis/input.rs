//! Pieces every Kinesis operation decodes or checks: blobs and timestamps as awsJson 1.1
//! writes them, AWS's member constraints, and finding the stream a request names by
//! StreamName or StreamARN.

use std::sync::Arc;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serializer};

use super::KinesisError;
use crate::api::validate::{Validator, is_name};
use crate::api::wire::serialization_error;
use crate::engine::Engine;
use crate::engine::kinesis::{LiveStream, StreamStatus};
use crate::model::blob;
use crate::protocol::RequestContext;

/// A blob member: base64 in JSON, bytes here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Asked for as bytes: serde_json then hands over the string as it stands in the
        // body (already checked as UTF-8 whole), neither checked again nor copied into a
        // String first (a PutRecords entry's Data is most of its bytes). A tree (CBOR)
        // hands over its string; anything else is refused as a string would be.
        d.deserialize_bytes(Base64)
    }
}

/// Decodes a blob member's base64.
struct Base64;

impl Visitor<'_> for Base64 {
    type Value = Blob;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Blob, E> {
        self.visit_bytes(text.as_bytes())
    }

    fn visit_bytes<E: serde::de::Error>(self, text: &[u8]) -> Result<Blob, E> {
        blob::decode(text).map(Blob).ok_or_else(|| {
            let text = String::from_utf8_lossy(text);
            // AWS's (Jackson's) wording, as kinesalite recorded it.
            let why = if !text.len().is_multiple_of(4) {
                format!(
                    "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
                    text.len()
                )
            } else if let Some(c) =
                text.chars().find(|c| !c.is_ascii_alphanumeric() && !"+/=".contains(*c))
            {
                format!("Invalid Base64 character: '{c}'")
            } else {
                "Invalid last non-pad Base64 character dectected".to_string()
            };
            serialization_error(&format!("'{text}' can not be converted to a Blob: {why}"))
        })
    }
}

/// A timestamp member: epoch seconds (with a fraction) in JSON, milliseconds here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        if !secs.is_finite() {
            return Err(serialization_error("Unexpected token received from parser"));
        }
        Ok(Timestamp((secs * 1000.0).round() as i64))
    }
}

/// Writes epoch milliseconds as awsJson's epoch seconds.
pub fn epoch_seconds<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ms as f64 / 1000.0)
}

/// Writes an optional timestamp (callers skip `None`).
pub fn opt_epoch_seconds<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    epoch_seconds(&ms.unwrap_or_default(), s)
}

/// Writes bytes as base64.
pub fn base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&blob::encode(bytes))
}

const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
const ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
const HASH_PATTERN: &str = "0|([1-9]\\d{0,38})";
const SEQ_PATTERN: &str = "0|([1-9]\\d{0,128})";

fn is_decimal(v: &str, max_digits: usize) -> bool {
    v == "0"
        || (!v.is_empty()
            && v.len() <= max_digits
            && !v.starts_with('0')
            && v.bytes().all(|b| b.is_ascii_digit()))
}

/// A stream or shard name member: pattern and 1 to 128 characters.
pub fn check_name(v: &mut Validator, value: Option<&str>, path: &str) {
    if let Some(s) = value {
        if !is_name(s) {
            v.fail(Some(s), path, &format!("satisfy regular expression pattern: {NAME_PATTERN}"));
        }
        v.length(Some(s), path, 1, 128);
    }
}

/// A StreamARN member.
pub fn check_arn(v: &mut Validator, value: Option<&str>, path: &str) {
    if let Some(s) = value {
        if parse_arn(s).is_none() {
            v.fail(Some(s), path, &format!("satisfy regular expression pattern: {ARN_PATTERN}"));
        }
        v.length(Some(s), path, 1, 2048);
    }
}

/// A hash key member (`0` to 39 digits).
pub fn check_hash_key(v: &mut Validator, value: Option<&str>, path: impl std::fmt::Display) {
    if let Some(s) = value.filter(|s| !is_decimal(s, 39)) {
        v.fail(Some(s), path, &format!("satisfy regular expression pattern: {HASH_PATTERN}"));
    }
}

/// A sequence number member (`0` to 129 digits).
pub fn check_sequence(v: &mut Validator, value: Option<&str>, path: &str) {
    if let Some(s) = value.filter(|s| !is_decimal(s, 129)) {
        v.fail(Some(s), path, &format!("satisfy regular expression pattern: {SEQ_PATTERN}"));
    }
}

/// The parts of a stream ARN: (region, account, stream name).
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (_, rest) = rest.split_once(":kinesis:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("stream/")?;
    let valid = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.contains(char::is_whitespace);
    valid.then_some((region, account, name))
}

/// Finds the stream named by `name` or `arn` (already validated), as AWS resolves them.
pub fn find_stream(
    engine: &Engine,
    ctx: &RequestContext,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<Arc<LiveStream>, KinesisError> {
    let name = match (name, arn.and_then(parse_arn)) {
        (None, None) => {
            return Err(KinesisError::InvalidArgument(
                "Either StreamName or StreamARN should be provided.".into(),
            ));
        }
        (Some(n), Some((_, _, from_arn))) if n != from_arn => {
            return Err(KinesisError::InvalidArgument(format!(
                "StreamARN {} and StreamName {n} do not refer to the same stream.",
                arn.unwrap_or_default()
            )));
        }
        (_, Some((region, account, n))) => {
            if region != ctx.region || account != ctx.account_id {
                return Err(KinesisError::stream_not_found(n, account));
            }
            n
        }
        (Some(n), None) => n,
    };
    engine.kinesis.get(name).ok_or_else(|| KinesisError::stream_not_found(name, &ctx.account_id))
}

/// The stream's status now.
pub fn status_of(engine: &Engine, stream: &LiveStream) -> StreamStatus {
    let now = engine.clock.now_millis();
    stream.meta().status(now, engine.config.kinesis.create_stream_delay_ms)
}

/// Refuses a stream that is not ACTIVE (control-plane changes), in AWS's words.
pub fn require_active(
    engine: &Engine,
    ctx: &RequestContext,
    stream: &LiveStream,
) -> Result<(), KinesisError> {
    match status_of(engine, stream) {
        StreamStatus::Active => Ok(()),
        other => Err(KinesisError::not_active(stream.name(), &ctx.account_id, other)),
    }
}

/// Refuses a stream still CREATING for data operations: AWS answers as if it did not
/// exist yet.
pub fn require_created(
    engine: &Engine,
    ctx: &RequestContext,
    stream: &LiveStream,
) -> Result<(), KinesisError> {
    match status_of(engine, stream) {
        StreamStatus::Creating => {
            Err(KinesisError::stream_not_found(stream.name(), &ctx.account_id))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_patterns() {
        assert_eq!(
            parse_arn("arn:aws:kinesis:us-east-1:000000000000:stream/orders"),
            Some(("us-east-1", "000000000000", "orders"))
        );
        assert_eq!(parse_arn("arn:aws:kinesis:us-east-1:0000:stream/orders"), None);
        assert_eq!(parse_arn("arn:aws:dynamodb:us-east-1:000000000000:table/t"), None);
        assert!(is_decimal("0", 39) && is_decimal("340282366920938463463374607431768211455", 39));
        assert!(
            !is_decimal("01", 39)
                && !is_decimal("", 39)
                && !is_decimal("1".repeat(40).as_str(), 39)
        );
    }

    #[test]
    fn blobs_use_awss_wording() {
        // The message without serde_json's position (`wire::decode` strips it too).
        let error = |json: &str| {
            let e = serde_json::from_str::<Blob>(json).unwrap_err();
            let at = format!(" at line {} column {}", e.line(), e.column());
            e.to_string().strip_suffix(&at).map(str::to_string).unwrap_or_else(|| e.to_string())
        };
        let e = error("\"abc\"");
        assert!(e.ends_with("'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"), "{e}");
        let e = error("\"ab!c\"");
        assert!(e.ends_with("Invalid Base64 character: '!'"), "{e}");
        // Escapes are decoded before the base64, as in a string.
        assert_eq!(serde_json::from_str::<Blob>("\"a\\u0047k=\"").unwrap(), Blob(b"hi".to_vec()));
        let e = serde_json::from_str::<Blob>("[1]").unwrap_err().to_string();
        assert!(e.starts_with("invalid type: sequence, expected a string"), "{e}");
        assert_eq!(serde_json::from_str::<Blob>("\"aGk=\"").unwrap(), Blob(b"hi".to_vec()));
        assert_eq!(serde_json::from_str::<Timestamp>("1.5").unwrap(), Timestamp(1500));
    }
}
