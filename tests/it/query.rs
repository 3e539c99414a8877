//! Query through the SDK: every key-condition operator on N, S and B sort keys, order in
//! both directions, Limit and LastEvaluatedKey paging (also through the SDK's
//! paginator), 1 MB pages, filters, projections, Select, the legacy parameters,
//! ConsumedCapacity, and AWS's error for each bad request.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ComparisonOperator, Condition,
    ConditionalOperator, KeySchemaElement, KeyType, ReturnConsumedCapacity, ScalarAttributeType,
    Select,
};

use crate::harness::{Server, create_table, error_of};

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

pub type Item = HashMap<String, AttributeValue>;

pub fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub async fn put(client: &Client, table: &str, it: Item) {
    client.put_item().table_name(table).set_item(Some(it)).send().await.unwrap();
}

/// Creates an on-demand table keyed by `pk` (S) and `sk` of type `sort`.
pub async fn create_sorted(client: &Client, name: &str, sort: ScalarAttributeType) {
    let attr = |n: &str, t| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(t).build().unwrap()
    };
    let key =
        |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", sort))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
}

/// The `sk` values of a result, as their wire strings.
fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match &i["sk"] {
            AttributeValue::N(x) | AttributeValue::S(x) => x.clone(),
            AttributeValue::B(b) => format!("{:?}", b.as_ref()),
            other => panic!("sk {other:?}"),
        })
        .collect()
}

/// Runs `pk = "p" AND <cond>` on `table` with `values` and returns the sort keys.
async fn sorted(
    client: &Client,
    table: &str,
    cond: &str,
    values: &[(&str, AttributeValue)],
) -> Vec<String> {
    let mut q = client
        .query()
        .table_name(table)
        .key_condition_expression(format!(
            "pk = :p{}",
            if cond.is_empty() { String::new() } else { format!(" AND {cond}") }
        ))
        .expression_attribute_values(":p", s("p"))
        .consistent_read(true);
    for (k, v) in values {
        q = q.expression_attribute_values(*k, v.clone());
    }
    let out = q.send().await.unwrap();
    assert_eq!(out.count as usize, out.items().len());
    sks(out.items())
}

#[tokio::test]
async fn key_conditions_select_ranges_in_sort_order() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "nums", true).await;
    for x in ["-5", "0", "1", "2.5", "10", "100", "1e3"] {
        put(&client, "nums", item(&[("pk", s("p")), ("sk", n(x)), ("v", s(x))])).await;
    }
    put(&client, "nums", item(&[("pk", s("other")), ("sk", n("1"))])).await;
    // Numbers sort numerically, not as strings; "1e3" is stored as 1000.
    let all = ["-5", "0", "1", "2.5", "10", "100", "1000"];
    assert_eq!(sorted(&client, "nums", "", &[]).await, all);
    let v = |x: &str| vec![(":v", n(x))];
    assert_eq!(sorted(&client, "nums", "sk = :v", &v("2.50")).await, ["2.5"]);
    assert_eq!(sorted(&client, "nums", "sk < :v", &v("2.5")).await, ["-5", "0", "1"]);
    assert_eq!(sorted(&client, "nums", "sk <= :v", &v("2.5")).await, ["-5", "0", "1", "2.5"]);
    assert_eq!(sorted(&client, "nums", "sk > :v", &v("10")).await, ["100", "1000"]);
    assert_eq!(sorted(&client, "nums", ":v <= sk", &v("10")).await, ["10", "100", "1000"]);
    let between = [(":a", n("0")), (":b", n("10"))];
    assert_eq!(
        sorted(&client, "nums", "sk BETWEEN :a AND :b", &between).await,
        ["0", "1", "2.5", "10"]
    );
    // Backwards.
    let out = client
        .query()
        .table_name("nums")
        .key_condition_expression("pk = :p AND sk >= :v")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":v", n("1"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), ["1000", "100", "10", "2.5", "1"]);
    assert_eq!((out.count, out.scanned_count), (5, 5));
    assert!(out.last_evaluated_key.is_none());
    // A partition with nothing in it is an empty page, not an error.
    let none = client
        .query()
        .table_name("nums")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!((none.count, none.scanned_count, none.items().len()), (0, 0, 0));

    // Strings sort by UTF-8 bytes; begins_with is a prefix range.
    create_sorted(&client, "strs", ScalarAttributeType::S).await;
    for x in ["a", "B", "ab", "abc", "b", "é", "~", "aa"] {
        put(&client, "strs", item(&[("pk", s("p")), ("sk", s(x))])).await;
    }
    assert_eq!(
        sorted(&client, "strs", "", &[]).await,
        ["B", "a", "aa", "ab", "abc", "b", "~", "é"]
    );
    let prefix = [(":v", s("ab"))];
    assert_eq!(sorted(&client, "strs", "begins_with(sk, :v)", &prefix).await, ["ab", "abc"]);
    assert_eq!(sorted(&client, "strs", "sk > :v", &prefix).await, ["abc", "b", "~", "é"]);

    // Binary sort keys sort by bytes, begins_with too.
    create_sorted(&client, "bins", ScalarAttributeType::B).await;
    for x in [vec![2u8], vec![1, 255], vec![1], vec![255], vec![1, 0]] {
        put(&client, "bins", item(&[("pk", s("p")), ("sk", AttributeValue::B(Blob::new(x)))]))
            .await;
    }
    assert_eq!(
        sorted(&client, "bins", "", &[]).await,
        ["[1]", "[1, 0]", "[1, 255]", "[2]", "[255]"]
    );
    let b1 = [(":v", AttributeValue::B(Blob::new(vec![1])))];
    assert_eq!(
        sorted(&client, "bins", "begins_with(sk, :v)", &b1).await,
        ["[1]", "[1, 0]", "[1, 255]"]
    );

    // begins_with needs a string or binary sort key.
    let e = client
        .query()
        .table_name("nums")
        .key_condition_expression("pk = :p AND begins_with(sk, :v)")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":v", n("1"))
        .send()
        .await;
    assert_eq!(
        error_of(e),
        (
            "ValidationException".into(),
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N".into()
        )
    );
}

#[tokio::test]
async fn limit_and_start_keys_page_through_a_partition() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pages", true).await;
    for i in 0..23 {
        let odd = AttributeValue::Bool(i % 2 == 1);
        put(&client, "pages", item(&[("pk", s("p")), ("sk", n(&i.to_string())), ("odd", odd)]))
            .await;
    }
    let query = || {
        client
            .query()
            .table_name("pages")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
    };
    // By hand: Limit counts items read; the last page is the first that is not full.
    let mut start = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let out = query().limit(5).set_exclusive_start_key(start).send().await.unwrap();
        pages += 1;
        seen.extend(sks(out.items()));
        start = out.last_evaluated_key.clone();
        if let Some(k) = &start {
            assert_eq!(out.count, 5);
            assert_eq!(k.len(), 2, "LastEvaluatedKey is the primary key: {k:?}");
            assert_eq!(Some(&k["sk"]), out.items().last().map(|i| &i["sk"]));
        } else {
            break;
        }
    }
    assert_eq!(pages, 5);
    let all: Vec<String> = (0..23).map(|i| i.to_string()).collect();
    assert_eq!(seen, all);
    // The SDK's paginator, backwards, with a filter: ScannedCount counts before it.
    let pages: Vec<_> = query()
        .filter_expression("odd = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .scan_index_forward(false)
        .limit(4)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.scanned_count).sum::<i32>(), 23);
    assert_eq!(pages.iter().map(|p| p.count).sum::<i32>(), 11);
    assert!(pages.iter().all(|p| p.scanned_count <= 4));
    let odd: Vec<String> = pages.iter().flat_map(|p| sks(p.items())).collect();
    let expected: Vec<String> =
        (0..23).rev().filter(|i| i % 2 == 1).map(|i| i.to_string()).collect();
    assert_eq!(odd, expected);
    // A page whose items were all filtered out still moves on.
    let filtered = query()
        .filter_expression("odd = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!((filtered.count, filtered.scanned_count), (0, 1));
    assert_eq!(filtered.last_evaluated_key.unwrap()["sk"], n("0"));
    // A condition on the whole key reads one item at most: nothing to continue.
    let one = query()
        .key_condition_expression("pk = :p AND sk = :v")
        .expression_attribute_values(":v", n("7"))
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!((one.count, one.last_evaluated_key), (1, None));
    // COUNT pages too, without items.
    let counted = query().select(Select::Count).limit(10).send().await.unwrap();
    assert_eq!((counted.count, counted.scanned_count), (10, 10));
    assert!(counted.items.is_none());
    assert!(counted.last_evaluated_key.is_some());
    // A start key inside a sort-key range continues after it, in either direction.
    let after = query()
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":a", n("3"))
        .expression_attribute_values(":b", n("9"))
        .exclusive_start_key("pk", s("p"))
        .exclusive_start_key("sk", n("5"))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(after.items()), ["6", "7", "8", "9"]);
    let before = query()
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":a", n("3"))
        .expression_attribute_values(":b", n("9"))
        .exclusive_start_key("pk", s("p"))
        .exclusive_start_key("sk", n("5.5"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(before.items()), ["5", "4", "3"]);
}

#[tokio::test]
async fn filters_projections_select_and_the_legacy_parameters() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "things", true).await;
    for (sk, color, size) in
        [("1", "red", "3"), ("2", "blue", "5"), ("3", "red", "8"), ("4", "green", "1")]
    {
        let nested = AttributeValue::M(item(&[("a", n(size)), ("b", s(color))]));
        let it = item(&[
            ("pk", s("p")),
            ("sk", n(sk)),
            ("color", s(color)),
            ("size", n(size)),
            ("m", nested),
        ]);
        put(&client, "things", it).await;
    }
    let query = || client.query().table_name("things").consistent_read(true);
    let out = query()
        .key_condition_expression("#k = :p AND sk > :one")
        .filter_expression("color = :red OR #s < :two")
        .projection_expression("sk, m.b, #s")
        .expression_attribute_names("#k", "pk")
        .expression_attribute_names("#s", "size")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":red", s("red"))
        .expression_attribute_values(":two", n("2"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!((out.count, out.scanned_count), (2, 3));
    assert_eq!(
        out.items(),
        [
            item(&[
                ("sk", n("3")),
                ("size", n("8")),
                ("m", AttributeValue::M(item(&[("b", s("red"))])))
            ]),
            item(&[
                ("sk", n("4")),
                ("size", n("1")),
                ("m", AttributeValue::M(item(&[("b", s("green"))])))
            ]),
        ]
    );
    let cc = out.consumed_capacity.unwrap();
    assert_eq!((cc.table_name(), cc.capacity_units), (Some("things"), Some(1.0)));
    assert_eq!(cc.table.and_then(|t| t.capacity_units), Some(1.0));
    // Legacy: KeyConditions, QueryFilter with OR, AttributesToGet.
    let cond = |op, values: Vec<AttributeValue>| {
        Condition::builder()
            .comparison_operator(op)
            .set_attribute_value_list(Some(values))
            .build()
            .unwrap()
    };
    let legacy = query()
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Le, vec![n("3")]))
        .query_filter("color", cond(ComparisonOperator::Eq, vec![s("blue")]))
        .query_filter("size", cond(ComparisonOperator::Gt, vec![n("7")]))
        .conditional_operator(ConditionalOperator::Or)
        .attributes_to_get("sk")
        .attributes_to_get("color")
        .send()
        .await
        .unwrap();
    assert_eq!(
        legacy.items(),
        [
            item(&[("sk", n("2")), ("color", s("blue"))]),
            item(&[("sk", n("3")), ("color", s("red"))])
        ]
    );
    // Hash-key-only legacy condition, BEGINS_WITH not involved: every item.
    let all = query()
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!((all.count, all.scanned_count, all.items.is_none()), (4, 4, true));
    // SPECIFIC_ATTRIBUTES with a projection is the same as no Select.
    let specific = query()
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .projection_expression("color")
        .select(Select::SpecificAttributes)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(specific.items(), [item(&[("color", s("red"))])]);
    // ALL_ATTRIBUTES returns whole items.
    let whole = query()
        .key_condition_expression("pk = :p AND sk = :s")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":s", n("4"))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.items()[0].len(), 5);
}
