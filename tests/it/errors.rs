//! The wire, over raw HTTP: what an SDK never sends (bad JSON, wrong types, no auth,
//! unknown targets, huge bodies) must get AWS's error and never a 500, and every DynamoDB
//! response carries a correct `x-amz-crc32` and a request id. Also /health, /metrics and
//! HTTP/2 with prior knowledge on the same port.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use crate::harness::{AUTH, RawResponse, Server};

const CORAL: &str = "com.amazon.coral.service#";

/// Asserts the DynamoDB response invariants: JSON 1.0, CRC32 of the exact body, request id.
fn assert_dynamodb_headers(r: &RawResponse) {
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.0"), "{r:?}");
    let crc = r.header("x-amz-crc32").unwrap_or_else(|| panic!("no x-amz-crc32: {r:?}"));
    assert_eq!(crc, crc32fast::hash(&r.body).to_string(), "crc32 of {:?}", r.text());
    let id = r.header("x-amzn-requestid").unwrap_or_else(|| panic!("no request id: {r:?}"));
    assert!(
        id.len() == 52 && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "request id {id}"
    );
}

/// The message of every UnknownOperationException (AWS's request framework's words).
const UNKNOWN: &str = "The requested operation is not recognized by the service.";

fn assert_error(r: &RawResponse, status: u16, body: Value) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json(), body);
    assert_dynamodb_headers(r);
}

#[tokio::test]
async fn unknown_targets_are_unknown_operations() {
    let server = Server::start();
    let unknown =
        json!({"__type": format!("{CORAL}UnknownOperationException"), "message": UNKNOWN});
    for target in ["DynamoDB_20120810.NoSuchOperation", "DynamoDB_20111205.ListTables", "Nope"] {
        let r = server.post(target, b"{}", &[]).await;
        assert_error(&r, 400, unknown.clone());
    }
    // No target at all.
    let r = server
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Date", "20260101T000000Z"),
                ("Authorization", AUTH),
            ],
            b"{}",
        )
        .await;
    assert_error(&r, 400, unknown);
    // An operation Kinesis does not serve: its own (JSON 1.1, unnamespaced) form, no CRC32.
    let r = server
        .post(
            "Kinesis_20131202.CreateQueue",
            b"{}",
            &[("Content-Type", "application/x-amz-json-1.1")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"__type": "UnknownOperationException", "message": UNKNOWN}));
    assert_eq!(r.header("x-amz-crc32"), None);
}

#[tokio::test]
async fn missing_or_incomplete_authentication() {
    let server = Server::start();
    server.expect_denials();
    let r = server
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
                ("X-Amz-Date", "20260101T000000Z"),
            ],
            b"{}",
        )
        .await;
    assert_error(
        &r,
        400,
        json!({"__type": format!("{CORAL}MissingAuthenticationTokenException"), "message": "Request is missing Authentication Token"}),
    );
    let r = server
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
                ("X-Amz-Date", "20260101T000000Z"),
                ("Authorization", "AWS4-HMAC-SHA256 Signature=abc"),
            ],
            b"{}",
        )
        .await;
    assert_error(
        &r,
        400,
        json!({
            "__type": format!("{CORAL}IncompleteSignatureException"),
            "message": "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Signature=abc",
        }),
    );
}

#[tokio::test]
async fn malformed_bodies_are_serialization_exceptions() {
    let server = Server::start();
    // AWS's framework writes this one's message as `Message`; sluice always sends one
    // (dynalite recorded bare ones; see docs/dynamodb-compatibility.md).
    let typed = |message: &str| json!({"__type": format!("{CORAL}SerializationException"), "Message": message});
    let unrecognized = |word: &str| {
        typed(&format!(
            "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        ))
    };
    for (body, want) in [
        (&b"{\"TableName\":"[..], typed("Unexpected end-of-input")),
        (b"not json", unrecognized("not")),
        (b"[]", typed("Unexpected token received from parser")),
        (b"\"x\"", typed("Unexpected token received from parser")),
        (b"", typed("No content to map due to end-of-input")),
    ] {
        let r = server.post("ListTables", body, &[]).await;
        assert_error(&r, 400, want);
    }
    let r = server.post("DescribeTable", br#"{"TableName": 5}"#, &[]).await;
    assert_error(&r, 400, typed("NUMBER_VALUE cannot be converted to String"));
    let r = server.post("ListTables", br#"{"Limit": "x"}"#, &[]).await;
    assert_error(&r, 400, typed("VALUE_STRING cannot be converted to Long"));
    // A malformed body is answered before a wrong type earlier in it, an unknown
    // operation and a missing signature.
    let brace = typed("Unexpected character ('}' (code 125))");
    let r = server.post("ListTables", br#"{"Limit": "x", "ExclusiveStartTableName": }"#, &[]).await;
    assert_error(&r, 400, brace.clone());
    let r = server.post("DynamoDB_20120810.Nope", b"{\"a\": [1,}", &[]).await;
    assert_error(&r, 400, brace);
    let r = server.post("ListTables", b"{\"a\": 1} x", &[("Authorization", "")]).await;
    assert_error(&r, 400, unrecognized("x"));
    // None of that should have looked like a server fault.
    let metrics = server.metrics().await;
    assert!(!metrics.contains("status=\"500\""), "{metrics}");
}

#[tokio::test]
async fn bodies_over_16_mib_get_413() {
    let server = Server::start();
    let limit = 16 * 1024 * 1024;
    // A declared length over the limit is refused before any body is sent: with
    // `Expect: 100-continue` the client waits, and the server answers at once.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        server.addr,
        limit + 1
    );
    let r = server.exchange(head.into_bytes()).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_dynamodb_headers(&r);

    // A chunked body with no declared length is cut off once it passes the limit.
    let mut wire = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .into_bytes();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..17 {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(&chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let r = server.exchange(wire).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_dynamodb_headers(&r);

    // The server is still fine afterwards.
    let r = server.post("ListTables", b"{}", &[]).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn every_dynamodb_response_has_crc32_and_request_id() {
    let server = Server::start();
    let create = br#"{"TableName":"crc","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    let requests: Vec<(&str, &[u8], u16)> = vec![
        ("ListTables", b"{}", 200),
        ("CreateTable", create, 200),
        ("PutItem", br#"{"TableName":"crc","Item":{"pk":{"S":"a"},"n":{"N":"1.50"}}}"#, 200),
        ("GetItem", br#"{"TableName":"crc","Key":{"pk":{"S":"a"}}}"#, 200),
        ("DescribeTable", br#"{"TableName":"crc"}"#, 200),
        ("DescribeTable", br#"{"TableName":"missing"}"#, 400),
        ("CreateTable", create, 400),
        ("PutItem", br#"{"TableName":"crc","Item":{"x":{"S":"a"}}}"#, 400),
        ("ListTables", br#"{"Limit":0}"#, 400),
        ("NoSuchOperation", b"{}", 400),
        ("ListTables", b"{", 400),
    ];
    let mut ids = std::collections::HashSet::new();
    for (target, body, status) in requests {
        let r = server.post(target, body, &[]).await;
        assert_eq!(r.status, status, "{target}: {}", r.text());
        assert_dynamodb_headers(&r);
        assert!(ids.insert(r.header("x-amzn-requestid").unwrap().to_string()), "ids are unique");
    }
    // The same bytes the SDKs verify: the number reads back normalized.
    let r = server.post("GetItem", br#"{"TableName":"crc","Key":{"pk":{"S":"a"}}}"#, &[]).await;
    assert_eq!(r.json(), json!({"Item": {"pk": {"S": "a"}, "n": {"N": "1.5"}}}));
}

#[tokio::test]
async fn wire_shapes_and_region_from_the_credential_scope() {
    let server = Server::start();
    // Another region's credential scope: the ARN follows the request, not the config.
    let auth = AUTH.replace("/us-east-1/", "/eu-west-2/");
    let body = br#"{"TableName":"wire","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}}"#;
    let r = server.post("CreateTable", body, &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = &r.json()["TableDescription"];
    assert_eq!(d["TableArn"], "arn:aws:dynamodb:eu-west-2:000000000000:table/wire");
    assert_eq!(d["TableStatus"], "CREATING");
    // awsJson timestamps are epoch seconds as JSON numbers.
    assert!(d["CreationDateTime"].is_f64() || d["CreationDateTime"].is_u64(), "{d}");
    assert!(d["ItemCount"].is_i64(), "{d}");
}

#[tokio::test]
async fn health_and_metrics() {
    let server = Server::start();
    let r = server.request("GET", "/health", &[], b"").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));

    let create = br#"{"TableName":"metered","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    assert_eq!(server.post("CreateTable", create, &[]).await.status, 200);
    let put = br#"{"TableName":"metered","Item":{"pk":{"S":"a"}}}"#;
    assert_eq!(server.post("PutItem", put, &[]).await.status, 200);
    assert_eq!(server.post("DescribeTable", br#"{"TableName":"nope"}"#, &[]).await.status, 400);

    let r = server.admin("GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/plain")), "{r:?}");
    let text = r.text();
    let value = |series: &str| -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    };
    let put_ok = r#"sluice_requests_total{operation="PutItem",service="dynamodb",status="200"}"#;
    assert_eq!(value(put_ok), Some(1.0), "{text}");
    let missing =
        r#"sluice_requests_total{operation="DescribeTable",service="dynamodb",status="400"}"#;
    assert_eq!(value(missing), Some(1.0), "{text}");
    let latency =
        r#"sluice_request_duration_seconds_count{operation="PutItem",service="dynamodb"}"#;
    assert_eq!(value(latency), Some(1.0), "{text}");
}

#[tokio::test]
async fn http2_prior_knowledge_on_the_same_port() {
    let server = Server::start();
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(connection);

    let request = hyper::Request::post(format!("http://{}/", server.addr))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from_static(b"{}")))
        .map(|request| crate::signing::sign_hyper(request, b"{}"))
        .unwrap();
    let response = sender.send_request(request).await.expect("h2 request");
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let crc = response.headers()["x-amz-crc32"].to_str().unwrap().to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(crc, crc32fast::hash(&body).to_string());
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"TableNames": []}));

    // Several streams on the one connection.
    let health = hyper::Request::get(format!("http://{}/health", server.addr))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(health).await.unwrap();
    assert_eq!(response.status(), 200);
}
