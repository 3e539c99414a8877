//! Table-driven tests of KeyConditionExpression (dynalite's test/query.js and
//! nubo-db's conformance suite, both recorded from AWS) and of the schema check.

use super::tests_util::{av, err, values};
use super::{ExprContext, KeyConditionExpr, KeyOp, KeyPart, parse_key_condition};

fn parse(expr: &str, vals: &str) -> Result<KeyConditionExpr, crate::model::Error> {
    let v = values(vals);
    parse_key_condition(expr, &mut ExprContext::new(None, Some(&v)))
}

const AB: &str = r#"{":a":{"S":"1"},":b":{"S":"1"},":t":{"S":"S"}}"#;

#[test]
fn structure_messages() {
    let cases: &[(&str, &str)] = &[
        ("a > b and size(b) > c or a > c", "Invalid operator used in KeyConditionExpression: OR"),
        ("a in (b, size(c), d)", "Invalid operator used in KeyConditionExpression: IN"),
        (
            "attribute_exists(a)",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "attribute_not_exists(a)",
            "Invalid operator used in KeyConditionExpression: attribute_not_exists",
        ),
        ("contains(a.d, b)", "Invalid operator used in KeyConditionExpression: contains"),
        ("not a > b", "Invalid operator used in KeyConditionExpression: NOT"),
        ("a <> b", "Invalid operator used in KeyConditionExpression: <>"),
        (
            "attribute_type(a, :t)",
            "Invalid operator used in KeyConditionExpression: attribute_type",
        ),
        (
            ":a between size(b) and size(a) and b > :b",
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
        ),
        (
            "begins_with(:a, b) and a > :b",
            "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
        ),
        (
            "size(b) > a AND a.b > b AND b > c",
            "KeyConditionExpressions cannot contain nested operations",
        ),
        ("a > size(b.d)", "KeyConditionExpressions cannot contain nested operations"),
        (
            "a between size(b) and size(a)",
            "KeyConditionExpressions cannot contain nested operations",
        ),
        (
            "b > a.b",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            "b between c[1] and d",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            "a between b and size(a)",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            "begins_with(a, b)",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            "b.d > a AND c.d > e.f",
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        ("a.d > c", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("b[0] > a", "KeyConditionExpressions cannot have conditions on nested attributes"),
        (
            ":b > :a AND a < :b",
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ),
        (
            "b > :a AND b < :a and c = :a",
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "(a > :a and b > :a) and (b > :a and c > :a)",
            "KeyConditionExpressions must only contain one condition per key",
        ),
    ];
    for (expr, msg) in cases {
        assert_eq!(
            err(parse(expr, AB)),
            format!("Invalid KeyConditionExpression: {msg}"),
            "{expr}"
        );
    }
}

#[test]
fn generic_condition_errors_come_first() {
    let e = |expr: &str, v: &str| err(parse(expr, v));
    assert_eq!(e("", "{}"), "Invalid KeyConditionExpression: The expression can not be empty;");
    assert!(
        e("things are not gonna be ok", "{}")
            .starts_with("Invalid KeyConditionExpression: Syntax error; token: \"are\"")
    );
    assert_eq!(
        e("attribute_type(a, :a)", r#"{":a":{"N":"1"}}"#),
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"
    );
    assert_eq!(
        e("a between :b and :a", r#"{":a":{"S":"a"},":b":{"N":"1"}}"#),
        "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; \
         lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"
    );
    assert_eq!(
        e("pk = :p AND begins_with(sk, :v)", r#"{":p":{"S":"q"},":v":{"N":"1"}}"#),
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
}

fn part(name: &str, op: KeyOp) -> KeyPart {
    KeyPart { name: name.into(), op }
}

fn s(x: &str) -> crate::model::AttributeValue {
    av(&serde_json::json!({ "S": x }))
}

#[test]
fn parts_are_normalized() {
    let v = r#"{":a":{"S":"1"},":b":{"S":"2"}}"#;
    let k = parse(":b >= sk AND pk = :a", v).unwrap();
    assert_eq!(k.parts, vec![part("sk", KeyOp::Le(s("2"))), part("pk", KeyOp::Eq(s("1")))]);
    let k = parse("pk = :a AND begins_with(sk, :b)", v).unwrap();
    assert_eq!(k.parts[1], part("sk", KeyOp::BeginsWith(s("2"))));
    let k = parse("pk = :a AND sk BETWEEN :a AND :b", v).unwrap();
    assert_eq!(k.parts[1], part("sk", KeyOp::Between(s("1"), s("2"))));
    assert!(KeyOp::Between(s("1"), s("2")).matches(&s("15")));
    assert!(!KeyOp::BeginsWith(s("2")).matches(&s("15")));
}

#[test]
fn resolve_against_the_schema() {
    let v = r#"{":p":{"S":"q"},":a":{"N":"1"},":b":{"N":"5"},":s":{"S":"a"},":t":{"BOOL":true}}"#;
    let r = |expr: &str, range: Option<(&str, &str)>| {
        parse(expr, v).unwrap().resolve(("pk", "S"), range)
    };
    let sk = Some(("sk", "N"));
    let k = r("sk > :a AND pk = :p", sk).unwrap();
    assert_eq!(k.hash, ("pk".to_owned(), s("q")));
    assert_eq!(k.range, Some(part("sk", KeyOp::Gt(av(&serde_json::json!({"N": "1"}))))));
    assert!(r("pk = :p", sk).unwrap().range.is_none());
    assert_eq!(err(r("sk = :a", sk)), "Query condition missed key schema element: pk");
    assert_eq!(
        err(r("pk = :p AND extra = :a", sk)),
        "Query condition missed key schema element: sk"
    );
    assert_eq!(err(r("pk > :p", sk)), "Query key condition not supported");
    assert_eq!(err(r("begins_with(pk, :p)", None)), "Query key condition not supported");
    assert_eq!(
        err(r("pk = :p AND sk = :a", None)),
        "The number of query conditions (2) exceeds the number of key attributes defined in the schema (1)"
    );
    assert_eq!(
        err(r("pk = :p AND sk > :a AND extra = :b", sk)),
        "The number of query conditions (3) exceeds the number of key attributes defined in the schema (2)"
    );
    let schema = "One or more parameter values were invalid: Condition parameter type does not match schema type";
    assert_eq!(err(r("pk = :p AND begins_with(sk, :s)", sk)), schema);
    assert_eq!(err(r("pk = :p AND sk = :t", sk)), schema);
    assert_eq!(err(r("pk = :a", sk)), schema);
}

#[test]
fn resolve_against_a_multi_attribute_schema() {
    // GSI key: partition (h1 S, h2 N), sort (a S, b S, c N).
    let v = r#"{":h":{"S":"t"},":n":{"N":"1"},":a":{"S":"x"},":b":{"S":"y"},":c":{"N":"5"},":d":{"N":"9"}}"#;
    let hash = [("h1", "S"), ("h2", "N")];
    let range = [("a", "S"), ("b", "S"), ("c", "N")];
    let r = |expr: &str| parse(expr, v).unwrap().resolve_multi(&hash, &range);
    let n = |x: &str| av(&serde_json::json!({ "N": x }));

    let k = r("h2 = :n AND h1 = :h").unwrap();
    assert_eq!(k.hash_values(), vec![&s("t"), &n("1")]);
    assert!(k.range.is_none() && k.equal.is_empty());
    // Written in any order; every named sort attribute but the last is an equality.
    let k = r("c BETWEEN :c AND :d AND b = :b AND h1 = :h AND a = :a AND h2 = :n").unwrap();
    assert_eq!(k.equal_values(), vec![&s("x"), &s("y")]);
    assert_eq!(k.range, Some(part("c", KeyOp::Between(n("5"), n("9")))));
    let k = r("h1 = :h AND h2 = :n AND begins_with(a, :a)").unwrap();
    assert_eq!((k.equal.len(), k.range), (0, Some(part("a", KeyOp::BeginsWith(s("x"))))));

    let gap = |earlier: &str, later: &str| {
        format!(
            "RANGE key attributes {earlier} must have equality conditions specified in the query because a condition is present on key attribute {later}"
        )
    };
    assert_eq!(err(r("h1 = :h AND h2 = :n AND b = :b")), gap("a", "b"));
    assert_eq!(err(r("h1 = :h AND h2 = :n AND a = :a AND c = :c")), gap("b", "c"));
    assert_eq!(err(r("h1 = :h AND h2 = :n AND a > :a AND b = :b")), gap("a", "b"));
    assert_eq!(err(r("h1 = :h AND h2 = :n AND a = :a AND b > :b AND c = :c")), gap("b", "c"));
    assert_eq!(err(r("h1 = :h AND a = :a")), "Query condition missed key schema element: h2");
    assert_eq!(err(r("h1 = :h AND h2 > :n")), "Query key condition not supported");
    assert_eq!(err(r("h1 = :h AND h2 = :n AND x = :a")), "Query key condition not supported");
    assert_eq!(
        err(r("h1 = :h AND h2 = :n AND a = :c")),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
}
