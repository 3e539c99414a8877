//! Every recorded case of docs/lambda-event-source-mappings.md §18 (LS-ddb
//! `test_dynamodb_event_filter` / `test_dynamodb_invalid_event_filter`, LS-kin
//! `test_kinesis_event_filtering_json_pattern`) against entries from the real renderers,
//! then each operator on literal entries.

use serde_json::{Value, json};

use super::*;
use crate::engine::WriteOrigin;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType};
use crate::engine::changelog::{ChangeRecord, EventName};
use crate::engine::streams::{StreamMeta, ViewType};
use crate::engine::triggers::event::{self, EventContext};
use crate::model::{AttributeValue, Item, Number};

fn cx() -> EventContext {
    EventContext {
        region: "us-east-1".into(),
        source_arn: "arn:aws:kinesis:us-east-1:111111111111:stream/s".into(),
        invoke_identity_arn: "arn:aws:iam::111111111111:role/sluice".into(),
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(v).unwrap())
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// A DynamoDB entry as the LS-ddb filter tests produce them: table keyed on `id`,
/// NEW_AND_OLD_IMAGES.
fn ddb(event: EventName, old: Option<Item>, new: Option<Item>) -> Vec<u8> {
    let stream = StreamMeta {
        table_name: "t".into(),
        table_id: 1,
        label: "2025-02-22T00:00:00.000".into(),
        view_type: ViewType::NewAndOldImages,
        created_ms: 0,
        disabled_ms: None,
        key_schema: KeySchema::new(KeyAttribute { name: "id".into(), ty: ScalarType::S }, None),
        shards: Vec::new(),
    };
    let change = ChangeRecord {
        seq: 1,
        created_ms: 1_739_000_000_123,
        event,
        origin: WriteOrigin::Client,
        event_id: [0xab; 16],
        old,
        new,
    };
    event::dynamodb(&change, 0, &stream, &cx())
}

fn insert(pairs: &[(&str, AttributeValue)]) -> Vec<u8> {
    ddb(EventName::Insert, None, Some(item(pairs)))
}

fn kinesis(partition_key: &str, data: &[u8]) -> Vec<u8> {
    event::kinesis("shardId-000000000000", "4959", partition_key, data, 1_545_084_650_987, &cx())
}

fn filters(patterns: &[Value], source: SourceKind) -> Filters {
    let list: Vec<Value> = patterns.iter().map(|p| json!({"Pattern": p.to_string()})).collect();
    compile(&json!({ "Filters": list }), source).unwrap().unwrap()
}

fn ddb_filter(pattern: Value) -> Filters {
    filters(&[pattern], SourceKind::DynamoDb)
}

/// One literal entry against one pattern (DynamoDB addressing: the entry as it is).
fn hit(pattern: Value, entry: Value) -> bool {
    ddb_filter(pattern).matches(entry.to_string().as_bytes())
}

fn invalid(pattern: &str, source: SourceKind) -> FilterError {
    compile(&json!({"Filters": [{"Pattern": pattern}]}), source).unwrap_err()
}

#[test]
fn recorded_insert_same_entry_twice() {
    let f = ddb_filter(json!({"eventName": ["INSERT"]}));
    let pairs = [("id", s("id_value")), ("id2", s("id2_value"))];
    assert!(f.matches(&insert(&pairs)));
    assert!(!f.matches(&ddb(EventName::Modify, Some(item(&pairs)), Some(item(&pairs)))));
}

#[test]
fn recorded_content_or_filter() {
    let f = ddb_filter(json!({"eventName": ["INSERT", "MODIFY"]}));
    let old = item(&[("id", s("id_value"))]);
    let new = item(&[("id", s("id_value")), ("id2", s("id2_new_value"))]);
    assert!(f.matches(&ddb(EventName::Insert, None, Some(old.clone()))));
    assert!(f.matches(&ddb(EventName::Modify, Some(old), Some(new))));
}

#[test]
fn recorded_content_filter_type_needs_the_type_key() {
    let f = ddb_filter(json!({"dynamodb": {"NewImage": {"presentKey": {"S": ["presentValue"]}}}}));
    let with = insert(&[("id", s("id_value_1")), ("presentKey", s("presentValue"))]);
    assert!(f.matches(&with));
    assert!(!f.matches(&insert(&[("id", s("id_value_2"))])));
    // Omitting "S" does not match (the test's comment, validated on AWS).
    let untyped = ddb_filter(json!({"dynamodb": {"NewImage": {"presentKey": ["presentValue"]}}}));
    assert!(!untyped.matches(&with));
}

#[test]
fn recorded_exists_filter_type() {
    let f =
        ddb_filter(json!({"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": true}]}}}}));
    let with = insert(&[("id", s("id_value_1")), ("presentKey", s("presentValue"))]);
    assert!(f.matches(&with));
    assert!(!f.matches(&insert(&[("id", s("id_value_2"))])));
    // Omitting "S": an object is no leaf, so it does not exist (the test's comment).
    let untyped = ddb_filter(json!({"dynamodb": {"NewImage": {"presentKey": [{"exists": true}]}}}));
    assert!(!untyped.matches(&with));
}

#[test]
fn recorded_exists_false_filter_matches_absent_and_object_values() {
    let f = ddb_filter(json!({"dynamodb": {"NewImage": {"presentKey": [{"exists": false}]}}}));
    assert!(f.matches(&insert(&[("id", s("id_value_1"))])));
    assert!(f.matches(&insert(&[("id", s("id_value_2")), ("presentKey", s("presentValue"))])));
}

#[test]
fn recorded_numeric_filter_does_not_read_n_strings_as_numbers() {
    let f = ddb_filter(json!({"dynamodb": {"NewImage": {"numericFilter": {
        "N": [{"numeric": [">", 100]}, {"anything-but": "101"}]
    }}}}));
    assert!(f.matches(&insert(&[("id", s("id_value_1")), ("numericFilter", n("42"))])));
    assert!(!f.matches(&insert(&[("id", s("id_value_2")), ("numericFilter", n("101"))])));
    let numeric =
        ddb_filter(json!({"dynamodb": {"NewImage": {"v": {"N": [{"numeric": [">", 100]}]}}}}));
    assert!(!numeric.matches(&insert(&[("id", s("x")), ("v", n("142"))])));
}

#[test]
fn recorded_prefix_filter() {
    let f = ddb_filter(json!({"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}));
    assert!(f.matches(&insert(&[("id", s("id_value_1")), ("prefix", s("us-1-other-suffix"))])));
    assert!(!f.matches(&insert(&[("id", s("id_value_1")), ("prefix", s("other-suffix"))])));
}

#[test]
fn recorded_date_time_conversion_is_a_number() {
    let f =
        ddb_filter(json!({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}));
    assert!(f.matches(&insert(&[("id", s("id_value_1"))])));
    assert!(f.matches(&insert(&[("id", s("id_value_2"))])));
}

#[test]
fn documented_keys_pattern() {
    let f = ddb_filter(json!({"dynamodb": {"Keys": {"id": {"S": ["101"]}}}}));
    assert!(f.matches(&insert(&[("id", s("101"))])));
    assert!(!f.matches(&insert(&[("id", s("102"))])));
}

#[test]
fn recorded_kinesis_json_pattern_splits_two_mappings() {
    let one = filters(&[json!({"data": {"event_type": ["function_1"]}})], SourceKind::Kinesis);
    let two = filters(&[json!({"data": {"event_type": ["function_2"]}})], SourceKind::Kinesis);
    let msg1 = kinesis("custom", br#"{"event_type": "function_1", "message": "foo"}"#);
    let msg2 = kinesis("custom", br#"{"event_type": "function_2", "message": "bar"}"#);
    assert!(one.matches(&msg1) && !one.matches(&msg2));
    assert!(two.matches(&msg2) && !two.matches(&msg1));
}

#[test]
fn kinesis_non_json_data_fails_only_patterns_naming_data() {
    let f = filters(&[json!({"data": {"a": [{"exists": false}]}})], SourceKind::Kinesis);
    assert!(!f.matches(&kinesis("p", b"hello")));
    assert!(f.matches(&kinesis("p", b"{}")));
    let or = filters(
        &[json!({"data": {"a": [1]}}), json!({"kinesis": {"partitionKey": ["p"]}})],
        SourceKind::Kinesis,
    );
    assert!(or.matches(&kinesis("p", b"not json")));
    assert!(!or.matches(&kinesis("q", b"not json")));
}

#[test]
fn kinesis_metadata_under_kinesis_or_at_the_root() {
    let nested = filters(&[json!({"kinesis": {"partitionKey": ["a"]}})], SourceKind::Kinesis);
    let root = filters(
        &[json!({"partitionKey": ["a"], "eventName": ["aws:kinesis:record"]})],
        SourceKind::Kinesis,
    );
    for f in [nested, root] {
        assert!(f.matches(&kinesis("a", b"x")));
        assert!(!f.matches(&kinesis("b", b"x")));
    }
}

#[test]
fn kinesis_data_arrays_and_nesting() {
    let f = filters(
        &[json!({"data": {"tags": ["red"], "order": {"lines": {"sku": [{"prefix": "B-"}]}}}})],
        SourceKind::Kinesis,
    );
    let yes = br#"{"tags": ["blue", "red"], "order": {"lines": [{"sku": "A-1"}, {"sku": "B-2"}]}}"#;
    let no = br#"{"tags": ["blue"], "order": {"lines": [{"sku": "B-2"}]}}"#;
    assert!(f.matches(&kinesis("p", yes)));
    assert!(!f.matches(&kinesis("p", no)));
}

#[test]
fn kinesis_data_pattern_must_be_nested_patterns() {
    for p in [r#"{"data": ["x"]}"#, r#"{"data": [{"exists": true}]}"#] {
        assert_eq!(invalid(p, SourceKind::Kinesis), FilterError::InvalidPattern);
        // DynamoDB has no payload: `data` is an ordinary key there.
        assert!(compile(&json!({"Filters": [{"Pattern": p}]}), SourceKind::DynamoDb).is_ok());
    }
}

#[test]
fn recorded_invalid_patterns_have_aws_message() {
    for p in ["single-string", r#"[{"eventName": ["INSERT"=123}]"#] {
        let e = invalid(p, SourceKind::DynamoDb);
        assert_eq!(e.to_string(), "Invalid filter pattern definition.");
    }
}

#[test]
fn malformed_patterns_are_invalid() {
    let cases = [
        r#"[{"eventName": ["INSERT"]}]"#,
        r#""text""#,
        r#"{"a": "x"}"#,
        r#"{"a": 1}"#,
        r#"{"a": []}"#,
        r#"{"a": [["x"]]}"#,
        r#"{"a": [{"contains": "x"}]}"#,
        r#"{"a": [{"cidr": "10.0.0.0/24"}]}"#,
        r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
        r#"{"a": [{"prefix": 1}]}"#,
        r#"{"a": [{"exists": "true"}]}"#,
        r#"{"a": [{"numeric": []}]}"#,
        r#"{"a": [{"numeric": [">", "1"]}]}"#,
        r#"{"a": [{"numeric": ["!=", 1]}]}"#,
        r#"{"a": [{"numeric": [">", 1, ">", 2]}]}"#,
        r#"{"a": [{"numeric": ["=", 1, "<", 2]}]}"#,
        r#"{"a": [{"numeric": [">", 1, "<"]}]}"#,
        r#"{"a": [{"anything-but": []}]}"#,
        r#"{"a": [{"anything-but": true}]}"#,
        r#"{"a": [{"anything-but": {"exists": true}}]}"#,
        r#"{"a": [{"wildcard": "a**b"}]}"#,
    ];
    for p in cases {
        assert_eq!(invalid(p, SourceKind::DynamoDb), FilterError::InvalidPattern, "{p}");
    }
    let no_pattern = compile(&json!({"Filters": [{}]}), SourceKind::DynamoDb);
    assert_eq!(no_pattern.unwrap_err(), FilterError::InvalidPattern);
}

#[test]
fn no_filters_compile_to_none() {
    for c in [json!(null), json!({}), json!({"Filters": []}), json!({"Filters": null})] {
        assert!(compile(&c, SourceKind::Kinesis).unwrap().is_none(), "{c}");
    }
}

#[test]
fn more_than_five_filters_are_refused() {
    let list: Vec<Value> =
        (0..6).map(|i| json!({"Pattern": format!(r#"{{"a": [{i}]}}"#)})).collect();
    let e = compile(&json!({"Filters": list[..6]}), SourceKind::DynamoDb).unwrap_err();
    assert_eq!(e, FilterError::TooManyFilters(6));
    assert!(compile(&json!({"Filters": list[..5]}), SourceKind::DynamoDb).is_ok());
}

#[test]
fn duplicate_keys_last_wins() {
    let f = compile(
        &json!({"Filters": [{"Pattern": r#"{"eventName": ["INSERT"], "eventName": ["REMOVE"]}"#}]}),
        SourceKind::DynamoDb,
    )
    .unwrap()
    .unwrap();
    assert!(f.matches(br#"{"eventName": "REMOVE"}"#));
    assert!(!f.matches(br#"{"eventName": "INSERT"}"#));
}

#[test]
fn filters_are_ored_and_fields_anded() {
    let f = filters(&[json!({"a": ["1"], "b": ["2"]}), json!({"c": ["3"]})], SourceKind::DynamoDb);
    assert!(f.matches(br#"{"a": "1", "b": "2"}"#));
    assert!(!f.matches(br#"{"a": "1", "b": "x"}"#));
    assert!(f.matches(br#"{"a": "1", "c": "3"}"#));
    assert!(!f.matches(br#"{}"#));
    assert!(!f.matches(b"not json"));
}

#[test]
fn exact_values() {
    assert!(hit(json!({"a": ["Alice"]}), json!({"a": "Alice"})));
    assert!(!hit(json!({"a": ["Alice"]}), json!({"a": "alice"})));
    assert!(hit(json!({"a": [null]}), json!({"a": null})));
    assert!(!hit(json!({"a": [null]}), json!({})));
    assert!(hit(json!({"a": [""]}), json!({"a": ""})));
    assert!(!hit(json!({"a": [""]}), json!({"a": null})));
    assert!(hit(json!({"a": [true]}), json!({"a": true})));
    assert!(hit(json!({"a": [300]}), json!({"a": 300})));
    assert!(!hit(json!({"a": [300]}), json!({"a": 300.0})));
    assert!(!hit(json!({"a": [300]}), json!({"a": "300"})));
    assert!(!hit(json!({"a": ["300"]}), json!({"a": 300})));
    assert!(hit(json!({"a": ["x", "y"]}), json!({"a": "y"})));
}

#[test]
fn prefix_suffix_and_equals_ignore_case_on_strings_only() {
    assert!(hit(json!({"a": [{"prefix": "us-"}]}), json!({"a": "us-east"})));
    assert!(!hit(json!({"a": [{"prefix": "us-"}]}), json!({"a": "eu-us-"})));
    assert!(hit(json!({"a": [{"suffix": ".png"}]}), json!({"a": "x.png"})));
    assert!(!hit(json!({"a": [{"suffix": "1"}]}), json!({"a": 11})));
    assert!(hit(json!({"a": [{"equals-ignore-case": "ÄLICE"}]}), json!({"a": "älice"})));
    assert!(!hit(json!({"a": [{"equals-ignore-case": "alice"}]}), json!({"a": "alicia"})));
}

#[test]
fn anything_but_forms() {
    let e = |v: Value| json!({"a": v});
    assert!(hit(json!({"a": [{"anything-but": "x"}]}), e(json!("y"))));
    assert!(!hit(json!({"a": [{"anything-but": "x"}]}), e(json!("x"))));
    assert!(!hit(json!({"a": [{"anything-but": "x"}]}), json!({})));
    assert!(!hit(json!({"a": [{"anything-but": 1}]}), e(json!(1))));
    assert!(hit(json!({"a": [{"anything-but": 1}]}), e(json!("1"))));
    assert!(!hit(json!({"a": [{"anything-but": ["x", 2]}]}), e(json!(2))));
    assert!(hit(json!({"a": [{"anything-but": ["x", 2]}]}), e(json!("z"))));
    assert!(!hit(json!({"a": [{"anything-but": {"prefix": "in"}}]}), e(json!("init"))));
    assert!(hit(json!({"a": [{"anything-but": {"prefix": "in"}}]}), e(json!("out"))));
    assert!(!hit(json!({"a": [{"anything-but": {"suffix": ".txt"}}]}), e(json!("a.txt"))));
    let ignore_case = json!({"a": [{"anything-but": {"equals-ignore-case": ["A", "b"]}}]});
    assert!(!hit(ignore_case.clone(), e(json!("B"))));
    assert!(hit(ignore_case, e(json!("c"))));
    assert!(!hit(json!({"a": [{"anything-but": {"wildcard": "*.txt"}}]}), e(json!("a.txt"))));
}

#[test]
fn numeric_operators_and_ranges() {
    let num = |terms: Value, v: Value| hit(json!({"a": [{"numeric": terms}]}), json!({"a": v}));
    assert!(num(json!(["=", 100]), json!(100)));
    assert!(num(json!(["=", 100]), json!(100.0)));
    assert!(!num(json!(["=", 100]), json!(100.5)));
    assert!(num(json!(["<", 0]), json!(-1)) && !num(json!(["<", 0]), json!(0)));
    assert!(num(json!(["<=", 0]), json!(0)));
    assert!(num(json!([">=", 1.5]), json!(1.5)) && !num(json!([">", 1.5]), json!(1.5)));
    let range = json!([">", 10, "<=", 20]);
    assert!(!num(range.clone(), json!(10)) && num(range.clone(), json!(11)));
    assert!(num(range.clone(), json!(20)) && !num(range, json!(20.1)));
    assert!(num(json!(["<", 5, ">=", 1]), json!(1)));
    assert!(!num(json!([">", 0]), json!("5")));
    assert!(!num(json!([">", 0]), json!(null)));
}

#[test]
fn exists_sees_scalar_leaves_only() {
    let yes = json!({"a": [{"exists": true}]});
    let no = json!({"a": [{"exists": false}]});
    for (entry, present) in [
        (json!({"a": "x"}), true),
        (json!({"a": null}), true),
        (json!({"a": [1]}), true),
        (json!({}), false),
        (json!({"a": {"S": "x"}}), false),
        (json!({"a": []}), false),
    ] {
        assert_eq!(hit(yes.clone(), entry.clone()), present, "{entry}");
        assert_eq!(hit(no.clone(), entry.clone()), !present, "{entry}");
    }
    // Below an absent object, absence is all there is.
    assert!(hit(json!({"x": {"y": [{"exists": false}]}}), json!({})));
    assert!(!hit(json!({"x": {"y": [{"exists": true}]}}), json!({"x": "scalar"})));
}

#[test]
fn wildcard() {
    let w = |p: &str, v: &str| hit(json!({"a": [{"wildcard": p}]}), json!({"a": v}));
    assert!(w("dir/*.png", "dir/a.png") && !w("dir/*.png", "dir/a.jpg"));
    assert!(w("*", "") && w("a*b*c", "abc") && w("a*b*c", "axbyc") && !w("a*b*c", "acb"));
    assert!(w("ab*ba", "abba") && !w("ab*ba", "aba"));
    assert!(w(r"a\*", "a*") && !w(r"a\*", "ab"));
    assert!(w("exact", "exact") && !w("exact", "exactly"));
}

#[test]
fn leaf_arrays_match_on_any_element() {
    assert!(hit(json!({"a": ["x"]}), json!({"a": ["w", "x"]})));
    assert!(hit(json!({"a": [{"numeric": [">", 5]}]}), json!({"a": [1, [9]]})));
    assert!(!hit(json!({"a": ["x"]}), json!({"a": [{"b": "x"}]})));
}
