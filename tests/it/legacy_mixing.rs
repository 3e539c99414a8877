//! Which legacy (non-expression) parameters may go with which expression parameters.
//! AWS refuses any legacy parameter beside an expression parameter of the same
//! operation, except Query's KeyConditions, which only conflicts with
//! KeyConditionExpression (docs/dynamodb-compatibility.md, "Legacy and expression
//! parameters").

use aws_sdk_dynamodb::types::{
    AttributeValue, ComparisonOperator, Condition, ExpectedAttributeValue, ScalarAttributeType,
};

use crate::harness::{Server, create_table, error_of};
use crate::query::{create_sorted, item, n, put, s};

fn mixed(legacy: &str, expression: &str) -> (String, String) {
    (
        "ValidationException".to_string(),
        format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{legacy}}} Expression parameters: {{{expression}}}"
        ),
    )
}

fn eq(v: AttributeValue) -> Condition {
    Condition::builder()
        .comparison_operator(ComparisonOperator::Eq)
        .attribute_value_list(v)
        .build()
        .unwrap()
}

#[tokio::test]
async fn key_conditions_go_with_projection_and_filter_expressions() {
    let server = Server::start();
    let client = server.client();
    create_sorted(&client, "mix", ScalarAttributeType::N).await;
    for (sk, color) in [("1", "red"), ("2", "blue"), ("3", "red")] {
        let it = item(&[("pk", s("p")), ("sk", n(sk)), ("color", s(color)), ("size", n(sk))]);
        put(&client, "mix", it).await;
    }
    let q = || client.query().table_name("mix").key_conditions("pk", eq(s("p")));

    let out = q()
        .projection_expression("sk, #c")
        .expression_attribute_names("#c", "color")
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 3);
    assert_eq!(out.items()[0], item(&[("sk", n("1")), ("color", s("red"))]));

    let out = q()
        .filter_expression("color = :c")
        .expression_attribute_values(":c", s("red"))
        .projection_expression("sk")
        .send()
        .await
        .unwrap();
    assert_eq!(out.items(), [item(&[("sk", n("1"))]), item(&[("sk", n("3"))])]);
    assert_eq!((out.count, out.scanned_count), (2, 3));

    // With a legacy filter or projection beside an expression, KeyConditions is not
    // named: only the other legacy parameters conflict.
    let (code, message) = error_of(
        q().query_filter("color", eq(s("red")))
            .filter_expression("size > :z")
            .expression_attribute_values(":z", n("0"))
            .send()
            .await,
    );
    assert_eq!((code, message), mixed("QueryFilter", "FilterExpression"));
    let (code, message) =
        error_of(q().attributes_to_get("sk").projection_expression("sk").send().await);
    assert_eq!((code, message), mixed("AttributesToGet", "ProjectionExpression"));
    // KeyConditions and KeyConditionExpression together are refused, with every
    // expression parameter named.
    let (code, message) = error_of(
        q().key_condition_expression("pk = :p")
            .projection_expression("sk")
            .expression_attribute_values(":p", s("p"))
            .send()
            .await,
    );
    assert_eq!(
        (code, message),
        mixed("KeyConditions", "ProjectionExpression, KeyConditionExpression")
    );
}

#[tokio::test]
async fn other_operations_refuse_every_pair() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pairs", false).await;
    let (code, message) = error_of(
        client
            .scan()
            .table_name("pairs")
            .scan_filter("a", eq(s("x")))
            .projection_expression("a")
            .send()
            .await,
    );
    assert_eq!((code, message), mixed("ScanFilter", "ProjectionExpression"));
    let (code, message) = error_of(
        client
            .get_item()
            .table_name("pairs")
            .key("pk", s("k"))
            .attributes_to_get("a")
            .projection_expression("a")
            .send()
            .await,
    );
    assert_eq!((code, message), mixed("AttributesToGet", "ProjectionExpression"));
    let expected = ExpectedAttributeValue::builder().exists(false).build();
    let (code, message) = error_of(
        client
            .delete_item()
            .table_name("pairs")
            .key("pk", s("k"))
            .expected("a", expected.clone())
            .condition_expression("attribute_exists(a)")
            .send()
            .await,
    );
    assert_eq!((code, message), mixed("Expected", "ConditionExpression"));
    let (code, message) = error_of(
        client
            .update_item()
            .table_name("pairs")
            .key("pk", s("k"))
            .expected("a", expected)
            .update_expression("SET a = :v")
            .expression_attribute_values(":v", s("x"))
            .send()
            .await,
    );
    assert_eq!((code, message), mixed("Expected", "UpdateExpression"));
}
