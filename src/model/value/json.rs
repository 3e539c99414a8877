//! DynamoDB's wire JSON for attribute values: encoding, and decoding from a JSON tree
//! (the legacy parameters a request keeps as trees) through the streaming decoder of
//! `decode.rs`, so both paths share one set of rules and messages.

use serde_json::{Map, Value};

use super::decode::{item_from_str, value_from_str};
use super::wire_types::{MSG_FIELD_TYPE, MSG_STRUCTURE, base64_encode, check_item_json, ser};
use super::{AttributeValue, Item};
use crate::model::{Error, Number};

/// See [`AttributeValue::from_json`].
pub(super) fn value_from_json(v: &Value) -> Result<AttributeValue, Error> {
    value_from_str(&v.to_string())
}

/// Decodes an attribute map such as `Item` or `Key` (a JSON null is no attributes:
/// whether the parameter was required is the api layer's business).
pub fn item_from_json(v: &Value) -> Result<Item, Error> {
    item_from_str(&v.to_string())
}

/// Decodes a JSON list of attribute maps (e.g. BatchGetItem `Keys`).
pub fn items_from_json(v: &Value) -> Result<Vec<Item>, Error> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            items.iter().try_for_each(check_item_json)?;
            items.iter().map(item_from_json).collect()
        }
        Value::Object(_) => Err(ser(MSG_STRUCTURE)),
        _ => Err(ser(MSG_FIELD_TYPE)),
    }
}

// ---------------------------------------------------------------------------------
// Encoding.

/// See [`AttributeValue::to_json`].
pub(super) fn value_to_json(v: &AttributeValue) -> Value {
    use AttributeValue::*;
    let (key, inner) = match v {
        S(s) => ("S", Value::String(s.clone())),
        N(n) => ("N", Value::String(n.to_string())),
        B(b) => ("B", Value::String(base64_encode(b))),
        Ss(v) => ("SS", v.iter().cloned().map(Value::String).collect()),
        Ns(v) => ("NS", v.iter().map(|n| Value::String(n.to_string())).collect()),
        Bs(v) => ("BS", v.iter().map(|b| Value::String(base64_encode(b))).collect()),
        M(m) => ("M", item_to_json(m)),
        L(l) => ("L", l.iter().map(value_to_json).collect()),
        Bool(b) => ("BOOL", Value::Bool(*b)),
        Null => ("NULL", Value::Bool(true)),
    };
    let mut obj = Map::with_capacity(1);
    obj.insert(key.to_owned(), inner);
    Value::Object(obj)
}

/// The wire JSON of an attribute map (`Item`, `Key`, `Attributes`, an `M`).
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

/// An attribute map that serializes straight to its wire JSON: the same bytes as
/// `item_to_json(item).to_string()` (keys in the map's order, which is the order a
/// `serde_json::Map` sorts them in), without building a `Value` tree first. The bridge
/// encodes every change of every table through it.
pub struct ItemJson<'a>(pub &'a Item);

impl serde::Serialize for ItemJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, ValueJson(v))))
    }
}

/// One attribute value as wire JSON (`{"S": "..."}` and so on).
struct ValueJson<'a>(&'a AttributeValue);

/// A value written as a JSON string through its `Display` (numbers) or as base64 (binary).
enum Text<'a> {
    Number(&'a Number),
    Binary(&'a [u8]),
}

impl serde::Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Number(n) => s.collect_str(n),
            Text::Binary(b) => s.serialize_str(&base64_encode(b)),
        }
    }
}

impl serde::Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use AttributeValue::*;
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self.0 {
            S(v) => map.serialize_entry("S", v)?,
            N(n) => map.serialize_entry("N", &Text::Number(n))?,
            B(b) => map.serialize_entry("B", &Text::Binary(b))?,
            Ss(v) => map.serialize_entry("SS", v)?,
            Ns(v) => {
                let all: Vec<Text> = v.iter().map(Text::Number).collect();
                map.serialize_entry("NS", &all)?
            }
            Bs(v) => {
                let all: Vec<Text> = v.iter().map(|b| Text::Binary(b)).collect();
                map.serialize_entry("BS", &all)?
            }
            M(m) => map.serialize_entry("M", &ItemJson(m))?,
            L(l) => {
                let all: Vec<ValueJson> = l.iter().map(ValueJson).collect();
                map.serialize_entry("L", &all)?
            }
            Bool(b) => map.serialize_entry("BOOL", b)?,
            Null => map.serialize_entry("NULL", &true)?,
        }
        map.end()
    }
}
