//! Query's refusals through the SDK (and raw HTTP where an SDK would not send the
//! request), each with AWS's exact error code and message.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ComparisonOperator, Condition, Select};

use crate::harness::{Server, create_table, error_of};
use crate::query::{n, s};

const INVALID_START: &str = "The provided starting key is invalid";

fn validation(message: &str) -> (String, String) {
    ("ValidationException".to_string(), message.to_string())
}

async fn fails(q: QueryFluentBuilder) -> (String, String) {
    error_of(q.send().await)
}

fn cond(op: ComparisonOperator, values: Vec<AttributeValue>) -> Condition {
    Condition::builder()
        .comparison_operator(op)
        .set_attribute_value_list(Some(values))
        .build()
        .unwrap()
}

/// `pk = :p` on the `rq` table (pk S, sk N).
fn on_p(client: &Client) -> QueryFluentBuilder {
    client
        .query()
        .table_name("rqt")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
}

#[tokio::test]
async fn request_and_key_condition_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "rqt", true).await;
    let q = || client.query().table_name("rqt");
    assert_eq!(
        fails(on_p(&client).limit(0)).await,
        validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    );
    assert_eq!(
        fails(on_p(&client).select(Select::from("EVERYTHING"))).await,
        validation(
            "1 validation error detected: Value 'EVERYTHING' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
        )
    );
    assert_eq!(
        fails(on_p(&client).table_name("missing")).await,
        ("ResourceNotFoundException".into(), "Requested resource not found".into())
    );
    assert_eq!(
        fails(q()).await,
        validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
        )
    );
    assert_eq!(
        fails(q().key_condition_expression("")).await,
        validation("Invalid KeyConditionExpression: The expression can not be empty;")
    );
    let kce = |e: &str, v: AttributeValue| {
        q().key_condition_expression(e).expression_attribute_values(":v", v)
    };
    assert_eq!(
        fails(kce("sk = :v", n("1"))).await,
        validation("Query condition missed key schema element: pk")
    );
    assert_eq!(
        fails(kce("pk > :v", s("a"))).await,
        validation("Query key condition not supported")
    );
    assert_eq!(
        fails(kce("pk = :v", n("1"))).await,
        validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type"
        )
    );
    assert_eq!(
        fails(kce("pk = :v", s(""))).await,
        validation(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
        )
    );
    assert_eq!(
        fails(kce("pk = :v OR sk = :v", s("a"))).await,
        validation(
            "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"
        )
    );
    assert_eq!(
        fails(on_p(&client).expression_attribute_names("#unused", "x")).await,
        validation(
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"
        )
    );
    assert_eq!(
        fails(on_p(&client).index_name("byColor")).await,
        validation("The table does not have the specified index: byColor")
    );
    // The legacy KeyConditions.
    let eq_p = cond(ComparisonOperator::Eq, vec![s("p")]);
    assert_eq!(
        fails(
            q().key_conditions("pk", eq_p.clone())
                .key_condition_expression("pk = :v")
                .expression_attribute_values(":v", s("p"))
        )
        .await,
        validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}"
        )
    );
    assert_eq!(
        fails(
            q().key_conditions("pk", eq_p.clone())
                .key_conditions("sk", cond(ComparisonOperator::Eq, vec![n("1")]))
                .key_conditions("x", cond(ComparisonOperator::Eq, vec![n("1")]))
        )
        .await,
        validation("Conditions can be of length 1 or 2 only")
    );
    assert_eq!(
        fails(q().key_conditions("pk", cond(ComparisonOperator::Ne, vec![s("p")]))).await,
        validation("Attempted conditional constraint is not an indexable operation")
    );
    assert_eq!(
        fails(
            q().key_conditions("pk", eq_p.clone())
                .key_conditions("sk", cond(ComparisonOperator::BeginsWith, vec![n("1")]))
        )
        .await,
        validation(
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"
        )
    );
    assert_eq!(
        fails(q().key_conditions("pk", eq_p).conditional_operator("AND".into())).await,
        validation("ConditionalOperator cannot be used without Filter or Expected")
    );
}

#[tokio::test]
async fn select_filter_projection_and_start_key_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "rqt", true).await;
    // Select against the projection parameters.
    assert_eq!(
        fails(on_p(&client).select(Select::AllAttributes).projection_expression("a")).await,
        validation("Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES")
    );
    assert_eq!(
        fails(on_p(&client).select(Select::SpecificAttributes)).await,
        validation(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        )
    );
    assert_eq!(
        fails(on_p(&client).select(Select::AllProjectedAttributes)).await,
        validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    );
    let legacy_p = || {
        client
            .query()
            .table_name("rqt")
            .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
    };
    assert_eq!(
        fails(legacy_p().select(Select::Count).attributes_to_get("a")).await,
        validation("Cannot specify the AttributesToGet when choosing to get only the Count")
    );
    // Key attributes belong in the key condition, not in the filter.
    assert_eq!(
        fails(
            on_p(&client)
                .filter_expression("sk > :one")
                .expression_attribute_values(":one", n("1"))
        )
        .await,
        validation(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
        )
    );
    assert_eq!(
        fails(legacy_p().query_filter("pk", cond(ComparisonOperator::NotNull, vec![]))).await,
        validation(
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: pk"
        )
    );
    assert_eq!(
        fails(on_p(&client).projection_expression("a, sk[0]")).await,
        validation(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: sk"
        )
    );
    // ExclusiveStartKey against the key schema, then against the key condition.
    let start = |pairs: &[(&str, AttributeValue)]| {
        let mut q = on_p(&client);
        for (k, v) in pairs {
            q = q.exclusive_start_key(*k, v.clone());
        }
        q
    };
    assert_eq!(fails(start(&[("pk", s("p"))])).await, validation(INVALID_START));
    assert_eq!(
        fails(start(&[("pk", s("p")), ("sk", n("1")), ("x", n("1"))])).await,
        validation(INVALID_START)
    );
    assert_eq!(fails(start(&[("pk", s("p")), ("other", n("1"))])).await, validation(INVALID_START));
    assert_eq!(
        fails(start(&[("pk", s("p")), ("sk", s("1"))])).await,
        validation("The provided key element does not match the schema")
    );
    assert_eq!(
        fails(start(&[("pk", s("q")), ("sk", n("1"))])).await,
        validation(
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    );
    let ranged = |pk: &str, sk: &str| {
        client
            .query()
            .table_name("rqt")
            .key_condition_expression("pk = :p AND sk > :v")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":v", n("5"))
            .exclusive_start_key("pk", s(pk))
            .exclusive_start_key("sk", n(sk))
    };
    assert_eq!(
        fails(ranged("p", "5")).await,
        validation("The provided starting key does not match the range key predicate")
    );
    assert_eq!(
        fails(ranged("q", "6")).await,
        validation("The query can return at most one row and cannot be restarted")
    );
    ranged("p", "6").send().await.unwrap();
    let bad_value = start(&[("pk", s("p")), ("sk", AttributeValue::Ss(vec![]))]);
    let (code, message) = fails(bad_value).await;
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("The provided starting key is invalid: "), "{message}");
    // An ExclusiveStartKey that is not a map is a SerializationException.
    let body = br#"{"TableName":"rqt","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p"}},"ExclusiveStartKey":[]}"#;
    let raw = server.post("Query", body, &[]).await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.json()["__type"], "com.amazon.coral.service#SerializationException");
}
