//! Unit tests for `Expected`: each form, each operator, each AWS message.

use serde_json::{Value, json};

use super::tests::{holds, item, verr};
use super::*;
use crate::model::expr::{Comparator, Operand};

fn cond(e: Value) -> Option<Condition> {
    expected(&e, None).unwrap()
}

/// `{"a": {"ComparisonOperator": op, "AttributeValueList": list}}`.
fn op(op: &str, list: Value) -> Option<Condition> {
    cond(json!({"a": {"ComparisonOperator": op, "AttributeValueList": list}}))
}

#[test]
fn absent_or_empty_expected_checks_nothing() {
    assert_eq!(expected(&Value::Null, None).unwrap(), None);
    assert_eq!(expected(&json!({}), None).unwrap(), None);
}

#[test]
fn value_forms_are_equality() {
    let eq = Some(Condition::Compare(
        Operand::Path(Path::attr("a")),
        Comparator::Eq,
        Operand::Value(tests::av(json!({"S": "x"}))),
    ));
    assert_eq!(cond(json!({"a": {"Value": {"S": "x"}}})), eq);
    assert_eq!(cond(json!({"a": {"Value": {"S": "x"}, "Exists": true}})), eq);
    assert_eq!(cond(json!({"a": {"Value": {"S": "x"}, "Exists": "yes"}})), eq);
    assert_eq!(cond(json!({"a": {"Value": {"S": "x"}, "ComparisonOperator": "EQ"}})), eq);
    assert_eq!(
        cond(json!({"a": {"AttributeValueList": [{"S": "x"}], "ComparisonOperator": "EQ"}})),
        eq
    );
    let c = cond(json!({"a": {"Value": {"S": "x"}}}));
    assert!(holds(&c, &item(json!({"a": {"S": "x"}}))));
    assert!(!holds(&c, &item(json!({"a": {"S": "y"}}))));
    assert!(!holds(&c, &item(json!({}))));
}

#[test]
fn exists_false_is_absence() {
    let c = cond(json!({"a": {"Exists": false}}));
    assert_eq!(c, Some(Condition::AttributeNotExists(Path::attr("a"))));
    assert!(holds(&c, &item(json!({"b": {"S": "x"}}))));
    assert!(!holds(&c, &item(json!({"a": {"NULL": true}}))));
    assert_eq!(cond(json!({"a": {"Exists": "false"}})), c);
}

#[test]
fn every_operator_on_present_and_missing_attributes() {
    let it = item(json!({
        "s": {"S": "hello"}, "n": {"N": "10"}, "b": {"B": "aGVsbG8="},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}, "l": {"L": [{"S": "x"}, {"BOOL": true}]},
        "t": {"BOOL": true}
    }));
    // (attribute, operator, values, result)
    let cases: Vec<(&str, &str, Value, bool)> = vec![
        ("n", "EQ", json!([{"N": "10.0"}]), true),
        ("n", "EQ", json!([{"S": "10"}]), false),
        ("t", "EQ", json!([{"BOOL": true}]), true),
        ("ss", "EQ", json!([{"SS": ["y", "x"]}]), true),
        ("zz", "EQ", json!([{"S": "x"}]), false),
        ("n", "NE", json!([{"N": "10"}]), false),
        ("n", "NE", json!([{"S": "10"}]), true),
        ("zz", "NE", json!([{"S": "x"}]), true),
        ("n", "LE", json!([{"N": "10"}]), true),
        ("n", "LT", json!([{"N": "10"}]), false),
        ("n", "LT", json!([{"N": "9.5e1"}]), true),
        ("n", "GE", json!([{"N": "10"}]), true),
        ("n", "GT", json!([{"N": "9"}]), true),
        ("s", "GT", json!([{"S": "hellm"}]), true),
        ("b", "LT", json!([{"B": "aGVsbG9v"}]), true),
        ("s", "LT", json!([{"N": "1"}]), false),
        ("zz", "LT", json!([{"N": "1"}]), false),
        ("s", "NOT_NULL", json!([]), true),
        ("zz", "NOT_NULL", json!([]), false),
        ("zz", "NULL", json!([]), true),
        ("s", "NULL", json!([]), false),
        ("s", "CONTAINS", json!([{"S": "ell"}]), true),
        ("b", "CONTAINS", json!([{"B": "ZWxs"}]), true),
        ("ss", "CONTAINS", json!([{"S": "y"}]), true),
        ("ss", "CONTAINS", json!([{"S": "z"}]), false),
        ("ns", "CONTAINS", json!([{"N": "2"}]), true),
        ("n", "CONTAINS", json!([{"N": "1"}]), false),
        ("l", "CONTAINS", json!([{"BOOL": true}]), true),
        ("l", "CONTAINS", json!([{"S": "x"}]), true),
        ("zz", "CONTAINS", json!([{"S": "x"}]), false),
        ("s", "NOT_CONTAINS", json!([{"S": "ell"}]), false),
        ("s", "NOT_CONTAINS", json!([{"S": "bye"}]), true),
        ("ss", "NOT_CONTAINS", json!([{"S": "z"}]), true),
        ("n", "NOT_CONTAINS", json!([{"N": "1"}]), true),
        ("zz", "NOT_CONTAINS", json!([{"S": "x"}]), false),
        ("s", "BEGINS_WITH", json!([{"S": "he"}]), true),
        ("s", "BEGINS_WITH", json!([{"S": "lo"}]), false),
        ("b", "BEGINS_WITH", json!([{"B": "aGU="}]), true),
        ("zz", "BEGINS_WITH", json!([{"S": "he"}]), false),
        ("n", "IN", json!([{"N": "1"}, {"N": "10"}]), true),
        ("n", "IN", json!([{"N": "1"}, {"N": "2"}]), false),
        ("zz", "IN", json!([{"N": "1"}]), false),
        ("n", "BETWEEN", json!([{"N": "10"}, {"N": "10"}]), true),
        ("n", "BETWEEN", json!([{"N": "-1"}, {"N": "9"}]), false),
        ("s", "BETWEEN", json!([{"S": "a"}, {"S": "i"}]), true),
        ("zz", "BETWEEN", json!([{"N": "1"}, {"N": "99"}]), false),
    ];
    for (attr, o, list, want) in cases {
        let e = json!({ attr: {"ComparisonOperator": o, "AttributeValueList": list} });
        let c = expected(&e, None).unwrap();
        assert_eq!(holds(&c, &it), want, "{e}");
    }
}

#[test]
fn not_contains_is_exists_and_not_contains() {
    let c = op("NOT_CONTAINS", json!([{"S": "x"}]));
    let contains = Condition::Contains(
        Operand::Path(Path::attr("a")),
        Operand::Value(tests::av(json!({"S": "x"}))),
    );
    assert_eq!(
        c,
        Some(Condition::and(
            Condition::AttributeExists(Path::attr("a")),
            Condition::negate(contains)
        ))
    );
}

#[test]
fn conditional_operator_joins_in_name_order() {
    let e = json!({
        "c": {"Value": {"S": "c"}},
        "a": {"Exists": false},
        "b": {"ComparisonOperator": "NOT_NULL"}
    });
    let and = expected(&e, None).unwrap();
    assert_eq!(expected(&e, Some("AND")).unwrap(), and);
    let Some(Condition::And(ab, c)) = &and else { panic!("{and:?}") };
    assert!(matches!(**ab, Condition::And(..)));
    assert!(matches!(**c, Condition::Compare(..)));
    let or = expected(&e, Some("OR")).unwrap();
    let it = item(json!({"c": {"S": "c"}}));
    assert!(!holds(&and, &it), "b is missing");
    assert!(holds(&or, &it));
    assert!(!holds(&or, &item(json!({"a": {"S": "x"}}))));
}

#[test]
fn conditional_operator_needs_two_or_more_entries() {
    let one = json!({"a": {"Exists": false}});
    let msg =
        "ConditionalOperator can only be used when Filter or Expected has two or more elements";
    assert_eq!(verr(expected(&one, Some("AND"))), msg);
    assert_eq!(verr(expected(&one, Some("OR"))), msg);
    let without = "ConditionalOperator cannot be used without Filter or Expected";
    assert_eq!(verr(expected(&Value::Null, Some("OR"))), without);
    assert_eq!(verr(expected(&json!({}), Some("AND"))), without);
    // The ConditionalOperator checks come before the entries' own checks.
    assert_eq!(verr(expected(&json!({"a": {}}), Some("AND"))), msg);
}

#[test]
fn structure_messages_in_aws_order() {
    let p = "One or more parameter values were invalid: ";
    let cases: Vec<(Value, String)> = vec![
        (json!({}), format!("{p}Value must be provided when Exists is null for Attribute: a")),
        (
            json!({"Exists": true}),
            format!("{p}Value must be provided when Exists is true for Attribute: a"),
        ),
        (
            json!({"Exists": false, "Value": {"S": "x"}}),
            format!("{p}Value cannot be used when Exists is false for Attribute: a"),
        ),
        (
            json!({"Exists": true, "ComparisonOperator": "LT"}),
            format!("{p}Exists and ComparisonOperator cannot be used together for Attribute: a"),
        ),
        (
            // Exists + ComparisonOperator is checked before Value + AttributeValueList
            // (DynamoDB Local's order).
            json!({"Exists": true, "ComparisonOperator": "EQ", "Value": {"S": "x"},
                   "AttributeValueList": [{"S": "x"}]}),
            format!("{p}Exists and ComparisonOperator cannot be used together for Attribute: a"),
        ),
        (
            json!({"Value": {"S": "a"}, "AttributeValueList": [{"S": "a"}], "ComparisonOperator": "LT"}),
            format!("{p}Value and AttributeValueList cannot be used together for Attribute: a"),
        ),
        (
            json!({"AttributeValueList": [{"S": "a"}]}),
            format!(
                "{p}AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
            ),
        ),
        (
            json!({"Exists": true, "AttributeValueList": [{"S": "a"}]}),
            format!(
                "{p}AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
            ),
        ),
        (
            json!({"ComparisonOperator": "LT"}),
            format!(
                "{p}Value or AttributeValueList must be used with ComparisonOperator: LT for Attribute: a"
            ),
        ),
        (
            json!({"ComparisonOperator": "EQ", "AttributeValueList": []}),
            format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator"),
        ),
        (
            json!({"ComparisonOperator": "NULL", "Value": {"S": "a"}}),
            format!("{p}Invalid number of argument(s) for the NULL ComparisonOperator"),
        ),
        (
            json!({"ComparisonOperator": "BETWEEN", "Value": {"S": "a"}}),
            format!("{p}Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
        ),
        (
            json!({"ComparisonOperator": "IN", "AttributeValueList": [{"S": "b"}, {"N": "1"}]}),
            format!("{p}AttributeValues inside AttributeValueList must be of same type"),
        ),
        (
            json!({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "b"}, {"S": "a"}]}),
            "The BETWEEN condition was provided a range where the lower bound is greater than the \
             upper bound"
                .to_string(),
        ),
        (
            json!({"ComparisonOperator": "CONTAINS", "Value": {"SS": ["a"]}}),
            format!("{p}ComparisonOperator CONTAINS is not valid for SS AttributeValue type"),
        ),
        (
            json!({"Value": {}}),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
                .into(),
        ),
        (
            json!({"Value": {"NS": ["1", ""]}}),
            "The parameter cannot be converted to a numeric value".into(),
        ),
    ];
    for (entry, msg) in cases {
        let e = json!({ "a": entry });
        assert_eq!(verr(expected(&e, None)), msg, "{e}");
    }
    assert_eq!(
        verr(expected(&json!({"a": null}), None)),
        format!("{p}ExpectedAttributeValue must not be null for Attribute: a")
    );
    // NULL and NOT_NULL need no value.
    assert!(op("NULL", Value::Null).is_some());
    assert!(cond(json!({"a": {"ComparisonOperator": "NOT_NULL"}})).is_some());
}

#[test]
fn unknown_comparison_operator_is_a_member_constraint() {
    assert_eq!(
        verr(expected(&json!({"a": {"ComparisonOperator": "LIKE", "Value": {"S": "x"}}}), None)),
        "1 validation error detected: Value 'LIKE' at 'expected.a.member.comparisonOperator' \
         failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, \
         LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
    );
    assert!(expected_violations(&json!({"a": {"Value": {"S": "x"}}})).is_empty());
}

#[test]
fn expected_values_count_against_the_item_size_limit() {
    let big = "x".repeat(300_000);
    let e = json!({"a": {"Value": {"S": big}}, "b": {"Value": {"S": big}}});
    assert_eq!(verr(expected(&e, None)), "Item size has exceeded the maximum allowed size");
    assert!(expected(&json!({"a": {"Value": {"S": big}}}), None).is_ok());
}
