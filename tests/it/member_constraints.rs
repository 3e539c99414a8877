//! Member constraints as AWS reports them today, through raw HTTP (recorded against AWS
//! by nubo-db/dynamodb-conformance, eu-west-2 and us-east-1, 2026): TableName on the
//! data-plane calls, UpdateItem's member order, and a transaction's key that does not
//! fit its table answered as that action's cancellation reason.

use serde_json::{Value as Json, json};

use crate::harness::{Server, create_table};

async fn refused(server: &Server, target: &str, body: Json) -> (String, String) {
    let r = server.post(target, body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 400, "{target} {body}: {}", r.text());
    let answer = r.json();
    let kind = answer["__type"].as_str().unwrap().rsplit('#').next().unwrap().to_string();
    (kind, answer["message"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn table_names_are_member_constraints_on_item_calls() {
    let server = Server::start();
    let item = json!({"pk": {"S": "a"}});
    let one =
        |m: &str| ("ValidationException".to_string(), format!("1 validation error detected: {m}"));
    let cases = [
        (
            json!({"Item": item}),
            one("Value null at 'tableName' failed to satisfy constraint: Member must not be null"),
        ),
        (
            json!({"TableName": "", "Item": item}),
            one(
                "Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ),
        ),
        (
            json!({"TableName": "bad table!@#", "Item": item}),
            one(
                "Value 'bad table!@#' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ),
        ),
        (
            json!({"TableName": "a".repeat(256), "Item": item}),
            one(&format!(
                "Value '{}' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255",
                "a".repeat(256)
            )),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(refused(&server, "PutItem", body.clone()).await, expected, "{body}");
    }
    // Too short to exist, but a valid name: not found.
    let (kind, _) = refused(&server, "GetItem", json!({"TableName": "ab", "Key": item})).await;
    assert_eq!(kind, "ResourceNotFoundException");
    // UpdateItem joins them in AWS's member order.
    let body = json!({
        "TableName": "", "ReturnConsumedCapacity": "INVALID", "ReturnValues": "INVALID",
        "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}},
    });
    let (_, message) = refused(&server, "UpdateItem", body).await;
    assert_eq!(
        message,
        "4 validation errors detected: Value 'INVALID' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'INVALID' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; Value null at 'key' failed to satisfy constraint: Member must not be null"
    );
    // In a transaction the message names the action.
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "fine", "Item": item}},
        {"Update": {"TableName": "bad!name", "Key": item, "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}}},
    ]});
    let (_, message) = refused(&server, "TransactWriteItems", body).await;
    assert_eq!(
        message,
        "1 validation error detected: Value 'bad!name' at 'transactItems.2.member.update.tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
}

#[tokio::test]
async fn a_transaction_key_that_does_not_fit_its_table_cancels_it() {
    let server = Server::start();
    create_table(&server.client(), "txk", false).await;
    let cancel = |reasons: &[&str]| {
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            reasons.join(", ")
        )
    };
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "txk", "Item": {"pk": {"S": "ok"}}}},
        {"Put": {"TableName": "txk", "Item": {"pk": {"N": "5"}}}},
    ]});
    let r = server.post("TransactWriteItems", body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let answer = r.json();
    assert!(answer["__type"].as_str().unwrap().ends_with("TransactionCanceledException"));
    // This exception's member is capitalized on the wire, as AWS sends it.
    assert_eq!(answer["Message"], cancel(&["None", "ValidationError"]));
    assert_eq!(
        answer["CancellationReasons"][1]["Message"],
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"
    );
    for action in ["Delete", "ConditionCheck"] {
        let mut inner = json!({"TableName": "txk", "Key": {"pk": {"L": [{"S": "x"}]}}});
        if action == "ConditionCheck" {
            inner["ConditionExpression"] = json!("attribute_exists(pk)");
        }
        let body = json!({"TransactItems": [{ action: inner }]});
        let r = server.post("TransactWriteItems", body.to_string().as_bytes(), &[]).await;
        assert_eq!(r.json()["Message"], cancel(&["ValidationError"]), "{action}: {}", r.text());
        assert_eq!(
            r.json()["CancellationReasons"][0]["Message"],
            "The provided key element does not match the schema"
        );
    }
    let body = json!({"TransactItems": [{"Get": {"TableName": "txk", "Key": {}}}]});
    let r = server.post("TransactGetItems", body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.json()["Message"], cancel(&["ValidationError"]), "{}", r.text());
    // Nothing was written by the cancelled transaction.
    let body = json!({"TableName": "txk", "Key": {"pk": {"S": "ok"}}});
    let r = server.post("GetItem", body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.json(), json!({}));
    // An empty key value stays the request's error.
    let body = json!({"TransactItems": [{"Put": {"TableName": "txk", "Item": {"pk": {"S": ""}}}}]});
    let (kind, _) = refused(&server, "TransactWriteItems", body).await;
    assert_eq!(kind, "ValidationException");
}

/// What a request is checked for first: every transaction action's expressions before
/// any table is looked up, the token before the enums, GSIs before LSIs.
#[tokio::test]
async fn checks_come_in_aws_order() {
    let server = Server::start();
    let item = json!({"pk": {"S": "a"}});
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "missing", "Item": item}},
        {"Put": {"TableName": "missing2", "Item": item, "ConditionExpression": "("}},
    ]});
    let (kind, message) = refused(&server, "TransactWriteItems", body).await;
    assert_eq!(kind, "ValidationException", "{message}");
    assert_eq!(message, "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"(\"");
    let body = json!({"TransactItems": [{"Put": {"TableName": "t", "Item": item}}],
        "ClientRequestToken": "x".repeat(37), "ReturnConsumedCapacity": "BOGUS"});
    let (_, message) = refused(&server, "TransactWriteItems", body).await;
    assert!(message.starts_with("2 validation errors detected: Value 'xxxx"), "{message}");
    assert!(message.contains("at 'clientRequestToken'"), "{message}");
    let (_, message) = refused(&server, "TransactWriteItems", json!({"TransactItems": [{}]})).await;
    assert_eq!(
        message,
        "1 validation error detected: Value '' at 'transactItems' failed to satisfy constraint: TransactWriteRequest should contain Delete or Put or Update or ConditionCheck"
    );
    let index = |name: &str| json!({"IndexName": name, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}});
    let body = json!({
        "TableName": "ordered", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "LocalSecondaryIndexes": [index("aa")], "GlobalSecondaryIndexes": [index("zz")],
    });
    let (_, message) = refused(&server, "CreateTable", body).await;
    let gsi = message.find("globalSecondaryIndexes.1.member.indexName").expect(&message);
    let lsi = message.find("localSecondaryIndexes.1.member.indexName").expect(&message);
    assert!(gsi < lsi, "{message}");
}
