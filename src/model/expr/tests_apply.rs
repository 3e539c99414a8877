//! Table-driven tests of what updates do to items, and of the errors raised
//! while applying them (dynalite's and Scylla's tests, both run against AWS).

use super::tests_util::{err, item_json, item_to_json, names, values};
use super::{ExprContext, UpdateExpr, parse_update};

/// Parses `expr` with `vals` and names #1 -> "1".
fn update(expr: &str, vals: &str) -> UpdateExpr {
    let (n, v) = (names(&[("#1", "1")]), values(vals));
    parse_update(expr, &mut ExprContext::new(Some(&n), Some(&v)))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// Applies `expr` to `item`, returning the new item or the error message.
fn apply(expr: &str, vals: &str, item: &str) -> Result<serde_json::Value, String> {
    let mut it = item_json(item);
    update(expr, vals).apply(&mut it).map_err(|e| e.message().to_owned())?;
    Ok(item_to_json(&it))
}

#[test]
fn nested_update_and_updated_new() {
    // dynalite "should update nested attributes", recorded from AWS.
    let old = item_json(
        r#"{"a":{"S":"k"},"b":{"M":{"a":{"N":"1"},"b":{"N":"2"},"c":{"N":"3"}}},"c":{"L":[{"N":"1"},{"N":"3"}]}}"#,
    );
    let u = update(
        "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c add c[8] :b, c[6] :a",
        r#"{":a":{"N":"2"},":b":{"SS":["a"]}}"#,
    );
    let mut new = old.clone();
    u.apply(&mut new).unwrap();
    assert_eq!(
        item_to_json(&new).to_string(),
        r#"{"a":{"S":"k"},"b":{"M":{"a":{"S":"k"},"b":{"N":"2"},"c":{"N":"4"}}},"c":{"L":[{"N":"1"},{"S":"k"},{"N":"3"},{"N":"-1"},{"N":"2"},{"SS":["a"]}]}}"#
    );
    assert_eq!(
        item_to_json(&u.returned_attributes(&new)).to_string(),
        r#"{"b":{"M":{"a":{"S":"k"},"c":{"N":"4"}}},"c":{"L":[{"S":"k"},{"N":"3"},{"N":"2"}]}}"#
    );
    assert_eq!(
        item_to_json(&u.returned_attributes(&old)).to_string(),
        r#"{"b":{"M":{"a":{"N":"1"},"c":{"N":"3"}}},"c":{"L":[{"N":"3"}]}}"#
    );
    assert_eq!(u.top_level_names().into_iter().collect::<Vec<_>>(), ["b", "c"]);
}

#[test]
fn apply_semantics() {
    let v = r#"{":v":{"N":"17"},":s":{"SS":["cat","mouse","pig"]},":one":{"N":"1"},":e":{"L":[]},
        ":a1":{"S":"a1"},":a2":{"S":"a2"},":a3":{"S":"a3"},":a4":{"S":"a4"}}"#;
    let ok = |expr: &str, item: &str, want: &str| {
        assert_eq!(
            apply(expr, v, item).unwrap_or_else(|e| panic!("{expr}: {e}")).to_string(),
            want,
            "{expr}"
        );
    };
    let list = r#"{"a":{"L":[{"N":"2"},{"N":"3"},{"N":"4"},{"N":"5"},{"N":"6"},{"N":"7"}]}}"#;
    let after = r#"{"a":{"L":[{"N":"2"},{"N":"4"},{"N":"17"},{"N":"6"},{"N":"7"}]}}"#;
    ok("REMOVE a[1] SET a[3] = :v", list, after);
    ok("SET a[3] = :v REMOVE a[1]", list, after);
    ok("REMOVE a[17], a[0]", r#"{"a":{"L":[{"N":"4"}]}}"#, r#"{"a":{"L":[]}}"#);
    ok(
        "SET a[84] = :a1, a[37] = :a2, a[17] = :a3, a[50] = :a4",
        r#"{"a":{"L":[]}}"#,
        r#"{"a":{"L":[{"S":"a3"},{"S":"a2"},{"S":"a4"},{"S":"a1"}]}}"#,
    );
    ok("SET x = :v, y = x", r#"{"x":{"N":"1"}}"#, r#"{"x":{"N":"17"},"y":{"N":"1"}}"#);
    ok("REMOVE a SET b = a", r#"{"a":{"S":"h"}}"#, r#"{"b":{"S":"h"}}"#);
    ok("SET c = if_not_exists(c, :e), d = :v - :one", "{}", r#"{"c":{"L":[]},"d":{"N":"16"}}"#);
    ok(
        "ADD n :v, s :s",
        r#"{"n":{"N":"-17"},"s":{"SS":["dog","cat"]}}"#,
        r#"{"n":{"N":"0"},"s":{"SS":["dog","cat","mouse","pig"]}}"#,
    );
    ok("ADD n :one, s :s", "{}", r#"{"n":{"N":"1"},"s":{"SS":["cat","mouse","pig"]}}"#);
    ok("DELETE s :s", r#"{"s":{"SS":["dog","cat"]}}"#, r#"{"s":{"SS":["dog"]}}"#);
    ok("DELETE s :s, t :s", r#"{"s":{"SS":["cat"]}}"#, "{}");
    ok(
        "REMOVE a.y, b[7], c",
        r#"{"a":{"M":{"x":{"N":"3"}}},"b":{"L":[]}}"#,
        r#"{"a":{"M":{"x":{"N":"3"}}},"b":{"L":[]}}"#,
    );
    ok("REMOVE a.b", r#"{"a":{"M":{"b":{"N":"1"}}}}"#, r#"{"a":{"M":{}}}"#);
}

#[test]
fn apply_errors() {
    let bad_path = "The document path provided in the update expression is invalid for update";
    let item = r#"{"a":{"S":"k"},"b":{"S":"a"},"c":{"M":{"1":{"S":"a"}}},"d":{"L":[{"S":"a"},{"S":"b"}]}}"#;
    let v = r#"{":a":{"SS":["a"]}}"#;
    for expr in [
        "set b.a = :a, #1 = :a",
        "set b[1] = :a, #1 = :a",
        "set y.a = :a, #1 = :a",
        "set y[1] = :a, #1 = :a",
        "set c[1] = :a, #1 = :a",
        "set d.#1 = :a",
        "remove b.a set #1 = :a",
        "remove y[1] set #1 = :a",
        "remove c[1] set #1 = :a",
        "remove d.#1 set #1 = :a",
        "delete b.a :a set #1 = :a",
        "delete y.a :a set #1 = :a",
        "delete c[1] :a set #1 = :a",
        "delete d.#1 :a",
        "add b.a :a set #1 = :a",
        "add y[1] :a set #1 = :a",
        "add d.#1 :a",
    ] {
        assert_eq!(apply(expr, v, item).unwrap_err(), bad_path, "{expr}");
    }
    let missing = "The provided expression refers to an attribute that does not exist in the item";
    assert_eq!(apply("set c = zz", "{}", "{}").unwrap_err(), missing);
    assert_eq!(apply("set e = list_append(zz, d)", "{}", item).unwrap_err(), missing);
    let bad_type = "An operand in the update expression has an incorrect data type";
    let item = r#"{"a":{"S":"k"},"b":{"M":{"a":{"SS":["1"]}}},"c":{"N":"1"},"d":{"NS":["1"]}}"#;
    for (expr, v) in [
        ("delete d :a", r#"{":a":{"SS":["1"]}}"#),
        ("delete b :a", r#"{":a":{"NS":["1"]}}"#),
        ("delete b.a :a", r#"{":a":{"NS":["1"]}}"#),
        ("delete b.a :a", r#"{":a":{"BS":["a"]}}"#),
        ("delete c :a", r#"{":a":{"NS":["1"]}}"#),
        ("add b :a", r#"{":a":{"NS":["1"]}}"#),
        ("add d :a", r#"{":a":{"N":"1"}}"#),
        ("set e = a + :a", r#"{":a":{"N":"1"}}"#),
        ("set e = b - :a", r#"{":a":{"N":"1"}}"#),
        ("set e = list_append(d, if_not_exists(f, :a))", r#"{":a":{"L":[]}}"#),
    ] {
        assert_eq!(apply(expr, v, item).unwrap_err(), bad_type, "{expr}");
    }
    let big = r#"{":v":{"N":"9.9999999999999999999999999999999999999E+125"}}"#;
    assert_eq!(
        apply("SET n = :v + :v", big, "{}").unwrap_err(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
}

#[test]
fn removing_under_a_missing_item_is_ignored() {
    // Scylla's test_nested_attribute_remove_from_missing_item (AWS).
    let u = update("REMOVE x.y, z[0]", "{}");
    let mut key_only = item_json(r#"{"p":{"S":"k"}}"#);
    u.apply_to_new(&mut key_only).unwrap();
    assert!(u.apply(&mut key_only).is_err());
}

#[test]
fn key_attributes_cannot_be_updated() {
    let msg = |e: &str, v: &str, keys: &[&str]| err(update(e, v).check_keys(keys));
    let one = r#"{":a":{"N":"1"}}"#;
    let pre = "One or more parameter values were invalid: Cannot update attribute";
    assert_eq!(
        msg("add a.b :a", one, &["a"]),
        format!("{pre} a. This attribute is part of the key")
    );
    assert_eq!(
        msg("remove d set b = :a, a = :a", one, &["a"]),
        format!("{pre} a. This attribute is part of the key")
    );
    assert_eq!(
        msg("set d[1] = :a add b.b :a", one, &["a", "b"]),
        format!("{pre} b. This attribute is part of the key")
    );
    assert!(update("set c = a.b + a[1]", "{}").check_keys(&["a"]).is_ok());
}
