//! Fault injection through the SDKs: rules added on `/_sluice/faults` (and from the
//! config file) make exactly the next N matching calls fail with AWS's exact error, for
//! one table or stream only, or wait first; clearing them ends it. Errors keep each
//! service's shape (namespaced `__type` on DynamoDB, bare on Kinesis, CBOR for CBOR
//! clients), so an SDK classifies them as it would AWS's (throttles retried).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use sluice::protocol::cbor;

use crate::harness::{AUTH, Server, create_table, error_of};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// POSTs a rule; answers the status and the body.
pub async fn add_rule(server: &Server, rule: Value) -> (u16, Value) {
    let body = rule.to_string();
    let r = server
        .admin("POST", "/_sluice/faults", &[("Content-Type", "application/json")], body.as_bytes())
        .await;
    (r.status, r.json())
}

/// The rules the server lists.
pub async fn rules(server: &Server) -> Vec<Value> {
    let r = server.admin("GET", "/_sluice/faults", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["rules"].as_array().cloned().unwrap_or_default()
}

/// The value of `sluice_faults_injected_total` for these labels (0 when absent).
async fn injected(server: &Server, service: &str, operation: &str, kind: &str) -> f64 {
    let text = server.metrics().await;
    let labels = format!(
        "sluice_faults_injected_total{{kind=\"{kind}\",operation=\"{operation}\",service=\"{service}\"}}"
    );
    text.lines()
        .find(|l| l.starts_with(&labels))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_next_n_calls_on_one_table_fail_with_the_exact_aws_error() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "hot", false).await;
    create_table(&client, "cold", false).await;
    let (status, rule) = add_rule(
        &server,
        json!({"service": "dynamodb", "operation": "PutItem", "resource": "hot",
               "error": "ProvisionedThroughputExceededException", "count": 3}),
    )
    .await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["id"], 1);
    let put = |table: &str, pk: &str| client.put_item().table_name(table).item("pk", s(pk)).send();
    // The SDK (retries off) sees AWS's code and message, twice through the SDK...
    for i in 0..2 {
        let (code, message) = error_of(put("hot", &format!("failed{i}")).await);
        assert_eq!(code, "ProvisionedThroughputExceededException");
        assert!(message.starts_with("The level of configured provisioned throughput"), "{message}");
        // Another table and another operation on this one are untouched.
        put("cold", &format!("c{i}")).await.unwrap();
        client.get_item().table_name("hot").key("pk", s("x")).send().await.unwrap();
    }
    // ...and the third on the wire: namespaced `__type`, status 400, crc32 as always.
    let r =
        server.post("PutItem", br#"{"TableName":"hot","Item":{"pk":{"S":"failed2"}}}"#, &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["__type"],
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    );
    assert!(r.header("x-amz-crc32").is_some());
    // Exactly three: the fourth call goes through, and the failed ones wrote nothing.
    put("hot", "ok").await.unwrap();
    for pk in ["failed0", "failed1", "failed2"] {
        let got = client.get_item().table_name("hot").key("pk", s(pk)).send().await.unwrap();
        assert!(got.item.is_none(), "{pk} was refused, so it is not stored");
    }
    let listed = rules(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["applied"].as_u64(), listed[0]["remaining"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(injected(&server, "dynamodb", "PutItem", "error").await, 3.0);
    // Injected errors count as requests with their status, like any other answer.
    let text = server.metrics().await;
    assert!(
        text.contains(
            "sluice_requests_total{operation=\"PutItem\",service=\"dynamodb\",status=\"400\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn sdk_retries_ride_out_injected_throttles_and_server_errors() {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    let server = Server::start();
    create_table(&server.client(), "tab", false).await;
    // A client with the SDK's standard retries (3 attempts), quick backoff.
    let retrying = {
        let retry = RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(5));
        let conf = server.client().config().to_builder().retry_config(retry).build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    };
    for error in ["ThrottlingException", "InternalServerError", "RequestLimitExceeded"] {
        add_rule(&server, json!({"service": "dynamodb", "error": error, "count": 2})).await;
        // Two attempts fail, the third succeeds: the SDK classified both as retryable,
        // which it does only for AWS's exact shapes.
        retrying.put_item().table_name("tab").item("pk", s(error)).send().await.unwrap();
        let listed = rules(&server).await;
        assert_eq!(listed.last().unwrap()["applied"], 2, "{error}: {listed:?}");
    }
    // Without retries each one surfaces with its code, the 500 with AWS's message.
    let client = server.client();
    add_rule(&server, json!({"service": "dynamodb", "error": "InternalServerError", "count": 1}))
        .await;
    let (code, message) =
        error_of(client.get_item().table_name("tab").key("pk", s("x")).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("InternalServerError", "Internal server error"));
    let r = server.post("DescribeTable", br#"{"TableName":"tab"}"#, &[]).await;
    assert_eq!(r.status, 200, "count 1 was used up");
    add_rule(&server, json!({"service": "dynamodb", "error": "ThrottlingException", "count": 1}))
        .await;
    let r = server.post("DescribeTable", br#"{"TableName":"tab"}"#, &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], "com.amazon.coral.availability#ThrottlingException");
}

#[tokio::test]
async fn kinesis_faults_are_scoped_per_stream_and_spoken_in_json_and_cbor() {
    let server = Server::start();
    let k = server.kinesis();
    crate::kinesis::create(&k, "busy", 1).await;
    crate::kinesis::create(&k, "calm", 1).await;
    let arn = crate::kinesis::arn("busy");
    add_rule(
        &server,
        json!({"service": "kinesis", "operation": "PutRecord", "resource": arn,
               "error": "ProvisionedThroughputExceededException", "count": 2}),
    )
    .await;
    let put = |stream: &str| {
        k.put_record()
            .stream_name(stream)
            .partition_key("p")
            .data(aws_sdk_kinesis::primitives::Blob::new("d"))
            .send()
    };
    let (code, _) = error_of(put("busy").await);
    assert_eq!(code, "ProvisionedThroughputExceededException");
    put("calm").await.unwrap();
    // A CBOR client (the Java SDK, the KCL) gets the error in CBOR, bare `__type`.
    let body =
        cbor::encode_plain(&json!({"StreamName": "busy", "PartitionKey": "p", "Data": "ZA=="}));
    let r = server
        .post(
            "Kinesis_20131202.PutRecord",
            &body,
            &[("Content-Type", "application/x-amz-cbor-1.1")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/x-amz-cbor-1.1"));
    let decoded = cbor::decode_to_json(&r.body).unwrap();
    assert_eq!(decoded["__type"], "ProvisionedThroughputExceededException");
    put("busy").await.unwrap();
    // A Kinesis server error is InternalFailure with status 500.
    add_rule(&server, json!({"service": "kinesis", "error": "InternalFailure", "count": 1})).await;
    let r = server
        .post(
            "Kinesis_20131202.ListStreams",
            b"{}",
            &[("Content-Type", "application/x-amz-json-1.1")],
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json(),
        json!({"__type": "InternalFailure", "message": "Internal Service Failure"})
    );
    assert_eq!(injected(&server, "kinesis", "PutRecord", "error").await, 2.0);
}

#[tokio::test]
async fn latency_is_added_and_rules_are_listed_and_cleared() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "slow", false).await;
    let (_, rule) = add_rule(
        &server,
        json!({"service": "dynamodb", "operation": "GetItem", "latency_ms": 300, "count": 1}),
    )
    .await;
    assert_eq!(rule["latency_ms"], 300);
    let started = Instant::now();
    client.get_item().table_name("slow").key("pk", s("a")).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300), "delayed by at least 300 ms");
    assert_eq!(injected(&server, "dynamodb", "GetItem", "latency").await, 1.0);

    // A rule without a count holds until it is deleted, by id or with all the others.
    let (_, forever) = add_rule(
        &server,
        json!({"service": "dynamodb", "operation": "Scan", "error": "InternalServerError"}),
    )
    .await;
    for _ in 0..3 {
        let (code, _) = error_of(client.scan().table_name("slow").send().await);
        assert_eq!(code, "InternalServerError");
    }
    let id = forever["id"].as_u64().unwrap();
    let r = server.admin("DELETE", &format!("/_sluice/faults/{id}"), &[], b"").await;
    assert_eq!((r.status, r.json()), (200, json!({"cleared": 1})));
    client.scan().table_name("slow").send().await.unwrap();
    let r = server.admin("DELETE", &format!("/_sluice/faults/{id}"), &[], b"").await;
    assert_eq!(r.status, 404);
    add_rule(&server, json!({"service": "dynamodb", "error": "InternalServerError"})).await;
    assert_eq!(rules(&server).await.len(), 2);
    let r = server.admin("DELETE", "/_sluice/faults", &[], b"").await;
    assert_eq!((r.status, r.json()), (200, json!({"cleared": 2})));
    assert!(rules(&server).await.is_empty());
    client.scan().table_name("slow").send().await.unwrap();
}

#[tokio::test]
async fn bad_rules_are_refused_with_a_reason() {
    let server = Server::start();
    let cases = [
        (json!({"service": "s3", "error": "InternalServerError"}), "service"),
        (
            json!({"service": "dynamodb", "operation": "PutRecords", "count": 1, "latency_ms": 1}),
            "operation",
        ),
        (json!({"service": "kinesis", "error": "InternalServerError"}), "InternalFailure"),
        (json!({"service": "dynamodb", "count": 1}), "latency_ms"),
        (json!({"service": "dynamodb", "error": "InternalServerError", "colour": "red"}), "colour"),
    ];
    for (rule, why) in cases {
        let (status, body) = add_rule(&server, rule.clone()).await;
        assert_eq!(status, 400, "{rule}");
        assert!(body["message"].as_str().unwrap().contains(why), "{rule}: {body}");
    }
    assert!(rules(&server).await.is_empty());
    // AWS's own paths are unaffected: an unknown method on the endpoint is refused.
    assert_eq!(server.admin("PUT", "/_sluice/faults", &[], b"").await.status, 405);
}

#[tokio::test]
async fn config_rules_are_active_from_start_and_the_endpoint_can_be_turned_off() {
    let config = "[faults]\nadmin_endpoint = false\n[[faults.rules]]\nservice = \"dynamodb\"\noperation = \"ListTables\"\nerror = \"InternalServerError\"\ncount = 1\n";
    let server = Server::start_with_config(config);
    let client = server.client();
    let (code, _) = error_of(client.list_tables().send().await);
    assert_eq!(code, "InternalServerError");
    client.list_tables().send().await.unwrap();
    // With the endpoint off, its path is not special: it is a plain non-AWS request.
    let r = server.admin("GET", "/_sluice/faults", &[("Authorization", AUTH)], b"").await;
    assert_eq!(r.status, 404);
}

/// A page in a browser cannot drive the endpoint: cross-site requests, and POSTs that are
/// not JSON (what a page sends without a CORS preflight), are refused and add nothing.
#[tokio::test]
async fn cross_site_calls_to_the_admin_endpoint_are_refused() {
    let server = Server::start();
    let rule = br#"{"service":"dynamodb","operation":"PutItem","error":"InternalServerError"}"#;
    let host = server.addr.to_string();
    let own = format!("http://{host}");
    let json = ("Content-Type", "application/json");
    let refused: [&[(&str, &str)]; 6] = [
        &[("Content-Type", "text/plain")],
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &[],
        &[json, ("Origin", "http://evil.example")],
        &[json, ("Origin", "null")],
        &[json, ("Sec-Fetch-Site", "cross-site")],
    ];
    for headers in refused {
        let r = server.admin("POST", "/_sluice/faults", headers, rule).await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.text());
    }
    let r =
        server.admin("DELETE", "/_sluice/faults", &[("Origin", "http://evil.example")], b"").await;
    assert_eq!(r.status, 403);
    let r = server
        .request("OPTIONS", "/_sluice/faults", &[("Origin", "http://evil.example")], b"")
        .await;
    assert_eq!(r.status, 403, "a preflight is refused");
    assert!(rules(&server).await.is_empty(), "nothing was added");
    // Writes are untouched.
    let client = server.client();
    crate::harness::create_table(&client, "csrf", false).await;
    client.put_item().table_name("csrf").item("pk", s("a")).send().await.unwrap();
    // The same call from the endpoint's own origin, or from curl, works.
    let r = server.admin("POST", "/_sluice/faults", &[json, ("Origin", &own)], rule).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(rules(&server).await.len(), 1);
    assert_eq!(server.admin("GET", "/_sluice/other", &[], b"").await.status, 404);
}

/// The metrics listener serves `/metrics` and `/health` only.
#[tokio::test]
async fn the_metrics_listener_has_no_admin_endpoint() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // On a port free a moment ago.
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let _server = Server::start_with_config(&format!("[server]\nmetrics_listen = \"{metrics}\"\n"));
    for (method, path, want) in [
        ("GET", "/_sluice/faults", "HTTP/1.1 404"),
        ("POST", "/_sluice/faults", "HTTP/1.1 404"),
        ("GET", "/health", "HTTP/1.1 200"),
    ] {
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {metrics}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let mut conn = tokio::net::TcpStream::connect(metrics).await.unwrap();
        conn.write_all(raw.as_bytes()).await.unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with(want), "{method} {path}: {answer}");
    }
}
