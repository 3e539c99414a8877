//! Every SerializationException carries a message that names the problem, on every
//! path that produces one: the front end (empty body, invalid UTF-8 such as a gzip body
//! sent without its Content-Encoding, malformed JSON), the decoder (a document that is not an
//! object, members of the wrong type, nulls and numbers without a wording of their own)
//! and the CBOR codec, for DynamoDB, DynamoDB Streams and Kinesis
//! (docs/dynamodb-compatibility.md, "SerializationException").

use serde_json::Value;

use crate::harness::{RawResponse, Server};

const JSON10: (&str, &str) = ("Content-Type", "application/x-amz-json-1.0");
const JSON11: (&str, &str) = ("Content-Type", "application/x-amz-json-1.1");
const CBOR: (&str, &str) = ("Content-Type", "application/x-amz-cbor-1.1");

/// The `__type` (namespace stripped) and message of an error answer, JSON or CBOR.
fn error_of(r: &RawResponse) -> (String, String) {
    let body: Value = if r.header("content-type") == Some(CBOR.1) {
        sluice::protocol::cbor::decode_to_json(&r.body).expect("a CBOR error body")
    } else {
        r.json()
    };
    let code = body["__type"].as_str().unwrap_or_default();
    let code = code.rsplit('#').next().unwrap_or_default().to_string();
    let message = body["Message"].as_str().or(body["message"].as_str()).unwrap_or_default();
    (code, message.to_string())
}

/// What is sent (name, target, headers, body) and the message expected, when exact.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, Option<&'a str>);

#[tokio::test]
async fn every_serialization_exception_names_its_cause() {
    let server = Server::start();
    let gzip =
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00";
    let long_type = format!("application/x-amz-json-1.0; {}", "x".repeat(4000));
    let cases: Vec<Case> = vec![
        (
            "empty",
            "ListTables",
            vec![JSON10],
            b"".to_vec(),
            Some("No content to map due to end-of-input"),
        ),
        (
            "truncated",
            "PutItem",
            vec![JSON10],
            b"{\"TableName\": \"t\", \"Item\": {".to_vec(),
            Some("Unexpected end-of-input"),
        ),
        (
            "gzip sent without its Content-Encoding",
            "PutItem",
            vec![JSON10],
            gzip.to_vec(),
            Some("Invalid UTF-8 start byte 0x8b"),
        ),
        (
            "long content type",
            "ListTables",
            vec![("Content-Type", long_type.as_str())],
            b"{\"Limit\": }".to_vec(),
            Some("Unexpected character ('}' (code 125))"),
        ),
        (
            "control character",
            "DescribeTable",
            vec![JSON10],
            b"{\"TableName\": \"a\x02b\"}".to_vec(),
            None,
        ),
        (
            "array",
            "ListTables",
            vec![JSON10],
            b"[1, 2]".to_vec(),
            Some("Unexpected token received from parser"),
        ),
        (
            "null list member",
            "Scan",
            vec![JSON10],
            b"{\"TableName\": \"tbl\", \"AttributesToGet\": [null]}".to_vec(),
            None,
        ),
        (
            "null name",
            "Scan",
            vec![JSON10],
            b"{\"TableName\": \"tbl\", \"ExpressionAttributeNames\": {\"#a\": null}}".to_vec(),
            None,
        ),
        (
            "huge number",
            "Scan",
            vec![JSON10],
            b"{\"TableName\": \"tbl\", \"Limit\": 1e400}".to_vec(),
            None,
        ),
        (
            "null key schema element",
            "CreateTable",
            vec![JSON10],
            b"{\"TableName\": \"tbl\", \"KeySchema\": [null]}".to_vec(),
            None,
        ),
        (
            "null batch",
            "BatchWriteItem",
            vec![JSON10],
            b"{\"RequestItems\": {\"tbl\": null}}".to_vec(),
            None,
        ),
        (
            "null transaction item",
            "TransactWriteItems",
            vec![JSON10],
            b"{\"TransactItems\": [null]}".to_vec(),
            None,
        ),
        (
            "wrong type",
            "DescribeTable",
            vec![JSON10],
            b"{\"TableName\": 5}".to_vec(),
            Some("NUMBER_VALUE cannot be converted to String"),
        ),
        (
            "streams",
            "DynamoDBStreams_20120810.GetRecords",
            vec![JSON10],
            b"{\"ShardIterator\"".to_vec(),
            Some("Unexpected end-of-input"),
        ),
        (
            "kinesis",
            "Kinesis_20131202.PutRecord",
            vec![JSON11],
            b"".to_vec(),
            Some("No content to map due to end-of-input"),
        ),
        (
            "kinesis null",
            "Kinesis_20131202.ListShards",
            vec![JSON11],
            b"{\"StreamName\": null, \"MaxResults\": 1e400}".to_vec(),
            None,
        ),
        (
            "kinesis blob of a bad length",
            "Kinesis_20131202.PutRecords",
            vec![JSON11],
            b"{\"StreamName\": \"s\", \"Records\": [{\"Data\": \"abc\", \"PartitionKey\": \"k\"}]}"
                .to_vec(),
            Some(
                "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3",
            ),
        ),
        (
            "kinesis blob with a bad character",
            "Kinesis_20131202.PutRecord",
            vec![JSON11],
            b"{\"StreamName\": \"s\", \"Data\": \"ab!c\", \"PartitionKey\": \"k\"}".to_vec(),
            Some("'ab!c' can not be converted to a Blob: Invalid Base64 character: '!'"),
        ),
        (
            "kinesis blob that is not a string",
            "Kinesis_20131202.PutRecord",
            vec![JSON11],
            b"{\"StreamName\": \"s\", \"Data\": [1], \"PartitionKey\": \"k\"}".to_vec(),
            None,
        ),
        (
            "kinesis blob with a lone surrogate",
            "Kinesis_20131202.PutRecord",
            vec![JSON11],
            b"{\"StreamName\": \"s\", \"Data\": \"aGk\\ud800\", \"PartitionKey\": \"k\"}".to_vec(),
            None,
        ),
        (
            "kinesis blob with a control character",
            "Kinesis_20131202.PutRecord",
            vec![JSON11],
            b"{\"StreamName\": \"s\", \"Data\": \"aG\x01k=\", \"PartitionKey\": \"k\"}".to_vec(),
            None,
        ),
        (
            "cbor",
            "Kinesis_20131202.PutRecord",
            vec![CBOR],
            vec![0xbf, 0x6a],
            Some("Invalid CBOR body: unexpected end of input"),
        ),
    ];
    for (what, target, headers, body, want) in cases {
        let r = server.post(target, &body, &headers).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        let (code, message) = error_of(&r);
        assert_eq!(code, "SerializationException", "{what}: {}", r.text());
        assert!(!message.trim().is_empty(), "{what}: no message in {}", r.text());
        if let Some(want) = want {
            assert_eq!(message, want, "{what}");
        }
    }
}
