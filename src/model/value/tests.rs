//! Tests for attribute values: nesting, sizes, sets, display, storage, round trips.
//! (The wire-JSON error messages are in `json_tests`.)

use proptest::prelude::*;
use serde_json::{Value, json};

use super::testing::{arb_attribute_value, arb_item};
use super::*;
use crate::model::Number;

fn av(v: Value) -> AttributeValue {
    AttributeValue::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e:?}"))
}

fn validation(v: Value) -> String {
    match AttributeValue::from_json(&v) {
        Err(Error::Validation(m)) => m,
        other => panic!("{v}: expected a ValidationException, got {other:?}"),
    }
}

fn wrapped(depth: usize, list: bool) -> Value {
    let mut v = json!({"S": "leaf"});
    for _ in 0..depth {
        v = if list { json!({"L": [v]}) } else { json!({"M": {"n": v}}) };
    }
    v
}

#[test]
fn nesting_limit() {
    // 31 wraps (leaf at level 32) accepted, 32 refused (AWS, nubo-db/dynoxide#110).
    for list in [false, true] {
        let ok = av(wrapped(31, list));
        assert!(check_nesting(&ok, 1).is_ok());
        assert_eq!(validation(wrapped(32, list)), MSG_NESTING);
        assert_eq!(
            item_from_json(&json!({"a": wrapped(32, list)})).unwrap_err(),
            Error::validation(MSG_NESTING)
        );
    }
    let deep = AttributeValue::M(Item::from([("n".to_owned(), av(wrapped(31, false)))]));
    assert_eq!(check_nesting(&deep, 1), Err(Error::validation(MSG_NESTING)));
}

#[test]
fn sizes() {
    // Dev guide: "shirt-color"="R" + "shirt-size"="M" is 23 bytes.
    let shirt =
        item_from_json(&json!({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}})).unwrap();
    assert_eq!(item_size(&shirt), 23);
    let item = item_from_json(&json!({
        "é": {"S": "ü€"},                       // 2 + 5
        "m": {"M": {"ab": {"S": "xy"}}},        // 1 + 3 + 1 + 2 + 2
        "l": {"L": [{"S": "xy"}, {"NULL": true}]}, // 1 + 3 + 3 + 2
        "n": {"NS": ["1", "-42"]},              // 1 + 2 + 3
        "b": {"BS": ["Yg==", "YWI="]},          // 1 + 1 + 2
        "t": {"BOOL": false},                   // 1 + 1
    }))
    .unwrap();
    assert_eq!(item_size(&item), 7 + 9 + 9 + 6 + 4 + 2);
}

#[test]
fn item_size_limit() {
    let with_padding = |n: usize| json!({"pk": {"S": "k"}, "p": {"S": "x".repeat(n)}});
    let exact = 409_600 - 2 - 1 - 1;
    let item = item_from_json(&with_padding(exact)).unwrap();
    assert_eq!(item_size(&item), MAX_ITEM_SIZE);
    assert!(check_item_size(&item).is_ok());
    let over = item_from_json(&with_padding(exact + 1));
    assert_eq!(over.unwrap_err(), Error::validation(MSG_ITEM_TOO_LARGE));
    let mut big = item;
    big.insert("q".to_owned(), AttributeValue::Null);
    assert_eq!(check_item_size(&big), Err(Error::validation(MSG_ITEM_TOO_LARGE)));
    assert_eq!(check_updated_item_size(&big), Err(Error::validation(MSG_UPDATED_ITEM_TOO_LARGE)));
}

#[test]
fn sets_compare_as_sets_and_keep_their_order() {
    let a = av(json!({"M": {"s": {"SS": ["a", "b"]}, "n": {"NS": ["1", "2"]}}}));
    let b = av(json!({"M": {"s": {"SS": ["b", "a"]}, "n": {"NS": ["2.0", "1"]}}}));
    assert_eq!(a, b);
    assert_ne!(av(json!({"SS": ["a"]})), av(json!({"SS": ["a", "b"]})));
    assert_ne!(av(json!({"SS": ["a"]})), av(json!({"S": "a"})));
    assert_ne!(
        av(json!({"L": [{"S": "a"}, {"S": "b"}]})),
        av(json!({"L": [{"S": "b"}, {"S": "a"}]}))
    );
    let big: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let reversed: Vec<String> = big.iter().rev().cloned().collect();
    assert_eq!(AttributeValue::Ss(big), AttributeValue::Ss(reversed));
    assert_eq!(b.to_json(), json!({"M": {"s": {"SS": ["b", "a"]}, "n": {"NS": ["2", "1"]}}}));
}

#[test]
fn names_and_display() {
    let v = av(json!({"BS": ["Yg==", "YWI="]}));
    assert_eq!((v.type_name(), v.long_type_name()), ("BS", "BINARY SET"));
    assert_eq!(v.aws_display(), "[Yg==, YWI=]");
    assert_eq!(av(json!({"NS": ["1.50", "2"]})).aws_display(), "[1.5, 2]");
    assert_eq!(av(json!({"N": "1e3"})).to_json(), json!({"N": "1000"}));
    assert_eq!(AttributeValue::N(Number::from(-7i64)).aws_display(), "-7");
}

#[test]
fn storage_rejects_corruption() {
    let good =
        encode_item(&item_from_json(&json!({"a": {"L": [{"N": "1"}, {"SS": ["x"]}]}})).unwrap());
    assert!(decode_item(&good).is_ok());
    assert!(decode_item(&[]).is_err());
    assert!(decode_item(&[2, 0]).is_err());
    assert!(decode_item(&[1, 0, 0]).is_err());
    assert!(
        decode_item(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
            .is_err()
    );
    // Two attributes out of name order.
    assert!(decode_item(&[1, 2, 1, b'b', 0, 1, b'a', 0]).is_err());
    assert!(decode_item(&[1, 2, 1, b'a', 0, 1, b'b', 0]).is_ok());
}

proptest! {
    #[test]
    fn json_round_trip(v in arb_attribute_value()) {
        let wire = v.to_json();
        let back = AttributeValue::from_json(&wire).unwrap();
        prop_assert_eq!(&back.to_json(), &wire);
        prop_assert_eq!(back, v);
    }

    #[test]
    fn item_json_round_trip(item in arb_item()) {
        let back = item_from_json(&item_to_json(&item)).unwrap();
        prop_assert_eq!(format!("{back:?}"), format!("{item:?}"));
    }

    #[test]
    fn direct_item_json_is_the_value_trees_bytes(item in arb_item()) {
        let direct = serde_json::to_string(&ItemJson(&item)).unwrap();
        prop_assert_eq!(direct, item_to_json(&item).to_string());
    }

    #[test]
    fn storage_round_trip_is_exact(item in arb_item()) {
        let bytes = encode_item(&item);
        prop_assert_eq!(bytes[0], 1);
        let back = decode_item(&bytes).unwrap();
        prop_assert_eq!(format!("{back:?}"), format!("{item:?}"));
    }

    #[test]
    fn storage_decoding_never_panics(item in arb_item(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = encode_item(&item);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_item(&bytes);
        let _ = decode_item(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_item(&bytes);
        let mut versioned = vec![1];
        versioned.extend(bytes);
        let _ = decode_item(&versioned);
    }
}
