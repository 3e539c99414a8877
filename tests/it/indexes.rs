//! Secondary indexes through the SDK: LSIs and GSIs on CreateTable, their DescribeTable
//! form and counts, index key validation on writes, GSIs added (with backfill) and
//! removed by UpdateTable, and indexes surviving a restart.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType,
};

use crate::harness::{Server, error_of, wait_index_active};

fn attr(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
}

fn key(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
}

fn projection(ty: ProjectionType, include: &[&str]) -> Projection {
    let mut p = Projection::builder().projection_type(ty);
    for name in include {
        p = p.non_key_attributes(*name);
    }
    p.build()
}

fn gsi(name: &str, hash: &str, range: Option<&str>, p: Projection) -> GlobalSecondaryIndex {
    let mut g =
        GlobalSecondaryIndex::builder().index_name(name).key_schema(key(hash, KeyType::Hash));
    if let Some(range) = range {
        g = g.key_schema(key(range, KeyType::Range));
    }
    g.projection(p).build().unwrap()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

/// A table keyed by (pk S, sk N) with an LSI on `lsk` (N, KEYS_ONLY), a GSI on
/// `g` (S) / `gs` (N) projecting ALL and a GSI on `h` (S) including `x`.
async fn create_indexed(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("lsk", ScalarAttributeType::N))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .attribute_definitions(attr("gs", ScalarAttributeType::N))
        .attribute_definitions(attr("h", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by-lsk")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("lsk", KeyType::Range))
                .projection(projection(ProjectionType::KeysOnly, &[]))
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(gsi(
            "by-g",
            "g",
            Some("gs"),
            projection(ProjectionType::All, &[]),
        ))
        .global_secondary_indexes(gsi(
            "by-h",
            "h",
            None,
            projection(ProjectionType::Include, &["x"]),
        ))
        .send()
        .await
        .unwrap();
}

async fn put(client: &Client, table: &str, pairs: &[(&str, AttributeValue)]) {
    let mut request = client.put_item().table_name(table);
    for (k, v) in pairs {
        request = request.item(*k, v.clone());
    }
    request.send().await.unwrap();
}

/// (ItemCount, IndexSizeBytes) of each index, by name.
async fn counts(client: &Client, table: &str) -> Vec<(String, i64, i64)> {
    let t = client.describe_table().table_name(table).send().await.unwrap().table.unwrap();
    let lsis = t.local_secondary_indexes().iter().map(|i| {
        (
            i.index_name().unwrap().to_string(),
            i.item_count().unwrap(),
            i.index_size_bytes().unwrap(),
        )
    });
    let gsis = t.global_secondary_indexes().iter().map(|i| {
        (
            i.index_name().unwrap().to_string(),
            i.item_count().unwrap(),
            i.index_size_bytes().unwrap(),
        )
    });
    lsis.chain(gsis).collect()
}

#[tokio::test]
async fn indexes_are_described_and_counted() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "idx").await;
    let t = client.describe_table().table_name("idx").send().await.unwrap().table.unwrap();
    let arn = t.table_arn().unwrap().to_string();
    let lsi = &t.local_secondary_indexes()[0];
    assert_eq!(lsi.index_name(), Some("by-lsk"));
    assert_eq!(lsi.index_arn(), Some(format!("{arn}/index/by-lsk").as_str()));
    assert_eq!(lsi.projection().unwrap().projection_type(), Some(&ProjectionType::KeysOnly));
    let gsis = t.global_secondary_indexes();
    assert_eq!(gsis.len(), 2);
    assert_eq!(gsis[0].index_status(), Some(&IndexStatus::Active));
    assert_eq!(gsis[0].key_schema().len(), 2);
    assert_eq!(gsis[1].projection().unwrap().non_key_attributes(), ["x".to_string()]);
    assert_eq!(gsis[1].provisioned_throughput().unwrap().read_capacity_units(), Some(0));

    // Items without an index's key attributes are not in that index.
    put(&client, "idx", &[("pk", s("a")), ("sk", n("1"))]).await;
    put(&client, "idx", &[("pk", s("a")), ("sk", n("2")), ("lsk", n("5")), ("g", s("G"))]).await;
    put(
        &client,
        "idx",
        &[
            ("pk", s("b")),
            ("sk", n("1")),
            ("g", s("G")),
            ("gs", n("7")),
            ("h", s("H")),
            ("x", s("xx")),
            ("y", s("yy")),
        ],
    )
    .await;
    let c = counts(&client, "idx").await;
    assert_eq!(
        c.iter().map(|(n, i, _)| (n.as_str(), *i)).collect::<Vec<_>>(),
        [("by-lsk", 1), ("by-g", 1), ("by-h", 1)]
    );
    // by-h keeps pk, sk, h and x: 2+1 + 2+2 + 1+1 + 1+2 = 12 bytes ("sk" 1 is one byte + 1).
    assert!(c[2].2 > 0 && c[2].2 < c[1].2, "INCLUDE projects less than ALL: {c:?}");

    // Moving an item out of an index, and deleting it, keep the counts right.
    put(&client, "idx", &[("pk", s("b")), ("sk", n("1")), ("h", s("H"))]).await;
    client
        .delete_item()
        .table_name("idx")
        .key("pk", s("a"))
        .key("sk", n("2"))
        .send()
        .await
        .unwrap();
    let c = counts(&client, "idx").await;
    assert_eq!(
        c.iter().map(|(n, i, _)| (n.as_str(), *i)).collect::<Vec<_>>(),
        [("by-lsk", 0), ("by-g", 0), ("by-h", 1)]
    );
    assert_eq!(c[0].2, 0);
}

#[tokio::test]
async fn index_keys_of_the_wrong_type_are_refused() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "idxtypes").await;
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("idxtypes")
            .item("pk", s("a"))
            .item("sk", n("1"))
            .item("g", n("3"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: by-g"
    );
    let (_, message) = error_of(
        client
            .update_item()
            .table_name("idxtypes")
            .key("pk", s("a"))
            .key("sk", n("1"))
            .update_expression("SET h = :e")
            .expression_attribute_values(":e", s(""))
            .send()
            .await,
    );
    assert!(message.contains("IndexName: by-h, IndexKey: h"), "{message}");
    // Neither write happened.
    let got = client
        .get_item()
        .table_name("idxtypes")
        .key("pk", s("a"))
        .key("sk", n("1"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none());
}

#[tokio::test]
async fn index_definition_errors() {
    let server = Server::start();
    let client = server.client();
    let base = || {
        client
            .create_table()
            .table_name("bad")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
    };
    let lsi = LocalSecondaryIndex::builder()
        .index_name("lsi1")
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("pk2", KeyType::Range))
        .projection(projection(ProjectionType::All, &[]))
        .build()
        .unwrap();
    let cases = [
        (
            base()
                .attribute_definitions(attr("pk2", ScalarAttributeType::S))
                .local_secondary_indexes(lsi.clone())
                .send()
                .await,
            "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ),
        (
            base()
                .global_secondary_indexes(gsi(
                    "gsi1",
                    "nope",
                    None,
                    projection(ProjectionType::All, &[]),
                ))
                .send()
                .await,
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [nope], AttributeDefinitions: [pk]",
        ),
        (
            base()
                .attribute_definitions(attr("g", ScalarAttributeType::S))
                .global_secondary_indexes(gsi(
                    "gsi1",
                    "g",
                    None,
                    projection(ProjectionType::All, &[]),
                ))
                .global_secondary_indexes(gsi(
                    "gsi1",
                    "g",
                    None,
                    projection(ProjectionType::All, &[]),
                ))
                .send()
                .await,
            "One or more parameter values were invalid: Duplicate index name: gsi1",
        ),
        (
            base()
                .attribute_definitions(attr("g", ScalarAttributeType::S))
                .attribute_definitions(attr("unused", ScalarAttributeType::S))
                .global_secondary_indexes(gsi(
                    "gsi1",
                    "g",
                    None,
                    projection(ProjectionType::All, &[]),
                ))
                .send()
                .await,
            "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [pk, g, unused], keys used: [pk, g]",
        ),
        (
            base()
                .attribute_definitions(attr("g", ScalarAttributeType::S))
                .global_secondary_indexes(gsi(
                    "gsi1",
                    "g",
                    None,
                    projection(ProjectionType::KeysOnly, &["x"]),
                ))
                .send()
                .await,
            "One or more parameter values were invalid: ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified",
        ),
        (
            base()
                .attribute_definitions(attr("g", ScalarAttributeType::S))
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name("gsi1")
                        .key_schema(key("g", KeyType::Hash))
                        .projection(projection(ProjectionType::All, &[]))
                        .provisioned_throughput(
                            ProvisionedThroughput::builder()
                                .read_capacity_units(1)
                                .write_capacity_units(1)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: gsi1 when BillingMode is PAY_PER_REQUEST",
        ),
    ];
    for (result, want) in cases {
        let (code, message) = error_of(result);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want));
    }
}

#[tokio::test]
async fn gsi_added_later_is_backfilled_and_can_be_removed() {
    let server = Server::start();
    let client = server.client();
    crate::harness::create_table(&client, "later", false).await;
    for i in 0..700 {
        let mut request = client.put_item().table_name("later").item("pk", s(&format!("k{i}")));
        if i % 3 == 0 {
            request = request.item("color", s(if i % 2 == 0 { "red" } else { "blue" }));
        }
        request.send().await.unwrap();
    }
    let out = client
        .update_table()
        .table_name("later")
        .attribute_definitions(attr("color", ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by-color")
                        .key_schema(key("color", KeyType::Hash))
                        .projection(projection(ProjectionType::KeysOnly, &[]))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = out.table_description.unwrap();
    assert_eq!(described.global_secondary_indexes().len(), 1);
    // A second online index change while one is being created is refused.
    let (code, _) = error_of(
        client
            .update_table()
            .table_name("later")
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        DeleteGlobalSecondaryIndexAction::builder()
                            .index_name("nope")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await,
    );
    assert!(code == "ResourceNotFoundException" || code == "LimitExceededException", "{code}");
    wait_index_active(&client, "later", "by-color").await;
    // Writes during and after the backfill are in the index too.
    put(&client, "later", &[("pk", s("new")), ("color", s("green"))]).await;
    let c = counts(&client, "later").await;
    assert_eq!(c[0].1, 700 / 3 + 1 + 1, "{c:?}");

    client
        .update_table()
        .table_name("later")
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by-color")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let t = client.describe_table().table_name("later").send().await.unwrap().table.unwrap();
    assert!(t.global_secondary_indexes().is_empty());
    assert_eq!(t.attribute_definitions().len(), 1, "the index's definition goes with it");
    // The attribute is an ordinary one again: any type is fine.
    put(&client, "later", &[("pk", s("n")), ("color", n("1"))]).await;
}

#[tokio::test]
async fn indexes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    create_indexed(&client, "kept").await;
    put(&client, "kept", &[("pk", s("a")), ("sk", n("1")), ("g", s("G")), ("gs", n("1"))]).await;
    let before = counts(&client, "kept").await;
    server.kill();
    let server = Server::start_in(dir.path());
    let client = server.client();
    assert_eq!(counts(&client, "kept").await, before);
    let (_, message) = error_of(
        client
            .put_item()
            .table_name("kept")
            .item("pk", s("b"))
            .item("sk", n("1"))
            .item("gs", s("x"))
            .send()
            .await,
    );
    assert!(message.contains("Type mismatch for Index Key gs"), "{message}");
}

/// Query's items' values of attribute `attr`, in order.
fn column(items: &[std::collections::HashMap<String, AttributeValue>], attr: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| match i.get(attr) {
            Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn queries_and_scans_read_indexes() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "qidx").await;
    for (pk, sk, g, gs, lsk) in [
        ("a", "1", "red", "3", "30"),
        ("a", "2", "red", "1", "10"),
        ("b", "1", "red", "2", "20"),
        ("b", "2", "blue", "1", "5"),
        ("c", "1", "", "", ""),
    ] {
        let mut pairs = vec![("pk", s(pk)), ("sk", n(sk)), ("extra", s(&format!("{pk}{sk}")))];
        if !g.is_empty() {
            pairs.extend([("g", s(g)), ("gs", n(gs)), ("h", s(g)), ("x", s("xv"))]);
        }
        if !lsk.is_empty() {
            pairs.push(("lsk", n(lsk)));
        }
        put(&client, "qidx", &pairs).await;
    }
    // GSI with a range condition, in index order, both directions.
    let q = |forward: bool| {
        client
            .query()
            .table_name("qidx")
            .index_name("by-g")
            .key_condition_expression("g = :g AND gs >= :lo")
            .expression_attribute_values(":g", s("red"))
            .expression_attribute_values(":lo", n("2"))
            .scan_index_forward(forward)
    };
    let out = q(true).send().await.unwrap();
    assert_eq!(column(out.items(), "gs"), ["2", "3"]);
    assert_eq!(column(out.items(), "extra"), ["b1", "a1"], "ALL projection returns whole items");
    let out = q(false).send().await.unwrap();
    assert_eq!(column(out.items(), "gs"), ["3", "2"]);

    // Paging an index: LastEvaluatedKey holds the table's and the index's keys.
    let page = client
        .query()
        .table_name("qidx")
        .index_name("by-g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("red"))
        .limit(1)
        .send()
        .await
        .unwrap();
    let lek = page.last_evaluated_key().unwrap();
    let mut names: Vec<&str> = lek.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["g", "gs", "pk", "sk"]);
    let all: Vec<_> = client
        .query()
        .table_name("qidx")
        .index_name("by-g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("red"))
        .limit(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(column(&all, "gs"), ["1", "2", "3"]);

    // An INCLUDE projection returns only what it projects.
    let out = client
        .query()
        .table_name("qidx")
        .index_name("by-h")
        .key_condition_expression("h = :h")
        .expression_attribute_values(":h", s("blue"))
        .send()
        .await
        .unwrap();
    let mut attrs: Vec<&str> = out.items()[0].keys().map(String::as_str).collect();
    attrs.sort();
    assert_eq!(attrs, ["h", "pk", "sk", "x"]);

    // An LSI in its own order; ALL_ATTRIBUTES fetches what a KEYS_ONLY LSI lacks.
    let out = client
        .query()
        .table_name("qidx")
        .index_name("by-lsk")
        .key_condition_expression("pk = :p AND lsk BETWEEN :a AND :b")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":a", n("0"))
        .expression_attribute_values(":b", n("100"))
        .select(aws_sdk_dynamodb::types::Select::AllAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(column(out.items(), "lsk"), ["10", "30"]);
    assert_eq!(column(out.items(), "extra"), ["a2", "a1"]);
    let out = client
        .query()
        .table_name("qidx")
        .index_name("by-lsk")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .send()
        .await
        .unwrap();
    assert!(!out.items()[0].contains_key("extra"), "ALL_PROJECTED_ATTRIBUTES is the default");

    // Scanning an index sees only the items in it.
    let out = client.scan().table_name("qidx").index_name("by-g").send().await.unwrap();
    assert_eq!(out.count(), 4);
    let seg: i32 = {
        let mut total = 0;
        for segment in 0..3 {
            let out = client
                .scan()
                .table_name("qidx")
                .index_name("by-lsk")
                .segment(segment)
                .total_segments(3)
                .send()
                .await
                .unwrap();
            total += out.count();
        }
        total
    };
    assert_eq!(seg, 4);

    // AWS's refusals.
    let (_, message) = error_of(
        client
            .query()
            .table_name("qidx")
            .index_name("by-g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("red"))
            .consistent_read(true)
            .send()
            .await,
    );
    assert_eq!(message, "Consistent reads are not supported on global secondary indexes");
    let (_, message) = error_of(
        client
            .query()
            .table_name("qidx")
            .index_name("by-h")
            .key_condition_expression("h = :h")
            .expression_attribute_values(":h", s("red"))
            .select(aws_sdk_dynamodb::types::Select::AllAttributes)
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index by-h because its projection type is not ALL"
    );
    let (_, message) = error_of(client.scan().table_name("qidx").index_name("nope").send().await);
    assert_eq!(message, "The table does not have the specified index: nope");
}

#[tokio::test]
async fn batches_and_transactions_maintain_indexes() {
    use aws_sdk_dynamodb::types::{Put, PutRequest, TransactWriteItem, WriteRequest};
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "bidx").await;
    let item = |pk: &str, g: AttributeValue| {
        std::collections::HashMap::from([
            ("pk".to_string(), s(pk)),
            ("sk".to_string(), n("1")),
            ("g".to_string(), g),
            ("gs".to_string(), n("1")),
        ])
    };
    client
        .batch_write_item()
        .request_items(
            "bidx",
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder().set_item(Some(item("a", s("G")))).build().unwrap(),
                    )
                    .build(),
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder().set_item(Some(item("b", s("G")))).build().unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .unwrap();
    let put = |pk: &str, g| {
        TransactWriteItem::builder()
            .put(Put::builder().table_name("bidx").set_item(Some(item(pk, g))).build().unwrap())
            .build()
    };
    client.transact_write_items().transact_items(put("c", s("G"))).send().await.unwrap();
    assert_eq!(counts(&client, "bidx").await[1].1, 3);
    // A transaction writing a wrong index key type is cancelled whole.
    let (code, message) = error_of(
        client
            .transact_write_items()
            .transact_items(put("d", s("G")))
            .transact_items(put("e", n("5")))
            .send()
            .await,
    );
    assert_eq!(code, "TransactionCanceledException");
    assert!(message.contains("[None, ValidationError]"), "{message}");
    let out = client
        .query()
        .table_name("bidx")
        .index_name("by-g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("G"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 3);
}

#[tokio::test]
async fn provisioned_gsis_carry_their_own_throughput() {
    use aws_sdk_dynamodb::types::UpdateGlobalSecondaryIndexAction;
    let server = Server::start();
    let client = server.client();
    let tp = |r, w| {
        ProvisionedThroughput::builder()
            .read_capacity_units(r)
            .write_capacity_units(w)
            .build()
            .unwrap()
    };
    let base = || {
        client
            .create_table()
            .table_name("prov")
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
            .attribute_definitions(attr("g", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
            .provisioned_throughput(tp(5, 5))
    };
    let (_, message) = error_of(
        base()
            .global_secondary_indexes(gsi("by-g", "g", None, projection(ProjectionType::All, &[])))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: by-g"
    );
    let index = GlobalSecondaryIndex::builder()
        .index_name("by-g")
        .key_schema(key("g", KeyType::Hash))
        .projection(projection(ProjectionType::All, &[]))
        .provisioned_throughput(tp(3, 4))
        .build()
        .unwrap();
    base().global_secondary_indexes(index).send().await.unwrap();
    let t = client.describe_table().table_name("prov").send().await.unwrap().table.unwrap();
    let pt = t.global_secondary_indexes()[0].provisioned_throughput().unwrap();
    assert_eq!((pt.read_capacity_units(), pt.write_capacity_units()), (Some(3), Some(4)));
    client
        .update_table()
        .table_name("prov")
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .update(
                    UpdateGlobalSecondaryIndexAction::builder()
                        .index_name("by-g")
                        .provisioned_throughput(tp(7, 8))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let t = client.describe_table().table_name("prov").send().await.unwrap().table.unwrap();
    let pt = t.global_secondary_indexes()[0].provisioned_throughput().unwrap();
    assert_eq!((pt.read_capacity_units(), pt.write_capacity_units()), (Some(7), Some(8)));
}

/// ReturnItemCollectionMetrics=SIZE on a table with a local secondary index: the
/// collection's key and a measured size range; none without SIZE or without an LSI.
#[tokio::test]
async fn writes_report_item_collection_metrics_on_lsi_tables() {
    use aws_sdk_dynamodb::types::ReturnItemCollectionMetrics;
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "icm").await;
    let size = ReturnItemCollectionMetrics::Size;
    let out = client
        .put_item()
        .table_name("icm")
        .item("pk", s("c"))
        .item("sk", n("1"))
        .item("lsk", n("2"))
        .return_item_collection_metrics(size.clone())
        .send()
        .await
        .unwrap();
    let metrics = out.item_collection_metrics().expect("metrics");
    assert_eq!(metrics.item_collection_key().unwrap()["pk"], s("c"));
    assert_eq!(metrics.size_estimate_range_gb(), [0.0, 1.0]);
    let update = client
        .update_item()
        .table_name("icm")
        .key("pk", s("c"))
        .key("sk", n("1"))
        .update_expression("SET x = :x")
        .expression_attribute_values(":x", s("y"))
        .return_item_collection_metrics(size.clone());
    assert!(update.send().await.unwrap().item_collection_metrics().is_some());
    let delete = client.delete_item().table_name("icm").key("pk", s("c")).key("sk", n("1"));
    let out = delete.return_item_collection_metrics(size.clone()).send().await.unwrap();
    assert_eq!(out.item_collection_metrics().unwrap().size_estimate_range_gb(), [0.0, 1.0]);
    let plain = client.put_item().table_name("icm").item("pk", s("c")).item("sk", n("3"));
    assert!(plain.send().await.unwrap().item_collection_metrics().is_none());
    // Batches and transactions list each collection they wrote, by table.
    let body = serde_json::json!({
        "RequestItems": {"icm": [
            {"PutRequest": {"Item": {"pk": {"S": "d"}, "sk": {"N": "1"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "d"}, "sk": {"N": "2"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "e"}, "sk": {"N": "1"}}}},
        ]},
        "ReturnItemCollectionMetrics": "SIZE",
    });
    let r = server.post("BatchWriteItem", body.to_string().as_bytes(), &[]).await;
    let listed = &r.json()["ItemCollectionMetrics"]["icm"];
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{}", r.text());
    assert_eq!(listed[0]["SizeEstimateRangeGB"], serde_json::json!([0.0, 1.0]));
    let body = serde_json::json!({
        "TransactItems": [{"Put": {"TableName": "icm", "Item": {"pk": {"S": "f"}, "sk": {"N": "1"}}}}],
        "ReturnItemCollectionMetrics": "SIZE",
    });
    let r = server.post("TransactWriteItems", body.to_string().as_bytes(), &[]).await;
    let listed = &r.json()["ItemCollectionMetrics"]["icm"];
    assert_eq!(
        listed[0]["ItemCollectionKey"],
        serde_json::json!({"pk": {"S": "f"}}),
        "{}",
        r.text()
    );
    crate::harness::create_table(&client, "no-lsi", true).await;
    let put = client.put_item().table_name("no-lsi").item("pk", s("c")).item("sk", n("3"));
    let out = put.return_item_collection_metrics(size).send().await.unwrap();
    assert!(out.item_collection_metrics().is_none(), "AWS reports none without an LSI");
}
