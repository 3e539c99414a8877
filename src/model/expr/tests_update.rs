//! Table-driven tests of UpdateExpression's parse-time messages (dynalite's
//! test/updateItem.js, recorded from AWS, unless noted).

use super::tests_util::{err, names, values};
use super::{ExprContext, ExprKind, parse_condition, parse_update};

const VALS: &str = r#"{":a":{"S":"a"},":b":{"N":"1"},":c":{"B":"a"},":d":{"BOOL":false},":e":{"NULL":true},
    ":f":{"SS":["a"]},":g":{"NS":["1"]},":h":{"BS":["a"]},":i":{"M":{}},":j":{"L":[]}}"#;

fn update_err(expr: &str, name_pairs: &[(&str, &str)], vals: &str) -> String {
    let (n, v) = (names(name_pairs), values(vals));
    let msg = err(parse_update(expr, &mut ExprContext::new(Some(&n), Some(&v))));
    msg.strip_prefix("Invalid UpdateExpression: ")
        .unwrap_or_else(|| panic!("{expr}: {msg}"))
        .to_owned()
}

#[test]
fn parse_messages() {
    let ab = [("#a", "a"), ("#b", "b")];
    let vals_ab = r#"{":a":{"S":"a"},":b":{"S":"a"}}"#;
    let cases: &[(&str, &str)] = &[
        (
            " set #c = :c set abOrT = true ",
            "Attribute name is a reserved keyword; reserved keyword: abOrT",
        ),
        (" remove Absolute ", "Attribute name is a reserved keyword; reserved keyword: Absolute"),
        ("set #c = if_not_exist(:c) set c = d", "Invalid function name; function: if_not_exist"),
        (
            "set a = #c set c = :d",
            "The \"SET\" section can only be used once in an update expression;",
        ),
        (
            "remove #d set a = b remove e",
            "The \"REMOVE\" section can only be used once in an update expression;",
        ),
        (
            "add #d :e set a = b add e :f",
            "The \"ADD\" section can only be used once in an update expression;",
        ),
        (
            "delete #d :e set a = b delete #e :f",
            "The \"DELETE\" section can only be used once in an update expression;",
        ),
        (
            "SET #c = if_not_exists(:c)",
            "An expression attribute name used in the document path is not defined; attribute name: #c",
        ),
        (
            "SET #a = if_not_exists(:c)",
            "An expression attribute value used in expression is not defined; attribute value: :c",
        ),
        (
            "set a = if_not_exists(c)",
            "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1",
        ),
        (
            "set a = list_append(c)",
            "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1",
        ),
        (
            "set a = if_not_exists(:a, c)",
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            "set a = if_not_exists(if_not_exists(a, b), c)",
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        // Scylla's test_update_expression_function_nesting (AWS): parses, then refused.
        (
            "set a = list_append(list_append(:a, :b), :b)",
            "The function is not allowed to be used this way in an expression; function: list_append",
        ),
    ];
    for (expr, msg) in cases {
        assert_eq!(update_err(expr, &ab, vals_ab), *msg, "{expr}");
    }
}

#[test]
fn path_clashes() {
    let ov =
        "Two document paths overlap with each other; must remove or rewrite one of these paths; ";
    let cf =
        "Two document paths conflict with each other; must remove or rewrite one of these paths; ";
    let cd = [("#c", "c"), ("#d", "[3]")];
    let cases: &[(&str, &str, &str)] = &[
        ("set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)", "[c, [1], a]", "[c]"),
        ("set c.b.#c = a, c = a, #d = a", "[c, b, c]", "[c]"),
        ("set a = b remove a, #c, #d", "[a]", "[a]"),
        ("set #c[3].#d = a, #c[3] = a", "[c, [3], [3]]", "[c, [3]]"),
        ("remove c, #c.a, #d", "[c]", "[c, a]"),
        ("remove a, #c, a, #d", "[a]", "[a]"),
    ];
    for (expr, one, two) in cases {
        assert_eq!(
            update_err(expr, &cd, "{}"),
            format!("{ov}path one: {one}, path two: {two}"),
            "{expr}"
        );
    }
    let bcd = [("#b", "b"), ("#c", "c"), ("#d", "[3]")];
    let cases: &[(&str, &str, &str)] = &[
        ("set #c[3].#d = a, #c.#d[3] = if_not_exists(a)", "[c, [3], [3]]", "[c, [3], [3]]"),
        ("remove a.#c set a[1] = #d", "[a, c]", "[a, [1]]"),
    ];
    for (expr, one, two) in cases {
        assert_eq!(
            update_err(expr, &bcd, "{}"),
            format!("{cf}path one: {one}, path two: {two}"),
            "{expr}"
        );
    }
}

#[test]
fn operand_types() {
    let add_delete: &[(&str, &str, &str)] = &[
        (
            "set b = list_append(:a, a), c = if_not_exists(a) add a.b :a",
            r#"{"S":"a"}"#,
            "ADD, operand type: STRING",
        ),
        ("delete a.b :a", r#"{"S":"a"}"#, "DELETE, operand type: STRING"),
        ("add a.b :a", r#"{"NULL":true}"#, "ADD, operand type: NULL"),
        ("delete a.b :a", r#"{"BOOL":false}"#, "DELETE, operand type: BOOLEAN"),
        ("add a.b :a", r#"{"B":"a"}"#, "ADD, operand type: BINARY"),
        ("delete a.b :a", r#"{"M":{"a":{"L":[{"N":"1"}]}}}"#, "DELETE, operand type: MAP"),
        ("add a.b :a", r#"{"L":[{"N":"1"}]}"#, "ADD, operand type: LIST"),
        ("delete a.b :a", r#"{"N":"1"}"#, "DELETE, operand type: NUMBER"),
    ];
    for (expr, v, msg) in add_delete {
        let vals = format!(r#"{{":a":{v},":b":{{"S":"a"}}}}"#);
        let want = format!("Incorrect operand type for operator or function; operator: {msg}");
        assert_eq!(update_err(expr, &[], &vals), want, "{expr}");
    }
    let functions: &[(&str, &str, &str)] = &[
        ("set a = list_append(:a, a)", "list_append", "S"),
        ("set a = list_append(a, :b)", "list_append", "N"),
        ("set a = list_append(:c, a)", "list_append", "B"),
        ("set a = list_append(:d, a)", "list_append", "BOOL"),
        ("set a = list_append(:e, a)", "list_append", "NULL"),
        ("set a = list_append(:f, a)", "list_append", "SS"),
        ("set a = list_append(:i, a)", "list_append", "M"),
        ("set a = a + :a", "+", "S"),
        ("set a = :a + :c", "+", "S"),
        ("set a = :c + a", "+", "B"),
        ("set a = a + :g", "+", "NS"),
        ("set a = a + :j", "+", "L"),
        ("set a = a - :h", "-", "BS"),
        ("set a = a - :i", "-", "M"),
    ];
    for (expr, op, t) in functions {
        let want = format!(
            "Incorrect operand type for operator or function; operator or function: {op}, operand type: {t}"
        );
        assert_eq!(update_err(expr, &[], VALS), want, "{expr}");
    }
}

#[test]
fn unused_placeholders_across_expressions() {
    let (n, v) = (names(&[("#a", "a"), ("#b", "b")]), values(r#"{":a":{"S":"a"},":b":{"S":"a"}}"#));
    let mut ctx = ExprContext::new(Some(&n), Some(&v));
    parse_update("remove a set b = list_append(b, if_not_exists(a, :a))", &mut ctx).unwrap();
    parse_condition("a = :b", ExprKind::Condition, &mut ctx).unwrap();
    assert_eq!(
        err(ctx.finish()),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    );

    let v = values(r#"{":a":{"S":"a"},":b":{"S":"a"},":c":{"S":"a"}}"#);
    let mut ctx = ExprContext::new(None, Some(&v));
    parse_update("remove a", &mut ctx).unwrap();
    parse_condition("a = :b", ExprKind::Condition, &mut ctx).unwrap();
    assert_eq!(
        err(ctx.finish()),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :c}"
    );
}

#[test]
fn only_removes_is_true_for_remove_and_delete_actions_only() {
    let v = values(r#"{":s":{"SS":["a"]},":n":{"N":"1"}}"#);
    let only = |expr: &str| {
        let mut ctx = ExprContext::new(None, Some(&v));
        parse_update(expr, &mut ctx).unwrap().only_removes()
    };
    assert!(only("REMOVE a"));
    assert!(only("DELETE s :s"));
    assert!(only("REMOVE a, b DELETE s :s"));
    assert!(!only("REMOVE a SET b = :n"));
    assert!(!only("ADD c :n"));
    assert!(!only("DELETE s :s ADD c :n"));
    // No action at all (an empty AttributeUpdates) still creates the item.
    assert!(!super::UpdateExpr::default().only_removes());
}
