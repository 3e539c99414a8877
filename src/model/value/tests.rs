//! Tests for attribute values: AWS's recorded messages, sizes, sets, codecs.

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

fn serialization(v: Value) -> String {
    match AttributeValue::from_json(&v) {
        Err(Error::Serialization(m)) => m,
        other => panic!("{v}: expected a SerializationException, got {other:?}"),
    }
}

const INVALID: &str = "One or more parameter values were invalid: ";
const EMPTY: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";

#[test]
fn validation_messages_recorded_from_aws() {
    // dynalite test/getItem.js and test/putItem.js (recorded against AWS).
    for v in [
        json!({}),
        json!({"a": ""}),
        json!({"M": {"a": {}}}),
        json!({"L": [{}]}),
        json!({"L": [{"a": {}}]}),
        json!({"S": null}),
    ] {
        assert_eq!(validation(v), EMPTY);
    }
    let cases = [
        (json!({"NULL": "no"}), "Null attribute value types must have the value of true"),
        (json!({"NULL": false}), "Null attribute value types must have the value of true"),
        (json!({"SS": []}), "An string set  may not be empty"),
        (json!({"NS": []}), "An number set  may not be empty"),
        (json!({"BS": []}), "Binary sets should not be empty"),
        (json!({"SS": ["a", "a"]}), "Input collection [a, a] contains duplicates."),
        (
            json!({"BS": ["Yg==", "Yg=="]}),
            "Input collection [Yg==, Yg==]of type BS contains duplicates.",
        ),
    ];
    for (v, detail) in cases {
        assert_eq!(validation(v), format!("{INVALID}{detail}"));
    }
    let not_numeric = "The parameter cannot be converted to a numeric value";
    assert_eq!(validation(json!({"S": "", "N": ""})), not_numeric);
    assert_eq!(validation(json!({"S": "a", "N": ""})), not_numeric);
    assert_eq!(validation(json!({"S": "a", "N": "b"})), format!("{not_numeric}: b"));
    assert_eq!(validation(json!({"NS": ["1", ""]})), not_numeric);
    assert_eq!(validation(json!({"NS": ["1", "b"]})), format!("{not_numeric}: b"));
    assert_eq!(validation(json!({"NS": ["1", "1"]})), "Input collection contains duplicates");
    assert_eq!(validation(json!({"NS": ["1", "1.0"]})), "Input collection contains duplicates");
    assert_eq!(
        validation(json!({"S": "a", "N": "1"})),
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    );
    assert_eq!(validation(json!({"N": "1e126"})), crate::model::number::MSG_OVERFLOW);
    // Empty strings and binaries are allowed outside keys, in sets too (AWS, 2020+).
    assert_eq!(av(json!({"SS": [""]})), AttributeValue::Ss(vec![String::new()]));
    assert_eq!(av(json!({"BS": [""]})), AttributeValue::Bs(vec![Vec::new()]));
    assert_eq!(av(json!({"S": ""})), AttributeValue::S(String::new()));
}

#[test]
fn serialization_messages_recorded_from_aws() {
    // dynalite test/helpers.js assertType, AttrStruct cases (recorded against AWS).
    let cases = [
        (json!({"S": true}), "TRUE_VALUE cannot be converted to String"),
        (json!({"N": false}), "FALSE_VALUE cannot be converted to String"),
        (json!({"S": 23}), "NUMBER_VALUE cannot be converted to String"),
        (json!({"S": -2147483648i64}), "NUMBER_VALUE cannot be converted to String"),
        (json!({"N": 34.56}), "DECIMAL_VALUE cannot be converted to String"),
        (json!({"S": []}), "Unrecognized collection type class java.lang.String"),
        (json!({"S": {}}), "Start of structure or map found where not expected"),
        (json!({"B": true}), "only base-64-encoded strings are convertible to bytes"),
        (json!({"B": 34.56}), "only base-64-encoded strings are convertible to bytes"),
        (json!({"B": []}), "Unrecognized collection type class java.nio.ByteBuffer"),
        (json!({"B": {}}), "Start of structure or map found where not expected"),
        (
            json!({"B": "23456"}),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        ),
        (json!({"B": "=+/="}), "Invalid last non-pad Base64 character dectected"),
        (json!({"B": "+/+="}), "Invalid last non-pad Base64 character dectected"),
        (json!({"BOOL": "23"}), "Unexpected token received from parser"),
        (json!({"NULL": 23}), "NUMBER_VALUE cannot be converted to Boolean"),
        (json!({"BOOL": 34.56}), "DECIMAL_VALUE cannot be converted to Boolean"),
        (json!({"BOOL": []}), "Unrecognized collection type class java.lang.Boolean"),
        (json!({"BOOL": {}}), "Start of structure or map found where not expected"),
        (json!({"SS": "23"}), "Unexpected field type"),
        (json!({"NS": 23}), "Unexpected field type"),
        (json!({"BS": {}}), "Start of structure or map found where not expected"),
        (json!({"SS": [true]}), "TRUE_VALUE cannot be converted to String"),
        (
            json!({"BS": ["23456"]}),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        ),
        (json!({"L": ["23"]}), "Unexpected value type in payload"),
        (
            json!({"L": [[]]}),
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
        (json!({"L": [{"BS": [5]}]}), "only base-64-encoded strings are convertible to bytes"),
        (json!({"M": 23}), "Unexpected field type"),
        (
            json!({"M": []}),
            "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
        (json!({"M": {"a": true}}), "Unexpected value type in payload"),
        (json!(23), "Unexpected value type in payload"),
        // The deserializer reads the whole request before anything is validated.
        (json!({"N": "x", "S": 5}), "NUMBER_VALUE cannot be converted to String"),
        (json!({"L": [{"N": "x"}, {"S": 5}]}), "NUMBER_VALUE cannot be converted to String"),
    ];
    for (v, msg) in cases {
        assert_eq!(serialization(v), msg);
    }
    assert_eq!(
        item_from_json(&json!(5)).unwrap_err(),
        Error::serialization("Unexpected field type")
    );
    assert!(
        item_from_json(&json!({"a": {"N": "x"}, "b": {"S": 5}}))
            .unwrap_err()
            .message()
            .starts_with("NUMBER_VALUE")
    );
}

#[test]
fn booleans_and_blobs_decode() {
    assert_eq!(av(json!({"BOOL": true})), AttributeValue::Bool(true));
    assert_eq!(av(json!({"NULL": true})), AttributeValue::Null);
    assert_eq!(av(json!({"B": "Yg=="})), AttributeValue::B(b"b".to_vec()));
    assert_eq!(av(json!({"B": ""})), AttributeValue::B(Vec::new()));
    assert_eq!(serialization(json!({"B": "Yg!="})), "Invalid Base64 character: '!'");
    assert_eq!(
        serialization(json!({"B": "Y==="})),
        "Invalid last non-pad Base64 character dectected"
    );
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
