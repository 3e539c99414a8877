//! Unit tests shared by the legacy converters: helpers, `AttributesToGet`, member
//! constraints and pass-1 JSON checks.

use serde_json::{Value, json};

use crate::model::value::item_from_json;
use crate::model::{AttributeValue, Error, Item};

use super::shape::{Structure, check};
use super::*;

/// An item from wire JSON.
pub(super) fn item(j: Value) -> Item {
    item_from_json(&j).expect("valid item")
}

/// A value from wire JSON.
pub(super) fn av(j: Value) -> AttributeValue {
    AttributeValue::from_json(&j).expect("valid value")
}

/// The ValidationException message of a result that must have failed.
pub(super) fn verr<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Validation(m)) => m,
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

/// The SerializationException message of a result that must have failed.
pub(super) fn serr<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Serialization(m)) => m,
        other => panic!("expected a SerializationException, got {other:?}"),
    }
}

/// True when `c` holds on `item`.
pub(super) fn holds(c: &Option<Condition>, it: &Item) -> bool {
    c.as_ref().expect("a condition").eval(it).expect("evaluates")
}

#[test]
fn attributes_to_get_keeps_order_and_takes_names_literally() {
    let names: Vec<String> = ["b", "a.b", "x[1]"].iter().map(|s| s.to_string()).collect();
    let p = attributes_to_get(&names).unwrap();
    assert_eq!(p.paths, vec![Path::attr("b"), Path::attr("a.b"), Path::attr("x[1]")]);
    let it =
        item(json!({"a": {"M": {"b": {"S": "nested"}}}, "a.b": {"S": "flat"}, "b": {"N": "1"}}));
    let got = p.apply(&it);
    assert_eq!(got.len(), 2);
    assert_eq!(got["a.b"], av(json!({"S": "flat"})));
    assert_eq!(got["b"], av(json!({"N": "1"})));
}

#[test]
fn attributes_to_get_refuses_the_first_duplicate() {
    let names: Vec<String> = ["a", "b", "b", "a"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        verr(attributes_to_get(&names)),
        "One or more parameter values were invalid: Duplicate value in attribute name: b"
    );
}

#[test]
fn attributes_to_get_length_constraints() {
    assert_eq!(
        attributes_to_get_violations(&[], "attributesToGet"),
        vec![
            "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have \
             length greater than or equal to 1"
                .to_string()
        ]
    );
    let many: Vec<String> = (0..256).map(|i| i.to_string()).collect();
    let v = attributes_to_get_violations(&many, "requestItems.t.member.attributesToGet");
    assert!(v[0].starts_with("Value '[0, 1, 2, "), "{v:?}");
    assert!(v[0].ends_with(
        "' at 'requestItems.t.member.attributesToGet' failed to satisfy constraint: Member \
         must have length less than or equal to 255"
    ));
    assert!(attributes_to_get_violations(&many[..255], "attributesToGet").is_empty());
}

#[test]
fn conditional_operator_enum() {
    assert_eq!(
        conditional_operator_violations(Some("XOR")),
        vec![
            "Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: Member must \
             satisfy enum value set: [OR, AND]"
                .to_string()
        ]
    );
    assert!(conditional_operator_violations(Some("OR")).is_empty());
    assert!(conditional_operator_violations(None).is_empty());
    // The converters report it in AWS's envelope.
    let e = json!({"a": {"Exists": false}, "b": {"Exists": false}});
    assert_eq!(
        verr(expected(&e, Some("and"))),
        "1 validation error detected: Value 'and' at 'conditionalOperator' failed to satisfy \
         constraint: Member must satisfy enum value set: [OR, AND]"
    );
}

#[test]
fn violations_are_listed_together_in_one_envelope() {
    let f = json!({"a": {}, "b": {"ComparisonOperator": ""}});
    assert_eq!(
        verr(scan_filter(&f, Some("AN"))),
        "3 validation errors detected: \
         Value 'AN' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy \
         enum value set: [OR, AND]; \
         Value null at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: \
         Member must not be null; \
         Value '' at 'scanFilter.b.member.comparisonOperator' failed to satisfy constraint: \
         Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, \
         NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
    );
    let many: serde_json::Map<String, Value> =
        (0..12).map(|i| (format!("k{i:02}"), json!({"Action": "NOPE"}))).collect();
    let m = verr(attribute_updates(&Value::Object(many)));
    assert!(m.starts_with("10 validation errors detected: Value 'NOPE' at 'attributeUpdates.k00"));
    assert_eq!(m.matches("; ").count(), 9, "AWS lists ten at most");
}

#[test]
fn pass_one_rejects_wrong_json_types_first() {
    let cases: Vec<(Value, Structure, &str)> = vec![
        (
            json!([]),
            Structure::Expected,
            "Unrecognized collection type java.util.Map<java.lang.String, \
             com.amazonaws.dynamodb.v20120810.ExpectedAttributeValue>",
        ),
        (json!("x"), Structure::Condition, "Unexpected field type"),
        (
            json!({"a": []}),
            Structure::Update,
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValueUpdate",
        ),
        (json!({"a": 5}), Structure::Expected, "Unexpected value type in payload"),
        (
            json!({"a": {"Exists": 1}}),
            Structure::Expected,
            "NUMBER_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"a": {"Exists": "maybe"}}),
            Structure::Expected,
            "Unexpected token received from parser",
        ),
        (
            json!({"a": {"Exists": [true]}}),
            Structure::Expected,
            "Unrecognized collection type class java.lang.Boolean",
        ),
        (
            json!({"a": {"ComparisonOperator": 1.5}}),
            Structure::Condition,
            "DECIMAL_VALUE cannot be converted to String",
        ),
        (
            json!({"a": {"Action": {}}}),
            Structure::Update,
            "Start of structure or map found where not expected",
        ),
        (
            json!({"a": {"AttributeValueList": {"S": "x"}}}),
            Structure::Condition,
            "Start of structure or map found where not expected",
        ),
        (json!({"a": {"AttributeValueList": "x"}}), Structure::Condition, "Unexpected field type"),
        (
            json!({"a": {"AttributeValueList": [{"S": 1}]}}),
            Structure::Condition,
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"a": {"Value": ["x"]}}),
            Structure::Update,
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
    ];
    for (j, what, msg) in cases {
        assert_eq!(serr(check(&j, what)), msg, "{j}");
    }
    assert!(check(&json!({"a": {"Exists": "TRUE", "Unknown": 5}}), Structure::Expected).is_ok());
    // Serialization beats validation, even in a later entry.
    let e = json!({"a": {}, "b": {"Exists": 7}});
    assert_eq!(serr(expected(&e, None)), "NUMBER_VALUE cannot be converted to Boolean");
}
