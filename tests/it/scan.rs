//! Scan through the SDK: whole-table pages, filters, projections, the legacy
//! ScanFilter, parallel scans whose segments are disjoint and cover the table, AWS's
//! error for each bad request, and the 1 MB page of Query and Scan.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ComparisonOperator, Condition, ConditionalOperator, ReturnConsumedCapacity,
    Select,
};

use crate::harness::{Server, create_table, error_of};
use crate::query::{Item, item, n, put, s};

/// Fills `table` (pk S, sk N) with 12 partitions of 3 items each.
async fn fill(client: &Client, table: &str) {
    for p in 0..12 {
        for sk in 0..3 {
            let it = item(&[
                ("pk", s(&format!("p{p:02}"))),
                ("sk", n(&sk.to_string())),
                ("even", AttributeValue::Bool(p % 2 == 0)),
                ("tags", AttributeValue::L(vec![s("x")])),
            ]);
            put(client, table, it).await;
        }
    }
}

fn key_of(i: &Item) -> (String, String) {
    match (&i["pk"], &i["sk"]) {
        (AttributeValue::S(p), AttributeValue::N(k)) => (p.clone(), k.clone()),
        other => panic!("key {other:?}"),
    }
}

/// Every item of a scan, following LastEvaluatedKey by hand.
async fn all_pages(scan: impl Fn() -> ScanFluentBuilder) -> (Vec<Item>, usize) {
    let (mut items, mut pages, mut start) = (Vec::new(), 0, None);
    loop {
        let out = scan().set_exclusive_start_key(start).send().await.unwrap();
        pages += 1;
        items.extend(out.items().iter().cloned());
        start = out.last_evaluated_key;
        if start.is_none() {
            return (items, pages);
        }
    }
}

#[tokio::test]
async fn scans_page_filter_and_project() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "scanned", true).await;
    let empty = client.scan().table_name("scanned").send().await.unwrap();
    assert_eq!((empty.count, empty.scanned_count, empty.items().len()), (0, 0, 0));
    fill(&client, "scanned").await;
    let scan = || client.scan().table_name("scanned");
    let (items, pages) = all_pages(|| scan().limit(5)).await;
    assert_eq!(items.len(), 36);
    assert_eq!(pages, 8, "7 full pages of 5 and a last one of 1");
    let keys: BTreeSet<_> = items.iter().map(key_of).collect();
    assert_eq!(keys.len(), 36);
    // One partition's items stay together, in sort-key order.
    for chunk in items.chunks(3) {
        let ks: Vec<_> = chunk.iter().map(key_of).collect();
        assert!(ks.iter().all(|k| k.0 == ks[0].0), "{ks:?}");
        assert_eq!(ks.iter().map(|k| k.1.as_str()).collect::<Vec<_>>(), ["0", "1", "2"]);
    }
    // Filter and projection, through the SDK's paginator.
    let pages: Vec<_> = scan()
        .filter_expression("even = :t AND sk >= :one")
        .projection_expression("pk, tags[0]")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":one", n("1"))
        .limit(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.scanned_count).sum::<i32>(), 36);
    assert_eq!(pages.iter().map(|p| p.count).sum::<i32>(), 12);
    let first = &pages.iter().flat_map(|p| p.items()).next().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first["tags"], AttributeValue::L(vec![s("x")]));
    // The legacy ScanFilter with OR, AttributesToGet, and COUNT.
    let cond = |op, values: Vec<AttributeValue>| {
        Condition::builder()
            .comparison_operator(op)
            .set_attribute_value_list(Some(values))
            .build()
            .unwrap()
    };
    let legacy = scan()
        .scan_filter("pk", cond(ComparisonOperator::Eq, vec![s("p03")]))
        .scan_filter("sk", cond(ComparisonOperator::Eq, vec![n("2")]))
        .conditional_operator(ConditionalOperator::Or)
        .attributes_to_get("sk")
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.count, 3 + 11);
    assert!(legacy.items().iter().all(|i| i.len() == 1));
    let counted = scan().select(Select::Count).consistent_read(true).send().await.unwrap();
    assert_eq!((counted.count, counted.scanned_count, counted.items.is_none()), (36, 36, true));

    // A table without a sort key: Query finds one item and never continues.
    create_table(&client, "hashonly", false).await;
    for i in 0..9 {
        put(&client, "hashonly", item(&[("pk", s(&format!("k{i}"))), ("i", n(&i.to_string()))]))
            .await;
    }
    let (items, pages) = all_pages(|| client.scan().table_name("hashonly").limit(4)).await;
    assert_eq!((items.len(), pages), (9, 3));
    let one = client
        .query()
        .table_name("hashonly")
        .key_condition_expression("pk = :k")
        .expression_attribute_values(":k", s("k3"))
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(one.items(), [item(&[("pk", s("k3")), ("i", n("3"))])]);
    assert!(one.last_evaluated_key.is_none());
}

#[tokio::test]
async fn parallel_segments_are_disjoint_and_cover_the_table() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "parallel", true).await;
    fill(&client, "parallel").await;
    let everything: BTreeSet<_> =
        all_pages(|| client.scan().table_name("parallel")).await.0.iter().map(key_of).collect();
    for total in [1, 2, 3, 7, 100] {
        let mut union = BTreeSet::new();
        for segment in 0..total {
            let (items, _) = all_pages(|| {
                client.scan().table_name("parallel").segment(segment).total_segments(total).limit(2)
            })
            .await;
            for k in items.iter().map(key_of) {
                assert!(union.insert(k.clone()), "{k:?} in two segments of {total}");
            }
            // A partition is never split between segments.
            let parts: BTreeSet<_> = items.iter().map(|i| key_of(i).0).collect();
            assert_eq!(parts.len() * 3, items.len());
        }
        assert_eq!(union, everything, "segments of {total}");
    }
    // A start key from another segment is refused.
    let first = client
        .scan()
        .table_name("parallel")
        .segment(0)
        .total_segments(2)
        .limit(1)
        .send()
        .await
        .unwrap();
    let start = first.last_evaluated_key.unwrap();
    let wrong = client
        .scan()
        .table_name("parallel")
        .segment(1)
        .total_segments(2)
        .set_exclusive_start_key(Some(start))
        .send()
        .await;
    assert_eq!(
        error_of(wrong),
        (
            "ValidationException".into(),
            "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 1".into()
        )
    );
}

#[tokio::test]
async fn scan_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "scanerr", true).await;
    let scan = || client.scan().table_name("scanerr");
    let validation = |m: &str| ("ValidationException".to_string(), m.to_string());
    let fails = |q: ScanFluentBuilder| async move { error_of(q.send().await) };
    assert_eq!(
        fails(scan().segment(0)).await,
        validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present"
        )
    );
    assert_eq!(
        fails(scan().total_segments(4)).await,
        validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present"
        )
    );
    assert_eq!(
        fails(scan().segment(5).total_segments(5)).await,
        validation(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 5 is not less than TotalSegments: 5"
        )
    );
    assert_eq!(
        fails(scan().segment(0).total_segments(1_000_001)).await,
        validation(
            "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000"
        )
    );
    assert_eq!(
        fails(scan().segment(-1).total_segments(0).limit(0)).await,
        validation(
            "3 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0; Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    );
    assert_eq!(
        fails(scan().table_name("nothere")).await,
        ("ResourceNotFoundException".into(), "Requested resource not found".into())
    );
    assert_eq!(
        fails(scan().index_name("byColor")).await,
        validation("The table does not have the specified index: byColor")
    );
    assert_eq!(
        fails(scan().select(Select::Count).projection_expression("pk")).await,
        validation("Cannot specify the ProjectionExpression when choosing to get only the Count")
    );
    assert_eq!(
        fails(scan().select(Select::AllProjectedAttributes).projection_expression("pk")).await,
        validation(
            "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES"
        )
    );
    assert_eq!(
        fails(scan().select(Select::AllProjectedAttributes)).await,
        validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    );
    let invalid_start = validation(
        "The provided starting key is invalid: The provided key element does not match the schema",
    );
    for start in [
        vec![("pk", s("a"))],
        vec![("pk", s("a")), ("sk", s("1"))],
        vec![("pk", s("a")), ("other", n("1"))],
        vec![("pk", s("a")), ("sk", n("1")), ("x", n("1"))],
    ] {
        let mut q = scan();
        for (k, v) in start {
            q = q.exclusive_start_key(k, v);
        }
        assert_eq!(fails(q).await, invalid_start);
    }
    // Key attributes may be filtered on in a Scan, but not into.
    scan()
        .filter_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        fails(
            scan()
                .filter_expression("attribute_exists(#k.x)")
                .expression_attribute_names("#k", "pk")
        )
        .await,
        validation(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"
        )
    );
    assert_eq!(
        fails(
            scan()
                .scan_filter(
                    "a",
                    Condition::builder()
                        .comparison_operator(ComparisonOperator::NotNull)
                        .build()
                        .unwrap()
                )
                .conditional_operator(ConditionalOperator::And)
        )
        .await,
        validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
        )
    );
    assert_eq!(
        fails(scan().attributes_to_get("a").filter_expression("a = :a")).await,
        validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {FilterExpression}"
        )
    );
}

#[tokio::test]
async fn pages_stop_after_one_megabyte_read() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "big", true).await;
    let filler = "x".repeat(100 * 1024);
    for i in 0..25 {
        let it = item(&[("pk", s("p")), ("sk", n(&i.to_string())), ("f", s(&filler))]);
        put(&client, "big", it).await;
    }
    // The size cap counts items read before the filter, like Limit.
    let first = client
        .query()
        .table_name("big")
        .key_condition_expression("pk = :p")
        .filter_expression("attribute_not_exists(nothing)")
        .expression_attribute_values(":p", s("p"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(first.count, 11, "11 items of ~100 KB make the first page past 1 MB");
    assert_eq!(first.last_evaluated_key.unwrap()["sk"], n("10"));
    // About 1.1 MB read, eventually consistent: 276 units of 4 KB, halved.
    let units = first.consumed_capacity.unwrap().capacity_units.unwrap();
    assert!((130.0..150.0).contains(&units), "{units}");
    let all = client
        .query()
        .table_name("big")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .projection_expression("sk")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    assert!(all.iter().all(|i| i.len() == 1));
    // Scan pages by size the same way.
    let scan_pages = client
        .scan()
        .table_name("big")
        .select(Select::Count)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let counts: Vec<i32> = scan_pages.iter().map(|p| p.count).collect();
    assert_eq!(counts, [11, 11, 3]);
}
