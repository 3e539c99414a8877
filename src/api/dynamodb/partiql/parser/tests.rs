//! The parser against statements AWS accepts and refuses, with AWS's own words.

use super::*;

fn name(n: &str) -> Segment {
    Segment::Name(n.into())
}

#[test]
fn every_statement_kind_parses() {
    let s =
        parse(r#"SELECT a, b.c[1] FROM "t"."idx" WHERE pk = ? AND NOT (x > 3 OR y IS MISSING)"#)
            .unwrap();
    let Statement::Select { table, index, projection, filter, .. } = s else { panic!() };
    assert_eq!((table.as_str(), index.as_deref()), ("t", Some("idx")));
    assert_eq!(projection[1], vec![name("b"), name("c"), Segment::Index(1)]);
    assert!(matches!(filter, Some(Expr::And(..))));
    let s =
        parse("INSERT INTO t VALUE {'pk': 'a', 'n': 1, 'l': [1, 'x'], 's': <<'a','b'>>}").unwrap();
    let Statement::Insert { item: Value::Map(entries), .. } = s else { panic!() };
    assert_eq!(entries.len(), 4);
    let s = parse("UPDATE t SET a = a + 1, b = ? SET c = 'x' REMOVE d WHERE pk = 'k'").unwrap();
    let Statement::Update { sets, removes, .. } = s else { panic!() };
    assert_eq!((sets.len(), removes.len()), (3, 1));
    assert!(matches!(sets[1].1, SetValue::Operand(Operand::Value(Value::Param(0)))));
    assert!(matches!(parse("delete from t where pk = 1").unwrap(), Statement::Delete { .. }));
    let s = parse("UPDATE t SET l = list_append(l, [1]), n = if_not_exists(n, 0) SET s = set_add(s, <<'a'>>) WHERE pk = 1 RETURNING MODIFIED NEW *").unwrap();
    let Statement::Update { sets, returning, .. } = s else { panic!() };
    assert!(matches!(sets[0].1, SetValue::Function("list_append", ..)));
    assert!(matches!(sets[2].1, SetValue::Function("set_add", ..)));
    assert_eq!(returning, Some("UPDATED_NEW"));
    let s = parse("DELETE FROM t WHERE pk = 1 RETURNING ALL OLD *").unwrap();
    assert!(matches!(s, Statement::Delete { returning: Some("ALL_OLD"), .. }));
    assert!(parse("DELETE FROM t WHERE pk = 1 RETURNING ALL NEW *").is_err());
    let s = parse("EXISTS(SELECT * FROM t WHERE pk = 'a' AND begins_with(s, 'x'))").unwrap();
    assert!(matches!(s, Statement::Exists { .. }));
}

#[test]
fn malformed_statements_say_what_is_wrong() {
    let malformed = |detail: &str| Err(Refusal::Malformed(detail.into()));
    assert_eq!(parse("SELECT * t"), malformed("Expected FROM, found 't'"));
    assert!(parse("SELEKT * FROM t").is_err());
    assert!(parse("UPDATE t WHERE pk = 1").is_err());
    assert!(parse("INSERT INTO t VALUE 3").is_err());
    assert!(parse("SELECT * FROM t WHERE").is_err());
    assert!(parse("SELECT * FROM t extra").is_err());
    assert!(parse("SELECT * FROM t WHERE begins_with(a)").is_err());
    // Deep nesting is refused, not recursed into.
    let deep = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(matches!(parse(&deep), Err(Refusal::Malformed(m)) if m.contains("nests more than")));
    let nots = format!("SELECT * FROM t WHERE {}a = 1", "NOT ".repeat(2000));
    assert!(parse(&nots).is_err());
    let lists = format!("INSERT INTO t VALUE {{'a': {}1{}}}", "[".repeat(3000), "]".repeat(3000));
    assert!(parse(&lists).is_err());
    let ands = format!("SELECT * FROM t WHERE a = 1{}", " AND a = 1".repeat(800));
    assert!(parse(&ands).is_ok(), "a long flat chain is fine");
}

/// AWS's own words, recorded against AWS (nubo-db/dynamodb-conformance
/// error-messages/partiqlGrammar and partiqlFunctions, eu-west-2, October 2026).
#[test]
fn refusals_are_worded_as_aws_words_them() {
    let malformed = |detail: &str| Err(Refusal::Malformed(detail.into()));
    let plain = |message: &str| Err(Refusal::Plain(message.into()));
    for leftover in [
        "SELECT * FROM t WHERE pk = 1 foo",
        "SELECT * FROM t WHERE pk = 1 e5",
        "INSERT INTO t VALUE {'pk': 1} foo",
        "INSERT INTO t x VALUE {'pk': 1}",
        "UPDATE t SET a = 9 WHERE pk = 2 foo",
        "SELECT * FROM t WHERE pk = 1)",
        "DELETE FROM t WHERE pk = 4 ORDER BY pk",
        "SELECT * FROM t ORDER BY pk WHERE pk = 1",
        "FROM t SET c = 1 WHERE pk = 'x'",
    ] {
        assert_eq!(parse(leftover), malformed(LEFTOVER), "{leftover}");
    }
    for unreadable in [
        "SELECT * FROM t WHERE pk = 1e2147483648",
        "SELECT * FROM t WHERE pk = 1.5e-2147483647",
        "SELECT * FROM t WHERE pk = 1 # note",
        "SELECT * FROM t WHERE pk = 1 /* note",
    ] {
        assert_eq!(parse(unreadable), malformed(""), "{unreadable}");
    }
    for no_term in [
        "SELECT * FROM t WHERE",
        "SELECT * FROM t WHERE;",
        "UPDATE t SET a = 1 WHERE",
        "SELECT * FROM t WHERE NOT",
        "SELECT * FROM t WHERE (",
        "SELECT * FROM",
    ] {
        assert_eq!(parse(no_term), malformed(NO_TERM), "{no_term}");
    }
    assert_eq!(parse("SELECT * FROM t WHERE pk = 'a' AND"), malformed(NO_RIGHT));
    assert_eq!(parse("SELECT * FROM t WHERE pk = 'a' OR"), malformed(NO_RIGHT));
    assert_eq!(parse("SELECT * FROM t WHERE ORDER BY pk"), malformed("Unexpected keyword"));
    assert_eq!(parse("SELECT * FROM t WHERE IS NULL"), malformed("Unexpected operator"));
    assert_eq!(parse("SELECT * FROM t WHERE pk = LIKE"), malformed("Unexpected operator"));
    assert_eq!(parse("SELECT * FROM t WHERE x IS FOO"), malformed("Expected type name"));
    for no_table in ["DELETE FROM", "DELETE FROM   ", "DELETE FROM;", "DELETE FROM WHERE pk = 'a'"]
    {
        assert_eq!(parse(no_table), malformed(NO_TABLE), "{no_table}");
    }
    for aliased in [
        "SELECT * FROM t x WHERE pk = 'x'",
        "SELECT * FROM t AS x WHERE pk = 'x'",
        "UPDATE t x SET a = 3 WHERE pk = 'x'",
        "DELETE FROM t x WHERE pk = 'x'",
    ] {
        assert_eq!(parse(aliased), plain("Aliasing is not supported"), "{aliased}");
    }
    for ty in ["INT4", "INT8", "DOUBLE PRECISION", "CHARACTER VARYING"] {
        assert_eq!(parse(&format!("x IS {ty}")), plain(IS_TYPE), "{ty}");
    }
    let overflow =
        "Number overflow. Attempting to store a number with magnitude larger than supported range";
    assert_eq!(parse("SELECT * FROM t WHERE pk = 1e126"), plain(&format!("{overflow} under root")));
    let item = "INSERT INTO t VALUE {'pk': 1, 'm': {'x': 1e126}}";
    assert_eq!(parse(item), plain(&format!("{overflow} under root.x")));
    let item = "INSERT INTO t VALUE {'pk': 1, 'l': [1, 1e126]}";
    assert_eq!(parse(item), plain(&format!("{overflow} under root[1]")));
    assert_eq!(
        parse("SELECT * FROM t WHERE attribute_exists()"),
        plain(
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 0"
        )
    );
}

/// The refusals AWS words with a position: `line:column:length` of the call, or of
/// its first argument (nubo-db/dynamodb-conformance error-messages/partiqlFunctions).
#[test]
fn refusals_name_where_they_sit() {
    let plain = |message: &str| Err(Refusal::Plain(message.into()));
    let update = "UPDATE t SET t = set_add(ss, <<'x'>>) WHERE pk = 'a'";
    assert_eq!(
        parse(update),
        plain("The first argument to SET_ADD must equal the assignment value at 1:18:7")
    );
    let update = "UPDATE t SET ss = set_delete(ss, 'x') WHERE pk = 'a'";
    assert_eq!(
        parse(update),
        plain("The second argument to SET_DELETE must be a value with type SET at 1:30:2")
    );
    let update = "UPDATE t SET ss = set_add(ss) WHERE pk = 'a'";
    assert_eq!(parse(update), plain("SET_ADD must have exactly two arguments at 1:19:7"));
    let select = "SELECT * FROM t WHERE pk = 'a' AND EXISTS(ss)";
    assert_eq!(parse(select), plain("Unrecognized function: exists at 1:36:6"));
    assert_eq!(
        parse("SELECT attribute_exists(ss) FROM t"),
        plain("Unexpected path component at 1:8:16")
    );
    assert_eq!(
        parse("INSERT INTO t VALUE {'pk': 'a', 'ss': set_add(<<'a'>>, <<'b'>>)}"),
        plain("Unsupported data type: set_add under key root at 1:39:7")
    );
    assert_eq!(
        parse("SELECT * FROM t WHERE attribute_exists(m.inner)"),
        Err(Refusal::Malformed("Invalid path dot component".into()))
    );
}

proptest::proptest! {
    /// Any sequence of PartiQL's pieces parses or is refused: never a panic, whatever
    /// positions, calls and half-statements it holds.
    #[test]
    fn arbitrary_statements_never_panic(parts in proptest::collection::vec(0usize..PIECES.len(), 0..24)) {
        let text: Vec<&str> = parts.iter().map(|&i| PIECES[i]).collect();
        let _ = parse(&text.join(" "));
    }
}

const PIECES: [&str; 40] = [
    "SELECT",
    "*",
    "FROM",
    "t",
    "\"t\"",
    ".",
    "WHERE",
    "pk",
    "=",
    "'a'",
    "1e126",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    "set_add",
    "EXISTS",
    ",",
    "<<",
    ">>",
    "[",
    "]",
    "{",
    "}",
    ":",
    "?",
    "UPDATE",
    "SET",
    "REMOVE",
    "INSERT",
    "INTO",
    "VALUE",
    "DELETE",
    "IS",
    "INT4",
    "attribute_exists",
    "ORDER",
    "BY",
    "/*",
];

#[test]
fn accepted_forms_aws_reads() {
    assert!(parse("SELECT * FROM t /* a note */ WHERE pk = 'c' /* after */").is_ok());
    let s = parse("SELECT * FROM t WHERE attribute_exists(ss) = true").unwrap();
    assert!(matches!(s, Statement::Select { filter: Some(Expr::Function(..)), .. }));
    let s = parse("SELECT * FROM t WHERE attribute_exists(ss) = false").unwrap();
    assert!(matches!(s, Statement::Select { filter: Some(Expr::Not(_)), .. }));
    let s = parse("SELECT * FROM t WHERE flag IS BOOL AND s IS NOT STRING").unwrap();
    assert!(matches!(s, Statement::Select { filter: Some(Expr::And(..)), .. }));
    let s = parse("from t where pk = 'k' set c = 1 remove a returning all new *").unwrap();
    let Statement::Update { sets, removes, returning, .. } = s else { panic!() };
    assert_eq!((sets.len(), removes.len(), returning), (1, 1, Some("ALL_NEW")));
    assert_eq!(
        parse("FROM t SET c = 1"),
        Err(Refusal::Plain(crate::api::dynamodb::partiql::translate::NO_KEY.into()))
    );
}
