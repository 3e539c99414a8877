//! Unit tests for `AttributeUpdates`: the actions, how they apply, AWS's messages.

use serde_json::{Value, json};

use super::tests::{av, item, verr};
use super::*;
use crate::model::Item;
use crate::model::expr::{SetOperand, SetValue, UpdateAction, UpdateExpr};

const P: &str = "One or more parameter values were invalid: ";

/// Converts `updates` and applies them to `before` as AWS applies legacy updates.
fn apply(updates: Value, before: Value) -> Result<Item, crate::model::Error> {
    let u = attribute_updates(&updates)?;
    let mut it = item(before);
    u.apply(&mut it).map_err(legacy_update_error)?;
    Ok(it)
}

#[test]
fn actions_map_onto_update_actions() {
    assert_eq!(attribute_updates(&Value::Null).unwrap(), UpdateExpr::default());
    assert_eq!(attribute_updates(&json!({})).unwrap(), UpdateExpr::default());
    let u = attribute_updates(&json!({
        "a": {"Value": {"S": "x"}},
        "b": {"Action": "PUT", "Value": {"N": "1"}},
        "c": {"Action": "ADD", "Value": {"N": "2"}},
        "d": {"Action": "DELETE"},
        "e": {"Action": "DELETE", "Value": {"SS": ["q"]}},
        "f": {"Action": "DELETE", "Value": null},
        "g": null
    }))
    .unwrap();
    let set = |v: Value| SetValue::Operand(SetOperand::Value(av(v)));
    assert_eq!(
        u.actions,
        vec![
            UpdateAction::Set(Path::attr("a"), set(json!({"S": "x"}))),
            UpdateAction::Set(Path::attr("b"), set(json!({"N": "1"}))),
            UpdateAction::Add(Path::attr("c"), av(json!({"N": "2"}))),
            UpdateAction::Remove(Path::attr("d")),
            UpdateAction::Delete(Path::attr("e"), av(json!({"SS": ["q"]}))),
            UpdateAction::Remove(Path::attr("f")),
        ]
    );
}

#[test]
fn applying_legacy_updates() {
    let got = apply(
        json!({
            "name": {"Action": "PUT", "Value": {"S": "new-name"}},
            "count": {"Action": "ADD", "Value": {"N": "9"}},
            "fresh": {"Action": "ADD", "Value": {"N": "-3"}},
            "extra": {"Action": "DELETE"},
            "tags": {"Action": "ADD", "Value": {"SS": ["c", "a"]}},
            "gone": {"Action": "DELETE", "Value": {"NS": ["1", "2"]}},
            "some": {"Action": "DELETE", "Value": {"SS": ["b", "zz"]}},
            "list": {"Action": "ADD", "Value": {"L": [{"N": "3"}]}},
            "newlist": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}},
            "nothing": {"Action": "DELETE", "Value": {"BS": ["AQ=="]}},
            "dot.ted": {"Value": {"BOOL": true}}
        }),
        json!({
            "name": {"S": "old"}, "count": {"N": "1"}, "extra": {"S": "x"},
            "tags": {"SS": ["a", "b"]}, "gone": {"NS": ["2", "1"]}, "some": {"SS": ["a", "b"]},
            "list": {"L": [{"N": "1"}, {"N": "2"}]}, "dot": {"M": {"ted": {"S": "kept"}}}
        }),
    )
    .unwrap();
    let want = item(json!({
        "name": {"S": "new-name"}, "count": {"N": "10"}, "fresh": {"N": "-3"},
        "tags": {"SS": ["a", "b", "c"]}, "some": {"SS": ["a"]},
        "list": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "newlist": {"L": [{"S": "x"}]},
        "dot": {"M": {"ted": {"S": "kept"}}}, "dot.ted": {"BOOL": true}
    }));
    assert_eq!(got, want);
}

#[test]
fn type_mismatch_uses_the_legacy_message() {
    // dynalite test/updateItem.js, recorded from AWS.
    for (update, before) in [
        (json!({"b": {"Action": "DELETE", "Value": {"NS": ["1"]}}}), json!({"b": {"SS": ["1"]}})),
        (json!({"b": {"Action": "DELETE", "Value": {"NS": ["1"]}}}), json!({"b": {"N": "1"}})),
        (json!({"b": {"Action": "ADD", "Value": {"NS": ["1"]}}}), json!({"b": {"SS": ["1"]}})),
        (json!({"b": {"Action": "ADD", "Value": {"N": "1"}}}), json!({"b": {"S": "1"}})),
        (json!({"b": {"Action": "ADD", "Value": {"L": []}}}), json!({"b": {"SS": ["1"]}})),
    ] {
        assert_eq!(verr(apply(update, before)), MSG_TYPE_MISMATCH);
    }
    // Other errors pass through unchanged.
    let big = json!({"b": {"Action": "ADD", "Value": {"N": "9e125"}}});
    assert_eq!(
        verr(apply(big, json!({"b": {"N": "9e125"}}))),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    let other = crate::model::Error::validation("x");
    assert_eq!(legacy_update_error(other.clone()), other);
}

#[test]
fn messages_for_invalid_combinations() {
    let none = format!("{P}Only DELETE action is allowed when no attribute value is specified");
    assert_eq!(verr(attribute_updates(&json!({"a": {"x": "whatever"}}))), none);
    assert_eq!(verr(attribute_updates(&json!({"a": {"Action": "ADD"}}))), none);
    assert_eq!(verr(attribute_updates(&json!({"a": {"Action": "PUT", "Value": null}}))), none);
    for v in [
        json!({"S": "1"}),
        json!({"N": "1"}),
        json!({"B": "Yg=="}),
        json!({"NULL": true}),
        json!({"BOOL": true}),
        json!({"M": {}}),
        json!({"L": []}),
    ] {
        let t = v.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(
            verr(attribute_updates(&json!({"a": {"Action": "DELETE", "Value": v}}))),
            format!("{P}DELETE action with value is not supported for the type {t}")
        );
    }
    for v in [
        json!({"S": "1"}),
        json!({"B": "Yg=="}),
        json!({"NULL": true}),
        json!({"BOOL": true}),
        json!({"M": {}}),
    ] {
        let t = v.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(
            verr(attribute_updates(&json!({"a": {"Action": "ADD", "Value": v}}))),
            format!("{P}ADD action is not supported for the type {t}")
        );
    }
    // Value errors come first.
    assert_eq!(
        verr(attribute_updates(&json!({"a": {"Action": "ADD", "Value": {"S": "a", "N": "1"}}}))),
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of \
         the supported datatypes"
    );
    assert_eq!(
        verr(attribute_updates(&json!({"a": {"Action": "put", "Value": {"S": "x"}}}))),
        "1 validation error detected: Value 'put' at 'attributeUpdates.a.member.action' failed \
         to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
    );
}

#[test]
fn written_values_count_against_the_item_size_limit() {
    let big = "x".repeat(250_000);
    let two = json!({"a": {"Value": {"S": big}}, "b": {"Action": "ADD", "Value": {"SS": [big]}}});
    assert_eq!(
        verr(attribute_updates(&two)),
        "Item size to update has exceeded the maximum allowed size"
    );
    // DELETE values do not count.
    let del =
        json!({"a": {"Value": {"S": big}}, "b": {"Action": "DELETE", "Value": {"SS": [big]}}});
    assert!(attribute_updates(&del).is_ok());
}
