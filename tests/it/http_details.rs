//! HTTP around the APIs, as AWS's endpoints answer it: compressed answers when
//! `Accept-Encoding` asks (DynamoDB's 4 KiB threshold, gzip or deflate, the CRC32 of the
//! bytes sent), CORS for browser pages, `GET /` as DynamoDB's health text, and DynamoDB's
//! `Server` header.

use std::io::Read;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use flate2::read::{GzDecoder, ZlibDecoder};
use serde_json::json;

use crate::harness::{RawResponse, Server, create_table};

fn inflate(r: &RawResponse) -> Vec<u8> {
    let mut out = Vec::new();
    match r.header("content-encoding") {
        Some("gzip") => GzDecoder::new(r.body.as_slice()).read_to_end(&mut out).unwrap(),
        Some("deflate") => ZlibDecoder::new(r.body.as_slice()).read_to_end(&mut out).unwrap(),
        other => panic!("not compressed: {other:?}"),
    };
    out
}

#[tokio::test]
async fn answers_of_4_kib_or_more_are_compressed_as_accept_encoding_asks() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "gzr", false).await;
    let big = "x".repeat(5000);
    let put = client.put_item().table_name("gzr").item("pk", AttributeValue::S("big".into()));
    put.item("v", AttributeValue::S(big.clone())).send().await.unwrap();
    let get = json!({"TableName": "gzr", "Key": {"pk": {"S": "big"}}}).to_string();
    for (accept, coding) in
        [("gzip", "gzip"), ("deflate", "deflate"), ("br, deflate, gzip", "deflate")]
    {
        let r = server.post("GetItem", get.as_bytes(), &[("Accept-Encoding", accept)]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-encoding"), Some(coding), "{accept}");
        assert_eq!(r.header("content-length").unwrap(), r.body.len().to_string());
        // DynamoDB's CRC32 is of the bytes sent.
        assert_eq!(r.header("x-amz-crc32").unwrap(), crc32fast::hash(&r.body).to_string());
        let answer: serde_json::Value = serde_json::from_slice(&inflate(&r)).unwrap();
        assert_eq!(answer["Item"]["v"]["S"], big.as_str());
        assert!(r.body.len() * 20 < big.len(), "compressed to {} bytes", r.body.len());
    }
    // Not asked, asked for nothing it offers, or smaller than 4 KiB: as is.
    let small =
        json!({"TableName": "gzr", "Key": {"pk": {"S": "big"}}, "ProjectionExpression": "pk"});
    for (accept, body) in [
        (None, get.clone()),
        (Some("br, identity"), get.clone()),
        (Some("gzip;q=0"), get.clone()),
        (Some("gzip"), small.to_string()),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let r = server.post("GetItem", body.as_bytes(), &headers).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None, "{accept:?}");
        assert!(r.json().is_object());
    }
    // The SDK, which asks for nothing, reads the same item.
    let got = client.get_item().table_name("gzr").key("pk", AttributeValue::S("big".into()));
    let got = got.send().await.unwrap();
    assert_eq!(got.item.unwrap()["v"], AttributeValue::S(big));
}

#[tokio::test]
async fn kinesis_answers_are_compressed_too_without_dynamodbs_headers() {
    let server = Server::start();
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("gzs").shard_count(1).send().await.unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode("y".repeat(8000));
    let put = json!({"StreamName": "gzs", "Data": data, "PartitionKey": "p"}).to_string();
    let kinesis_json = [("Content-Type", "application/x-amz-json-1.1")];
    let r = server.post("Kinesis_20131202.PutRecord", put.as_bytes(), &kinesis_json).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let iterator = json!({"StreamName": "gzs", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"});
    let r = server
        .post("Kinesis_20131202.GetShardIterator", iterator.to_string().as_bytes(), &kinesis_json)
        .await;
    let it = r.json()["ShardIterator"].as_str().unwrap().to_string();
    let get = json!({"ShardIterator": it}).to_string();
    let headers = [kinesis_json[0], ("Accept-Encoding", "gzip")];
    let r = server.post("Kinesis_20131202.GetRecords", get.as_bytes(), &headers).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    // Kinesis sends no CRC32 and no Server header.
    assert_eq!(r.header("x-amz-crc32"), None);
    assert_eq!(r.header("server"), None);
    let answer: serde_json::Value = serde_json::from_slice(&inflate(&r)).unwrap();
    assert_eq!(answer["Records"][0]["Data"], data.as_str());
}

#[tokio::test]
async fn get_slash_answers_as_dynamodbs_endpoint_does_and_dynamodb_names_its_server() {
    let server = Server::start();
    let r = server.request("GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text().trim(), format!("healthy: {}", server.addr));
    // Only the root: other paths are not the health text.
    let r = server.request("GET", "/abc", &[], b"").await;
    assert!((400..=404).contains(&r.status), "{}", r.status);
    // DynamoDB's answers carry `Server: Server`, errors included.
    let r = server.post("ListTables", b"{}", &[]).await;
    assert_eq!((r.status, r.header("server")), (200, Some("Server")));
    let r = server.post("DescribeTable", br#"{"TableName": "nope"}"#, &[]).await;
    assert_eq!((r.status, r.header("server")), (400, Some("Server")));
}

const CORS_HEADERS: [&str; 6] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
    "access-control-allow-methods",
    "access-control-allow-headers",
];

#[tokio::test]
async fn cross_origin_requests_get_cors_headers_and_preflights_their_answer() {
    let server = Server::start();
    // No Origin: none of the headers, whatever the method.
    for method in ["OPTIONS", "GET", "POST"] {
        let r = server.request(method, "/", &[], b"").await;
        for h in CORS_HEADERS {
            assert_eq!(r.header(h), None, "{method} {h}");
        }
    }
    let asked = [
        ("Origin", "http://example.com/"),
        ("Access-Control-Request-Method", "dog"),
        ("Access-Control-Request-Headers", "cat, meerkat, mouse"),
    ];
    // The preflight echoes what it asked for and may be kept.
    let r = server.request("OPTIONS", "/", &asked, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-expose-headers").unwrap().contains("x-amzn-RequestId"));
    assert!(r.header("access-control-max-age").is_some());
    assert_eq!(r.header("access-control-allow-methods"), Some("dog"));
    assert_eq!(r.header("access-control-allow-headers"), Some("cat, meerkat, mouse"));
    // Other methods: allowed origin and exposed headers only.
    for method in ["GET", "POST"] {
        let r = server.request(method, "/", &asked, b"").await;
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{method}");
        assert!(r.header("access-control-expose-headers").is_some(), "{method}");
        for h in [
            "access-control-max-age",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert_eq!(r.header(h), None, "{method} {h}");
        }
    }
    // A real call from a page: the answer is readable by it.
    let r = server.post("ListTables", b"{}", &[("Origin", "http://example.com")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // sluice's own endpoints are not opened to pages.
    let r = server.admin("GET", "/metrics", &[("Origin", "http://example.com")], b"").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}
