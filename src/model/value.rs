//! DynamoDB attribute values: set semantics, type names, AWS's size rule and limits.
//!
//! Submodules: `json` and `wire_types` (the wire codec and its AWS errors),
//! `storage` (the compact binary form for the store) and, in tests only, `testing`
//! (proptest strategies).

mod decode;
mod json;
#[cfg(test)]
mod json_tests;
mod storage;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;
pub(crate) mod wire_types;

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use crate::model::{Error, Number};

pub use decode::{check_item_str, check_value_str, item_from_str, value_from_str};
pub use json::{ItemJson, item_from_json, item_to_json, items_from_json};
pub use storage::{decode_item, encode_item};
pub use wire_types::{check_item_json, check_value_json};

/// An item, or the value of an `M` attribute: attribute name to value.
pub type Item = BTreeMap<String, AttributeValue>;

/// DynamoDB's item size limit in bytes (400 KB; an item of exactly this size is
/// accepted, one byte more is refused: nubo-db/dynamodb-conformance itemSize tests).
pub const MAX_ITEM_SIZE: usize = 409_600;

/// Deepest level at which a document (`M`/`L`) may sit, the top-level attribute
/// value being level 1: 31 nested maps around a scalar are accepted, 32 refused
/// (AWS, per nubo-db/dynoxide#110 and DynamoDB Local's `InputConverter`).
pub const MAX_DOCUMENT_LEVEL: usize = 31;

/// AWS's message when a PutItem/BatchWriteItem/TransactWriteItems item is too big
/// (dynalite test/putItem.js, recorded from AWS).
pub const MSG_ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";
/// AWS's message when the item an UpdateItem would produce is too big (dynalite
/// actions/updateItem.js; DynamoDB Local `ITEM_UPD_TOO_LARGE`).
pub const MSG_UPDATED_ITEM_TOO_LARGE: &str =
    "Item size to update has exceeded the maximum allowed size";
/// AWS's message for documents nested too deeply (captured from AWS,
/// nubo-db/dynamodb-conformance captures/2026-08-12-batch-empty-and-nesting.json).
pub const MSG_NESTING: &str = "Nesting Levels have exceeded supported limits: \
     Attributes in the item have nested levels beyond supported limit";

/// One attribute value, as DynamoDB's wire JSON `{"S": "..."}` etc. describes it.
///
/// Sets keep the caller's order (AWS echoes it back) but compare as sets.
#[derive(Debug, Clone)]
pub enum AttributeValue {
    /// `{"S": "text"}`: a string (may be empty outside keys).
    S(String),
    /// `{"N": "1.5"}`: a number.
    N(Number),
    /// `{"B": "<base64>"}`: raw bytes (may be empty outside keys).
    B(Vec<u8>),
    /// `{"SS": [...]}`: a non-empty string set, in the caller's order.
    Ss(Vec<String>),
    /// `{"NS": [...]}`: a non-empty number set, in the caller's order.
    Ns(Vec<Number>),
    /// `{"BS": [...]}`: a non-empty binary set, in the caller's order.
    Bs(Vec<Vec<u8>>),
    /// `{"M": {...}}`: a map (document).
    M(Item),
    /// `{"L": [...]}`: a list (document).
    L(Vec<AttributeValue>),
    /// `{"BOOL": true}`.
    Bool(bool),
    /// `{"NULL": true}`.
    Null,
}

impl PartialEq for AttributeValue {
    /// Structural equality, except that SS/NS/BS compare as sets (member order
    /// never matters), including inside maps and lists.
    fn eq(&self, other: &AttributeValue) -> bool {
        use AttributeValue::*;
        match (self, other) {
            (S(a), S(b)) => a == b,
            (N(a), N(b)) => a == b,
            (B(a), B(b)) => a == b,
            (Ss(a), Ss(b)) => same_members(a, b),
            (Ns(a), Ns(b)) => same_members(a, b),
            (Bs(a), Bs(b)) => same_members(a, b),
            (M(a), M(b)) => a == b,
            (L(a), L(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Null, Null) => true,
            _ => false,
        }
    }
}

impl Eq for AttributeValue {}

/// Set equality of two member lists (each member of one is in the other).
fn same_members<T: Eq + Hash>(a: &[T], b: &[T]) -> bool {
    // Small sets are the norm: a quadratic scan beats hashing up to a few dozen.
    if a.len() <= 16 && b.len() <= 16 {
        return a.iter().all(|x| b.contains(x)) && b.iter().all(|y| a.contains(y));
    }
    let (sa, sb): (HashSet<&T>, HashSet<&T>) = (a.iter().collect(), b.iter().collect());
    sa == sb
}

impl AttributeValue {
    /// DynamoDB's type descriptor: "S", "N", "B", "SS", "NS", "BS", "M", "L", "BOOL"
    /// or "NULL" (what `attribute_type` compares with, and what most messages print,
    /// e.g. "Type mismatch for key a expected: S actual: N").
    pub fn type_name(&self) -> &'static str {
        use AttributeValue::*;
        match self {
            S(_) => "S",
            N(_) => "N",
            B(_) => "B",
            Ss(_) => "SS",
            Ns(_) => "NS",
            Bs(_) => "BS",
            M(_) => "M",
            L(_) => "L",
            Bool(_) => "BOOL",
            Null => "NULL",
        }
    }

    /// The long type name some UpdateExpression messages print ("operator: ADD,
    /// operand type: STRING SET"). Seen in emulators' AWS-derived tests, not in an
    /// AWS recording; prefer [`AttributeValue::type_name`] where AWS is known to use it.
    pub fn long_type_name(&self) -> &'static str {
        use AttributeValue::*;
        match self {
            S(_) => "STRING",
            N(_) => "NUMBER",
            B(_) => "BINARY",
            Ss(_) => "STRING SET",
            Ns(_) => "NUMBER SET",
            Bs(_) => "BINARY SET",
            M(_) => "MAP",
            L(_) => "LIST",
            Bool(_) => "BOOLEAN",
            Null => "NULL",
        }
    }

    /// Bytes this value counts towards the 400 KB item limit (dynalite `valSize`,
    /// the AWS dev guide "Item sizes" rules, and AWS measurements): S and names are
    /// UTF-8 bytes, B raw bytes, N see [`Number::size_bytes`], sets the sum of their
    /// members, BOOL and NULL 1, L 3 + per element (1 + size), M 3 + per entry
    /// (1 + UTF-8 name length + size).
    pub fn size(&self) -> usize {
        use AttributeValue::*;
        match self {
            S(s) => s.len(),
            N(n) => n.size_bytes(),
            B(b) => b.len(),
            Ss(v) => v.iter().map(String::len).sum(),
            Ns(v) => v.iter().map(Number::size_bytes).sum(),
            Bs(v) => v.iter().map(Vec::len).sum(),
            M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + v.size()).sum::<usize>(),
            L(l) => 3 + l.iter().map(|v| 1 + v.size()).sum::<usize>(),
            Bool(_) | Null => 1,
        }
    }

    /// Renders the value as AWS does inside error messages. Verified for sets
    /// (dynalite, recorded from AWS: "Input collection [a, a] contains duplicates.",
    /// binary members in base64); scalars print bare (S as is, N canonical, B in
    /// base64, BOOL/NULL as true/false); M and L, never seen in an AWS message,
    /// print as their wire JSON.
    pub fn aws_display(&self) -> String {
        use AttributeValue::*;
        match self {
            S(s) => s.clone(),
            N(n) => n.to_string(),
            B(b) => wire_types::base64_encode(b),
            Ss(v) => aws_list(v),
            Ns(v) => aws_list(v),
            Bs(v) => aws_list(v.iter().map(|b| wire_types::base64_encode(b))),
            Bool(b) => b.to_string(),
            Null => "true".to_owned(),
            M(_) | L(_) => self.to_json().to_string(),
        }
    }

    /// Decodes one wire-JSON attribute value (`{"S":"x"}` …), with AWS's
    /// SerializationException for wrong JSON types anywhere inside, then AWS's
    /// ValidationExceptions in document order. The value counts as a top-level
    /// attribute (nesting level 1).
    pub fn from_json(v: &serde_json::Value) -> Result<AttributeValue, Error> {
        json::value_from_json(v)
    }

    /// The wire JSON of this value; numbers in canonical form, sets in stored order.
    pub fn to_json(&self) -> serde_json::Value {
        json::value_to_json(self)
    }
}

/// Formats members the way AWS lists a collection in messages: "[a, b]".
pub fn aws_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let parts: Vec<String> = items.into_iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// An item's size: the sum over attributes of UTF-8 name length plus value size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Refuses an item over 400 KB with AWS's PutItem wording.
pub fn check_item_size(item: &Item) -> Result<(), Error> {
    match item_size(item) > MAX_ITEM_SIZE {
        true => Err(Error::validation(MSG_ITEM_TOO_LARGE)),
        false => Ok(()),
    }
}

/// Refuses an UpdateItem result over 400 KB with AWS's UpdateItem wording.
pub fn check_updated_item_size(item: &Item) -> Result<(), Error> {
    match item_size(item) > MAX_ITEM_SIZE {
        true => Err(Error::validation(MSG_UPDATED_ITEM_TOO_LARGE)),
        false => Ok(()),
    }
}

/// Refuses a value whose documents nest deeper than DynamoDB allows (for values
/// built by an update, which never went through [`AttributeValue::from_json`]).
/// `level` is the value's own level: 1 for a top-level attribute.
pub fn check_nesting(value: &AttributeValue, level: usize) -> Result<(), Error> {
    match value {
        AttributeValue::M(_) | AttributeValue::L(_) if level > MAX_DOCUMENT_LEVEL => {
            Err(Error::validation(MSG_NESTING))
        }
        AttributeValue::M(m) => m.values().try_for_each(|v| check_nesting(v, level + 1)),
        AttributeValue::L(l) => l.iter().try_for_each(|v| check_nesting(v, level + 1)),
        _ => Ok(()),
    }
}
