//! gzip request bodies (`Content-Encoding: gzip`), as the SDKs send them once request
//! compression is on: applied as the plain body would be; a broken body or another
//! encoding is a 500 that applies nothing; a body that inflates past
//! `server.max_body_bytes` is a 413, found while inflating.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::harness::{Server, create_table};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_served_and_broken_ones_apply_nothing() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "gzt", false).await;
    let put = |pk: &str| {
        // Over 10 KB, as the SDKs compress by default.
        json!({"TableName": "gzt", "Item": {"pk": {"S": pk}, "big": {"S": "x".repeat(20_000)}}})
            .to_string()
    };
    let gz = [("Content-Encoding", "gzip")];
    let r = server.post("PutItem", &gzip(put("ok").as_bytes()), &gz).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Two gzip members one after another are one body.
    let body = put("two");
    let mut two = gzip(&body.as_bytes()[..10]);
    two.extend(gzip(&body.as_bytes()[10..]));
    assert_eq!(server.post("PutItem", &two, &gz).await.status, 200);
    let mut cut = gzip(put("cut").as_bytes());
    cut.pop();
    for (name, body, encoding) in [
        ("cut", cut, "gzip"),
        ("plain", put("plain").into_bytes(), "gzip"),
        ("garbage", put("garbage").into_bytes(), "garbage"),
    ] {
        let r = server.post("PutItem", &body, &[("Content-Encoding", encoding)]).await;
        assert_eq!(r.status, 500, "{name}: {}", r.text());
        assert_eq!(r.json()["__type"], "com.amazonaws.dynamodb.v20120810#InternalServerError");
    }
    for (pk, stored) in
        [("ok", true), ("two", true), ("cut", false), ("plain", false), ("garbage", false)]
    {
        let got = client
            .get_item()
            .table_name("gzt")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .send()
            .await
            .unwrap();
        assert_eq!(got.item.is_some(), stored, "{pk}");
    }
    // Kinesis too.
    crate::kinesis::create(&server.kinesis(), "gz-feed", 1).await;
    let record = json!({"StreamName": "gz-feed", "PartitionKey": "p", "Data": "AA=="}).to_string();
    let kinesis = [("Content-Encoding", "gzip"), ("Content-Type", "application/x-amz-json-1.1")];
    let r = server.post("Kinesis_20131202.PutRecord", &gzip(record.as_bytes()), &kinesis).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post("Kinesis_20131202.PutRecord", record.as_bytes(), &kinesis).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (500, Some("InternalFailure")));
}

#[tokio::test]
async fn a_body_that_inflates_past_the_limit_is_refused_as_too_large() {
    let server = Server::start_with_config("[server]\nmax_body_bytes = 1048576\n");
    create_table(&server.client(), "bomb", false).await;
    let body = format!(
        r#"{{"TableName": "bomb", {} "Item": {{"pk": {{"S": "a"}}}}}}"#,
        " ".repeat(20 << 20)
    );
    let small = gzip(body.as_bytes());
    assert!(small.len() < 64 << 10, "{}", small.len());
    let before = crate::hostile::peak_rss_bytes(server.pid());
    let r = server.post("PutItem", &small, &[("Content-Encoding", "gzip")]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let grown = crate::hostile::peak_rss_bytes(server.pid()).saturating_sub(before);
    assert!(grown < 16 << 20, "inflating cost {} MiB", grown >> 20);
}
