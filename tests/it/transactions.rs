//! TransactWriteItems through the SDK: all-or-nothing writes across tables,
//! CancellationReasons in order, ClientRequestToken replays and AWS's errors.
//! TransactGetItems and the concurrent transfer test live in `transactions/reads.rs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Get, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem, Update,
};
use serde_json::json;

use crate::harness::{Server, create_table, error_of};

mod reads;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn put(table: &str, pairs: &[(&str, AttributeValue)]) -> TransactWriteItem {
    let put = Put::builder().table_name(table).set_item(Some(item(pairs))).build().unwrap();
    TransactWriteItem::builder().put(put).build()
}

fn delete(table: &str, pk: &str) -> TransactWriteItem {
    let delete = Delete::builder().table_name(table).key("pk", s(pk)).build().unwrap();
    TransactWriteItem::builder().delete(delete).build()
}

/// `SET balance = balance + :d` guarded so a balance never goes negative.
fn add(table: &str, pk: &str, by: i64) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(pk))
        .update_expression("SET balance = balance + :d")
        .condition_expression("balance >= :min")
        .expression_attribute_values(":d", n(&by.to_string()))
        .expression_attribute_values(":min", n(&(-by).max(0).to_string()))
        .build()
        .unwrap();
    TransactWriteItem::builder().update(update).build()
}

fn get_action(table: &str, pk: &str) -> TransactGetItem {
    let get = Get::builder().table_name(table).key("pk", s(pk)).build().unwrap();
    TransactGetItem::builder().get(get).build()
}

async fn get(client: &Client, table: &str, pk: &str) -> Option<HashMap<String, AttributeValue>> {
    client.get_item().table_name(table).key("pk", s(pk)).send().await.unwrap().item
}

fn balance(item: Option<&HashMap<String, AttributeValue>>) -> i64 {
    match item.and_then(|i| i.get("balance")) {
        Some(AttributeValue::N(v)) => v.parse().unwrap(),
        other => panic!("no balance in {other:?}"),
    }
}

#[tokio::test]
async fn put_update_delete_and_condition_check_across_tables() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "tab_a", false).await;
    create_table(&client, "tab_b", false).await;
    client.put_item().table_name("tab_a").item("pk", s("gone")).send().await.unwrap();
    client
        .put_item()
        .table_name("tab_b")
        .set_item(Some(item(&[("pk", s("acct")), ("balance", n("10"))])))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("tab_b")
        .set_item(Some(item(&[("pk", s("flag")), ("on", AttributeValue::Bool(true))])))
        .send()
        .await
        .unwrap();
    let check = ConditionCheck::builder()
        .table_name("tab_b")
        .key("pk", s("flag"))
        .condition_expression("#o = :t")
        .expression_attribute_names("#o", "on")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .build()
        .unwrap();
    let out = client
        .transact_write_items()
        .transact_items(put("tab_a", &[("pk", s("new")), ("v", s("x"))]))
        .transact_items(add("tab_b", "acct", -4))
        .transact_items(delete("tab_a", "gone"))
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&client, "tab_a", "new").await, Some(item(&[("pk", s("new")), ("v", s("x"))])));
    assert_eq!(balance(get(&client, "tab_b", "acct").await.as_ref()), 6);
    assert_eq!(get(&client, "tab_a", "gone").await, None);
    let mut capacity: Vec<(String, f64, f64)> = out
        .consumed_capacity()
        .iter()
        .map(|c| {
            (
                c.table_name().unwrap().into(),
                c.capacity_units().unwrap(),
                c.write_capacity_units().unwrap(),
            )
        })
        .collect();
    capacity.sort_by(|a, b| a.0.cmp(&b.0));
    // Two units per action, as transactional writes cost on AWS.
    assert_eq!(capacity, vec![("tab_a".into(), 4.0, 4.0), ("tab_b".into(), 4.0, 4.0)]);
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing_and_explains_each_action() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "tcx", false).await;
    client
        .put_item()
        .table_name("tcx")
        .set_item(Some(item(&[("pk", s("a")), ("balance", n("1"))])))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("tcx")
        .set_item(Some(item(&[("pk", s("t")), ("text", s("hi"))])))
        .send()
        .await
        .unwrap();
    let failing_put = Put::builder()
        .table_name("tcx")
        .item("pk", s("a"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    let bad_operand = Update::builder()
        .table_name("tcx")
        .key("pk", s("t"))
        .update_expression("ADD #t :one")
        .expression_attribute_names("#t", "text")
        .expression_attribute_values(":one", n("1"))
        .build()
        .unwrap();
    let result = client
        .transact_write_items()
        .transact_items(put("tcx", &[("pk", s("fresh"))]))
        .transact_items(TransactWriteItem::builder().put(failing_put).build())
        .transact_items(TransactWriteItem::builder().update(bad_operand).build())
        .send()
        .await;
    let err = result.unwrap_err().into_service_error();
    let TransactWriteItemsError::TransactionCanceledException(e) = err else {
        panic!("expected a cancellation, got {err:?}")
    };
    assert_eq!(
        e.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ValidationError]"
        )
    );
    let reasons = e.cancellation_reasons();
    assert_eq!(reasons.len(), 3);
    assert_eq!(
        (reasons[0].code(), reasons[0].message(), reasons[0].item()),
        (Some("None"), None, None)
    );
    assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
    assert_eq!(reasons[1].message(), Some("The conditional request failed"));
    assert_eq!(reasons[1].item(), Some(&item(&[("pk", s("a")), ("balance", n("1"))])));
    assert_eq!(reasons[2].code(), Some("ValidationError"));
    assert_eq!(
        reasons[2].message(),
        Some("An operand in the update expression has an incorrect data type")
    );
    assert_eq!(get(&client, "tcx", "fresh").await, None, "nothing was written");
    assert_eq!(balance(get(&client, "tcx", "a").await.as_ref()), 1);

    // The exact wire form, as other SDKs read it.
    let body = json!({"TransactItems": [
        {"ConditionCheck": {"TableName": "tcx", "Key": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": "tcx", "Item": {"pk": {"S": "b"}}}}
    ]});
    let r = server.post("TransactWriteItems", body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]",
            "CancellationReasons": [
                {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
                {"Code": "None"}
            ]
        })
    );
}

#[tokio::test]
async fn transaction_validation_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "tvx", false).await;
    let check = |r, want: &str| {
        let (code, message) = error_of(r);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want));
    };
    check(
        client.transact_write_items().set_transact_items(Some(vec![])).send().await,
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    let many: Vec<_> = (0..101).map(|i| put("tvx", &[("pk", s(&format!("k{i}")))])).collect();
    let (_, message) =
        error_of(client.transact_write_items().set_transact_items(Some(many)).send().await);
    assert!(message.starts_with("1 validation error detected: Value '[com.amazonaws.dynamodb.v20120810.TransactWriteItem@"), "{message}");
    assert!(message.ends_with("' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100"), "{message}");
    check(
        client
            .transact_write_items()
            .transact_items(put("tvx", &[("pk", s("same"))]))
            .transact_items(add("tvx", "same", 1))
            .send()
            .await,
        "Transaction request cannot include multiple operations on one item",
    );
    let both = TransactWriteItem::builder()
        .put(Put::builder().table_name("tvx").item("pk", s("x")).build().unwrap())
        .delete(Delete::builder().table_name("tvx").key("pk", s("x")).build().unwrap())
        .build();
    check(
        client.transact_write_items().transact_items(both).send().await,
        "TransactItems can only contain one of Check, Put, Update or Delete",
    );
    check(
        client.transact_write_items().transact_items(delete("tvx", "")).send().await,
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
    );
    let key_update = Update::builder()
        .table_name("tvx")
        .key("pk", s("k"))
        .update_expression("SET pk = :v")
        .expression_attribute_values(":v", s("other"))
        .build()
        .unwrap();
    check(
        client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(key_update).build())
            .send()
            .await,
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
    );
    let unused = Put::builder()
        .table_name("tvx")
        .item("pk", s("k"))
        .condition_expression("attribute_not_exists(pk)")
        .expression_attribute_values(":unused", n("1"))
        .build()
        .unwrap();
    check(
        client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(unused).build())
            .send()
            .await,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    );
    check(
        client
            .transact_write_items()
            .transact_items(put("tvx", &[("pk", s("k"))]))
            .client_request_token("x".repeat(37))
            .send()
            .await,
        &format!(
            "1 validation error detected: Value '{}' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36",
            "x".repeat(37)
        ),
    );
    let (code, message) = error_of(
        client
            .transact_write_items()
            .transact_items(put("tvx", &[("pk", s("k"))]))
            .transact_items(put("missing", &[("pk", s("k"))]))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Requested resource not found")
    );
    assert_eq!(get(&client, "tvx", "k").await, None, "refused requests write nothing");
}

#[tokio::test]
async fn client_request_tokens_replay_successes_and_refuse_changed_requests() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "idem", false).await;
    client
        .put_item()
        .table_name("idem")
        .set_item(Some(item(&[("pk", s("c")), ("balance", n("0"))])))
        .send()
        .await
        .unwrap();
    let send = |token: &'static str, by: i64| {
        client
            .transact_write_items()
            .transact_items(add("idem", "c", by))
            .client_request_token(token)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
    };
    let first = send("token-1", 5).await.unwrap();
    assert_eq!(first.consumed_capacity()[0].write_capacity_units(), Some(2.0));
    let replay = send("token-1", 5).await.unwrap();
    // A replay writes nothing and reports a read.
    assert_eq!(replay.consumed_capacity()[0].read_capacity_units(), Some(1.0));
    assert_eq!(replay.consumed_capacity()[0].write_capacity_units(), None);
    assert_eq!(balance(get(&client, "idem", "c").await.as_ref()), 5);
    let (code, _) = error_of(send("token-1", 6).await);
    assert_eq!(code, "IdempotentParameterMismatchException");
    // A cancelled request does not use its token up: the same request can run later.
    let err = send("token-2", -10).await.unwrap_err().into_service_error();
    assert!(err.is_transaction_canceled_exception(), "{err:?}");
    send("token-3", 10).await.unwrap();
    send("token-2", -10).await.unwrap();
    assert_eq!(balance(get(&client, "idem", "c").await.as_ref()), 5);
}

#[tokio::test]
async fn transactions_and_their_item_counts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    create_table(&client, "durable", false).await;
    client
        .transact_write_items()
        .transact_items(put("durable", &[("pk", s("a")), ("balance", n("1"))]))
        .transact_items(put("durable", &[("pk", s("b")), ("balance", n("2"))]))
        .transact_items(put("durable", &[("pk", s("c")), ("balance", n("3"))]))
        .send()
        .await
        .unwrap();
    client.transact_write_items().transact_items(delete("durable", "c")).send().await.unwrap();
    server.kill();
    let server = Server::start_in(dir.path());
    let client = server.client();
    assert_eq!(balance(get(&client, "durable", "b").await.as_ref()), 2);
    assert_eq!(get(&client, "durable", "c").await, None);
    let table = client.describe_table().table_name("durable").send().await.unwrap();
    assert_eq!(table.table().and_then(|t| t.item_count()), Some(2));
}
