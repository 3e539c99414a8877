//! Multi-attribute GSI keys (AWS, November 2025) through the SDK: up to four partition
//! and four sort key attributes per GSI key, their DescribeTable form, sparse entries,
//! tuple sort order, Query's key condition rules (expression and legacy), paging,
//! AWS's validation messages, PartiQL's refusal, backfill and a restart.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BatchStatementRequest, BillingMode, ComparisonOperator,
    Condition, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, LocalSecondaryIndex, Projection, ProjectionType,
    ScalarAttributeType,
};

use crate::harness::{Server, error_of, wait_index_active};

type Item = HashMap<String, AttributeValue>;

/// Expression attribute values: (":name", value).
type Values = Vec<(&'static str, AttributeValue)>;

fn attr(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
}

fn key(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A GSI whose key is `elements` (name, is-HASH) in the order given.
fn gsi(name: &str, elements: &[(&str, bool)], projection: ProjectionType) -> GlobalSecondaryIndex {
    let mut g = GlobalSecondaryIndex::builder().index_name(name);
    for (attr, hash) in elements {
        g = g.key_schema(key(attr, if *hash { KeyType::Hash } else { KeyType::Range }));
    }
    g.projection(Projection::builder().projection_type(projection).build()).build().unwrap()
}

/// The GSI of these tests: partition (tournament S, league S), sort (round S, score N).
const MATCHES_KEY: [(&str, bool); 4] =
    [("tournament", true), ("league", true), ("round", false), ("score", false)];

fn definitions() -> Vec<AttributeDefinition> {
    vec![
        attr("pk", ScalarAttributeType::S),
        attr("tournament", ScalarAttributeType::S),
        attr("league", ScalarAttributeType::S),
        attr("round", ScalarAttributeType::S),
        attr("score", ScalarAttributeType::N),
    ]
}

async fn create_matches(client: &Client, table: &str, projection: ProjectionType) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions()))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(gsi("matches", &MATCHES_KEY, projection))
        .send()
        .await
        .unwrap();
}

/// Items as (pk, tournament, league, round, score); `None` leaves an attribute out.
type Row =
    (&'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<i64>);

const ROWS: [Row; 10] = [
    ("m1", Some("W24"), Some("eu"), Some("final"), Some(10)),
    ("m2", Some("W24"), Some("eu"), Some("semi"), Some(7)),
    ("m3", Some("W24"), Some("eu"), Some("semi"), Some(-3)),
    ("m4", Some("W24"), Some("eu"), Some("semi"), Some(100)),
    ("m5", Some("W24"), Some("eu"), Some("quarter"), Some(1)),
    ("m6", Some("W24"), Some("us"), Some("semi"), Some(5)),
    ("m7", Some("S25"), Some("eu"), Some("semi"), Some(5)),
    // Sparse: missing a sort key part, a partition key part; not in the index.
    ("m8", Some("W24"), Some("eu"), Some("semi"), None),
    ("m9", Some("W24"), None, Some("semi"), Some(4)),
    ("m10", Some("W24"), Some("eu"), None, Some(4)),
];

async fn put_rows(client: &Client, table: &str) {
    for (pk, t, r, round, score) in ROWS {
        let mut item: Item = HashMap::from([("pk".into(), s(pk)), ("note".into(), s("x"))]);
        for (name, v) in [("tournament", t), ("league", r), ("round", round)] {
            if let Some(v) = v {
                item.insert(name.into(), s(v));
            }
        }
        if let Some(v) = score {
            item.insert("score".into(), n(v));
        }
        client.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();
    }
}

fn pks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match &i["pk"] {
            AttributeValue::S(v) => v.clone(),
            other => panic!("pk {other:?}"),
        })
        .collect()
}

/// Runs a key condition on the `matches` index of `table` with values `:t` = W24,
/// `:r` = eu (those it names) plus `extra`; the pks in order.
async fn query(
    client: &Client,
    table: &str,
    condition: &str,
    extra: &[(&str, AttributeValue)],
    forward: bool,
) -> Result<Vec<String>, (String, String)> {
    let mut q = client
        .query()
        .table_name(table)
        .index_name("matches")
        .key_condition_expression(condition)
        .scan_index_forward(forward);
    for (name, v) in [(":t", s("W24")), (":r", s("eu"))] {
        if condition.contains(name) {
            q = q.expression_attribute_values(name, v);
        }
    }
    for (name, v) in extra {
        q = q.expression_attribute_values(*name, v.clone());
    }
    match q.send().await {
        Ok(out) => Ok(pks(out.items())),
        Err(e) => Err(error_of::<(), _>(Err(e))),
    }
}

#[tokio::test]
async fn a_multi_attribute_gsi_is_described_sparse_and_sorted_as_a_tuple() {
    let server = Server::start();
    let client = server.client();
    create_matches(&client, "mkt", ProjectionType::All).await;
    let t = client.describe_table().table_name("mkt").send().await.unwrap().table.unwrap();
    let described: Vec<(String, KeyType)> = t.global_secondary_indexes()[0]
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().clone()))
        .collect();
    let expected: Vec<(String, KeyType)> = MATCHES_KEY
        .iter()
        .map(|(a, h)| (a.to_string(), if *h { KeyType::Hash } else { KeyType::Range }))
        .collect();
    assert_eq!(described, expected);

    put_rows(&client, "mkt").await;
    let t = client.describe_table().table_name("mkt").send().await.unwrap().table.unwrap();
    assert_eq!(t.global_secondary_indexes()[0].item_count(), Some(7), "m8..m10 are sparse");

    // Both partition key attributes pin the partition; the sort key is (round, score),
    // compared attribute by attribute, each by its own type.
    let all = query(&client, "mkt", "tournament = :t AND league = :r", &[], true).await.unwrap();
    assert_eq!(all, ["m1", "m5", "m3", "m2", "m4"]);
    let back = query(&client, "mkt", "league = :r AND tournament = :t", &[], false).await.unwrap();
    assert_eq!(back, ["m4", "m2", "m3", "m5", "m1"]);
    let us = client
        .query()
        .table_name("mkt")
        .index_name("matches")
        .key_condition_expression("tournament = :t AND league = :r")
        .expression_attribute_values(":t", s("W24"))
        .expression_attribute_values(":r", s("us"))
        .send()
        .await
        .unwrap();
    assert_eq!(pks(us.items()), ["m6"]);

    // A left prefix of the sort key: equalities, then any key operator on the last.
    let cases: Vec<(&str, Values, Vec<&str>)> = vec![
        ("round = :a", vec![(":a", s("semi"))], vec!["m3", "m2", "m4"]),
        ("round > :a", vec![(":a", s("quarter"))], vec!["m3", "m2", "m4"]),
        ("begins_with(round, :a)", vec![(":a", s("s"))], vec!["m3", "m2", "m4"]),
        ("round BETWEEN :a AND :b", vec![(":a", s("f")), (":b", s("r"))], vec!["m1", "m5"]),
        ("round = :a AND score = :b", vec![(":a", s("semi")), (":b", n(7))], vec!["m2"]),
        ("score >= :b AND round = :a", vec![(":a", s("semi")), (":b", n(7))], vec!["m2", "m4"]),
        ("round = :a AND score < :b", vec![(":a", s("semi")), (":b", n(7))], vec!["m3"]),
        (
            "round = :a AND score BETWEEN :b AND :c",
            vec![(":a", s("semi")), (":b", n(-3)), (":c", n(50))],
            vec!["m3", "m2"],
        ),
    ];
    for (sort, values, want) in cases {
        let condition = format!("tournament = :t AND league = :r AND {sort}");
        let got = query(&client, "mkt", &condition, &values, true).await.unwrap();
        assert_eq!(got, want, "{condition}");
    }

    // The same through the legacy KeyConditions, four of them at once.
    let eq = |v: AttributeValue| {
        Condition::builder()
            .comparison_operator(ComparisonOperator::Eq)
            .attribute_value_list(v)
            .build()
            .unwrap()
    };
    let out = client
        .query()
        .table_name("mkt")
        .index_name("matches")
        .key_conditions("tournament", eq(s("W24")))
        .key_conditions("league", eq(s("eu")))
        .key_conditions("round", eq(s("semi")))
        .key_conditions(
            "score",
            Condition::builder()
                .comparison_operator(ComparisonOperator::Gt)
                .attribute_value_list(n(0))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pks(out.items()), ["m2", "m4"]);

    // An update that completes an item's key brings it in; one that removes a part
    // takes it out.
    client
        .update_item()
        .table_name("mkt")
        .key("pk", s("m8"))
        .update_expression("SET score = :v")
        .expression_attribute_values(":v", n(8))
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name("mkt")
        .key("pk", s("m2"))
        .update_expression("REMOVE league")
        .send()
        .await
        .unwrap();
    let got = query(
        &client,
        "mkt",
        "tournament = :t AND league = :r AND round = :a",
        &[(":a", s("semi"))],
        true,
    )
    .await
    .unwrap();
    assert_eq!(got, ["m3", "m8", "m4"]);

    // Every key attribute is typed on writes.
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("mkt")
            .item("pk", s("bad"))
            .item("score", s("high"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: Type mismatch for Index Key score Expected: N Actual: S IndexName: matches"
    );
}

#[tokio::test]
async fn queries_and_scans_of_a_multi_attribute_gsi_page_on_its_whole_key() {
    let server = Server::start();
    let client = server.client();
    create_matches(&client, "mpt", ProjectionType::KeysOnly).await;
    put_rows(&client, "mpt").await;
    let mut seen = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name("mpt")
            .index_name("matches")
            .key_condition_expression("tournament = :t AND league = :r")
            .expression_attribute_values(":t", s("W24"))
            .expression_attribute_values(":r", s("eu"))
            .limit(2)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        // KEYS_ONLY: the table's key and every index key attribute.
        for item in out.items() {
            let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
            names.sort();
            assert_eq!(names, ["league", "pk", "round", "score", "tournament"]);
        }
        seen.extend(pks(out.items()));
        match out.last_evaluated_key() {
            Some(key) => {
                let mut names: Vec<&str> = key.keys().map(String::as_str).collect();
                names.sort();
                assert_eq!(names, ["league", "pk", "round", "score", "tournament"]);
                start = Some(key.clone());
            }
            None => break,
        }
    }
    assert_eq!(seen, ["m1", "m5", "m3", "m2", "m4"]);

    // A start key must lie in the sort key prefix the query names.
    let outside = HashMap::from([
        ("pk".to_string(), s("m1")),
        ("tournament".to_string(), s("W24")),
        ("league".to_string(), s("eu")),
        ("round".to_string(), s("final")),
        ("score".to_string(), n(10)),
    ]);
    let (_, message) = error_of(
        client
            .query()
            .table_name("mpt")
            .index_name("matches")
            .key_condition_expression(
                "tournament = :t AND league = :r AND round = :a AND score > :b",
            )
            .expression_attribute_values(":t", s("W24"))
            .expression_attribute_values(":r", s("eu"))
            .expression_attribute_values(":a", s("semi"))
            .expression_attribute_values(":b", n(0))
            .set_exclusive_start_key(Some(outside.clone()))
            .send()
            .await,
    );
    assert_eq!(message, "The provided starting key does not match the range key predicate");
    let mut partial = outside.clone();
    partial.remove("score");
    let (_, message) = error_of(
        client
            .query()
            .table_name("mpt")
            .index_name("matches")
            .key_condition_expression("tournament = :t AND league = :r")
            .expression_attribute_values(":t", s("W24"))
            .expression_attribute_values(":r", s("eu"))
            .set_exclusive_start_key(Some(partial.clone()))
            .send()
            .await,
    );
    assert_eq!(message, "The provided starting key is invalid");

    // Scan pages over the whole index with the same keys.
    let mut scanned = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .scan()
            .table_name("mpt")
            .index_name("matches")
            .limit(3)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        scanned.extend(pks(out.items()));
        match out.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    scanned.sort();
    assert_eq!(scanned, ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    let (_, message) = error_of(
        client
            .scan()
            .table_name("mpt")
            .index_name("matches")
            .set_exclusive_start_key(Some(partial))
            .send()
            .await,
    );
    assert_eq!(message, "The provided starting key is invalid");
}

#[tokio::test]
async fn multi_attribute_key_rules_have_aws_messages() {
    let server = Server::start();
    let client = server.client();
    create_matches(&client, "mrt", ProjectionType::All).await;
    put_rows(&client, "mrt").await;

    let gap = |earlier: &str, later: &str| {
        format!(
            "RANGE key attributes {earlier} must have equality conditions specified in the query because a condition is present on key attribute {later}"
        )
    };
    let cases: Vec<(&str, Values, String)> = vec![
        ("tournament = :t AND league = :r AND score > :b", vec![(":b", n(1))], gap("round", "score")),
        (
            "tournament = :t AND league = :r AND round > :a AND score = :b",
            vec![(":a", s("a")), (":b", n(1))],
            gap("round", "score"),
        ),
        ("tournament = :t AND round = :a", vec![(":a", s("a"))], {
            "Query condition missed key schema element: league".to_string()
        }),
        ("tournament = :t AND league > :r", vec![], "Query key condition not supported".to_string()),
        (
            "tournament = :t AND league = :r AND note = :a",
            vec![(":a", s("a"))],
            "Query key condition not supported".to_string(),
        ),
        (
            "tournament = :t AND league = :r AND score = :a AND round = :a",
            vec![(":a", s("a"))],
            "One or more parameter values were invalid: Condition parameter type does not match schema type"
                .to_string(),
        ),
    ];
    for (condition, values, want) in cases {
        let (code, message) = query(&client, "mrt", condition, &values, true).await.unwrap_err();
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", want.as_str()),
            "{condition}"
        );
    }
    // The legacy form follows the same rules.
    let (_, message) = error_of(
        client
            .query()
            .table_name("mrt")
            .index_name("matches")
            .key_conditions(
                "tournament",
                Condition::builder()
                    .comparison_operator(ComparisonOperator::Eq)
                    .attribute_value_list(s("W24"))
                    .build()
                    .unwrap(),
            )
            .key_conditions(
                "league",
                Condition::builder()
                    .comparison_operator(ComparisonOperator::Eq)
                    .attribute_value_list(s("eu"))
                    .build()
                    .unwrap(),
            )
            .key_conditions(
                "score",
                Condition::builder()
                    .comparison_operator(ComparisonOperator::Gt)
                    .attribute_value_list(n(1))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(message, gap("round", "score"));

    // PartiQL runs on no multi-attribute index, alone or in a batch; the table still works.
    let refused = "PartiQL statements cannot be executed on tables with multi-attribute HASH keys or multi-attribute RANGE keys.";
    let (code, message) = error_of(
        client
            .execute_statement()
            .statement(
                "SELECT * FROM \"mrt\".\"matches\" WHERE tournament = 'W24' AND league = 'eu'",
            )
            .send()
            .await,
    );
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", refused));
    let out = client
        .batch_execute_statement()
        .statements(
            BatchStatementRequest::builder()
                .statement("SELECT * FROM \"mrt\".\"matches\" WHERE tournament = 'W24'")
                .build()
                .unwrap(),
        )
        .statements(
            BatchStatementRequest::builder()
                .statement("SELECT * FROM \"mrt\" WHERE pk = 'm1'")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let error = out.responses()[0].error().unwrap();
    assert_eq!(error.code().map(|c| c.as_str()), Some("ValidationError"));
    assert_eq!(error.message(), Some(refused));
    assert_eq!(out.responses()[1].item().unwrap()["pk"], s("m1"));
}

#[tokio::test]
async fn multi_attribute_key_schemas_are_checked_as_aws_checks_them() {
    let server = Server::start();
    let client = server.client();
    let defs = || {
        ["pk", "a", "b", "c", "d", "e"].iter().map(|n| attr(n, ScalarAttributeType::S)).collect()
    };
    let create = |elements: Vec<(&'static str, bool)>| {
        client
            .create_table()
            .table_name("kst")
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(defs()))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(gsi("gix", &elements, ProjectionType::All))
            .send()
    };
    let p = "One or more parameter values were invalid: ";
    let cases: Vec<(Vec<(&str, bool)>, String)> = vec![
        (
            vec![("a", true), ("b", true), ("c", true), ("d", true), ("e", true)],
            format!("{p}The KeySchema exceeds the maximum allowed number of HASH key attributes"),
        ),
        (
            vec![
                ("pk", true),
                ("a", false),
                ("b", false),
                ("c", false),
                ("d", false),
                ("e", false),
            ],
            format!("{p}The KeySchema exceeds the maximum allowed number of RANGE key attributes"),
        ),
        (
            vec![("a", true), ("b", false), ("c", true)],
            format!(
                "{p}All HASH key attributes must precede RANGE key attributes in the KeySchema"
            ),
        ),
        (
            vec![("b", false), ("a", true), ("c", true)],
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".to_string(),
        ),
        (
            vec![("a", true), ("a", true)],
            "The KeySchema contains multiple key attributes with the same name".to_string(),
        ),
    ];
    for (elements, want) in cases {
        let what = format!("{elements:?}");
        let (code, message) = error_of(create(elements).await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", want.as_str()),
            "{what}"
        );
    }
    // A table's key and an LSI's stay one partition and one sort key attribute.
    let (_, message) = error_of(
        client
            .create_table()
            .table_name("kst")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
            .attribute_definitions(attr("a", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("a", KeyType::Hash))
            .send()
            .await,
    );
    assert_eq!(message, "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
    let (_, message) = error_of(
        client
            .create_table()
            .table_name("kst")
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(defs()))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("a", KeyType::Range))
            .local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name("l")
                    .key_schema(key("pk", KeyType::Hash))
                    .key_schema(key("b", KeyType::Range))
                    .key_schema(key("c", KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert!(
        message.ends_with(
            "at 'localSecondaryIndexes.1.member.keySchema' failed to satisfy constraint: Member must have length less than or equal to 2"
        ),
        "{message}"
    );
    // Four and four is the most, and is fine.
    let defs8: Vec<AttributeDefinition> = ["pk", "h1", "h2", "h3", "h4", "r1", "r2", "r3", "r4"]
        .iter()
        .map(|n| attr(n, ScalarAttributeType::N))
        .collect();
    let elements: Vec<(&str, bool)> = ["h1", "h2", "h3", "h4"]
        .iter()
        .map(|h| (*h, true))
        .chain(["r1", "r2", "r3", "r4"].iter().map(|r| (*r, false)))
        .collect();
    client
        .create_table()
        .table_name("eight")
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(defs8))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(gsi("eight-gsi", &elements, ProjectionType::KeysOnly))
        .send()
        .await
        .unwrap();
    let t = client.describe_table().table_name("eight").send().await.unwrap().table.unwrap();
    assert_eq!(t.global_secondary_indexes()[0].key_schema().len(), 8);
    for (pk, r4) in [(1, 30), (2, 10), (3, 20)] {
        let mut item: Item = ["h1", "h2", "h3", "h4", "r1", "r2", "r3"]
            .iter()
            .map(|a| (a.to_string(), n(7)))
            .collect();
        item.insert("pk".into(), n(pk));
        item.insert("r4".into(), n(r4));
        client.put_item().table_name("eight").set_item(Some(item)).send().await.unwrap();
    }
    let out = client
        .query()
        .table_name("eight")
        .index_name("eight-gsi")
        .key_condition_expression(
            "h1 = :v AND h2 = :v AND h3 = :v AND h4 = :v AND r1 = :v AND r2 = :v AND r3 = :v AND r4 > :m",
        )
        .expression_attribute_values(":v", n(7))
        .expression_attribute_values(":m", n(15))
        .send()
        .await
        .unwrap();
    let r4: Vec<&AttributeValue> = out.items().iter().map(|i| &i["r4"]).collect();
    assert_eq!(r4, [&n(20), &n(30)]);
}

#[tokio::test]
async fn a_multi_attribute_gsi_added_later_is_backfilled_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    crate::harness::create_table(&client, "later", false).await;
    put_rows(&client, "later").await;
    let mut create = CreateGlobalSecondaryIndexAction::builder().index_name("matches");
    for (name, hash) in MATCHES_KEY {
        create = create.key_schema(key(name, if hash { KeyType::Hash } else { KeyType::Range }));
    }
    client
        .update_table()
        .table_name("later")
        .set_attribute_definitions(Some(definitions()))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    create
                        .projection(
                            Projection::builder().projection_type(ProjectionType::All).build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_index_active(&client, "later", "matches").await;
    let semi = [(":a", s("semi"))];
    let condition = "tournament = :t AND league = :r AND round = :a";
    assert_eq!(query(&client, "later", condition, &semi, true).await.unwrap(), ["m3", "m2", "m4"]);
    server.kill();

    let server = Server::start_in(dir.path());
    let client = server.client();
    assert_eq!(query(&client, "later", condition, &semi, false).await.unwrap(), ["m4", "m2", "m3"]);
    let t = client.describe_table().table_name("later").send().await.unwrap().table.unwrap();
    assert_eq!(t.global_secondary_indexes()[0].key_schema().len(), 4);
    assert_eq!(t.global_secondary_indexes()[0].item_count(), Some(7));
}
