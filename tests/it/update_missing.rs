//! UpdateItem on an item that does not exist: SET and ADD create it (an upsert), while
//! an update made only of REMOVE and DELETE actions creates nothing and writes no stream
//! record, with UpdateExpression and with the legacy AttributeUpdates alike
//! (docs/dynamodb-compatibility.md, "UpdateItem on a missing item").

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeAction, AttributeValue, AttributeValueUpdate, ReturnValue};

use crate::harness::Server;
use crate::streams::{ONE_SHARD, create_with_stream, events, read_stream, s};

async fn exists(client: &Client, pk: &str) -> bool {
    let out = client
        .get_item()
        .table_name("tbl")
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item.is_some()
}

fn legacy(action: AttributeAction, value: Option<AttributeValue>) -> AttributeValueUpdate {
    AttributeValueUpdate::builder().action(action).set_value(value).build()
}

#[tokio::test]
async fn removes_and_deletes_on_a_missing_item_create_nothing() {
    let server = Server::start_with_config(ONE_SHARD);
    let client = server.client();
    let arn = create_with_stream(&client, "tbl", "NEW_AND_OLD_IMAGES").await;
    let set = AttributeValue::Ss(vec!["a".into()]);

    let out = client
        .update_item()
        .table_name("tbl")
        .key("pk", s("remove"))
        .update_expression("REMOVE a, b.c")
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes, None, "ALL_NEW of an item that was not created");
    let out = client
        .update_item()
        .table_name("tbl")
        .key("pk", s("delete"))
        .update_expression("REMOVE a DELETE tags :s")
        .expression_attribute_values(":s", set.clone())
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes, None);
    client
        .update_item()
        .table_name("tbl")
        .key("pk", s("legacy"))
        .attribute_updates("a", legacy(AttributeAction::Delete, None))
        .attribute_updates("tags", legacy(AttributeAction::Delete, Some(set.clone())))
        .send()
        .await
        .unwrap();
    for pk in ["remove", "delete", "legacy"] {
        assert!(!exists(&client, pk).await, "{pk} was created");
    }

    // Anything that adds creates the item, key attributes included.
    client
        .update_item()
        .table_name("tbl")
        .key("pk", s("set"))
        .update_expression("SET v = :v REMOVE a")
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap();
    let out = client
        .update_item()
        .table_name("tbl")
        .key("pk", s("add"))
        .update_expression("ADD tags :s")
        .expression_attribute_values(":s", set.clone())
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let want = HashMap::from([("pk".to_string(), s("add")), ("tags".to_string(), set.clone())]);
    assert_eq!(out.attributes, Some(want));
    client
        .update_item()
        .table_name("tbl")
        .key("pk", s("legacy-put"))
        .attribute_updates("a", legacy(AttributeAction::Delete, None))
        .attribute_updates("v", legacy(AttributeAction::Put, Some(s("x"))))
        .send()
        .await
        .unwrap();
    // REMOVE on an item that exists still modifies it.
    client
        .update_item()
        .table_name("tbl")
        .key("pk", s("set"))
        .update_expression("REMOVE v")
        .send()
        .await
        .unwrap();
    assert!(exists(&client, "set").await);

    let records = read_stream(&server.streams(), &arn).await;
    let want = [("INSERT", "set"), ("INSERT", "add"), ("INSERT", "legacy-put"), ("MODIFY", "set")];
    let want: Vec<(String, String)> =
        want.iter().map(|(e, pk)| (e.to_string(), pk.to_string())).collect();
    assert_eq!(events(&records), want);
}
