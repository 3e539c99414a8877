//! Event source mappings delivering: DynamoDB and Kinesis (stream and fan-out consumer)
//! records reach a function as Lambda's events, in shard order, in batches of BatchSize
//! within the batching window; failed batches are retried and discarded by AWS's rules;
//! LATEST skips what came before; a disabled mapping keeps its place; kill -9 loses
//! nothing; and real handlers under awslambdaric receive the events.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::types::EventSourcePosition;
use base64::Engine as _;
use serde_json::Value;

use super::mappings::{LAMBDA, wait_state};
use super::recorder::{invoke_url, recorder};
use super::{awslambdaric, free_port, function, toml_path};
use crate::harness::{Server, create_table};

/// Fast retries for these tests.
const RETRIES: &str = "mapping_retry_initial_ms = 50\nmapping_retry_max_ms = 100\n";

/// A table `name` keyed by `pk` (S) and `sk` (N) with a NEW_AND_OLD_IMAGES stream.
async fn stream_table(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    create_table(client, name, true).await;
    let spec = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .unwrap();
    let out =
        client.update_table().table_name(name).stream_specification(spec).send().await.unwrap();
    out.table_description().unwrap().latest_stream_arn().unwrap().to_string()
}

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str, sk: i64, v: &str) {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("sk", AttributeValue::N(sk.to_string()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

async fn map(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    arn: &str,
    position: EventSourcePosition,
    tune: impl FnOnce(
        aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder,
    ) -> aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder,
) -> String {
    let request = lambda
        .create_event_source_mapping()
        .function_name(function)
        .event_source_arn(arn)
        .starting_position(position);
    let out = tune(request).send().await.unwrap();
    out.uuid().unwrap().to_string()
}

fn values(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let image = if r["eventName"] == "REMOVE" { "OldImage" } else { "NewImage" };
            r["dynamodb"][image]["v"]["S"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

async fn metric(server: &Server, line_start: &str) -> Option<f64> {
    let text = server.metrics().await;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn dynamodb_changes_reach_the_function_as_lambdas_events_in_order() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "orders").await;
    let lambda = server.lambda();
    let uuid = map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| r).await;

    put(&ddb, "orders", "p", 1, "one").await;
    put(&ddb, "orders", "p", 1, "two").await;
    ddb.delete_item()
        .table_name("orders")
        .key("pk", AttributeValue::S("p".into()))
        .key("sk", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let records = rec.wait_records(3).await;
    assert_eq!(values(&records), ["one", "two", "two"]);
    let names: Vec<_> = records.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);

    // The same records GetRecords returns: ids, sequence numbers, images.
    let streams = server.streams();
    let desc = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shard = desc.stream_description().unwrap().shards()[0].shard_id().unwrap().to_string();
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got =
        streams.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    for (lambda_record, streams_record) in records.iter().zip(got.records()) {
        let d = &lambda_record["dynamodb"];
        let s = streams_record.dynamodb().unwrap();
        assert_eq!(lambda_record["eventID"].as_str(), streams_record.event_id());
        assert_eq!(d["SequenceNumber"].as_str(), s.sequence_number());
        assert_eq!(d["SizeBytes"].as_i64(), s.size_bytes());
        assert_eq!(d["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert_eq!(d["Keys"]["pk"]["S"], "p");
        assert_eq!(d["Keys"]["sk"]["N"], "1");
        assert!(d["ApproximateCreationDateTime"].is_f64());
        assert_eq!(lambda_record["eventSourceARN"].as_str(), Some(arn.as_str()));
        assert_eq!(lambda_record["eventSource"], "aws:dynamodb");
        assert_eq!(lambda_record["eventVersion"], "1.1");
        assert_eq!(lambda_record["awsRegion"], "us-east-1");
    }
    assert!(records[0]["dynamodb"].get("OldImage").is_none());
    assert_eq!(records[1]["dynamodb"]["OldImage"]["v"]["S"], "one");
    assert!(records[2]["dynamodb"].get("NewImage").is_none());

    assert_eq!(last_result(&lambda, &uuid, "OK").await, "OK");
    let delivered =
        format!("sluice_lambda_esm_records_delivered_total{{function=\"f\",uuid=\"{uuid}\"}}");
    assert_eq!(metric(&server, &delivered).await, Some(3.0));
}

#[tokio::test]
async fn several_mappings_on_one_stream_each_receive_every_record_once_in_order() {
    let recorders = [recorder().await, recorder().await, recorder().await];
    let functions: Vec<String> = ["f", "g", "h"]
        .iter()
        .zip(&recorders)
        .map(|(name, (addr, _))| function(name, &invoke_url(*addr), ""))
        .collect();
    let server = Server::start_with_config(&[LAMBDA.to_string(), functions.concat()].concat());
    let ddb = server.client();
    let arn = stream_table(&ddb, "shared").await;
    let lambda = server.lambda();
    // Mappings at different places and paces on the same shards: records one of them
    // rendered serve the others, which must still each get exactly their own.
    map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    map(&lambda, "g", &arn, EventSourcePosition::TrimHorizon, |r| r.batch_size(3)).await;
    let write = |from: usize, to: usize| {
        let ddb = ddb.clone();
        async move {
            for i in from..to {
                put(&ddb, "shared", &format!("p{}", i % 5), i as i64, &format!("v{i}")).await;
            }
        }
    };
    write(0, 30).await;
    recorders[0].1.wait_records(30).await;
    let uuid = map(&lambda, "h", &arn, EventSourcePosition::Latest, |r| r.batch_size(7)).await;
    wait_state(&lambda, &uuid, "Enabled").await;
    write(30, 60).await;

    let by_key = |records: &[Value]| {
        let mut keys: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in records {
            let key = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
            keys.entry(key).or_default().push(values(std::slice::from_ref(r)).remove(0));
        }
        keys
    };
    let want = |from: usize| {
        let mut keys: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for i in from..60 {
            keys.entry(format!("p{}", i % 5)).or_default().push(format!("v{i}"));
        }
        keys
    };
    for ((_, rec), from) in recorders.iter().zip([0, 0, 30]) {
        rec.wait_records(60 - from).await;
        // Time for a record delivered twice to show.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let records = rec.records();
        assert_eq!(records.len(), 60 - from, "each record once");
        assert_eq!(by_key(&records), want(from));
    }
    let sizes = recorders[1].1.batch_sizes();
    assert!(sizes.iter().all(|n| *n <= 3), "BatchSize 3: {sizes:?}");
    let sizes = recorders[2].1.batch_sizes();
    assert!(sizes.iter().all(|n| *n <= 7), "BatchSize 7: {sizes:?}");
}

#[tokio::test]
async fn batches_hold_at_most_batch_size_and_wait_for_the_window() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    let lambda = server.lambda();
    map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| {
        r.batch_size(3).maximum_batching_window_in_seconds(1)
    })
    .await;
    // One at a time, well inside the window: the window gathers them.
    for i in 0..7 {
        put(&ddb, "items", "p", i, &format!("v{i}")).await;
    }
    let records = rec.wait_records(7).await;
    assert_eq!(values(&records), (0..7).map(|i| format!("v{i}")).collect::<Vec<_>>());
    let sizes = rec.batch_sizes();
    assert!(sizes.iter().all(|n| *n <= 3), "{sizes:?}");
    assert_eq!(sizes[0], 3, "the window filled the first batch: {sizes:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rec.records().len(), 7, "each record once");
}

#[tokio::test]
async fn kinesis_records_and_fan_out_consumers_reach_the_function_in_shard_order() {
    let (addr, rec) = recorder().await;
    let (addr2, rec2) = recorder().await;
    let (addr3, rec3) = recorder().await;
    let config = [
        LAMBDA,
        &function("f", &invoke_url(addr), ""),
        &function("g", &invoke_url(addr2), ""),
        &function("h", &invoke_url(addr3), ""),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("k").shard_count(2).send().await.unwrap();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/k";
    let consumer =
        kinesis.register_stream_consumer().stream_arn(arn).consumer_name("c").send().await.unwrap();
    let consumer_arn = consumer.consumer().unwrap().consumer_arn().to_string();
    let lambda = server.lambda();
    map(&lambda, "f", arn, EventSourcePosition::TrimHorizon, |r| r).await;
    map(&lambda, "g", &consumer_arn, EventSourcePosition::TrimHorizon, |r| r).await;
    // A second mapping on the stream, in batches of one: records rendered once serve both.
    map(&lambda, "h", arn, EventSourcePosition::TrimHorizon, |r| r.batch_size(1)).await;

    let mut written = Vec::new();
    for i in 0..20 {
        let key = format!("key{}", i % 4);
        let data = format!("{{\"n\": {i}}}");
        let out = kinesis
            .put_record()
            .stream_name("k")
            .partition_key(&key)
            .data(aws_sdk_kinesis::primitives::Blob::new(data.clone()))
            .send()
            .await
            .unwrap();
        written.push((key, data, out.shard_id().to_string(), out.sequence_number().to_string()));
    }
    for (rec, source) in [(&rec, arn), (&rec2, consumer_arn.as_str()), (&rec3, arn)] {
        let records = rec.wait_records(20).await;
        // Per partition key (one shard each), the order written.
        for key in ["key0", "key1", "key2", "key3"] {
            let got: Vec<&str> = records
                .iter()
                .filter(|r| r["kinesis"]["partitionKey"] == key)
                .map(|r| r["kinesis"]["sequenceNumber"].as_str().unwrap())
                .collect();
            let want: Vec<&str> =
                written.iter().filter(|w| w.0 == key).map(|w| w.3.as_str()).collect();
            assert_eq!(got, want, "{key} via {source}");
        }
        for r in &records {
            let w = written.iter().find(|w| w.3 == r["kinesis"]["sequenceNumber"]).unwrap();
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            assert_eq!(String::from_utf8(data).unwrap(), w.1);
            assert_eq!(r["eventID"], format!("{}:{}", w.2, w.3));
            assert_eq!(r["eventSource"], "aws:kinesis");
            assert_eq!(r["eventName"], "aws:kinesis:record");
            assert_eq!(r["eventVersion"], "1.0");
            assert_eq!(r["kinesis"]["kinesisSchemaVersion"], "1.0");
            assert!(r["kinesis"]["approximateArrivalTimestamp"].is_number());
            assert_eq!(r["awsRegion"], "us-east-1");
            assert_eq!(r["invokeIdentityArn"], "arn:aws:iam::000000000000:role/sluice");
            assert_eq!(r["eventSourceARN"].as_str(), Some(source));
        }
    }
}

#[tokio::test]
async fn a_consumer_mapping_reads_with_the_consumers_subscription_until_it_is_deregistered() {
    let (addr, rec) = recorder().await;
    let kinesis_config = "[kinesis]\nsubscription_takeover_ms = 60000\nconsumer_create_delay_ms = 0\nconsumer_delete_delay_ms = 0\n";
    let config = [LAMBDA, &function("f", &invoke_url(addr), ""), kinesis_config].concat();
    let server = Server::start_with_config(&config);
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("k").shard_count(1).send().await.unwrap();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/k";
    let consumer =
        kinesis.register_stream_consumer().stream_arn(arn).consumer_name("c").send().await.unwrap();
    let consumer_arn = consumer.consumer().unwrap().consumer_arn().to_string();
    let lambda = server.lambda();
    map(&lambda, "f", &consumer_arn, EventSourcePosition::TrimHorizon, |r| r).await;
    let put = |n: usize| {
        let kinesis = kinesis.clone();
        async move {
            kinesis
                .put_record()
                .stream_name("k")
                .partition_key("pk")
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("{n}")))
                .send()
                .await
                .unwrap();
        }
    };
    for n in 0..3 {
        put(n).await;
    }
    assert_eq!(rec.wait_records(3).await.len(), 3);

    // The mapping holds the consumer's subscription to the shard, as Lambda's does: it
    // counts in the consumer's fan-out metrics, and a SubscribeToShard of the same
    // consumer and shard within the takeover window is refused.
    let open = "sluice_kinesis_fanout_subscriptions{consumer=\"c\",stream=\"k\"}";
    assert_eq!(metric(&server, open).await, Some(1.0));
    let records = "sluice_kinesis_fanout_records_total{consumer=\"c\",stream=\"k\"}";
    assert_eq!(metric(&server, records).await, Some(3.0));
    let start = aws_sdk_kinesis::types::StartingPosition::builder()
        .r#type(aws_sdk_kinesis::types::ShardIteratorType::Latest)
        .build()
        .unwrap();
    let taken = kinesis
        .subscribe_to_shard()
        .consumer_arn(&consumer_arn)
        .shard_id("shardId-000000000000")
        .starting_position(start)
        .send()
        .await;
    assert_eq!(crate::harness::error_of(taken).0, "ResourceInUseException");

    // Deregistered: the subscription ends and nothing more is read through it.
    kinesis.deregister_stream_consumer().consumer_arn(&consumer_arn).send().await.unwrap();
    put(3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rec.records().len(), 3);
    // (The consumer's series go with it.)
    assert_eq!(metric(&server, open).await.unwrap_or(0.0), 0.0);
}

/// The mapping's LastProcessingResult once it is `want` (or after 2 s, whatever it is):
/// a handler has a batch before the mapping has the invocation's answer and records it.
async fn last_result(lambda: &aws_sdk_lambda::Client, uuid: &str, want: &str) -> String {
    let mut result = String::new();
    for _ in 0..100 {
        let m = lambda.get_event_source_mapping().uuid(uuid).send().await.unwrap();
        result = m.last_processing_result().unwrap_or_default().to_string();
        if result == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    result
}

#[tokio::test]
async fn failed_batches_are_retried_then_discarded_by_maximum_retry_attempts() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, RETRIES, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    let lambda = server.lambda();
    let uuid =
        map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| r.maximum_retry_attempts(1))
            .await;

    // Two failures with one retry allowed: the batch is given up.
    rec.fail_all.store(true, Ordering::SeqCst);
    put(&ddb, "items", "p", 1, "lost").await;
    rec.wait_attempts(2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rec.attempt_count(), 2, "MaximumRetryAttempts 1: two invocations");
    rec.fail_all.store(false, Ordering::SeqCst);
    // The checkpoint moved past it: the next record goes alone.
    put(&ddb, "items", "p", 2, "next").await;
    let records = rec.wait_records(1).await;
    assert_eq!(values(&records), ["next"]);
    assert_eq!(last_result(&lambda, &uuid, "OK").await, "OK");
    let l = format!("{{function=\"f\",uuid=\"{uuid}\"}}");
    assert_eq!(
        metric(&server, &format!("sluice_lambda_esm_dropped_records_total{l}")).await,
        Some(1.0)
    );
    assert_eq!(
        metric(&server, &format!("sluice_lambda_esm_function_errors_total{l}")).await,
        Some(2.0)
    );

    // With no limit a failing batch is retried until it succeeds, the same records.
    lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .maximum_retry_attempts(-1)
        .send()
        .await
        .unwrap();
    wait_state(&lambda, &uuid, "Enabled").await;
    let before = rec.attempt_count();
    rec.fail_next.store(3, Ordering::SeqCst);
    put(&ddb, "items", "p", 3, "retried").await;
    let records = rec.wait_records(2).await;
    assert_eq!(values(&records), ["next", "retried"]);
    let attempts = rec.attempts.lock().unwrap()[before..].to_vec();
    assert_eq!(attempts.len(), 4, "three failures, then success");
    assert!(attempts.windows(2).all(|w| w[0] == w[1]), "every retry is the same event");
}

#[tokio::test]
async fn latest_skips_earlier_writes_and_a_disabled_mapping_keeps_its_place() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    put(&ddb, "items", "p", 0, "before").await;
    let lambda = server.lambda();
    let uuid = map(&lambda, "f", &arn, EventSourcePosition::Latest, |r| r).await;
    put(&ddb, "items", "p", 1, "after").await;
    assert_eq!(values(&rec.wait_records(1).await), ["after"]);

    wait_state(&lambda, &uuid, "Enabled").await;
    lambda.update_event_source_mapping().uuid(&uuid).enabled(false).send().await.unwrap();
    wait_state(&lambda, &uuid, "Disabled").await;
    put(&ddb, "items", "p", 2, "while disabled").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rec.records().len(), 1, "nothing while disabled");
    lambda.update_event_source_mapping().uuid(&uuid).enabled(true).send().await.unwrap();
    let records = rec.wait_records(2).await;
    assert_eq!(values(&records), ["after", "while disabled"]);
}

#[tokio::test]
async fn kill_9_mid_batch_loses_no_record() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), &config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    map(&server.lambda(), "f", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    put(&ddb, "items", "p", 1, "one").await;
    assert_eq!(values(&rec.wait_records(1).await), ["one"]);

    // The next batch is in flight, unanswered, when sluice is killed.
    rec.hang.store(true, Ordering::SeqCst);
    put(&ddb, "items", "p", 2, "two").await;
    put(&ddb, "items", "p", 3, "three").await;
    rec.wait_attempts(2).await;
    server.kill();
    rec.hang.store(false, Ordering::SeqCst);

    let server = Server::start_in_with(dir.path(), &config);
    put(&server.client(), "items", "p", 4, "four").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = values(&rec.records());
        if ["two", "three", "four"].iter().all(|v| got.iter().any(|g| g == v)) {
            // In order, at least once: "one" was checkpointed before the kill.
            let firsts: Vec<&String> = got.iter().filter(|g| *g != "one").collect();
            assert_eq!(firsts.first().map(|s| s.as_str()), Some("two"), "{got:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivered after the restart: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);
}

/// A handler that appends each event to `events.jsonl` in its directory.
const ESM_HANDLER: &str = r#"
import json, os

def fn(event, context):
    with open(os.path.join(os.environ["EVENTS_DIR"], "events.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\n")
    return {"batchItemFailures": []}
"#;

async fn handler_events(dir: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..2000 {
        let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
        let records: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
            .collect();
        if records.len() >= n {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the handler did not receive {n} records");
}

#[tokio::test]
async fn real_handlers_under_awslambdaric_receive_the_events() {
    if !awslambdaric("real_handlers_under_awslambdaric_receive_the_events") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("esm.py"), ESM_HANDLER).unwrap();
    let path = toml_path(dir.path());
    let port = free_port();
    let env = format!(
        "environment = {{ EVENTS_DIR = \"{path}\", PYTHONPATH = \"{path}\", PYTHONUNBUFFERED = \"1\" }}"
    );
    // Another sluice runs the same handler; this one reaches it by its Invoke URL, as it
    // would reach a Runtime Interface Emulator container.
    let host = Server::start_with_config(&function(
        "hosted",
        r#"command = ["python3", "-m", "awslambdaric", "esm.fn"]"#,
        &env,
    ));
    let url =
        format!("invoke_url = \"http://{}/2015-03-31/functions/hosted/invocations\"", host.addr);
    let config = [
        LAMBDA,
        // Signing its invocations as a key `host` knows (it enforces in the enforcing run).
        "access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n",
        &function("listened", &format!("runtime_api_listen = \"127.0.0.1:{port}\""), ""),
        &function("commanded", r#"command = ["python3", "-m", "awslambdaric", "esm.fn"]"#, &env),
        &function("remote", &url, ""),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    // The user's own runtime for `listened`.
    let _runtime = std::process::Command::new("python3")
        .args(["-m", "awslambdaric", "esm.fn"])
        .current_dir(dir.path())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("PYTHONPATH", dir.path())
        .env("EVENTS_DIR", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    let lambda = server.lambda();
    map(&lambda, "listened", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    map(&lambda, "commanded", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    map(&lambda, "remote", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    put(&ddb, "items", "p", 1, "hello").await;
    // The three functions append to the same file: three copies of the record.
    let records = handler_events(dir.path(), 3).await;
    assert_eq!(values(&records), ["hello", "hello", "hello"]);
    assert!(records.iter().all(|r| r["eventSourceARN"] == arn.as_str()));
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn criteria(patterns: &[&str]) -> aws_sdk_lambda::types::FilterCriteria {
    let mut c = aws_sdk_lambda::types::FilterCriteria::builder();
    for p in patterns {
        c = c.filters(aws_sdk_lambda::types::Filter::builder().pattern(*p).build());
    }
    c.build()
}

#[tokio::test]
async fn filter_criteria_drop_records_that_match_no_pattern() {
    let (addr, rec) = recorder().await;
    let (addr2, rec2) = recorder().await;
    let config =
        [LAMBDA, &function("f", &invoke_url(addr), ""), &function("g", &invoke_url(addr2), "")]
            .concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    let lambda = server.lambda();
    let bad = lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .filter_criteria(criteria(&["single-string"]))
        .send()
        .await;
    let (code, message) = crate::harness::error_of(bad);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidParameterValueException", "Invalid filter pattern definition.")
    );
    let uuid = map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| {
        r.filter_criteria(criteria(&[
            r#"{"eventName": ["REMOVE"]}"#,
            r#"{"dynamodb": {"NewImage": {"v": {"S": [{"prefix": "keep"}]}}}}"#,
        ]))
    })
    .await;
    put(&ddb, "items", "p", 1, "keep1").await;
    put(&ddb, "items", "p", 2, "drop1").await;
    put(&ddb, "items", "p", 1, "drop2").await;
    ddb.delete_item()
        .table_name("items")
        .key("pk", AttributeValue::S("p".into()))
        .key("sk", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let records = rec.wait_records(2).await;
    assert_eq!(values(&records), ["keep1", "drop2"]);
    let names: Vec<_> = records.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["INSERT", "REMOVE"]);
    let filtered =
        format!("sluice_lambda_esm_records_filtered_total{{function=\"f\",uuid=\"{uuid}\"}}");
    assert_eq!(metric(&server, &filtered).await, Some(2.0));

    // Kinesis filters address the JSON in `data`.
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("events").shard_count(1).send().await.unwrap();
    let k = "arn:aws:kinesis:us-east-1:000000000000:stream/events";
    map(&lambda, "g", k, EventSourcePosition::TrimHorizon, |r| {
        r.filter_criteria(criteria(&[r#"{"data": {"type": ["a"]}}"#]))
    })
    .await;
    for (i, t) in ["b", "a", "b", "a"].iter().enumerate() {
        let data = format!("{{\"type\": \"{t}\", \"n\": {i}}}");
        kinesis
            .put_record()
            .stream_name("events")
            .partition_key("pk")
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
            .await
            .unwrap();
    }
    let records = rec2.wait_records(2).await;
    let ns: Vec<Value> = records
        .iter()
        .map(|r| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice::<Value>(&data).unwrap()["n"].clone()
        })
        .collect();
    assert_eq!(ns, [serde_json::json!(1), serde_json::json!(3)]);
}

/// The `v` values of each invocation's records, in order.
fn invocations(rec: &super::recorder::Recorder) -> Vec<Vec<String>> {
    rec.attempts
        .lock()
        .unwrap()
        .iter()
        .map(|e| values(e["Records"].as_array().map(Vec::as_slice).unwrap_or_default()))
        .collect()
}

async fn wait_invocations(rec: &super::recorder::Recorder, n: usize) -> Vec<Vec<String>> {
    rec.wait_attempts(n).await;
    // Nothing more comes in a while: the count is final.
    tokio::time::sleep(Duration::from_millis(500)).await;
    invocations(rec)
}

#[tokio::test]
async fn reported_item_failures_retry_from_the_lowest_failed_record() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, RETRIES, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    for i in 0..6 {
        put(&ddb, "items", "p", i, &format!("v{i}")).await;
    }
    // v4 always fails; so does a batch whose answer names no record of it.
    *rec.respond.lock().unwrap() = Some(Box::new(|event: &Value| {
        let failed: Vec<Value> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["dynamodb"]["NewImage"]["v"]["S"] == "v4")
            .map(|r| serde_json::json!({"itemIdentifier": r["dynamodb"]["SequenceNumber"]}))
            .collect();
        Some(serde_json::json!({"batchItemFailures": failed}))
    }));
    let lambda = server.lambda();
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("failures").shard_count(1).send().await.unwrap();
    let failures = "arn:aws:kinesis:us-east-1:000000000000:stream/failures";
    let uuid = map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| {
        r.batch_size(3)
            .maximum_retry_attempts(2)
            .destination_config(super::on_failure::on_failure(failures))
            .function_response_types(
                aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures,
            )
    })
    .await;
    let seen = wait_invocations(&rec, 4).await;
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seen,
        [v(&["v0", "v1", "v2"]), v(&["v3", "v4", "v5"]), v(&["v4", "v5"]), v(&["v4", "v5"])],
        "v3 done at the first answer; v4 and on retried twice (three invocations in all, as AWS's recorded approximateInvokeCount), then discarded"
    );
    let l = format!("{{function=\"f\",uuid=\"{uuid}\"}}");
    assert_eq!(
        metric(&server, &format!("sluice_lambda_esm_dropped_records_total{l}")).await,
        Some(2.0)
    );
    // The on-failure record: the two records from the failed one, the function answered
    // (functionError null, as AWS records it after reported failures), three invocations.
    let sent = super::on_failure::kinesis_records(&kinesis, "failures", 1).await;
    let record: Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(record["responseContext"]["functionError"], Value::Null, "{record}");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3, "{record}");
    assert_eq!(record["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(record["DDBStreamBatchInfo"]["batchSize"], 2, "{record}");
    // The checkpoint moved past them.
    put(&ddb, "items", "p", 6, "v6").await;
    rec.wait_attempts(5).await;
    assert_eq!(invocations(&rec)[4], v(&["v6"]));
}

#[tokio::test]
async fn bisect_splits_a_failing_batch_until_the_bad_record_is_alone() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, RETRIES, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    for (i, v) in ["a", "b", "bad", "d"].iter().enumerate() {
        put(&ddb, "items", "p", i as i64, v).await;
    }
    *rec.respond.lock().unwrap() = Some(Box::new(|event: &Value| {
        let bad = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dynamodb"]["NewImage"]["v"]["S"] == "bad");
        (!bad).then(|| serde_json::json!({}))
    }));
    let lambda = server.lambda();
    let uuid = map(&lambda, "f", &arn, EventSourcePosition::TrimHorizon, |r| {
        r.batch_size(4).maximum_retry_attempts(1).bisect_batch_on_function_error(true)
    })
    .await;
    let seen = wait_invocations(&rec, 6).await;
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seen,
        [
            v(&["a", "b", "bad", "d"]),
            v(&["a", "b"]),
            v(&["bad", "d"]),
            v(&["bad"]),
            v(&["bad"]),
            v(&["d"]),
        ],
        "halves first; the bad record alone is retried once (MaximumRetryAttempts 1), then discarded"
    );
    assert_eq!(values(&rec.records()), ["a", "b", "d"]);
    let l = format!("{{function=\"f\",uuid=\"{uuid}\"}}");
    assert_eq!(
        metric(&server, &format!("sluice_lambda_esm_dropped_records_total{l}")).await,
        Some(1.0)
    );
}

#[tokio::test]
async fn parallelization_runs_batches_of_one_shard_at_once_keeping_each_keys_order() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "concurrency = 10")].concat();
    let server = Server::start_with_config(&config);
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("one").shard_count(1).send().await.unwrap();
    let mut written: Vec<(String, String)> = Vec::new();
    for i in 0..40 {
        let key = format!("key{}", i % 8);
        let out = kinesis
            .put_record()
            .stream_name("one")
            .partition_key(&key)
            .data(aws_sdk_kinesis::primitives::Blob::new(format!("{i}")))
            .send()
            .await
            .unwrap();
        written.push((key, out.sequence_number().to_string()));
    }
    rec.delay_ms.store(100, Ordering::SeqCst);
    let lambda = server.lambda();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/one";
    map(&lambda, "f", arn, EventSourcePosition::TrimHorizon, |r| {
        r.batch_size(2).parallelization_factor(4)
    })
    .await;
    let records = rec.wait_records(40).await;
    let most = rec.most_running.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "{most} batches of the one shard at once");
    assert!(rec.batch_sizes().iter().all(|n| *n <= 2), "{:?}", rec.batch_sizes());
    for key in (0..8).map(|k| format!("key{k}")) {
        let got: Vec<&str> = records
            .iter()
            .filter(|r| r["kinesis"]["partitionKey"] == key.as_str())
            .map(|r| r["kinesis"]["sequenceNumber"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = written.iter().filter(|w| w.0 == key).map(|w| w.1.as_str()).collect();
        assert_eq!(got, want, "{key} in order");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rec.records().len(), 40, "each record once");
}

#[tokio::test]
async fn tumbling_windows_carry_the_functions_state_and_end_with_a_final_invocation() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("win").shard_count(1).send().await.unwrap();
    // The function counts the records of its window in its state.
    *rec.respond.lock().unwrap() = Some(Box::new(|event: &Value| {
        let seen = event["state"]["count"].as_u64().unwrap_or(0);
        let n = event["Records"].as_array().map_or(0, Vec::len) as u64;
        Some(serde_json::json!({"state": {"count": seen + n}, "batchItemFailures": []}))
    }));
    let lambda = server.lambda();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/win";
    map(&lambda, "f", arn, EventSourcePosition::TrimHorizon, |r| {
        r.tumbling_window_in_seconds(2).batch_size(2)
    })
    .await;
    for i in 0..5 {
        kinesis
            .put_record()
            .stream_name("win")
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(format!("{i}")))
            .send()
            .await
            .unwrap();
    }
    // Every record, then the final invocation of each window they fell in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = rec.delivered.lock().unwrap().clone();
        let records: usize =
            events.iter().map(|e| e["Records"].as_array().map_or(0, Vec::len)).sum();
        let last_final = events.last().is_some_and(|e| e["isFinalInvokeForWindow"] == true);
        if records == 5 && last_final {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut counted = 0;
    let mut previous: Option<(Value, u64)> = None;
    for e in &events {
        assert_eq!(e["shardId"], "shardId-000000000000", "{e}");
        assert_eq!(e["eventSourceARN"], arn);
        assert_eq!(e["isWindowTerminatedEarly"], false);
        let (start, end) =
            (e["window"]["start"].as_str().unwrap(), e["window"]["end"].as_str().unwrap());
        assert!(start.ends_with('Z') && end.ends_with('Z') && start < end, "{e}");
        // The state is the one the function returned last in this window, or {} at first.
        let state = e["state"]["count"].as_u64().unwrap_or(0);
        match &previous {
            Some((w, count)) if *w == e["window"] => assert_eq!(state, *count, "{e}"),
            _ => assert_eq!(e["state"], serde_json::json!({}), "a window starts afresh: {e}"),
        }
        let n = e["Records"].as_array().unwrap().len() as u64;
        assert!(n <= 2);
        if e["isFinalInvokeForWindow"] == true {
            assert_eq!(n, 0, "the final invocation carries no records");
            counted += state;
            previous = None;
        } else {
            previous = Some((e["window"].clone(), state + n));
        }
    }
    assert_eq!(counted, 5, "the final states account for every record: {events:?}");
}

#[tokio::test]
async fn an_idle_shards_checkpoint_is_saved_and_a_restart_delivers_nothing_again() {
    let (addr, rec) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), &config);
    let ddb = server.client();
    let arn = stream_table(&ddb, "items").await;
    map(&server.lambda(), "f", &arn, EventSourcePosition::TrimHorizon, |r| r).await;
    for i in 0..3 {
        put(&ddb, "items", "p", i, &format!("v{i}")).await;
    }
    rec.wait_records(3).await;
    // Checkpoints go at most every 100 ms while batches complete, and once the shard is
    // idle: well after the last batch, a crash loses none of them.
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.kill();
    let server = Server::start_in_with(dir.path(), &config);
    put(&server.client(), "items", "p", 3, "v3").await;
    rec.wait_records(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(values(&rec.records()), ["v0", "v1", "v2", "v3"]);
}
