//! OnFailure destinations of event source mappings: a batch given up on sends AWS's
//! on-failure record (positions, not data) to a Kinesis stream or a DynamoDB table of
//! this sluice, or to SQS and SNS through a REAL moto server (query protocol); a
//! destination that cannot be reached is counted and the mapping goes on.
//!
//! The moto tests need `python3` with `moto[server]` installed. Where it is missing they
//! print a loud NOT RUN line and return, unless REQUIRE_MOTO=1 (set by .ci/run) or
//! CI=true makes that a failure.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_lambda::types::{DestinationConfig, EventSourcePosition, OnFailure};
use serde_json::Value;

use super::mappings::{LAMBDA, stream_table};
use super::recorder::{invoke_url, recorder};
use super::{free_port, function};
use crate::harness::{Server, create_table, raw_request};

/// Fast retries for these tests (invocations and deliveries).
const RETRIES: &str = "mapping_retry_initial_ms = 50\nmapping_retry_max_ms = 100\n";

pub fn on_failure(arn: &str) -> DestinationConfig {
    DestinationConfig::builder().on_failure(OnFailure::builder().destination(arn).build()).build()
}

/// A mapping of `function` on `source` from TRIM_HORIZON, no retries, failures to
/// `destination`; its UUID.
async fn map(lambda: &aws_sdk_lambda::Client, function: &str, source: &str, dest: &str) -> String {
    let out = lambda
        .create_event_source_mapping()
        .function_name(function)
        .event_source_arn(source)
        .starting_position(EventSourcePosition::TrimHorizon)
        .maximum_retry_attempts(0)
        .destination_config(on_failure(dest))
        .send()
        .await
        .unwrap();
    out.uuid().unwrap().to_string()
}

async fn metric(server: &Server, name: &str, uuid: &str, function: &str) -> Option<f64> {
    let line_start = format!("{name}{{function=\"{function}\",uuid=\"{uuid}\"}}");
    let text = server.metrics().await;
    text.lines()
        .find(|l| l.starts_with(&line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits (up to 20 s) until the metric reads `want`.
async fn wait_metric(server: &Server, name: &str, uuid: &str, function: &str, want: f64) {
    for _ in 0..400 {
        if metric(server, name, uuid, function).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} of {uuid} never reached {want}: {:?}",
        metric(server, name, uuid, function).await
    );
}

/// Every record of the one-shard stream `name`, waiting (up to 20 s) for `n` of them,
/// then a little longer to see that no more come: (partition key, data).
pub async fn kinesis_records(
    k: &aws_sdk_kinesis::Client,
    name: &str,
    n: usize,
) -> Vec<(String, String)> {
    let read = || async {
        let it = k
            .get_shard_iterator()
            .stream_name(name)
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let out =
            k.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
        out.records()
            .iter()
            .map(|r| {
                let data = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
                (r.partition_key().to_string(), data)
            })
            .collect::<Vec<_>>()
    };
    for _ in 0..400 {
        if read().await.len() >= n {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return read().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} holds {:?}, waited for {n}", read().await);
}

fn is_iso(text: &str, millis: bool) -> bool {
    let b = text.as_bytes();
    let shape = |s: &[u8], pattern: &str| {
        s.len() == pattern.len()
            && s.iter().zip(pattern.bytes()).all(|(c, p)| match p {
                b'9' => c.is_ascii_digit(),
                p => *c == p,
            })
    };
    if millis { shape(b, "9999-99-99T99:99:99.999Z") } else { shape(b, "9999-99-99T99:99:99Z") }
}

/// The checks every record makes, whatever its source: contexts, key order, formats.
fn check_contexts(raw: &str, function: &str, info: &str) -> Value {
    let record: Value = serde_json::from_str(raw).unwrap();
    assert!(raw.starts_with("{\"requestContext\":{\"requestId\":"), "{raw}");
    let order = ["\"requestContext\"", "\"responseContext\"", "\"version\"", "\"timestamp\"", info];
    let at: Vec<usize> = order.iter().map(|k| raw.find(k).unwrap_or(usize::MAX)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "key order of {raw}");
    let rc = &record["requestContext"];
    assert_eq!(rc["requestId"].as_str().unwrap().len(), 36);
    assert_eq!(
        rc["functionArn"],
        format!("arn:aws:lambda:us-east-1:000000000000:function:{function}")
    );
    assert_eq!(rc["condition"], "RetryAttemptsExhausted");
    assert_eq!(rc["approximateInvokeCount"], 1);
    assert_eq!(
        record["responseContext"],
        serde_json::json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
    );
    assert_eq!(record["version"], "1.0");
    assert!(is_iso(record["timestamp"].as_str().unwrap(), true), "{raw}");
    // Key order as AWS's (serde_json's maps sort, so read it from the text).
    let from = raw.find(info).unwrap();
    let keys = [
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    ];
    let at: Vec<usize> =
        keys.iter().map(|k| raw[from..].find(&format!("\"{k}\":")).unwrap_or(usize::MAX)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "batch info key order of {raw}");
    assert_eq!(record[info.trim_matches('"')].as_object().unwrap().len(), keys.len(), "{raw}");
    record
}

#[tokio::test]
async fn a_dynamodb_batch_given_up_goes_to_a_kinesis_stream_of_this_sluice() {
    let (addr, rec) = recorder().await;
    rec.fail_all.store(true, Ordering::SeqCst);
    let config = [LAMBDA, RETRIES, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let (ddb, kinesis, lambda) = (server.client(), server.kinesis(), server.lambda());
    kinesis.create_stream().stream_name("failures").shard_count(1).send().await.unwrap();
    let arn = stream_table(&ddb, "orders").await;
    // One key, so one shard: an INSERT and a MODIFY.
    for v in ["one", "two"] {
        ddb.put_item()
            .table_name("orders")
            .item("pk", AttributeValue::S("a".into()))
            .item("v", AttributeValue::S(v.into()))
            .send()
            .await
            .unwrap();
    }
    let dest = "arn:aws:kinesis:us-east-1:000000000000:stream/failures";
    let uuid = map(&lambda, "f", &arn, dest).await;

    let got = kinesis_records(&kinesis, "failures", 1).await;
    assert_eq!(got.len(), 1, "one record per discarded batch: {got:?}");
    assert_eq!(rec.attempt_count(), 1, "MaximumRetryAttempts 0: one invocation");
    let (key, raw) = &got[0];
    assert_eq!(key, &uuid, "partition key: the mapping's UUID");
    let record = check_contexts(raw, "f", "\"DDBStreamBatchInfo\"");
    assert!(record.get("KinesisBatchInfo").is_none());
    let info = &record["DDBStreamBatchInfo"];

    // The positions are the stream records' SequenceNumbers, as GetRecords shows them.
    let streams = server.streams();
    let desc = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shard = info["shardId"].as_str().unwrap();
    let shards = desc.stream_description().unwrap().shards();
    assert!(shards.iter().any(|s| s.shard_id() == Some(shard)), "{shard} in {shards:?}");
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let out =
        streams.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    let seqs: Vec<&str> =
        out.records().iter().map(|r| r.dynamodb().unwrap().sequence_number().unwrap()).collect();
    assert_eq!(seqs.len(), 2);
    assert_eq!(info["startSequenceNumber"], seqs[0]);
    assert_eq!(info["endSequenceNumber"], seqs[1]);
    assert_eq!(info["batchSize"], 2);
    assert_eq!(info["streamArn"], arn);
    for k in ["approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"] {
        assert!(is_iso(info[k].as_str().unwrap(), false), "whole seconds: {raw}");
    }
    wait_metric(&server, "sluice_lambda_esm_on_failure_records_total", &uuid, "f", 1.0).await;
    assert_eq!(
        metric(&server, "sluice_lambda_esm_on_failure_delivery_failures_total", &uuid, "f").await,
        Some(0.0)
    );
}

#[tokio::test]
async fn a_kinesis_batch_given_up_goes_to_a_kinesis_stream_and_a_dynamodb_table() {
    let (addr, rec) = recorder().await;
    rec.fail_all.store(true, Ordering::SeqCst);
    let config = [
        LAMBDA,
        RETRIES,
        &function("f", &invoke_url(addr), ""),
        &function("g", &invoke_url(addr), ""),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let (ddb, kinesis, lambda) = (server.client(), server.kinesis(), server.lambda());
    for name in ["source", "failures"] {
        kinesis.create_stream().stream_name(name).shard_count(1).send().await.unwrap();
    }
    create_table(&ddb, "failed", false).await;
    let mut written = Vec::new();
    for i in 0..3 {
        let out = kinesis
            .put_record()
            .stream_name("source")
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(format!("{{\"n\":{i}}}")))
            .send()
            .await
            .unwrap();
        written.push(out.sequence_number().to_string());
    }
    let source = "arn:aws:kinesis:us-east-1:000000000000:stream/source";
    let to_stream = "arn:aws:kinesis:us-east-1:000000000000:stream/failures";
    let to_table = "arn:aws:dynamodb:us-east-1:000000000000:table/failed";
    let f = map(&lambda, "f", source, to_stream).await;
    let g = map(&lambda, "g", source, to_table).await;

    let got = kinesis_records(&kinesis, "failures", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, f);
    wait_metric(&server, "sluice_lambda_esm_on_failure_records_total", &g, "g", 1.0).await;
    let items = ddb.scan().table_name("failed").send().await.unwrap();
    assert_eq!(items.items().len(), 1);
    let item = &items.items()[0];
    let in_table = item["record"].as_s().unwrap().clone();

    for (raw, function) in [(&got[0].1, "f"), (&in_table, "g")] {
        let record = check_contexts(raw, function, "\"KinesisBatchInfo\"");
        assert!(record.get("DDBStreamBatchInfo").is_none());
        let info = &record["KinesisBatchInfo"];
        assert_eq!(info["shardId"], "shardId-000000000000");
        assert_eq!(info["startSequenceNumber"], written[0]);
        assert_eq!(info["endSequenceNumber"], written[2]);
        assert_eq!(info["batchSize"], 3);
        assert_eq!(info["streamArn"], source);
        for k in ["approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"] {
            assert!(is_iso(info[k].as_str().unwrap(), true), "milliseconds: {raw}");
        }
        if function == "g" {
            // Keyed by the record's requestId.
            assert_eq!(
                item["pk"].as_s().unwrap(),
                record["requestContext"]["requestId"].as_str().unwrap()
            );
        }
    }
}

#[tokio::test]
async fn an_unreachable_sqs_endpoint_is_counted_and_the_mapping_goes_on() {
    let (addr, rec) = recorder().await;
    rec.fail_next.store(1, Ordering::SeqCst);
    // Nothing listens there.
    let endpoint = format!("on_failure_sqs_endpoint = \"http://127.0.0.1:{}\"\n", free_port());
    let config = [LAMBDA, RETRIES, &endpoint, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let (ddb, lambda) = (server.client(), server.lambda());
    let arn = stream_table(&ddb, "orders").await;
    let uuid = map(&lambda, "f", &arn, "arn:aws:sqs:us-east-1:000000000000:dlq").await;
    ddb.put_item()
        .table_name("orders")
        .item("pk", AttributeValue::S("lost".into()))
        .send()
        .await
        .unwrap();
    wait_metric(&server, "sluice_lambda_esm_on_failure_delivery_failures_total", &uuid, "f", 1.0)
        .await;
    // The checkpoint moved past the batch: the next record goes alone.
    ddb.put_item()
        .table_name("orders")
        .item("pk", AttributeValue::S("next".into()))
        .send()
        .await
        .unwrap();
    let records = rec.wait_records(1).await;
    assert_eq!(records[0]["dynamodb"]["Keys"]["pk"]["S"], "next");
    assert_eq!(
        metric(&server, "sluice_lambda_esm_on_failure_records_total", &uuid, "f").await,
        Some(0.0)
    );
    assert!(server.log().contains("cannot deliver the on-failure record"), "{}", server.log());
}

/// Whether the moto tests can run here; prints NOT RUN (or fails, where it is required)
/// when they cannot.
fn moto(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let required = std::env::var_os("REQUIRE_MOTO").is_some()
        || std::env::var("CI").is_ok_and(|v| v == "true");
    if !ok {
        assert!(
            !required,
            "{test}: python3 with moto[server] is required here (pip install \"moto[server]\")"
        );
        eprintln!(
            "\n*** NOT RUN: {test}: python3 with moto[server] is missing (pip install \"moto[server]\") ***\n"
        );
    }
    ok
}

/// A moto server on a free port, killed when dropped.
struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Moto {
    async fn start() -> Moto {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        // Killed and waited for on drop, whatever happens next.
        let moto = Moto { child, addr: format!("127.0.0.1:{port}").parse().unwrap() };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(moto.addr).await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto did not listen on {} within 15 s", moto.addr);
    }

    /// A query-protocol call (unsigned but for the credential scope moto reads the
    /// service and region from); the answer's XML.
    async fn call(&self, service: &str, path: &str, params: &[(&str, &str)]) -> String {
        let body: Vec<String> =
            params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", auth.as_str()),
        ];
        let answer =
            raw_request(self.addr, "POST", path, &headers, body.join("&").as_bytes()).await;
        assert_eq!(answer.status, 200, "{params:?}: {}", answer.text());
        answer.text()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `<tag>` text of an XML answer, entities decoded.
fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let start = at + open.len();
        let Some(len) = rest[start..].find(&close) else { break };
        let text = &rest[start..start + len];
        out.push(
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[start + len..];
    }
    out
}

#[tokio::test]
async fn on_failure_records_reach_sqs_and_sns_on_a_real_moto_server() {
    if !moto("on_failure_records_reach_sqs_and_sns_on_a_real_moto_server") {
        return;
    }
    let moto = Moto::start().await;
    let queue = "arn:aws:sqs:us-east-1:123456789012:dlq";
    let topic = "arn:aws:sns:us-east-1:123456789012:fails";
    let created = moto
        .call(
            "sqs",
            "/",
            &[("Action", "CreateQueue"), ("QueueName", "dlq"), ("Version", "2012-11-05")],
        )
        .await;
    let queue_url = xml_all(&created, "QueueUrl").remove(0);
    moto.call(
        "sns",
        "/",
        &[("Action", "CreateTopic"), ("Name", "fails"), ("Version", "2010-03-31")],
    )
    .await;
    moto.call(
        "sns",
        "/",
        &[
            ("Action", "Subscribe"),
            ("TopicArn", topic),
            ("Protocol", "sqs"),
            ("Endpoint", queue),
            ("Version", "2010-03-31"),
        ],
    )
    .await;

    let (addr, rec) = recorder().await;
    rec.fail_all.store(true, Ordering::SeqCst);
    let endpoints = format!(
        "on_failure_sqs_endpoint = \"http://{0}\"\non_failure_sns_endpoint = \"http://{0}\"\n",
        moto.addr
    );
    let config = [
        LAMBDA,
        RETRIES,
        &endpoints,
        &function("f", &invoke_url(addr), ""),
        &function("g", &invoke_url(addr), ""),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let (ddb, lambda) = (server.client(), server.lambda());
    let arn = stream_table(&ddb, "orders").await;
    ddb.put_item()
        .table_name("orders")
        .item("pk", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap();
    let to_sqs = map(&lambda, "f", &arn, queue).await;
    let to_sns = map(&lambda, "g", &arn, topic).await;
    wait_metric(&server, "sluice_lambda_esm_on_failure_records_total", &to_sqs, "f", 1.0).await;
    wait_metric(&server, "sluice_lambda_esm_on_failure_records_total", &to_sns, "g", 1.0).await;

    let mut bodies = Vec::new();
    for _ in 0..20 {
        let answer = moto
            .call(
                "sqs",
                "/",
                &[
                    ("Action", "ReceiveMessage"),
                    ("QueueUrl", &queue_url),
                    ("MaxNumberOfMessages", "10"),
                    ("WaitTimeSeconds", "1"),
                    ("Version", "2012-11-05"),
                ],
            )
            .await;
        bodies.extend(xml_all(&answer, "Body"));
        if bodies.len() >= 2 {
            break;
        }
    }
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let (direct, notification): (Vec<&String>, Vec<&String>) =
        bodies.iter().partition(|b| b.starts_with("{\"requestContext\""));
    assert_eq!((direct.len(), notification.len()), (1, 1), "{bodies:?}");
    // SQS: the message body is the record.
    let record = check_contexts(direct[0], "f", "\"DDBStreamBatchInfo\"");
    assert_eq!(record["DDBStreamBatchInfo"]["streamArn"], arn);
    assert_eq!(record["DDBStreamBatchInfo"]["batchSize"], 1);
    // SNS: the notification's Message is the record.
    let n: Value = serde_json::from_str(notification[0]).unwrap();
    assert_eq!(n["Type"], "Notification");
    assert_eq!(n["TopicArn"], topic);
    let record = check_contexts(n["Message"].as_str().unwrap(), "g", "\"DDBStreamBatchInfo\"");
    assert_eq!(record["DDBStreamBatchInfo"]["streamArn"], arn);
}
