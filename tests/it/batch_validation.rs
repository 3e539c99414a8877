//! BatchWriteItem validates the whole batch before storing anything: one bad request
//! (an index key of the wrong type or empty, a bad delete key, an oversize item) fails
//! the call with ValidationException and leaves every table as it was, the puts and
//! deletes before the bad one included (docs/dynamodb-compatibility.md, "BatchWriteItem").

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
};

use crate::batch::{delete, item, n, put, s};
use crate::harness::{Server, create_table, error_of};

fn key(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
}

fn attr(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
}

/// `idx`: keyed by (pk S, sk N), an LSI `by-l` on `l` (N) and a GSI `by-g` on `g` (S).
async fn create_indexed(client: &Client) {
    let all = Projection::builder().projection_type(ProjectionType::All).build();
    client
        .create_table()
        .table_name("idx")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("l", ScalarAttributeType::N))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by-l")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("l", KeyType::Range))
                .projection(all.clone())
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-g")
                .key_schema(key("g", KeyType::Hash))
                .projection(all)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Every item of `table`, as (pk, sk-or-empty) pairs, sorted.
async fn keys(client: &Client, table: &str) -> Vec<String> {
    let out = client.scan().table_name(table).consistent_read(true).send().await.unwrap();
    let mut keys: Vec<String> = out
        .items()
        .iter()
        .map(|i| match (i.get("pk"), i.get("sk")) {
            (Some(AttributeValue::S(p)), Some(AttributeValue::N(k))) => format!("{p}/{k}"),
            (Some(AttributeValue::S(p)), _) => p.clone(),
            other => panic!("unexpected key {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn one_bad_request_stores_nothing_of_the_batch() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client).await;
    create_table(&client, "aaa", false).await;
    for (table, pairs) in
        [("idx", vec![("pk", s("old")), ("sk", n("1"))]), ("aaa", vec![("pk", s("old"))])]
    {
        client.put_item().table_name(table).set_item(Some(item(&pairs))).send().await.unwrap();
    }
    let good = || {
        vec![
            put(&[("pk", s("new")), ("sk", n("1")), ("g", s("x")), ("l", n("5"))]),
            delete(&[("pk", s("old")), ("sk", n("1"))]),
        ]
    };
    let type_mismatch = |attr: &str, expected: &str, index: &str| {
        format!(
            "One or more parameter values were invalid: Type mismatch for Index Key {attr} Expected: {expected} Actual: S IndexName: {index}"
        )
    };
    let cases = [
        (
            put(&[("pk", s("bad")), ("sk", n("2")), ("g", n("7"))]),
            "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: by-g".to_string(),
        ),
        (
            put(&[("pk", s("bad")), ("sk", n("2")), ("g", s(""))]),
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by-g, IndexKey: g".to_string(),
        ),
        (put(&[("pk", s("bad")), ("sk", n("2")), ("l", s("7"))]), type_mismatch("l", "N", "by-l")),
        (
            delete(&[("pk", s("bad")), ("sk", s("2"))]),
            "The provided key element does not match the schema".to_string(),
        ),
    ];
    for (bad, want) in cases {
        let mut requests = good();
        requests.push(bad);
        let result = client
            .batch_write_item()
            .request_items("aaa", vec![put(&[("pk", s("new"))]), delete(&[("pk", s("old"))])])
            .request_items("idx", requests)
            .send()
            .await;
        let (code, message) = error_of(result);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want.as_str()));
        assert_eq!(keys(&client, "idx").await, ["old/1"], "after {want}");
        assert_eq!(keys(&client, "aaa").await, ["old"], "after {want}");
    }
    // The same batch without the bad request goes through whole.
    client
        .batch_write_item()
        .request_items("aaa", vec![put(&[("pk", s("new"))]), delete(&[("pk", s("old"))])])
        .request_items("idx", good())
        .send()
        .await
        .unwrap();
    assert_eq!(keys(&client, "idx").await, ["new/1"]);
    assert_eq!(keys(&client, "aaa").await, ["new"]);
}
