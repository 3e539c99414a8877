//! boto3's `lambda` client, unchanged but for the endpoint URL: every event source
//! mapping operation, its paginator, its modeled exceptions, and Invoke. Needs `python3`
//! with boto3 (installed with awslambdaric by .ci/run, and required there).

use std::process::Command;

use serde_json::Value;

use super::function;
use super::mappings::LAMBDA;
use super::recorder::{invoke_url, recorder};
use crate::harness::Server;

const SCRIPT: &str = r#"
import json, sys, time
import boto3

endpoint = sys.argv[1]
session = boto3.session.Session(
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1")
ddb = session.client("dynamodb", endpoint_url=endpoint)
lam = session.client("lambda", endpoint_url=endpoint)
out = {}

ddb.create_table(
    TableName="boto-esm",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
arn = ddb.describe_table(TableName="boto-esm")["Table"]["LatestStreamArn"]

created = lam.create_event_source_mapping(
    FunctionName="f", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=5,
    FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
uuid = created["UUID"]
out["create"] = [created["ResponseMetadata"]["HTTPStatusCode"], created["State"],
                 created["BatchSize"], created["FilterCriteria"]["Filters"][0]["Pattern"]]

def state():
    return lam.get_event_source_mapping(UUID=uuid)["State"]

for _ in range(200):
    if state() == "Enabled":
        break
    time.sleep(0.05)
out["enabled"] = state()

try:
    lam.create_event_source_mapping(
        FunctionName="f", EventSourceArn=arn, StartingPosition="LATEST")
except lam.exceptions.ResourceConflictException as e:
    out["conflict"] = e.response["Error"]["Code"]

try:
    lam.get_event_source_mapping(UUID="00000000-0000-4000-8000-000000000000")
except lam.exceptions.ResourceNotFoundException as e:
    out["missing"] = e.response["Error"]["Message"]

try:
    lam.create_event_source_mapping(
        FunctionName="f", EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=1)
except lam.exceptions.InvalidParameterValueException as e:
    out["invalid"] = e.response["Error"]["Message"]

pages = lam.get_paginator("list_event_source_mappings").paginate(
    FunctionName="f", PaginationConfig={"PageSize": 1})
out["listed"] = [m["UUID"] for page in pages for m in page["EventSourceMappings"]]

updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
out["update"] = [updated["ResponseMetadata"]["HTTPStatusCode"], updated["State"]]

ddb.put_item(TableName="boto-esm", Item={"id": {"S": "from-boto3"}})

invoked = lam.invoke(FunctionName="f", Payload=json.dumps({"direct": True}).encode())
out["invoke"] = [invoked["StatusCode"], json.loads(invoked["Payload"].read())]

for _ in range(200):
    if state() == "Enabled":
        break
    time.sleep(0.05)
deleted = lam.delete_event_source_mapping(UUID=uuid)
out["delete"] = [deleted["ResponseMetadata"]["HTTPStatusCode"], deleted["State"]]
print(json.dumps(out))
"#;

/// Whether python3 has boto3; prints NOT RUN (or fails where it is required) if not.
fn boto3(test: &str) -> bool {
    let ok =
        Command::new("python3").args(["-c", "import boto3"]).status().is_ok_and(|s| s.success());
    let required = std::env::var_os("REQUIRE_AWSLAMBDARIC").is_some()
        || std::env::var("CI").is_ok_and(|v| v == "true");
    if !ok {
        assert!(!required, "{test}: python3 with boto3 is required here (pip install boto3)");
        eprintln!("\n*** NOT RUN: {test}: python3 with boto3 is missing (pip install boto3) ***\n");
    }
    ok
}

#[tokio::test]
async fn boto3s_lambda_client_drives_event_source_mappings_unchanged() {
    if !boto3("boto3s_lambda_client_drives_event_source_mappings_unchanged") {
        return;
    }
    let (addr, rec) = recorder().await;
    let server =
        Server::start_with_config(&[LAMBDA, &function("f", &invoke_url(addr), "")].concat());
    let endpoint = server.endpoint.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3").args(["-c", SCRIPT, &endpoint]).output().expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_str(stdout.trim()).unwrap();
    let arn_prefix = "arn:aws:dynamodb:us-east-1:000000000000:table/boto-esm/stream/";
    assert_eq!(
        got["create"],
        serde_json::json!([202, "Creating", 5, "{\"eventName\": [\"INSERT\"]}"])
    );
    assert_eq!(got["enabled"], "Enabled");
    assert_eq!(got["conflict"], "ResourceConflictException");
    assert_eq!(got["missing"], "The resource you requested does not exist.");
    assert!(
        got["invalid"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Unsupported starting position for arn type: {arn_prefix}")),
        "{got}"
    );
    assert_eq!(got["listed"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got["update"], serde_json::json!([202, "Updating"]));
    assert_eq!(got["invoke"], serde_json::json!([200, {}]));
    assert_eq!(got["delete"], serde_json::json!([202, "Deleting"]));
    // The mapping delivered the INSERT before it was deleted.
    let records = rec.wait_records(1).await;
    assert_eq!(records[0]["dynamodb"]["Keys"]["id"]["S"], "from-boto3");
}
