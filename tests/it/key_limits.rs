//! Key value limits on every key an item carries: the table's own (2048 / 1024 bytes)
//! and each GSI's and LSI's. A value too large for a key is refused with AWS's message
//! whichever write carries it, the store never sees it (a 64 KiB key once stopped every
//! write of the daemon), and a GSI backfill leaves such an item out of the new index.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, Put, PutRequest, ScalarAttributeType,
    TransactWriteItem, WriteRequest,
};

use serde_json::json;

use crate::harness::{Server, create_table, error_of};

const HASH_TOO_LARGE: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes";
const RANGE_TOO_LARGE: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn x(n: usize) -> AttributeValue {
    AttributeValue::S("x".repeat(n))
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
}

fn all() -> Projection {
    Projection::builder().projection_type(ProjectionType::All).build()
}

/// Table (pk, sk) with a GSI on (gh, gr) and an LSI on (pk, lr), all strings.
async fn create_indexed(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("gh"))
        .attribute_definitions(attr("gr"))
        .attribute_definitions(attr("lr"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-g")
                .key_schema(key("gh", KeyType::Hash))
                .key_schema(key("gr", KeyType::Range))
                .projection(all())
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by-l")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("lr", KeyType::Range))
                .projection(all())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn health(server: &Server) -> (u16, String) {
    let r = server.request("GET", "/health", &[], b"").await;
    (r.status, r.text())
}

#[tokio::test]
async fn oversize_index_keys_are_refused_on_every_write_and_the_store_keeps_working() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "limits").await;
    let put = |attr: &'static str, value: AttributeValue| {
        client
            .put_item()
            .table_name("limits")
            .item("pk", s("p"))
            .item("sk", s("s"))
            .item(attr, value)
            .send()
    };
    // The fjall limit (65,535 bytes) and just past AWS's, for each index key.
    for n in [65_536, 70_000, 2049] {
        let (code, message) = error_of(put("gh", x(n)).await);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", HASH_TOO_LARGE));
    }
    for attr in ["gr", "lr"] {
        for n in [65_536, 1025] {
            let (code, message) = error_of(put(attr, x(n)).await);
            assert_eq!((code.as_str(), message.as_str()), ("ValidationException", RANGE_TOO_LARGE));
        }
    }
    // The limits themselves are fine (a 2048-byte index sort key is not: it is a range key).
    let at_limits = client
        .put_item()
        .table_name("limits")
        .item("pk", s("p"))
        .item("sk", s("s"))
        .item("gh", x(2048))
        .item("gr", x(1024))
        .item("lr", x(1024));
    at_limits.send().await.unwrap();

    // UpdateItem that would give the item an oversize index key.
    let (code, message) = error_of(
        client
            .update_item()
            .table_name("limits")
            .key("pk", s("p"))
            .key("sk", s("s"))
            .update_expression("SET gh = :big")
            .expression_attribute_values(":big", x(65_536))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", HASH_TOO_LARGE));
    // BatchWriteItem and TransactWriteItems carry the same check.
    let big_item = [("pk", s("b")), ("sk", s("s")), ("lr", x(65_536))];
    let request = WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(big_item.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
                .build()
                .unwrap(),
        )
        .build();
    let (code, message) =
        error_of(client.batch_write_item().request_items("limits", vec![request]).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", RANGE_TOO_LARGE));
    let put = Put::builder()
        .table_name("limits")
        .set_item(Some(big_item.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
        .build()
        .unwrap();
    let transact =
        client.transact_write_items().transact_items(TransactWriteItem::builder().put(put).build());
    let (code, _) = error_of(transact.send().await);
    // (A ValidationError reason of a cancelled transaction, as for any item it refuses.)
    assert!(code == "ValidationException" || code == "TransactionCanceledException", "{code}");
    let b = client.get_item().table_name("limits").key("pk", s("b")).key("sk", s("s"));
    assert!(b.send().await.unwrap().item.is_none());

    // Nothing reached the store: every table still takes writes, /health is plain ok.
    create_table(&client, "other", false).await;
    client.put_item().table_name("other").item("pk", s("a")).send().await.unwrap();
    put_ok(&client).await;
    assert_eq!(health(&server).await, (200, "ok\n".to_string()));
    let r = client.get_item().table_name("limits").key("pk", s("p")).key("sk", s("s"));
    let item = r.send().await.unwrap().item.unwrap();
    assert_eq!((&item["gh"], &item["gr"], &item["lr"]), (&x(2048), &x(1024), &x(1024)));
}

async fn put_ok(client: &Client) {
    client
        .put_item()
        .table_name("limits")
        .item("pk", s("q"))
        .item("sk", s("s"))
        .item("gh", s("small"))
        .item("gr", s("r"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_backfill_leaves_out_items_whose_values_cannot_be_index_keys() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "backfill", false).await;
    let items = [
        ("ok", s("fine")),
        ("huge", x(65_536)),
        ("big", x(2049)),
        ("empty", s("")),
        ("number", AttributeValue::N("1".into())),
        ("edge", x(2048)),
    ];
    for (pk, value) in &items {
        let put =
            client.put_item().table_name("backfill").item("pk", s(pk)).item("x", value.clone());
        put.send().await.unwrap();
    }
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name("by-x")
        .key_schema(key("x", KeyType::Hash))
        .projection(all())
        .build()
        .unwrap();
    client
        .update_table()
        .table_name("backfill")
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("x"))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await
        .unwrap();
    let mut active = false;
    for _ in 0..250 {
        let t = client.describe_table().table_name("backfill").send().await.unwrap().table.unwrap();
        let gsi = &t.global_secondary_indexes()[0];
        if gsi.index_status() == Some(&IndexStatus::Active) {
            assert_eq!(gsi.item_count(), Some(2), "only 'ok' and 'edge' are in the index");
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(active, "the index never became ACTIVE");
    let scan = client.scan().table_name("backfill").index_name("by-x").send().await.unwrap();
    let mut in_index: Vec<String> =
        scan.items().iter().map(|i| i["pk"].as_s().unwrap().clone()).collect();
    in_index.sort();
    assert_eq!(in_index, ["edge", "ok"]);
    // The table takes writes, and new ones are refused or indexed as usual.
    client
        .put_item()
        .table_name("backfill")
        .item("pk", s("new"))
        .item("x", s("y"))
        .send()
        .await
        .unwrap();
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("backfill")
            .item("pk", s("n2"))
            .item("x", x(65_536))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", HASH_TOO_LARGE));
    assert_eq!(health(&server).await.0, 200);
}

#[tokio::test]
async fn an_oversize_start_key_on_an_index_read_is_invalid_not_an_internal_error() {
    let server = Server::start();
    let client = server.client();
    create_indexed(&client, "starts").await;
    let want = format!("The provided starting key is invalid: {HASH_TOO_LARGE}");
    for (pk, gh) in [(x(70_000), s("g")), (s("p"), x(70_000)), (x(2049), s("g"))] {
        let start = [("pk", pk), ("sk", s("s")), ("gh", gh), ("gr", s("r"))]
            .map(|(k, v)| (k.to_string(), v));
        let scan = client.scan().table_name("starts").index_name("by-g");
        let (code, message) =
            error_of(scan.set_exclusive_start_key(Some(start.clone().into())).send().await);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want.as_str()));
        let query = client
            .query()
            .table_name("starts")
            .index_name("by-g")
            .key_condition_expression("gh = :g")
            .expression_attribute_values(":g", s("g"));
        let (code, message) =
            error_of(query.set_exclusive_start_key(Some(start.into())).send().await);
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains(HASH_TOO_LARGE), "{message}");
    }
    assert_eq!(health(&server).await, (200, "ok\n".to_string()));
}

#[tokio::test]
async fn key_attribute_names_are_at_most_255_characters() {
    let server = Server::start();
    let client = server.client();
    let create = |name: String| {
        client
            .create_table()
            .table_name(format!("names{}", name.len()))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(&name))
            .key_schema(key(&name, KeyType::Hash))
            .send()
    };
    create("k".repeat(255)).await.unwrap();
    let (code, message) = error_of(create("k".repeat(256)).await);
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("2 validation errors detected: "), "{message}");
    assert!(
        message.contains("at 'attributeDefinitions.1.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255"),
        "{message}"
    );
    assert!(message.contains("at 'keySchema.1.member.attributeName'"), "{message}");
}

/// Every other user value that names or keys something (Kinesis partition and explicit
/// hash keys, stream, consumer, table and index names, tag keys and values, shard ids,
/// sequence numbers, iterators, tokens) is refused past its limit with a 400 before it can
/// reach a storage key, and the store goes on taking writes.
#[tokio::test]
async fn every_user_value_that_could_become_a_key_is_bounded() {
    let server = Server::start();
    let big = "a".repeat(70_000);
    let nines = "9".repeat(70_000);
    let stream = "arn:aws:kinesis:us-east-1:000000000000:stream/keyed";
    let kinesis = |op: &str| format!("Kinesis_20131202.{op}");
    let k = [("Content-Type", "application/x-amz-json-1.1")];
    let create = json!({"StreamName": "keyed", "ShardCount": 1}).to_string();
    assert_eq!(server.post(&kinesis("CreateStream"), create.as_bytes(), &k).await.status, 200);
    crate::harness::create_table(&server.client(), "keyed", false).await;
    let kinesis_calls = [
        ("CreateStream", json!({"StreamName": big, "ShardCount": 1})),
        ("PutRecord", json!({"StreamName": "keyed", "PartitionKey": big, "Data": "AA=="})),
        (
            "PutRecord",
            json!({"StreamName": "keyed", "PartitionKey": "p", "ExplicitHashKey": nines, "Data": "AA=="}),
        ),
        (
            "PutRecords",
            json!({"StreamName": "keyed", "Records": [{"PartitionKey": big, "Data": "AA=="}]}),
        ),
        ("RegisterStreamConsumer", json!({"StreamARN": stream, "ConsumerName": big})),
        ("AddTagsToStream", json!({"StreamName": "keyed", "Tags": {big.clone(): "v"}})),
        ("AddTagsToStream", json!({"StreamName": "keyed", "Tags": {"k": big}})),
        (
            "GetShardIterator",
            json!({"StreamName": "keyed", "ShardId": big, "ShardIteratorType": "LATEST"}),
        ),
        (
            "GetShardIterator",
            json!({"StreamName": "keyed", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": nines}),
        ),
        ("GetRecords", json!({"ShardIterator": big})),
        ("ListShards", json!({"NextToken": big})),
    ];
    for (op, body) in kinesis_calls {
        let r = server.post(&kinesis(op), body.to_string().as_bytes(), &k).await;
        assert_eq!(r.status, 400, "{op}: {}", r.text());
    }
    let table_arn = "arn:aws:dynamodb:us-east-1:000000000000:table/keyed";
    let ddb_calls = [
        (
            "CreateTable",
            json!({"TableName": big, "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
        ),
        (
            "CreateTable",
            json!({"TableName": "keyed2", "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "GlobalSecondaryIndexes": [{"IndexName": big, "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}]}),
        ),
        ("TagResource", json!({"ResourceArn": table_arn, "Tags": [{"Key": big, "Value": "v"}]})),
        ("PutItem", json!({"TableName": "keyed", "Item": {"pk": {"S": big}}})),
        ("GetItem", json!({"TableName": "keyed", "Key": {"pk": {"S": big}}})),
        (
            "TransactWriteItems",
            json!({"ClientRequestToken": big, "TransactItems": [{"Put": {"TableName": "keyed", "Item": {"pk": {"S": "a"}}}}]}),
        ),
        (
            "DynamoDBStreams_20120810.GetShardIterator",
            json!({"StreamArn": big, "ShardId": big, "ShardIteratorType": "LATEST"}),
        ),
    ];
    for (op, body) in ddb_calls {
        let r = server.post(op, body.to_string().as_bytes(), &[]).await;
        assert_eq!(r.status, 400, "{op}: {}", r.text());
    }
    assert_eq!(health(&server).await, (200, "ok\n".to_string()));
    let put = json!({"TableName": "keyed", "Item": {"pk": {"S": "fine"}}}).to_string();
    assert_eq!(server.post("PutItem", put.as_bytes(), &[]).await.status, 200);
    let record = json!({"StreamName": "keyed", "PartitionKey": "p", "Data": "AA=="}).to_string();
    assert_eq!(server.post(&kinesis("PutRecord"), record.as_bytes(), &k).await.status, 200);
}
