//! DeleteTable's answer: AWS's reduced TableDescription (name, status DELETING, ARN, id,
//! throughput, counts, deletion protection), without the key schema, attribute
//! definitions, creation time, indexes or stream (docs/dynamodb-compatibility.md,
//! "DeleteTable").

use serde_json::{Value, json};

use crate::harness::Server;

fn members(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn delete_table_answers_the_reduced_description() {
    let server = Server::start();
    let create = json!({
        "TableName": "ondemand",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "GlobalSecondaryIndexes": [{
            "IndexName": "by-g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}
        }],
        "LocalSecondaryIndexes": [{
            "IndexName": "by-sk",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "g", "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"}
        }],
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
        "TableClass": "STANDARD_INFREQUENT_ACCESS"
    });
    let r = server.post("CreateTable", create.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let described = server.post("DescribeTable", br#"{"TableName": "ondemand"}"#, &[]).await;
    let described = &described.json()["Table"];

    let r = server.post("DeleteTable", br#"{"TableName": "ondemand"}"#, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = &r.json()["TableDescription"];
    assert_eq!(
        members(d),
        [
            "BillingModeSummary",
            "DeletionProtectionEnabled",
            "ItemCount",
            "ProvisionedThroughput",
            "TableArn",
            "TableClassSummary",
            "TableId",
            "TableName",
            "TableSizeBytes",
            "TableStatus",
        ]
    );
    assert_eq!(d["TableStatus"], "DELETING");
    for same in ["TableName", "TableArn", "TableId", "ItemCount", "TableSizeBytes"] {
        assert_eq!(d[same], described[same], "{same}");
    }
    assert_eq!(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(d["TableClassSummary"], json!({"TableClass": "STANDARD_INFREQUENT_ACCESS"}));
    assert_eq!(
        d["ProvisionedThroughput"],
        json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0})
    );

    // A provisioned table: its throughput, and no billing summary.
    let create = json!({
        "TableName": "provisioned",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 7}
    });
    let r = server.post("CreateTable", create.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post("DeleteTable", br#"{"TableName": "provisioned"}"#, &[]).await;
    let d = &r.json()["TableDescription"];
    assert_eq!(
        members(d),
        [
            "DeletionProtectionEnabled",
            "ItemCount",
            "ProvisionedThroughput",
            "TableArn",
            "TableId",
            "TableName",
            "TableSizeBytes",
            "TableStatus",
        ]
    );
    assert_eq!(
        d["ProvisionedThroughput"],
        json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 5, "WriteCapacityUnits": 7})
    );
    assert_eq!(d["DeletionProtectionEnabled"], false);
}
