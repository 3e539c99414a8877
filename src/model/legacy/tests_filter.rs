//! Unit tests for `QueryFilter` / `ScanFilter` and `KeyConditions`.

use serde_json::{Value, json};

use super::tests::{av, holds, item, verr};
use super::*;
use crate::model::expr::{KeyOp, KeyPart};

const P: &str = "One or more parameter values were invalid: ";

/// `ScanFilter: {"a": {"ComparisonOperator": op, "AttributeValueList": list}}`.
fn sf(op: &str, list: Value) -> Result<Option<Condition>, crate::model::Error> {
    scan_filter(&json!({"a": {"ComparisonOperator": op, "AttributeValueList": list}}), None)
}

#[test]
fn filters_convert_and_join() {
    assert_eq!(scan_filter(&Value::Null, None).unwrap(), None);
    let f = json!({
        "name": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "alpha"}]},
        "val": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "20"}]}
    });
    let and = scan_filter(&f, None).unwrap();
    let or = scan_filter(&f, Some("OR")).unwrap();
    let it = item(json!({"name": {"S": "alpha-one"}, "val": {"N": "10"}}));
    assert!(!holds(&and, &it));
    assert!(holds(&or, &it));
    assert!(holds(&and, &item(json!({"name": {"S": "alpha-five"}, "val": {"N": "50"}}))));
    assert_eq!(query_filter(&f, Some("AND")).unwrap(), and);
    assert_eq!(filter(&f, None, "ScanFilter").unwrap(), and);
}

#[test]
fn filter_constraints_name_the_parameter() {
    let f = json!({"a": {"AttributeValueList": [{"S": "x"}]}});
    assert_eq!(
        verr(query_filter(&f, None)),
        "1 validation error detected: Value null at 'queryFilter.a.member.comparisonOperator' \
         failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        filter_violations(&json!({"k": {"ComparisonOperator": "eq"}}), "KeyConditions"),
        vec![
            "Value 'eq' at 'keyConditions.k.member.comparisonOperator' failed to satisfy \
             constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, \
             NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
                .to_string()
        ]
    );
}

#[test]
fn filter_conditional_operator_rules() {
    let one = json!({"a": {"ComparisonOperator": "NULL"}});
    assert_eq!(
        verr(scan_filter(&one, Some("AND"))),
        "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    );
    assert_eq!(
        verr(scan_filter(&Value::Null, Some("OR"))),
        "ConditionalOperator cannot be used without Filter or Expected"
    );
    assert_eq!(
        verr(scan_filter(&json!({"a": null}), None)),
        "The filter condition for an attribute cannot be null: a"
    );
}

#[test]
fn value_errors_come_before_the_argument_count() {
    // dynalite test/scan.js: bad values in a list that is also too long.
    for bad in [json!({}), json!({"a": ""})] {
        let f = json!({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [bad, {"S": ""}]}});
        assert_eq!(
            verr(scan_filter(&f, None)),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
    }
    let f =
        json!({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}, {"SS": []}]}});
    assert_eq!(verr(scan_filter(&f, None)), format!("{P}An string set  may not be empty"));
}

#[test]
fn argument_counts() {
    // dynalite test/scan.js "incorrect number of ScanFilter arguments", recorded.
    let s = || json!({"S": "a"});
    let cases = [
        ("EQ", json!(null)),
        ("EQ", json!([])),
        ("NE", json!(null)),
        ("LE", json!(null)),
        ("LT", json!(null)),
        ("GE", json!(null)),
        ("GT", json!(null)),
        ("CONTAINS", json!(null)),
        ("NOT_CONTAINS", json!(null)),
        ("BEGINS_WITH", json!(null)),
        ("IN", json!(null)),
        ("BETWEEN", json!(null)),
        ("NULL", json!([s()])),
        ("NOT_NULL", json!([s()])),
        ("EQ", json!([s(), s()])),
        ("NE", json!([s(), s()])),
        ("LE", json!([s(), s()])),
        ("LT", json!([s(), s()])),
        ("GE", json!([s(), s()])),
        ("GT", json!([s(), s()])),
        ("CONTAINS", json!([s(), s()])),
        ("NOT_CONTAINS", json!([s(), s()])),
        ("BEGINS_WITH", json!([s(), s()])),
        ("NULL", json!([s(), s()])),
        ("NOT_NULL", json!([s(), s()])),
        ("BETWEEN", json!([s(), s(), s()])),
    ];
    for (op, list) in cases {
        let f = json!({"a": {"ComparisonOperator": op, "AttributeValueList": list}});
        assert_eq!(
            verr(scan_filter(&f, None)),
            format!("{P}Invalid number of argument(s) for the {op} ComparisonOperator"),
            "{f}"
        );
    }
    let f = json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": [s(), s(), s()]}});
    assert!(scan_filter(&f, None).is_ok());
}

#[test]
fn value_types_per_operator() {
    // dynalite test/scan.js "invalid ComparisonOperator types", recorded from AWS.
    let bool_ = json!({"BOOL": true});
    let null = json!({"NULL": true});
    let ss = json!({"SS": ["a"]});
    let ns = json!({"NS": ["1"]});
    let bs = json!({"BS": ["abcd"]});
    let m = json!({"M": {}});
    let l = json!({"L": []});
    let all_non_scalar = [&bool_, &null, &ss, &ns, &bs, &m, &l];
    let mut refused: Vec<(&str, &Value)> = Vec::new();
    for op in ["LT", "LE", "GT", "GE", "IN"] {
        refused.extend(all_non_scalar.iter().map(|v| (op, *v)));
    }
    for op in ["CONTAINS", "NOT_CONTAINS"] {
        refused.extend([&ss, &ns, &bs, &m, &l].iter().map(|v| (op, *v)));
    }
    let n = json!({"N": "1"});
    refused.extend([&n, &bool_, &null, &ss, &ns, &bs, &m, &l].iter().map(|v| ("BEGINS_WITH", *v)));
    for (op, v) in refused {
        let f = json!({"a": {"ComparisonOperator": op, "AttributeValueList": [v]}});
        let t = v.as_object().unwrap().keys().next().unwrap();
        assert_eq!(
            verr(scan_filter(&f, None)),
            format!("{P}ComparisonOperator {op} is not valid for {t} AttributeValue type"),
            "{f}"
        );
    }
    for v in all_non_scalar {
        let pair = json!([v, v]);
        let f = json!({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": pair}});
        let t = v.as_object().unwrap().keys().next().unwrap();
        assert_eq!(
            verr(scan_filter(&f, None)),
            format!("{P}ComparisonOperator BETWEEN is not valid for {t} AttributeValue type")
        );
    }
    // Accepted: EQ / NE on anything, CONTAINS on BOOL and NULL, BEGINS_WITH on B.
    let accepted = [
        ("EQ", &ss),
        ("NE", &m),
        ("EQ", &l),
        ("EQ", &bool_),
        ("CONTAINS", &bool_),
        ("NOT_CONTAINS", &null),
        ("BEGINS_WITH", &json!({"B": "YQ=="})),
    ];
    for (op, v) in accepted {
        let f = json!({"a": {"ComparisonOperator": op, "AttributeValueList": [v]}});
        assert!(scan_filter(&f, None).is_ok(), "{f}");
    }
}

#[test]
fn operator_type_is_checked_before_sameness() {
    // DynamoDB Local checks each value's type for the operator, then against the
    // first value's type.
    assert_eq!(
        verr(sf("IN", json!([{"S": "x"}, {"BOOL": true}]))),
        format!("{P}ComparisonOperator IN is not valid for BOOL AttributeValue type")
    );
    assert_eq!(
        verr(sf("BETWEEN", json!([{"N": "1"}, {"S": "2"}]))),
        format!("{P}AttributeValues inside AttributeValueList must be of same type")
    );
    assert!(
        verr(sf("BETWEEN", json!([{"N": "10"}, {"N": "9"}])))
            .starts_with("The BETWEEN condition was provided a range")
    );
    assert!(
        verr(sf("BETWEEN", json!([{"B": "Ag=="}, {"B": "AQ=="}])))
            .starts_with("The BETWEEN condition")
    );
    assert!(sf("BETWEEN", json!([{"N": "-1"}, {"N": "-1"}])).is_ok(), "equal bounds are fine");
}

fn kc(j: Value) -> LegacyKeyConditions {
    key_conditions(&j).unwrap().unwrap()
}

#[test]
fn key_conditions_convert_and_resolve() {
    assert_eq!(key_conditions(&Value::Null).unwrap(), None);
    let k = kc(json!({
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]}
    }));
    let got = k.resolve(("pk", "S"), Some(("sk", "N"))).unwrap();
    assert_eq!(got.hash, ("pk".to_string(), av(json!({"S": "p"}))));
    assert_eq!(
        got.range,
        Some(KeyPart {
            name: "sk".into(),
            op: KeyOp::Between(av(json!({"N": "1"})), av(json!({"N": "5"})))
        })
    );
    let hash_only =
        kc(json!({"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}}));
    let got = hash_only.resolve(("pk", "S"), Some(("sk", "N"))).unwrap();
    assert_eq!(got.range, None);
    for (op, list, want) in [
        ("LT", json!([{"N": "3"}]), KeyOp::Lt(av(json!({"N": "3"})))),
        ("LE", json!([{"N": "3"}]), KeyOp::Le(av(json!({"N": "3"})))),
        ("GT", json!([{"N": "3"}]), KeyOp::Gt(av(json!({"N": "3"})))),
        ("GE", json!([{"N": "3"}]), KeyOp::Ge(av(json!({"N": "3"})))),
        ("EQ", json!([{"N": "3"}]), KeyOp::Eq(av(json!({"N": "3"})))),
    ] {
        let k = kc(json!({
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
            "sk": {"ComparisonOperator": op, "AttributeValueList": list}
        }));
        assert_eq!(k.resolve(("pk", "S"), Some(("sk", "N"))).unwrap().range.unwrap().op, want);
    }
    let k = kc(json!({
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "al"}]}
    }));
    let r = k.resolve(("pk", "S"), Some(("sk", "S"))).unwrap().range.unwrap();
    assert_eq!(r.op, KeyOp::BeginsWith(av(json!({"S": "al"}))));
}

#[test]
fn key_condition_messages() {
    let eq = |v: &str| json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"S": v}]});
    let msg = |j: Value, hash: (&str, &str), range: Option<(&str, &str)>| {
        verr(kc(j).resolve(hash, range))
    };
    let length = "Conditions can be of length 1 or 2 only";
    assert_eq!(verr(key_conditions(&json!({}))), length);
    // Three to eight wait for the key schema: only a multi-attribute GSI key takes them.
    let three = json!({"a": eq("1"), "b": eq("2"), "c": eq("3")});
    assert_eq!(msg(three.clone(), ("a", "S"), Some(("b", "S"))), length);
    let got = kc(three).resolve_multi(&[("a", "S")], &[("b", "S"), ("c", "S")]).unwrap();
    assert_eq!(got.equal, vec![("b".to_string(), av(json!({"S": "2"})))]);
    let nine: serde_json::Map<String, Value> = (0..9).map(|i| (format!("k{i}"), eq("1"))).collect();
    assert_eq!(verr(key_conditions(&Value::Object(nine))), length);
    assert_eq!(
        verr(key_conditions(&json!({"a": {"AttributeValueList": []}}))),
        "1 validation error detected: Value null at 'keyConditions.a.member.comparisonOperator' \
         failed to satisfy constraint: Member must not be null"
    );
    // Entry checks come before the count.
    assert_eq!(
        verr(key_conditions(
            &json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": [{"S": "b"}, {"N": "1"}]}})
        )),
        format!("{P}AttributeValues inside AttributeValueList must be of same type")
    );
    let unsupported = "Query key condition not supported";
    assert_eq!(msg(json!({"pk": eq("p"), "x": eq("q")}), ("pk", "S"), None), unsupported);
    assert_eq!(
        msg(json!({"x": eq("p")}), ("pk", "S"), Some(("sk", "S"))),
        "Query condition missed key schema element: pk"
    );
    assert_eq!(
        msg(json!({"pk": eq("p"), "x": eq("q")}), ("pk", "S"), Some(("sk", "S"))),
        "Query condition missed key schema element: sk"
    );
    let not_indexable = "Attempted conditional constraint is not an indexable operation";
    for op in ["NE", "IN", "CONTAINS", "NOT_CONTAINS"] {
        let sk = json!({"ComparisonOperator": op, "AttributeValueList": [{"S": "q"}]});
        let j = json!({"pk": eq("p"), "sk": sk});
        assert_eq!(msg(j, ("pk", "S"), Some(("sk", "S"))), not_indexable, "{op}");
    }
    for op in ["NULL", "NOT_NULL"] {
        let j = json!({"pk": {"ComparisonOperator": op}});
        assert_eq!(msg(j, ("pk", "S"), None), not_indexable, "{op}");
    }
    assert_eq!(
        msg(json!({"pk": eq("p")}), ("pk", "N"), None),
        format!("{P}Condition parameter type does not match schema type")
    );
    let gt = json!({"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]});
    let range_type = json!({"pk": eq("p"), "sk": gt});
    assert_eq!(
        msg(range_type, ("pk", "S"), Some(("sk", "S"))),
        format!("{P}Condition parameter type does not match schema type")
    );
    let hash_gt = json!({"pk": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "p"}]}});
    assert_eq!(msg(hash_gt, ("pk", "S"), None), unsupported);
    // The type check comes before the hash key's operator check.
    let hash_gt_n = json!({"pk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]}});
    assert_eq!(
        msg(hash_gt_n, ("pk", "S"), None),
        format!("{P}Condition parameter type does not match schema type")
    );
}
