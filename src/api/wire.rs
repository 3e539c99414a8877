//! Decoding JSON bodies into typed inputs: serde for the shape, the model for attribute
//! values, and AWS's exception kinds for whatever does not fit.

use std::collections::HashMap;

use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::{self, AttributeValue, Item, value};
use crate::protocol::RequestBody;
use crate::protocol::error::MSG_SERIALIZATION;
use crate::protocol::malformed::malformed;

/// Marks a serde error message that carries a model error, so its kind survives serde.
const VALIDATION_MARK: &str = "\u{1}validation:";
const SERIALIZATION_MARK: &str = "\u{1}serialization:";

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// SerializationException with this message (never empty: AWS's when we know it,
    /// else [`MSG_SERIALIZATION`]).
    Serialization(String),
    /// ValidationException with this message.
    Validation(String),
}

/// Decodes an accepted request body into `T`: awsJson straight from its bytes, CBOR from
/// the tree it was translated into.
pub fn decode<T: DeserializeOwned>(body: RequestBody) -> Result<T, DecodeError> {
    match body {
        RequestBody::Json { text, .. } => decode_json(&text),
        RequestBody::Tree(value) => decode_tree(value),
    }
}

/// Decodes a JSON tree into `T`.
fn decode_tree<T: DeserializeOwned>(body: Value) -> Result<T, DecodeError> {
    if !body.is_object() {
        return Err(DecodeError::Serialization(MSG_SERIALIZATION.into()));
    }
    serde_json::from_value(body).map_err(|e| classify(&e.to_string()))
}

/// Decodes awsJson bytes into `T` without building a tree. Errors come in document
/// order, as a streaming parser such as AWS's reports them, except that a body that is
/// not well-formed JSON is refused for that first, wherever it breaks.
fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Not an object: malformed, or a document of the wrong kind (`[]`, `"x"`).
        let message = malformed(bytes).unwrap_or_else(|| MSG_SERIALIZATION.into());
        return Err(DecodeError::Serialization(message));
    }
    match serde_json::from_slice(bytes) {
        Ok(input) => Ok(input),
        Err(e) => {
            // The front end answers a malformed body first, wherever the error sits.
            if let Some(message) = malformed(bytes) {
                return Err(DecodeError::Serialization(message));
            }
            let message = e.to_string();
            // serde_json appends where it was; the message is what carries the kind.
            let message = match e.line() {
                0 => &message[..],
                line => message
                    .strip_suffix(&format!(" at line {line} column {}", e.column()))
                    .unwrap_or(&message),
            };
            // A member written twice: the last one counts, as it does in a tree (and in
            // Jackson), which derived inputs cannot do, so take the tree path for it.
            if message.starts_with("duplicate field") {
                let tree = serde_json::from_slice(bytes)
                    .map_err(|_| DecodeError::Serialization(MSG_SERIALIZATION.into()))?;
                return decode_tree(tree);
            }
            Err(classify(message))
        }
    }
}

fn classify(message: &str) -> DecodeError {
    if let Some(m) = message.strip_prefix(VALIDATION_MARK) {
        return DecodeError::Validation(m.to_string());
    }
    if let Some(m) = message.strip_prefix(SERIALIZATION_MARK) {
        return DecodeError::Serialization(m.to_string());
    }
    // A serde complaint without an AWS wording of its own (a null list member, a number
    // out of range): AWS's generic one, never an empty message.
    DecodeError::Serialization(type_mismatch(message).unwrap_or_else(|| MSG_SERIALIZATION.into()))
}

/// Rewrites serde's "invalid type: integer `1`, expected a string" the way AWS's Jackson
/// front end words it ("NUMBER_VALUE cannot be converted to String").
fn type_mismatch(message: &str) -> Option<String> {
    let rest = message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.split_once(", expected ")?;
    let token = if found.starts_with("integer") || found.starts_with("floating point") {
        "NUMBER_VALUE"
    } else if found.starts_with("string") {
        "VALUE_STRING"
    } else if found == "boolean `true`" {
        "VALUE_TRUE"
    } else if found == "boolean `false`" {
        "VALUE_FALSE"
    } else if found == "map" {
        "START_OBJECT"
    } else if found == "sequence" {
        "START_ARRAY"
    } else {
        return None;
    };
    let target = if expected.contains("string") {
        "String"
    } else if expected.contains("bool") {
        "Boolean"
    } else if expected.contains("i64") || expected.contains("u64") || expected.contains("i32") {
        "Long"
    } else if expected.contains("sequence") {
        "List"
    } else if expected.contains("map") || expected.starts_with("struct") {
        "Structure"
    } else {
        return None;
    };
    Some(match token {
        "START_OBJECT" | "START_ARRAY" => "Unexpected token received from parser".to_string(),
        _ if target == "String" && token == "NUMBER_VALUE" => {
            "NUMBER_VALUE cannot be converted to String".into()
        }
        _ => format!("{token} cannot be converted to {target}"),
    })
}

/// A serde error that decodes as a SerializationException with `message` (for members
/// whose own deserializers know AWS's wording, such as Kinesis blobs).
pub fn serialization_error<E: serde::de::Error>(message: &str) -> E {
    E::custom(format!("{SERIALIZATION_MARK}{message}"))
}

/// A serde error that decodes as a ValidationException with `message`.
pub fn validation_error<E: serde::de::Error>(message: &str) -> E {
    E::custom(format!("{VALIDATION_MARK}{message}"))
}

fn model_error<E: serde::de::Error>(e: model::Error) -> E {
    match e {
        model::Error::Validation(m) => E::custom(format!("{VALIDATION_MARK}{m}")),
        model::Error::Serialization(m) => E::custom(format!("{SERIALIZATION_MARK}{m}")),
    }
}

/// An item (or key) in wire JSON, decoded through the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireItem(pub Item);

impl<'de> Deserialize<'de> for WireItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Its text, not a tree: the item is decoded from it in two streaming passes, so
        // it costs in memory what it decodes to (`model::value::decode`).
        let raw = Box::<RawValue>::deserialize(d)?;
        if !raw.get().starts_with('{') {
            return Err(D::Error::custom(format!(
                "{SERIALIZATION_MARK}Unexpected token received from parser"
            )));
        }
        value::item_from_str(raw.get()).map(WireItem).map_err(model_error)
    }
}

/// ExpressionAttributeValues: placeholder to value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireValues(pub HashMap<String, AttributeValue>);

impl<'de> Deserialize<'de> for WireValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Values;
        impl<'de> Visitor<'de> for Values {
            type Value = WireValues;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireValues, A::Error> {
                let mut out = HashMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let raw = map.next_value::<Box<RawValue>>()?;
                    // AWS names the placeholder whose value is invalid.
                    let value = value::value_from_str(raw.get()).map_err(|e| match e {
                        model::Error::Validation(m) => {
                            model_error(model::Error::Validation(format!(
                                "ExpressionAttributeValues contains invalid value: {m} for key {k}"
                            )))
                        }
                        other => model_error(other),
                    })?;
                    // A placeholder written twice: the last one counts, as in a map.
                    out.insert(k, value);
                }
                Ok(WireValues(out))
            }
        }
        d.deserialize_map(Values).map_err(|e| {
            // Anything but an object is the parser's complaint.
            let text = e.to_string();
            if text.starts_with("invalid type") {
                D::Error::custom(format!(
                    "{SERIALIZATION_MARK}Unexpected token received from parser"
                ))
            } else {
                e
            }
        })
    }
}

/// A decoded member together with a fingerprint of its JSON, so two requests can be
/// compared (TransactWriteItems' ClientRequestToken). serde_json's maps are sorted, so
/// the fingerprint does not depend on the order the client wrote members in.
#[derive(Debug)]
pub struct Fingerprinted<T> {
    pub value: T,
    pub fingerprint: u64,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Fingerprinted<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The member's text, decoded twice by streaming passes (never as a tree): once
        // into a fingerprint, once into `T`.
        let raw = Box::<RawValue>::deserialize(d)?;
        let fingerprint = fingerprint(raw.get());
        let value = serde_json::from_str(raw.get()).map_err(|e| {
            // The inner error's text carries its kind (see `classify`), not its place.
            D::Error::custom(without_position(&e))
        })?;
        Ok(Fingerprinted { value, fingerprint })
    }
}

/// A serde_json error's message without the " at line L column C" it appends.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match e.line() {
        0 => message,
        line => message
            .strip_suffix(&format!(" at line {line} column {}", e.column()))
            .unwrap_or(&message)
            .to_string(),
    }
}

/// A hash of a JSON document that does not depend on the order of object members.
fn fingerprint(text: &str) -> u64 {
    let mut de = serde_json::Deserializer::from_str(text);
    Canonical.deserialize(&mut de).unwrap_or_default()
}

/// Hashes one JSON value: objects by their members' hashes sorted, arrays in order.
struct Canonical;

fn hash_of(parts: impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl<'de> DeserializeSeed<'de> for Canonical {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical {
    type Value = u64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(hash_of(0u8))
    }
    fn visit_bool<E>(self, b: bool) -> Result<u64, E> {
        Ok(hash_of((1u8, b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<u64, E> {
        Ok(hash_of((2u8, n.to_string())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<u64, E> {
        Ok(hash_of((2u8, n.to_string())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<u64, E> {
        Ok(hash_of((2u8, n.to_bits())))
    }
    fn visit_str<E>(self, s: &str) -> Result<u64, E> {
        Ok(hash_of((3u8, s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut parts = Vec::new();
        while let Some(h) = seq.next_element_seed(Canonical)? {
            parts.push(h);
        }
        Ok(hash_of((4u8, parts)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut parts = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            parts.push(hash_of((k, map.next_value_seed(Canonical)?)));
        }
        parts.sort_unstable();
        Ok(hash_of((5u8, parts)))
    }
}

/// A JSON array of which only the first `N` elements are kept: the rest are decoded one
/// at a time (so their errors are found, in order) and dropped, only counted. For a
/// member whose model caps its length: a request far past the cap costs no more memory
/// than one at it.
#[derive(Debug)]
pub struct Capped<T, const N: usize> {
    pub kept: Vec<T>,
    /// Elements in the array, kept or not.
    pub len: usize,
}

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Capped { kept: Vec::new(), len: 0 }
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Elements<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for Elements<T, N> {
            type Value = Capped<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                // serde's own wording for a Vec, which `classify` knows.
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Capped::default();
                while let Some(element) = seq.next_element::<T>()? {
                    if out.len < N {
                        out.kept.push(element);
                    }
                    out.len += 1;
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Elements(std::marker::PhantomData))
    }
}

/// A JSON timestamp as awsJson writes it: epoch seconds with milliseconds.
pub fn epoch_seconds(millis: i64) -> Value {
    let secs = millis as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map(Value::Number).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct In {
        table_name: Option<String>,
        limit: Option<i64>,
    }

    /// Decodes `v` both ways a body arrives (awsJson bytes, a CBOR tree): they must agree.
    fn decode<T: DeserializeOwned>(v: Value) -> Result<T, DecodeError> {
        let tree = super::decode::<T>(RequestBody::Tree(v.clone()));
        let json = RequestBody::json(serde_json::to_vec(&v).unwrap().into()).unwrap();
        let json = super::decode::<T>(json);
        assert_eq!(tree.as_ref().err(), json.as_ref().err(), "{v}");
        json
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let e = decode::<In>(serde_json::json!({"TableName": 1})).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Serialization("NUMBER_VALUE cannot be converted to String".into())
        );
        let e = decode::<In>(serde_json::json!({"Limit": "x"})).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Serialization("VALUE_STRING cannot be converted to Long".into())
        );
        assert_eq!(
            decode::<In>(serde_json::json!([])).unwrap_err(),
            DecodeError::Serialization(MSG_SERIALIZATION.into())
        );
        // A null where a string belongs has no wording of its own: the generic one.
        #[derive(Deserialize, Debug)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct Names {
            attributes_to_get: Option<Vec<String>>,
        }
        let e = decode::<Names>(serde_json::json!({"AttributesToGet": [null]})).unwrap_err();
        assert_eq!(e, DecodeError::Serialization(MSG_SERIALIZATION.into()));
    }

    #[test]
    fn a_member_written_twice_counts_once_last_wins() {
        let json = |text: &str| RequestBody::json(text.as_bytes().to_vec().into()).unwrap();
        let input: In = super::decode(json(r#"{"TableName": "a", "TableName": "b"}"#)).unwrap();
        assert_eq!(input.table_name.as_deref(), Some("b"));
        let e = super::decode::<In>(json(r#"{"TableName": "a", "TableName": 1}"#)).unwrap_err();
        let want = "NUMBER_VALUE cannot be converted to String";
        assert_eq!(e, DecodeError::Serialization(want.into()));
        // Malformed past a wrong type: the body is what is wrong.
        let e = super::decode::<In>(RequestBody::Json {
            text: br#"{"TableName": 1, "Limit": }"#.to_vec().into(),
            values: 3,
        });
        let want = "Unexpected character ('}' (code 125))";
        assert_eq!(e.unwrap_err(), DecodeError::Serialization(want.into()));
        // Messages carry no parser position.
        let e = super::decode::<In>(json("{\n\n  \"Limit\": true}")).unwrap_err();
        let want = "VALUE_TRUE cannot be converted to Long";
        assert_eq!(e, DecodeError::Serialization(want.into()));
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct WithItems {
        items: Option<Fingerprinted<Vec<WireItem>>>,
    }

    #[test]
    fn fingerprints_ignore_member_order_and_keep_error_kinds() {
        let a: WithItems =
            decode(serde_json::json!({"Items": [{"a": {"S": "x"}, "b": {"N": "1"}}]})).unwrap();
        let b: WithItems =
            decode(serde_json::json!({"Items": [{"b": {"N": "1"}, "a": {"S": "x"}}]})).unwrap();
        let c: WithItems = decode(serde_json::json!({"Items": [{"a": {"S": "y"}}]})).unwrap();
        let fp = |w: &WithItems| w.items.as_ref().map(|f| f.fingerprint);
        assert_eq!(fp(&a), fp(&b));
        assert_ne!(fp(&a), fp(&c));
        assert_eq!(a.items.unwrap().value[0].0.len(), 2);
        let e = decode::<WithItems>(serde_json::json!({"Items": [{"a": {"N": "x"}}]})).unwrap_err();
        assert!(matches!(e, DecodeError::Validation(_)), "{e:?}");
        let e = decode::<WithItems>(serde_json::json!({"Items": 1})).unwrap_err();
        assert!(matches!(e, DecodeError::Serialization(_)), "{e:?}");
    }

    #[test]
    fn timestamps_are_epoch_seconds() {
        assert_eq!(epoch_seconds(1_700_000_000_123).to_string(), "1700000000.123");
    }
}
