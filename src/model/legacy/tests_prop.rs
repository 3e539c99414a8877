//! Property tests for the legacy converters: the converted conditions mean what the
//! legacy operators mean, on any item.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::model::value::testing::{arb_attribute_value, arb_item, arb_number, arb_string};
use crate::model::{AttributeValue, Item};

fn eval(c: &Option<Condition>, item: &Item) -> bool {
    c.as_ref().expect("a condition").eval(item).expect("evaluates")
}

fn exp(name: &str, op: &str, list: Vec<&AttributeValue>) -> Option<Condition> {
    let list: Vec<Value> = list.into_iter().map(AttributeValue::to_json).collect();
    let mut e = serde_json::Map::new();
    e.insert(name.to_owned(), json!({"ComparisonOperator": op, "AttributeValueList": list}));
    expected(&Value::Object(e), None).expect("valid Expected")
}

/// An item that may or may not hold `name`, with any other attributes.
fn arb_case() -> impl Strategy<Value = (Item, String, AttributeValue)> {
    (arb_item(), arb_string(), arb_attribute_value(), any::<bool>()).prop_map(
        |(mut item, name, v, present)| {
            if present {
                item.insert(name.clone(), v.clone());
            }
            (item, name, v)
        },
    )
}

proptest! {
    #[test]
    fn expected_value_holds_exactly_on_that_value((item, name, v) in arb_case()) {
        let mut e = serde_json::Map::new();
        e.insert(name.clone(), json!({"Value": v.to_json()}));
        let c = expected(&Value::Object(e), None).unwrap();
        prop_assert_eq!(eval(&c, &item), item.get(&name) == Some(&v));
        prop_assert_eq!(&exp(&name, "EQ", vec![&v]), &c);
        let mut with = item.clone();
        with.insert(name.clone(), v.clone());
        prop_assert!(eval(&c, &with));
    }

    #[test]
    fn ne_is_not_eq_even_on_missing_attributes((item, name, v) in arb_case()) {
        let ne = exp(&name, "NE", vec![&v]);
        let eq = exp(&name, "EQ", vec![&v]);
        prop_assert_eq!(eval(&ne, &item), !eval(&eq, &item));
    }

    #[test]
    fn null_and_not_null_test_presence((item, name, _v) in arb_case()) {
        let present = item.contains_key(&name);
        prop_assert_eq!(eval(&exp(&name, "NOT_NULL", vec![]), &item), present);
        prop_assert_eq!(eval(&exp(&name, "NULL", vec![]), &item), !present);
        let mut e = serde_json::Map::new();
        e.insert(name.clone(), json!({"Exists": false}));
        prop_assert_eq!(eval(&expected(&Value::Object(e), None).unwrap(), &item), !present);
    }

    #[test]
    fn not_contains_needs_the_attribute(
        (item, name, _v) in arb_case(),
        probe in prop_oneof![
            arb_string().prop_map(AttributeValue::S),
            arb_number().prop_map(AttributeValue::N),
        ],
    ) {
        let contains = eval(&exp(&name, "CONTAINS", vec![&probe]), &item);
        let not_contains = eval(&exp(&name, "NOT_CONTAINS", vec![&probe]), &item);
        prop_assert_eq!(not_contains, item.contains_key(&name) && !contains);
    }

    #[test]
    fn number_ordering_operators_follow_numeric_order(
        x in arb_number(),
        y in arb_number(),
        name in arb_string(),
    ) {
        let mut item = Item::new();
        item.insert(name.clone(), AttributeValue::N(x.clone()));
        let yv = AttributeValue::N(y.clone());
        prop_assert_eq!(eval(&exp(&name, "LT", vec![&yv]), &item), x < y);
        prop_assert_eq!(eval(&exp(&name, "LE", vec![&yv]), &item), x <= y);
        prop_assert_eq!(eval(&exp(&name, "GT", vec![&yv]), &item), x > y);
        prop_assert_eq!(eval(&exp(&name, "GE", vec![&yv]), &item), x >= y);
        let (lo, hi) = if x <= y { (x.clone(), y.clone()) } else { (y.clone(), x.clone()) };
        let (lo, hi) = (AttributeValue::N(lo), AttributeValue::N(hi));
        prop_assert!(eval(&exp(&name, "BETWEEN", vec![&lo, &hi]), &item));
        prop_assert!(eval(&exp(&name, "IN", vec![&hi, &lo]), &item));
    }

    #[test]
    fn conditional_operator_is_and_or_or((item, a, va) in arb_case(), (_, b, vb) in arb_case()) {
        prop_assume!(a != b);
        let mut e = serde_json::Map::new();
        e.insert(a.clone(), json!({"Value": va.to_json()}));
        let ne = json!({"ComparisonOperator": "NE", "AttributeValueList": [vb.to_json()]});
        e.insert(b.clone(), ne);
        let e = Value::Object(e);
        let first = item.get(&a) == Some(&va);
        let second = item.get(&b) != Some(&vb);
        prop_assert_eq!(eval(&expected(&e, Some("AND")).unwrap(), &item), first && second);
        prop_assert_eq!(eval(&expected(&e, None).unwrap(), &item), first && second);
        prop_assert_eq!(eval(&expected(&e, Some("OR")).unwrap(), &item), first || second);
    }

    #[test]
    fn attributes_to_get_keeps_just_those_attributes(
        item in arb_item(),
        names in proptest::collection::btree_set(arb_string(), 1..4),
    ) {
        let names: Vec<String> = names.into_iter().collect();
        let got = attributes_to_get(&names).unwrap().apply(&item);
        let want: Item = item
            .iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn put_and_delete_updates_write_and_remove((item, name, v) in arb_case()) {
        let mut put = serde_json::Map::new();
        put.insert(name.clone(), json!({"Value": v.to_json()}));
        let mut it = item.clone();
        attribute_updates(&Value::Object(put)).unwrap().apply(&mut it).unwrap();
        prop_assert_eq!(it.get(&name), Some(&v));
        let mut del = serde_json::Map::new();
        del.insert(name.clone(), json!({"Action": "DELETE"}));
        attribute_updates(&Value::Object(del)).unwrap().apply(&mut it).unwrap();
        let mut want = item.clone();
        want.remove(&name);
        prop_assert_eq!(it, want);
    }

    #[test]
    fn add_number_adds(x in arb_number(), y in arb_number(), present in any::<bool>()) {
        let mut item = Item::new();
        if present {
            item.insert("n".into(), AttributeValue::N(x.clone()));
        }
        let add = json!({"n": {"Action": "ADD", "Value": {"N": y.to_string()}}});
        let u = attribute_updates(&add).unwrap();
        let base = if present { x } else { crate::model::Number::zero() };
        match (u.apply(&mut item), base.checked_add(&y)) {
            (Ok(()), Ok(sum)) => prop_assert_eq!(item.get("n"), Some(&AttributeValue::N(sum))),
            (Err(e), Err(want)) => prop_assert_eq!(e, want),
            (got, want) => prop_assert!(false, "apply {:?}, sum {:?}", got, want),
        }
    }
}
