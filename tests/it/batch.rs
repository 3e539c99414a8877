//! BatchGetItem and BatchWriteItem through the SDK: writes and reads across tables,
//! projections, ConsumedCapacity, the 16 MB UnprocessedKeys cap, and AWS's errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, ReturnConsumedCapacity,
    WriteRequest,
};

use crate::harness::{Server, create_table, error_of};

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

pub fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub fn put(pairs: &[(&str, AttributeValue)]) -> WriteRequest {
    let request = PutRequest::builder().set_item(Some(item(pairs))).build().unwrap();
    WriteRequest::builder().put_request(request).build()
}

pub fn delete(pairs: &[(&str, AttributeValue)]) -> WriteRequest {
    let request = DeleteRequest::builder().set_key(Some(item(pairs))).build().unwrap();
    WriteRequest::builder().delete_request(request).build()
}

fn keys(list: Vec<HashMap<String, AttributeValue>>) -> KeysAndAttributes {
    KeysAndAttributes::builder().set_keys(Some(list)).build().unwrap()
}

async fn get(
    client: &Client,
    table: &str,
    key: &[(&str, AttributeValue)],
) -> Option<HashMap<String, AttributeValue>> {
    let out = client.get_item().table_name(table).set_key(Some(item(key))).send().await.unwrap();
    out.item
}

#[tokio::test]
async fn batch_write_and_get_across_tables() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "users", false).await;
    create_table(&client, "events", true).await;
    client.put_item().table_name("users").item("pk", s("old")).send().await.unwrap();
    let written = client
        .batch_write_item()
        .request_items(
            "users",
            vec![
                put(&[("pk", s("u1")), ("name", s("Ada")), ("age", n("36"))]),
                put(&[("pk", s("u2")), ("name", s("Bob"))]),
                delete(&[("pk", s("old"))]),
                // Deleting an item that is not there is fine.
                delete(&[("pk", s("never"))]),
            ],
        )
        .request_items(
            "events",
            vec![
                put(&[("pk", s("u1")), ("sk", n("1")), ("what", s("login"))]),
                put(&[("pk", s("u1")), ("sk", n("2")), ("what", s("logout"))]),
            ],
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(written.unprocessed_items().map(HashMap::len), Some(0));
    let mut capacity: Vec<(String, f64)> = written
        .consumed_capacity()
        .iter()
        .map(|c| (c.table_name().unwrap().to_string(), c.capacity_units().unwrap()))
        .collect();
    capacity.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(capacity, vec![("events".into(), 2.0), ("users".into(), 4.0)]);
    assert_eq!(get(&client, "users", &[("pk", s("old"))]).await, None);

    let read = client
        .batch_get_item()
        .request_items(
            "users",
            KeysAndAttributes::builder()
                .keys(item(&[("pk", s("u1"))]))
                .keys(item(&[("pk", s("u2"))]))
                .keys(item(&[("pk", s("missing"))]))
                .projection_expression("#n, age")
                .expression_attribute_names("#n", "name")
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .request_items("events", keys(vec![item(&[("pk", s("u1")), ("sk", n("2"))])]))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let responses = read.responses().unwrap();
    let mut users = responses["users"].clone();
    users.sort_by_key(|i| format!("{:?}", i.get("name")));
    assert_eq!(
        users,
        vec![item(&[("name", s("Ada")), ("age", n("36"))]), item(&[("name", s("Bob"))])]
    );
    assert_eq!(
        responses["events"],
        vec![item(&[("pk", s("u1")), ("sk", n("2")), ("what", s("logout"))])]
    );
    assert_eq!(read.unprocessed_keys().map(HashMap::len), Some(0));
    let capacity: HashMap<String, (f64, f64)> = read
        .consumed_capacity()
        .iter()
        .map(|c| {
            let table = c.table().and_then(|t| t.capacity_units()).unwrap_or(-1.0);
            (c.table_name().unwrap().to_string(), (c.capacity_units().unwrap(), table))
        })
        .collect();
    // Three consistent reads (a missing item costs one too); one eventual read.
    assert_eq!(capacity["users"], (3.0, 3.0));
    assert_eq!(capacity["events"], (0.5, 0.5));
}

#[tokio::test]
async fn batch_get_leaves_keys_past_16_mb_unprocessed() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "big", false).await;
    // 46 items of about 380 KB: only 44 fit in 16 MB.
    let blob = "x".repeat(380_000);
    let pks: Vec<String> = (0..46).map(|i| format!("i{i:02}")).collect();
    for chunk in pks.chunks(23) {
        let requests = chunk.iter().map(|pk| put(&[("pk", s(pk)), ("blob", s(&blob))])).collect();
        client.batch_write_item().request_items("big", requests).send().await.unwrap();
    }
    let all: Vec<_> = pks.iter().map(|pk| item(&[("pk", s(pk))])).collect();
    let request = KeysAndAttributes::builder()
        .set_keys(Some(all))
        .projection_expression("pk")
        .consistent_read(true)
        .build()
        .unwrap();
    let first = client.batch_get_item().request_items("big", request).send().await.unwrap();
    let got = first.responses().unwrap()["big"].len();
    let left = &first.unprocessed_keys().unwrap()["big"];
    assert_eq!((got, left.keys().len()), (44, 2));
    // The retry carries the table's parameters along.
    assert_eq!(left.projection_expression(), Some("pk"));
    assert_eq!(left.consistent_read(), Some(true));
    let second =
        client.batch_get_item().set_request_items(first.unprocessed_keys).send().await.unwrap();
    assert_eq!(second.responses().unwrap()["big"].len(), 2);
    assert_eq!(second.unprocessed_keys().map(HashMap::len), Some(0));
}

#[tokio::test]
async fn batch_get_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "bgx", false).await;
    create_table(&client, "bg2", true).await;
    let check = |r, want: &str| {
        let (code, message) = error_of(r);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want));
    };
    check(
        client.batch_get_item().set_request_items(Some(HashMap::new())).send().await,
        "The requestItems parameter is required for BatchGetItem",
    );
    let many = |prefix: &str, count: usize| -> Vec<_> {
        (0..count).map(|i| item(&[("pk", s(&format!("{prefix}{i}")))])).collect()
    };
    check(
        client.batch_get_item().request_items("bgx", keys(many("k", 101))).send().await,
        "1 validation error detected: Value at 'RequestItems.bgx.member.Keys' failed to satisfy constraint: Member must have length less than or equal to 100",
    );
    let two_tables = client
        .batch_get_item()
        .request_items("bgx", keys(many("k", 100)))
        .request_items("bg2", keys(vec![item(&[("pk", s("a")), ("sk", n("1"))])]))
        .send()
        .await;
    check(two_tables, "Too many items requested for the BatchGetItem call");
    let dup = vec![item(&[("pk", s("a"))]), item(&[("pk", s("b"))]), item(&[("pk", s("a"))])];
    check(
        client.batch_get_item().request_items("bgx", keys(dup)).send().await,
        "Provided list of item keys contains duplicates",
    );
    check(
        client
            .batch_get_item()
            .request_items("bgx", keys(vec![item(&[("pk", n("1"))])]))
            .send()
            .await,
        "The provided key element does not match the schema",
    );
    check(
        client
            .batch_get_item()
            .request_items("bgx", keys(vec![item(&[("pk", s(""))])]))
            .send()
            .await,
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
    );
    let overlap = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a"))]))
        .projection_expression("a, a.b")
        .build()
        .unwrap();
    check(
        client.batch_get_item().request_items("bgx", overlap).send().await,
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
    );
    let repeated = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a"))]))
        .attributes_to_get("v")
        .attributes_to_get("v")
        .build()
        .unwrap();
    check(
        client.batch_get_item().request_items("bgx", repeated).send().await,
        "One or more parameter values were invalid: Duplicate value in attribute name: v",
    );
    let empty = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a"))]))
        .set_attributes_to_get(Some(vec![]))
        .build()
        .unwrap();
    check(
        client.batch_get_item().request_items("bgx", empty).send().await,
        "1 validation error detected: Value '[]' at 'requestItems.bgx.member.attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    // Expression and legacy projections may not be mixed, even on different tables.
    let legacy = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a")), ("sk", n("1"))]))
        .attributes_to_get("pk")
        .build()
        .unwrap();
    let modern = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a"))]))
        .projection_expression("pk")
        .build()
        .unwrap();
    check(
        client
            .batch_get_item()
            .request_items("bgx", modern)
            .request_items("bg2", legacy)
            .send()
            .await,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
    );
    let names = KeysAndAttributes::builder()
        .keys(item(&[("pk", s("a"))]))
        .expression_attribute_names("#a", "a")
        .build()
        .unwrap();
    check(
        client.batch_get_item().request_items("bgx", names).send().await,
        "ExpressionAttributeNames can only be specified when using expressions",
    );
    let (code, message) = error_of(
        client
            .batch_get_item()
            .request_items("nope", keys(vec![item(&[("pk", s("a"))])]))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Requested resource not found")
    );
    // Shapes the SDK would not send, through raw requests.
    let r = server.post("BatchGetItem", br#"{"RequestItems": {"a": {"Keys": []}}}"#, &[]).await;
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    // RequestItems echoed as JSON, the empty Keys unechoed, as AWS answers today.
    assert_eq!(
        message,
        "2 validation errors detected: Value '{\"a\":{\"Keys\":[]}}' at 'requestItems' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]; Value at 'RequestItems.a.member.Keys' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
}

#[tokio::test]
async fn batch_write_errors_write_nothing() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "bwx", false).await;
    create_table(&client, "bw2", false).await;
    let check = |r, want: &str| {
        let (code, message) = error_of(r);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want));
    };
    check(
        client.batch_write_item().set_request_items(Some(HashMap::new())).send().await,
        "The requestItems parameter is required for BatchWriteItem",
    );
    let puts = |prefix: &str, count: usize| -> Vec<_> {
        (0..count).map(|i| put(&[("pk", s(&format!("{prefix}{i}")))])).collect()
    };
    let (_, message) =
        error_of(client.batch_write_item().request_items("bwx", puts("p", 26)).send().await);
    assert!(message.starts_with("1 validation error detected: Value '{bwx=[WriteRequest(putRequest=PutRequest(item={pk=AttributeValue(s=p0, n=null"), "{message}");
    assert!(message.ends_with("' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"), "{message}");
    check(
        client
            .batch_write_item()
            .request_items("bwx", puts("a", 13))
            .request_items("bw2", puts("b", 13))
            .send()
            .await,
        "Too many items requested for the BatchWriteItem call",
    );
    let mut dup = puts("ok", 3);
    dup.push(put(&[("pk", s("same")), ("v", n("1"))]));
    dup.push(delete(&[("pk", s("same"))]));
    check(
        client.batch_write_item().request_items("bwx", dup).send().await,
        "Provided list of item keys contains duplicates",
    );
    let mut mismatch = puts("ok", 2);
    mismatch.push(put(&[("pk", n("5"))]));
    check(
        client.batch_write_item().request_items("bwx", mismatch).send().await,
        "The provided key element does not match the schema",
    );
    check(
        client
            .batch_write_item()
            .request_items("bwx", vec![put(&[("other", s("x"))])])
            .send()
            .await,
        "The provided key element does not match the schema",
    );
    check(
        client.batch_write_item().request_items("bwx", vec![delete(&[("pk", s(""))])]).send().await,
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
    );
    let huge = put(&[("pk", s("huge")), ("v", s(&"x".repeat(400 * 1024)))]);
    check(
        client.batch_write_item().request_items("nonexistent", vec![huge]).send().await,
        "Item size has exceeded the maximum allowed size",
    );
    let (code, message) = error_of(
        client
            .batch_write_item()
            .request_items("bwx", puts("x", 1))
            .request_items("nonexistent", puts("y", 1))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Requested resource not found")
    );
    let r = server.post("BatchWriteItem", br#"{"RequestItems": {"bwx": [{}]}}"#, &[]).await;
    assert_eq!(
        r.json()["message"],
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    );
    // Not one of the rejected batches wrote anything.
    for table in ["bwx", "bw2"] {
        let scan = server
            .post(
                "GetItem",
                format!(r#"{{"TableName": "{table}", "Key": {{"pk": {{"S": "ok0"}}}}}}"#)
                    .as_bytes(),
                &[],
            )
            .await;
        assert_eq!(scan.json(), serde_json::json!({}), "{table}");
    }
    assert_eq!(get(&client, "bwx", &[("pk", s("x0"))]).await, None);
    assert_eq!(get(&client, "bwx", &[("pk", s("same"))]).await, None);
}
