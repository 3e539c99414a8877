//! The legacy parameters as the converters read them: a JSON tree of the structure
//! (`Expected`, `AttributeUpdates`, `KeyConditions`, `QueryFilter`, `ScanFilter`), in
//! which each attribute value (`Value`, the members of `AttributeValueList`) is kept as
//! its text and decoded by the streaming decoder when a converter asks for it.
//!
//! A full tree costs about fifty times its text for documents of tiny values; built this
//! way the structure is a few small nodes per condition, an attribute value costs its
//! text, and arrays or objects where the structure wants a scalar are kept as empty ones
//! (pass 1 only looks at their first token; a member AWS ignores is dropped unread). So a
//! legacy parameter, like an item, costs a small multiple of its request's size.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::model::value::{check_value_json, check_value_str, value_from_str};
use crate::model::{AttributeValue, Error};

/// Starts the string that stands for an attribute value's text in the tree. Only trees
/// built by [`LegacyParam`] hold it, and they hold every attribute value that way, so a
/// client's own string can never pass for one.
const MARK: &str = "\u{0}sluice-attribute-value\u{0}";

/// The text of the attribute value `v` stands for, if it stands for one.
fn text(v: &Value) -> Option<&str> {
    v.as_str()?.strip_prefix(MARK)
}

/// Decodes the attribute value at a `Value` or `AttributeValueList` position.
pub(crate) fn attribute_value(v: &Value) -> Result<AttributeValue, Error> {
    match text(v) {
        Some(text) => value_from_str(text),
        None => AttributeValue::from_json(v),
    }
}

/// Pass 1 over the attribute value at a `Value` or `AttributeValueList` position.
pub(crate) fn check_attribute_value(v: &Value) -> Result<(), Error> {
    match text(v) {
        Some(text) => check_value_str(text),
        None => check_value_json(v),
    }
}

/// A legacy parameter decoded into the tree described above.
pub struct LegacyParam(pub Value);

impl<'de> Deserialize<'de> for LegacyParam {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Node::Param).map(LegacyParam)
    }
}

/// Where in the structure a JSON value sits.
#[derive(Clone, Copy)]
enum Node {
    /// The parameter: a map of attribute name to entry.
    Param,
    /// One entry: `Value`, `AttributeValueList` and scalar members.
    Entry,
    /// `AttributeValueList`: attribute values.
    List,
    /// Anything else: a scalar, or an empty array or object standing for one.
    Shallow,
}

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// One attribute value's place: its text, or null.
fn attribute_text(raw: &RawValue) -> Value {
    match raw.get() {
        "null" => Value::Null,
        text => Value::String(format!("{MARK}{text}")),
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        match self {
            Node::List => {
                while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                    out.push(attribute_text(&raw));
                }
            }
            _ => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match (self, key.as_str()) {
                (Node::Param, _) => map.next_value_seed(Node::Entry)?,
                (Node::Entry, "Value") => attribute_text(&map.next_value::<Box<RawValue>>()?),
                (Node::Entry, "AttributeValueList") => map.next_value_seed(Node::List)?,
                (Node::Entry, "Exists" | "ComparisonOperator" | "Action") => {
                    map.next_value_seed(Node::Shallow)?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// `deserialize_with` for an `Option<Value>` member holding a legacy parameter.
pub fn deserialize<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Option::<LegacyParam>::deserialize(d)?.map(|p| p.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::legacy;

    fn param(text: &str) -> Value {
        serde_json::from_str::<LegacyParam>(text).unwrap().0
    }

    #[test]
    fn converters_read_the_text_tree_as_they_read_a_full_one() {
        let text = r#"{"a": {"ComparisonOperator": "IN", "AttributeValueList": [{"S": "x"}, {"S": "y"}], "Extra": [1, 2]},
                       "b": {"Value": {"N": "1"}, "Exists": true}}"#;
        let full: Value = serde_json::from_str(text).unwrap();
        let compact = param(text);
        assert_eq!(legacy::expected(&compact, None), legacy::expected(&full, None));
        assert!(legacy::expected(&compact, None).unwrap().is_some());
        // Wrong JSON types are found the same way.
        for bad in [
            r#"{"a": {"Value": {"S": 1}}}"#,
            r#"{"a": {"ComparisonOperator": ["EQ"]}}"#,
            r#"{"a": []}"#,
            "[]",
        ] {
            let full: Value = serde_json::from_str(bad).unwrap();
            assert_eq!(legacy::expected(&param(bad), None), legacy::expected(&full, None), "{bad}");
        }
    }

    #[test]
    fn a_clients_own_string_never_passes_for_an_attribute_value() {
        let forged =
            format!(r#"{{"a": {{"Value": "{}{{\"S\":\"x\"}}"}}}}"#, MARK.replace('\0', "\\u0000"));
        let e = legacy::expected(&param(&forged), None).unwrap_err();
        assert_eq!(e, Error::serialization("Unexpected value type in payload"));
    }
}
