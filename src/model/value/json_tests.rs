//! Tests for the wire-JSON decoder's AWS messages (recorded from AWS by dynalite).

use serde_json::{Value, json};

use super::*;

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
