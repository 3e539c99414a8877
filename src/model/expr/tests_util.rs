//! Test helpers: items and values written as DynamoDB wire JSON (binary values as
//! plain text, to stay independent of the codec in value.rs), and short
//! constructors for requests.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::model::{AttributeValue, Error, Item, Number};

/// A value from wire JSON such as `{"S":"x"}`; `B`/`BS` members are taken as text.
pub(crate) fn av(j: &Value) -> AttributeValue {
    let (t, v) = j.as_object().and_then(|o| o.iter().next()).expect("one type key");
    let strs = || v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned());
    match t.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().into()),
        "N" => AttributeValue::N(Number::parse(v.as_str().unwrap()).unwrap()),
        "B" => AttributeValue::B(v.as_str().unwrap().as_bytes().to_vec()),
        "SS" => AttributeValue::Ss(strs().collect()),
        "NS" => AttributeValue::Ns(strs().map(|s| Number::parse(&s).unwrap()).collect()),
        "BS" => AttributeValue::Bs(strs().map(String::into_bytes).collect()),
        "M" => AttributeValue::M(
            v.as_object().unwrap().iter().map(|(k, x)| (k.clone(), av(x))).collect(),
        ),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(av).collect()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "NULL" => AttributeValue::Null,
        other => panic!("unknown type {other}"),
    }
}

/// An item from wire JSON.
pub(crate) fn item_json(s: &str) -> Item {
    let v: Value = serde_json::from_str(s).unwrap();
    v.as_object().unwrap().iter().map(|(k, x)| (k.clone(), av(x))).collect()
}

/// A value as wire JSON (binary as text).
pub(crate) fn to_json(v: &AttributeValue) -> Value {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n.to_string() }),
        AttributeValue::B(b) => json!({ "B": text(b) }),
        AttributeValue::Ss(x) => json!({ "SS": x }),
        AttributeValue::Ns(x) => {
            json!({ "NS": x.iter().map(ToString::to_string).collect::<Vec<_>>() })
        }
        AttributeValue::Bs(x) => json!({ "BS": x.iter().map(|b| text(b)).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_to_json(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(to_json).collect::<Vec<_>>() }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null => json!({ "NULL": true }),
    }
}

/// An item as wire JSON.
pub(crate) fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>())
}

/// ExpressionAttributeNames from pairs.
pub(crate) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// ExpressionAttributeValues from a wire-JSON object.
pub(crate) fn values(s: &str) -> HashMap<String, AttributeValue> {
    item_json(s).into_iter().collect()
}

/// The message of an error result.
pub(crate) fn err<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.expect_err("expected an error").message().to_owned()
}
