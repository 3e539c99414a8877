//! Requests AWS refuses that sluice used to accept, each with its ValidationException
//! message (docs/dynamodb-compatibility.md, "Validations"): ConditionalOperator without
//! Expected, an empty AttributesToGet, an empty attribute name, an attribute defined
//! twice in CreateTable, tags with forbidden characters, and tag operations on an
//! index's ARN.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeDefinition, AttributeValue, AttributeValueUpdate, BillingMode,
    ConditionalOperator, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, Put, PutRequest, ScalarAttributeType, Tag, TransactWriteItem, WriteRequest,
};

use crate::harness::{Server, create_table, error_of};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn validation(message: &str) -> (String, String) {
    ("ValidationException".to_string(), message.to_string())
}

async fn exists(client: &Client, pk: &str) -> bool {
    let out = client.get_item().table_name("val").key("pk", s(pk)).send().await.unwrap();
    out.item.is_some()
}

#[tokio::test]
async fn conditional_operator_needs_expected_and_attributes_to_get_an_entry() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "val", false).await;
    let without = validation("ConditionalOperator cannot be used without Filter or Expected");
    let put = client
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .conditional_operator(ConditionalOperator::And)
        .send()
        .await;
    assert_eq!(error_of(put), without);
    let update = client
        .update_item()
        .table_name("val")
        .key("pk", s("a"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("x"))
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await;
    assert_eq!(error_of(update), without);
    let delete = client
        .delete_item()
        .table_name("val")
        .key("pk", s("a"))
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await;
    assert_eq!(error_of(delete), without);
    assert!(!exists(&client, "a").await);

    let get = client
        .get_item()
        .table_name("val")
        .key("pk", s("a"))
        .set_attributes_to_get(Some(Vec::new()))
        .send()
        .await;
    assert_eq!(
        error_of(get),
        validation(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
}

#[tokio::test]
async fn an_empty_attribute_name_is_refused() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "val", false).await;
    let empty = validation("One or more parameter values were invalid: Empty attribute name");
    let put = client.put_item().table_name("val").item("pk", s("a")).item("", s("x")).send().await;
    assert_eq!(error_of(put), empty);
    let legacy = AttributeValueUpdate::builder().action(AttributeAction::Put).value(s("x")).build();
    let update = client
        .update_item()
        .table_name("val")
        .key("pk", s("b"))
        .attribute_updates("", legacy)
        .send()
        .await;
    assert_eq!(error_of(update), empty);
    let request = PutRequest::builder().item("pk", s("c")).item("", s("x")).build().unwrap();
    let batch = client
        .batch_write_item()
        .request_items("val", vec![WriteRequest::builder().put_request(request).build()])
        .send()
        .await;
    assert_eq!(error_of(batch), empty);
    let put = Put::builder().table_name("val").item("pk", s("d")).item("", s("x")).build().unwrap();
    let transaction = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await;
    assert_eq!(error_of(transaction), empty);
    let named = client
        .update_item()
        .table_name("val")
        .key("pk", s("e"))
        .update_expression("SET #n = :v")
        .expression_attribute_names("#n", "")
        .expression_attribute_values(":v", s("x"))
        .send()
        .await;
    assert_eq!(
        error_of(named),
        validation(
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n"
        )
    );
    for pk in ["a", "b", "c", "d", "e"] {
        assert!(!exists(&client, pk).await, "{pk}");
    }
}

#[tokio::test]
async fn an_attribute_defined_twice_is_refused() {
    let server = Server::start();
    let client = server.client();
    let attr = |name: &str, ty| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
    };
    let key = |name: &str, ty| {
        KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name("by-g")
        .key_schema(key("g", KeyType::Hash))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap();
    let create = client
        .create_table()
        .table_name("twice")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(index)
        .send()
        .await;
    assert_eq!(error_of(create), validation("Cannot have two attributes with the same name"));
    let (code, _) = error_of(client.describe_table().table_name("twice").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn tags_are_checked_and_index_arns_refused() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "val", false).await;
    let described = client.describe_table().table_name("val").send().await.unwrap();
    let arn = described.table().and_then(|t| t.table_arn()).unwrap().to_string();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    let tagging = |tags: Vec<Tag>| client.tag_resource().resource_arn(&arn).set_tags(Some(tags));

    for bad in ["hi!", "d%g", "\"q\"", "a{b"] {
        let (code, message) = error_of(tagging(vec![tag(bad, "v")]).send().await);
        assert_eq!(
            (code, message),
            validation("One or more parameter values were invalid: Invalid TagKey"),
            "{bad}"
        );
        let (code, message) = error_of(tagging(vec![tag("k", bad)]).send().await);
        assert_eq!(
            (code, message),
            validation("One or more parameter values were invalid: Invalid TagValue"),
            "{bad}"
        );
    }
    // Letters (any script), digits, white space and + - = . _ : / are fine.
    tagging(vec![tag("env name+1-2=3.4_5:6/7", "ünïcödé värde ok"), tag("k", "")])
        .send()
        .await
        .unwrap();
    let listed = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(listed.tags().len(), 2);

    let index_arn = format!("{arn}/index/by-g");
    let refused = validation(&format!(
        "One or more parameter values were invalid: Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {index_arn}"
    ));
    let list = client.list_tags_of_resource().resource_arn(&index_arn).send().await;
    assert_eq!(error_of(list), refused);
    let add = client.tag_resource().resource_arn(&index_arn).tags(tag("k", "v")).send().await;
    assert_eq!(error_of(add), refused);
    let remove = client.untag_resource().resource_arn(&index_arn).tag_keys("k").send().await;
    assert_eq!(error_of(remove), refused);
}
