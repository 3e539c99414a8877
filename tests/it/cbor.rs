//! CBOR on the wire, as the Java SDK and the KCL speak it to Kinesis: raw requests with
//! `Content-Type: application/x-amz-cbor-1.1` against the real daemon, answered in CBOR
//! with the same content type, errors included, and a PutRecord / GetRecords round trip
//! whose `Data` travels as CBOR byte strings.

use serde_json::json;
use sluice::protocol::cbor;

use crate::harness::{AUTH, RawResponse, Server};

const CBOR: &str = "application/x-amz-cbor-1.1";

/// Bytes from a hex dump in which `'quoted'` runs are ASCII.
fn hex(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in text.split('\'').enumerate() {
        if i % 2 == 1 {
            out.extend_from_slice(part.as_bytes());
            continue;
        }
        let digits: Vec<u8> = part.bytes().filter(u8::is_ascii_hexdigit).collect();
        for pair in digits.chunks(2) {
            out.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
        }
    }
    out
}

async fn post_cbor(server: &Server, target: &str, body: &[u8]) -> RawResponse {
    server.post(target, body, &[("Content-Type", CBOR)]).await
}

#[track_caller]
fn assert_cbor_error(r: &RawResponse, want: &[u8], type_name: &str) {
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some(CBOR));
    assert_eq!(r.body, want, "body {:02x?}", r.body);
    let decoded = cbor::decode_to_json(&r.body).expect("CBOR");
    assert_eq!(decoded["__type"], type_name);
    assert_eq!(r.header("content-length"), Some(want.len().to_string().as_str()));
    assert!(r.header("x-amzn-requestid").is_some_and(|id| id.len() == 52));
    assert_eq!(r.header("x-amz-crc32"), None);
}

#[tokio::test]
async fn unknown_kinesis_operations_answer_in_cbor() {
    let server = Server::start();
    let unknown = hex("a2 66 '__type' 78 19 'UnknownOperationException' \
         67 'message' 78 39 'The requested operation is not recognized by the service.'");
    // A ListStreams body as the Java SDK writes it: an indefinite-length map.
    let body = hex("bf 65 'Limit' 0a ff");
    for target in ["Kinesis_20131202.CreateQueue", "Kinesis_20131202.NoSuchOperation"] {
        let r = post_cbor(&server, target, &body).await;
        assert_cbor_error(&r, &unknown, "UnknownOperationException");
    }
    // No usable target: the client still speaks CBOR, so it is answered in CBOR.
    let r = post_cbor(&server, "Kinesis_19990101.ListStreams", &body).await;
    assert_cbor_error(&r, &unknown, "UnknownOperationException");
    let headers =
        [("Content-Type", CBOR), ("X-Amz-Date", "20260101T000000Z"), ("Authorization", AUTH)];
    let r = server.request("POST", "/", &headers, &body).await;
    assert_cbor_error(&r, &unknown, "UnknownOperationException");
}

#[tokio::test]
async fn malformed_cbor_is_a_cbor_serialization_exception() {
    let server = Server::start();
    let bombs = [
        hex("bf 65 'Limit'"),                                // cut short
        hex("bf 65 'Limit' 0a ff 00"),                       // trailing bytes
        hex("bf 01 02 ff"),            // well-formed, but a key JSON cannot hold
        hex("9b ffffffffffffffff 00"), // declares 2^64-1 items
        vec![0x81; 1 << 20],           // nested a million deep
        [vec![0x9f], vec![0; 1 << 20], vec![0xff]].concat(), // a million items
    ];
    for body in bombs {
        let r = post_cbor(&server, "Kinesis_20131202.PutRecord", &body).await;
        // In CBOR, with the problem named (kinesalite's canned answer had no message).
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.header("content-type"), Some(CBOR));
        let error = cbor::decode_to_json(&r.body).expect("a CBOR error");
        assert_eq!(error["__type"], "SerializationException");
        let message = error["Message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Invalid CBOR body: "), "{error}");
    }
    // The daemon is still up and serving, in CBOR.
    let r = post_cbor(&server, "Kinesis_20131202.ListStreams", &hex("a0")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(CBOR));
}

#[tokio::test]
async fn json_requests_are_unchanged() {
    let server = Server::start();
    let r = server
        .post(
            "Kinesis_20131202.ListStreams",
            b"{}",
            &[("Content-Type", "application/x-amz-json-1.1")],
        )
        .await;
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_eq!(
        r.json(),
        json!({"HasMoreStreams": false, "StreamNames": [], "StreamSummaries": []})
    );
    // DynamoDB has no CBOR protocol: a CBOR content type does not change its JSON path.
    let r = post_cbor(&server, "DynamoDB_20120810.ListTables", b"{}").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"TableNames": []}));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.0"));
}

#[tokio::test]
async fn records_round_trip_with_byte_string_data() {
    let server = Server::start();
    let create =
        cbor::encode_input("CreateStream", &json!({"StreamName": "cbor-s", "ShardCount": 1}))
            .unwrap();
    let r = post_cbor(&server, "Kinesis_20131202.CreateStream", &create).await;
    assert_eq!(r.status, 200, "{:02x?}", r.body);
    // PutRecord as the Java SDK sends it: Data is a byte string (major type 2), not base64.
    let put =
        hex("bf 64 'Data' 43 01 02 ff 6c 'PartitionKey' 61 'k' 6a 'StreamName' 66 'cbor-s' ff");
    let r = post_cbor(&server, "Kinesis_20131202.PutRecord", &put).await;
    assert_eq!(r.status, 200, "{:02x?}", r.body);
    assert_eq!(r.header("content-type"), Some(CBOR));
    let put_out = cbor::decode_to_json(&r.body).unwrap();
    assert_eq!(put_out["ShardId"], "shardId-000000000000");
    let it = cbor::encode_input(
        "GetShardIterator",
        &json!({"StreamName": "cbor-s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .unwrap();
    let r = post_cbor(&server, "Kinesis_20131202.GetShardIterator", &it).await;
    let iterator = cbor::decode_to_json(&r.body).unwrap()["ShardIterator"].clone();
    let get = cbor::encode_input("GetRecords", &json!({"ShardIterator": iterator})).unwrap();
    let r = post_cbor(&server, "Kinesis_20131202.GetRecords", &get).await;
    assert_eq!(r.status, 200, "{:02x?}", r.body);
    // The raw answer carries Data as a byte string and the arrival time as tag 1.
    let raw = cbor::decode(&r.body).unwrap();
    let text = format!("{raw:?}");
    assert!(text.contains("Bytes([1, 2, 255])"), "{text}");
    assert!(text.contains("Tag(1"), "{text}");
    let out = cbor::decode_to_json(&r.body).unwrap();
    assert_eq!(out["Records"][0]["Data"], "AQL/");
    assert_eq!(out["Records"][0]["SequenceNumber"], put_out["SequenceNumber"]);
}
