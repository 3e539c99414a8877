//! Proptest strategies for numbers, attribute values and items (test builds only),
//! for any module's property tests: `crate::model::value::testing::arb_item()`.
//!
//! Generated values are valid DynamoDB values: sets are non-empty without
//! duplicates, documents nest at most a few levels, items stay far below 400 KB.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{AttributeValue, Item};
use crate::model::Number;
use crate::model::number::{MAX_DIGITS, MAX_EXPONENT, MIN_EXPONENT};

/// Any valid number: 1 to 38 significant digits, any allowed exponent, either sign.
pub fn arb_number() -> impl Strategy<Value = Number> {
    let digits = (1u8..10, vec(0u8..10, 0..MAX_DIGITS));
    (any::<bool>(), MIN_EXPONENT..=MAX_EXPONENT, digits).prop_map(|(neg, exp, (first, rest))| {
        let rest: String = rest.iter().map(|d| char::from(b'0' + d)).collect();
        let literal = format!("{}{first}.{rest}e{exp}", if neg { "-" } else { "" });
        Number::parse(&literal).expect("generated literals are valid")
    })
}

/// Short strings over all of Unicode (names and S values; empty allowed).
pub fn arb_string() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..6).prop_map(String::from_iter)
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..6)
}

/// 1 to 4 distinct members, in generation order (sets keep the caller's order).
fn arb_set<T: Clone + PartialEq + std::fmt::Debug>(
    member: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<T>> {
    vec(member, 1..5).prop_map(|all| {
        let mut out: Vec<T> = Vec::with_capacity(all.len());
        for m in all {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    })
}

/// Any non-document value: S, N, B, SS, NS, BS, BOOL, NULL.
pub fn arb_scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        arb_string().prop_map(AttributeValue::S),
        arb_number().prop_map(AttributeValue::N),
        arb_bytes().prop_map(AttributeValue::B),
        arb_set(arb_string()).prop_map(AttributeValue::Ss),
        arb_set(arb_number()).prop_map(AttributeValue::Ns),
        arb_set(arb_bytes()).prop_map(AttributeValue::Bs),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
    ]
}

/// Any value, documents included (up to 4 levels of M/L).
pub fn arb_attribute_value() -> impl Strategy<Value = AttributeValue> {
    arb_scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            proptest::collection::btree_map(arb_string(), inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

/// Any item of up to 5 attributes (names may be empty: this is the model, not
/// the request validator).
pub fn arb_item() -> impl Strategy<Value = Item> {
    proptest::collection::btree_map(arb_string(), arb_attribute_value(), 0..5)
}
