//! DynamoDB's wire JSON for attribute values, with AWS's exact errors.
//!
//! Decoding runs in two passes, as AWS does: its JSON deserializer first refuses
//! wrong JSON types anywhere in the request (SerializationException, see
//! `wire_types`), and only then is the model validated (ValidationException, first
//! problem in document order). Validation messages are from dynalite's tests
//! recorded against AWS and DynamoDB Local's `InputConverter` (which fixes the order
//! in which the members of one value are looked at: S, SS, N, NS, B, BS, M, L, BOOL,
//! NULL).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::wire_types::{
    MSG_FIELD_TYPE, MSG_STRUCTURE, as_bool, base64_decode, base64_encode, check_item_json,
    check_value_json, ser,
};
use super::{
    AttributeValue, Item, MAX_DOCUMENT_LEVEL, MAX_ITEM_SIZE, MSG_ITEM_TOO_LARGE, MSG_NESTING,
    aws_list,
};
use crate::model::{Error, Number};

const INVALID: &str = "One or more parameter values were invalid: ";
const MSG_EMPTY: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
const MSG_MULTIPLE: &str = "Supplied AttributeValue has more than one datatypes set, \
     must contain exactly one of the supported datatypes";
/// DynamoDB Local's `ITEM_CONTAINS_NULL_ATTRVALUE` (a JSON null where a value
/// must be); AWS's own wording for this case is not recorded anywhere we found.
const MSG_NULL_VALUE: &str = "The supplied Item contains a null AttributeValue";

/// The members of an AttributeValue, in the order DynamoDB Local examines them.
const MEMBERS: [&str; 10] = ["S", "SS", "N", "NS", "B", "BS", "M", "L", "BOOL", "NULL"];

fn invalid(detail: &str) -> Error {
    Error::validation(format!("{INVALID}{detail}"))
}

/// See [`AttributeValue::from_json`].
pub(super) fn value_from_json(v: &Value) -> Result<AttributeValue, Error> {
    check_value_json(v)?;
    decode_value(v, 1)
}

/// Decodes an attribute map such as `Item` or `Key` (a JSON null is no attributes:
/// whether the parameter was required is the api layer's business).
pub fn item_from_json(v: &Value) -> Result<Item, Error> {
    check_item_json(v)?;
    match v {
        Value::Object(m) => decode_map(m, 1),
        _ => Ok(Item::new()),
    }
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

/// `level` is the nesting level of the value itself (1 for a top-level attribute).
fn decode_value(v: &Value, level: usize) -> Result<AttributeValue, Error> {
    let Value::Object(obj) = v else {
        return Err(Error::validation(MSG_NULL_VALUE));
    };
    let mut found = None;
    let mut count = 0;
    for key in MEMBERS {
        let Some(x) = obj.get(key).filter(|x| !x.is_null()) else {
            continue;
        };
        count += 1;
        found = Some(decode_member(key, x, level)?);
    }
    match (count, found) {
        (1, Some(value)) => Ok(value),
        (0, _) => Err(Error::validation(MSG_EMPTY)),
        _ => Err(Error::validation(MSG_MULTIPLE)),
    }
}

fn decode_member(key: &str, x: &Value, level: usize) -> Result<AttributeValue, Error> {
    let text =
        |x: &Value| x.as_str().map(str::to_owned).ok_or_else(|| Error::validation(MSG_NULL_VALUE));
    Ok(match key {
        "S" => AttributeValue::S(text(x)?),
        "N" => AttributeValue::N(Number::parse(x.as_str().unwrap_or_default())?),
        "B" => AttributeValue::B(base64_decode(x.as_str().unwrap_or_default())?),
        "SS" => {
            let members = members(x).iter().map(text).collect::<Result<Vec<_>, _>>()?;
            if members.is_empty() {
                return Err(invalid("An string set  may not be empty"));
            }
            if has_duplicates(&members) {
                let detail =
                    format!("Input collection {} contains duplicates.", aws_list(&members));
                return Err(invalid(&detail));
            }
            AttributeValue::Ss(members)
        }
        "NS" => {
            let members = members(x);
            if members.is_empty() {
                return Err(invalid("An number set  may not be empty"));
            }
            // A null member reads as an empty string: the bare message (dynalite).
            let numbers = members
                .iter()
                .map(|m| Number::parse(m.as_str().unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()?;
            // Duplicates are numeric ("1" and "1.0" clash) and, unlike SS and BS,
            // reported without the prefix or the members (dynalite, recorded).
            if has_duplicates(&numbers) {
                return Err(Error::validation("Input collection contains duplicates"));
            }
            AttributeValue::Ns(numbers)
        }
        "BS" => {
            let members = members(x).iter().map(text).collect::<Result<Vec<_>, _>>()?;
            if members.is_empty() {
                return Err(invalid("Binary sets should not be empty"));
            }
            let blobs = members.iter().map(|m| base64_decode(m)).collect::<Result<Vec<_>, _>>()?;
            if has_duplicates(&blobs) {
                // AWS's wording, missing space included (dynalite, recorded).
                let detail = format!(
                    "Input collection {}of type BS contains duplicates.",
                    aws_list(&members)
                );
                return Err(invalid(&detail));
            }
            AttributeValue::Bs(blobs)
        }
        "M" | "L" if level > MAX_DOCUMENT_LEVEL => return Err(Error::validation(MSG_NESTING)),
        "M" => AttributeValue::M(decode_map(x.as_object().unwrap_or(&Map::new()), level + 1)?),
        "L" => AttributeValue::L(decode_list(members(x), level + 1)?),
        "BOOL" => AttributeValue::Bool(as_bool(x)),
        _ if as_bool(x) => AttributeValue::Null,
        _ => {
            return Err(invalid("Null attribute value types must have the value of true"));
        }
    })
}

/// The elements of a JSON array (pass 1 guarantees the array).
fn members(x: &Value) -> &[Value] {
    x.as_array().map_or(&[], Vec::as_slice)
}

fn has_duplicates<T: Eq + std::hash::Hash>(members: &[T]) -> bool {
    let mut seen = HashSet::with_capacity(members.len());
    !members.iter().all(|m| seen.insert(m))
}

/// Decodes a map whose values sit at `level`, refusing as soon as the running size
/// passes 400 KB, as DynamoDB Local's converter does (so the size error comes in
/// document order too).
fn decode_map(m: &Map<String, Value>, level: usize) -> Result<Item, Error> {
    let mut out = Item::new();
    let mut size = 0;
    for (name, v) in m {
        if v.is_null() {
            return Err(Error::validation(format!("{MSG_NULL_VALUE}: {name} is null")));
        }
        let value = decode_value(v, level)?;
        size += name.len() + value.size();
        if size > MAX_ITEM_SIZE {
            return Err(Error::validation(MSG_ITEM_TOO_LARGE));
        }
        out.insert(name.clone(), value);
    }
    Ok(out)
}

fn decode_list(items: &[Value], level: usize) -> Result<Vec<AttributeValue>, Error> {
    let mut size = 0;
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        let value = decode_value(v, level)?;
        size += value.size();
        if size > MAX_ITEM_SIZE {
            return Err(Error::validation(MSG_ITEM_TOO_LARGE));
        }
        out.push(value);
    }
    Ok(out)
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
