//! Table-driven tests of ConditionExpression / FilterExpression: AWS's messages
//! (the cases dynalite's test/scan.js and test/query.js recorded from AWS, unless
//! noted) and evaluation through the parser.

use super::tests_util::{err, item_json, names, values};
use super::{ExprContext, ExprKind, parse_condition};

const VALS: &str = r#"{":a":{"S":"a"},":n":{"N":"1"},":n2":{"N":"2"},":b":{"B":"x"},":t":{"BOOL":true},
    ":z":{"NULL":true},":l":{"L":[]},":m":{"M":{}},":ss":{"SS":["1"]},":ns":{"NS":["1"]},":bs":{"BS":["a"]},
    ":S":{"S":"S"},":bad":{"S":"1"}}"#;

/// The message for `expr` as a FilterExpression, with names #a -> a and VALS.
fn filter_err(expr: &str) -> String {
    let (n, v) = (names(&[("#a", "a")]), values(VALS));
    err(parse_condition(expr, ExprKind::Filter, &mut ExprContext::new(Some(&n), Some(&v))))
}

#[test]
fn filter_messages() {
    let cases: &[(&str, &str)] = &[
        ("", "The expression can not be empty;"),
        ("a > 4", "Syntax error; token: \"4\", near: \"> 4\""),
        ("a=a and a > ((views))", "The expression has redundant parentheses;"),
        ("(a)between(((b.c)).d)and(c)", "The expression has redundant parentheses;"),
        ("a > whatever((:things), ((a)))", "The expression has redundant parentheses;"),
        ("a=a AND ((a=a AND a=a)) AND a=a", "The expression has redundant parentheses;"),
        ("a=a and whatever((:things)) > a", "Invalid function name; function: whatever"),
        ("attRIbute_exIsts((views), #a)", "Invalid function name; function: attRIbute_exIsts"),
        (
            "a=a and attribute_exists((views), (#a)) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "attribute_not_exists(things) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_not_exists",
        ),
        (
            "attribute_type(things, :a) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_type",
        ),
        (
            "begins_with(things, a) > b",
            "The function is not allowed to be used this way in an expression; function: begins_with",
        ),
        (
            "contains(:things, c) > b",
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        (
            "size(contains(a, b)) > a",
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        (
            "size(things)",
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "a between b and attribute_exists(things)",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "a in (b, attribute_exists(things))",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        // Scylla's test_update_condition_other_funcs (run against AWS): known, not allowed.
        (
            "if_not_exists(a, a) = :n",
            "The function is not allowed to be used this way in an expression; function: if_not_exists",
        ),
        (
            "list_append(a, a) = :n",
            "The function is not allowed to be used this way in an expression; function: list_append",
        ),
        (
            "attribute_exists(views, #zz)",
            "Attribute name is a reserved keyword; reserved keyword: views",
        ),
        (":a < abOrT", "Attribute name is a reserved keyword; reserved keyword: abOrT"),
        (
            "attribute_exists(#Pictures.RearView, :a) and a=a",
            "An expression attribute name used in the document path is not defined; attribute name: #Pictures",
        ),
        (
            "begins_with(Pictures.#RearView)",
            "An expression attribute name used in the document path is not defined; attribute name: #RearView",
        ),
        (
            "(#P between :lo and :hi) and (#PC in (:cat1, :cat2))",
            "An expression attribute name used in the document path is not defined; attribute name: #P",
        ),
        (
            "#4g > a",
            "An expression attribute name used in the document path is not defined; attribute name: #4g",
        ),
        (
            "(a)between(b.c[45].#d)and(:a)",
            "An expression attribute name used in the document path is not defined; attribute name: #d",
        ),
        (
            "begins_with(:hello, #a, #b)",
            "An expression attribute value used in expression is not defined; attribute value: :hello",
        ),
        (
            ":x < :y",
            "An expression attribute value used in expression is not defined; attribute value: :x",
        ),
        (
            ":_ > a",
            "An expression attribute value used in expression is not defined; attribute value: :_",
        ),
        (
            "attribute_exists(things, a) and a=a",
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "attribute_type(things)",
            "Incorrect number of operands for operator or function; operator or function: attribute_type, number of operands: 1",
        ),
        (
            "begins_with(things, size(a), b)",
            "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 3",
        ),
        (
            "contains(things)",
            "Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1",
        ),
        (
            "size(things, a) > b",
            "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
        ),
        (
            "attribute_type(a, size(a)) and a=a and a=:n",
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
        ),
        (
            "attribute_type(a, :n)",
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
        ),
        (
            "attribute_type(a, :ss)",
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: SS",
        ),
        (
            "attribute_type(a, b)",
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
        ),
        (
            "begins_with(a, size(a)) and a=:n",
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "begins_with(a, :t)",
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: BOOL",
        ),
        (
            "begins_with(:m, a)",
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: M",
        ),
        (
            "size(size(a)) > :n",
            "Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
        (
            "attribute_not_exists(size(:n))",
            "Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
        (
            "size(:z) > a",
            "Incorrect operand type for operator or function; operator or function: size, operand type: NULL",
        ),
        (
            "attribute_type(a, :bad)",
            "Invalid attribute type name found; type: 1, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
        (
            "attribute_exists(:a) and a=a",
            "Operator or function requires a document path; operator or function: attribute_exists",
        ),
        (
            "attribute_not_exists(size(:a))",
            "Operator or function requires a document path; operator or function: attribute_not_exists",
        ),
        (
            "a = a AND #a = b AND :a > a",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            "#a <> a",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: <>, first operand: [a]",
        ),
        (
            "((a=a) OR (a=a))",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            "contains(ab.bc[1].a, ab.bc[1].#a)",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [ab, bc, [1], a]",
        ),
        (
            "attribute_type(ab.bc[1].#a, ab.bc[1].a)",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: attribute_type, first operand: [ab, bc, [1], a]",
        ),
        // Recorded from AWS by nubo-db's conformance suite (as KeyConditionExpression).
        (
            "a < :t",
            "Incorrect operand type for operator or function; operator or function: <, operand type: BOOL",
        ),
        (
            ":t >= a",
            "Incorrect operand type for operator or function; operator or function: >=, operand type: BOOL",
        ),
        (
            "a BETWEEN :t AND :t",
            "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: BOOL",
        ),
        (
            "a < :l",
            "Incorrect operand type for operator or function; operator or function: <, operand type: L",
        ),
        (
            "a between :n and :a",
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}",
        ),
        (
            "a between :n2 and :n",
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}",
        ),
    ];
    for (expr, msg) in cases {
        assert_eq!(filter_err(expr), format!("Invalid FilterExpression: {msg}"), "{expr}");
    }
}

#[test]
fn first_leaf_with_an_error_wins() {
    // nubo-db's conformance suite (AWS, October 2026): clauses in written order.
    let v = values(r#"{":n":{"N":"1"},":p":{"S":"q"}}"#);
    let e = |expr: &str| {
        err(parse_condition(expr, ExprKind::KeyCondition, &mut ExprContext::new(None, Some(&v))))
    };
    let undefined = "An expression attribute value used in expression is not defined; attribute value: :missing";
    let operand = "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N";
    assert_eq!(
        e("pk = :missing AND begins_with(sk, :n)"),
        format!("Invalid KeyConditionExpression: {undefined}")
    );
    assert_eq!(
        e("begins_with(sk, :n) AND pk = :missing"),
        format!("Invalid KeyConditionExpression: {operand}")
    );
    assert_eq!(
        e("pk = :p AND begins_with(sk, :n) AND sk = :missing"),
        format!("Invalid KeyConditionExpression: {operand}")
    );
}

#[test]
fn limits() {
    let v = values(r#"{":v":{"N":"1"}}"#);
    let e = |expr: &str| {
        err(parse_condition(expr, ExprKind::Condition, &mut ExprContext::new(None, Some(&v))))
    };
    let big = format!("a = :v{}", " ".repeat(4097 - 6));
    assert_eq!(
        e(&big),
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"
    );
    let ok = format!("a = :v{}", " ".repeat(4096 - 6));
    assert!(
        parse_condition(&ok, ExprKind::Condition, &mut ExprContext::new(None, Some(&v))).is_ok()
    );
    assert_eq!(e("   "), "Invalid ConditionExpression: The expression can not be empty;");
    let many = vec!["a < :v"; 301].join(" AND ");
    assert_eq!(
        e(&many),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    let list = |n: usize| vec![":v"; n].join(",");
    let in_many = format!("a IN ({})", list(100));
    assert_eq!(
        e(&in_many),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
    assert!(
        parse_condition(
            &format!("a IN ({})", list(99)),
            ExprKind::Condition,
            &mut ExprContext::new(None, Some(&v))
        )
        .is_ok()
    );
    let deep = format!("a{} = :v", ".b".repeat(32));
    assert_eq!(
        e(&deep),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
}

/// Evaluates `expr` on `item` (both with the shared values).
fn eval(expr: &str, item: &str) -> bool {
    let v = values(
        r#"{":one":{"N":"1"},":two":{"N":"2"},":s":{"S":"hell"},":type":{"S":"SS"},
        ":set":{"SS":["b"]},":lst":{"L":[{"N":"3"},{"N":"4"}]}}"#,
    );
    let n = names(&[("#and", "and"), ("#or", "or")]);
    let mut ctx = ExprContext::new(Some(&n), Some(&v));
    let cond = parse_condition(expr, ExprKind::Condition, &mut ctx)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    cond.eval(&item_json(item)).unwrap()
}

#[test]
fn evaluation_through_the_parser() {
    let item = r#"{"a":{"N":"1"},"b":{"N":"2"},"c":{"N":"3"},"s":{"S":"hello"},"ss":{"SS":["a","b"]},
        "and":{"M":{"or":{"N":"2"}}},"l":{"L":[{"N":"-1"},{"N":"2"},{"L":[{"N":"3"},{"N":"4"}]}]}}"#;
    let cases: &[(&str, bool)] = &[
        ("a < b AND b < c", true),
        ("a < b aNd c < b", false),
        ("b < a OR b < c", true),
        ("a < b OR c < b AND b < c", true),
        ("NOT a < b AND c < b", false),
        ("NOT NOT NOT NOT a < b", true),
        ("b BETWEEN a AND c AND a < b", true),
        ("(a < b OR b < a) AND (b < c AND (a < b OR b < c))", true),
        ("q = z", false),
        ("q <> z", true),
        ("attribute_exists (a) AND attribute_not_exists(zz)", true),
        ("#and.#or = :two", true),
        ("l[0] < l[1] AND l[1] = :two AND NOT l[9] = :two", true),
        ("contains(l, :lst) AND NOT contains(ss, :s)", true),
        ("begins_with(s, :s) AND size(s) = :one", false),
        ("begins_with(s, :s) AND size(ss) = :two", true),
        ("attribute_type(ss, :type) AND a IN (:two, :one)", true),
        ("(a) = (a.b) OR (l[2])[1] > :two", true),
        ("size(l) > :two", true),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr, item), *want, "{expr}");
    }
}
