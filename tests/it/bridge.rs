//! The bridge through the SDKs: EnableKinesisStreamingDestination and friends, every
//! table change landing in the Kinesis stream in AWS's exact record JSON, one destination
//! per table, enable/disable cycles, exactly-once delivery across a SIGKILL, and N
//! concurrent writes giving exactly N records.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    ApproximateCreationDateTimePrecision, AttributeValue, DestinationStatus,
};
use aws_sdk_kinesis::types::ShardIteratorType;
use serde_json::{Value, json};

use crate::harness::{Server, create_table, error_of};
use crate::kinesis_records::iterator;

const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/";

/// Epoch seconds now (TTLs must be recent: AWS ignores ones five years old).
#[allow(clippy::disallowed_methods)]
fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Every record's data in the stream, per shard in order, as JSON.
pub async fn records(k: &aws_sdk_kinesis::Client, stream: &str) -> Vec<Value> {
    let shards = k.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut it =
            iterator(k, stream, shard.shard_id(), ShardIteratorType::TrimHorizon, None).await;
        loop {
            let r = k.get_records().shard_iterator(&it).send().await.unwrap();
            for rec in r.records() {
                out.push(serde_json::from_slice(rec.data().as_ref()).unwrap());
            }
            match r.next_shard_iterator {
                Some(next) if !r.records().is_empty() => it = next,
                _ => break,
            }
        }
    }
    out
}

/// Polls until the stream holds `n` records (the bridge forwards within milliseconds).
pub async fn wait_for(k: &aws_sdk_kinesis::Client, stream: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let got = records(k, stream).await;
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    records(k, stream).await
}

pub async fn enable(
    client: &Client,
    table: &str,
    stream: &str,
    precision: Option<ApproximateCreationDateTimePrecision>,
) {
    let mut r = client
        .enable_kinesis_streaming_destination()
        .table_name(table)
        .stream_arn(format!("{ARN}{stream}"));
    if let Some(p) = precision {
        r = r.enable_kinesis_streaming_configuration(
            aws_sdk_dynamodb::types::EnableKinesisStreamingConfiguration::builder()
                .approximate_creation_date_time_precision(p)
                .build(),
        );
    }
    let out = r.send().await.unwrap();
    assert_eq!(out.destination_status(), Some(&DestinationStatus::Enabling));
}

async fn statuses(client: &Client, table: &str) -> Vec<(String, String)> {
    let out =
        client.describe_kinesis_streaming_destination().table_name(table).send().await.unwrap();
    out.kinesis_data_stream_destinations()
        .iter()
        .map(|d| {
            (
                d.stream_arn().unwrap().to_string(),
                d.destination_status().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_change_lands_in_aws_record_format() {
    let server = Server::start_with_config("[dynamodb]\nttl_scan_interval_ms = 100\n");
    let client = server.client();
    let k = server.kinesis();
    create_table(&client, "orders", false).await;
    crate::kinesis::create(&k, "feed", 2).await;
    enable(&client, "orders", "feed", None).await;
    assert_eq!(statuses(&client, "orders").await, [(format!("{ARN}feed"), "ACTIVE".to_string())]);
    // No DynamoDB stream is needed, and none is turned on.
    let t = client.describe_table().table_name("orders").send().await.unwrap().table.unwrap();
    assert!(t.stream_specification().is_none());

    client
        .put_item()
        .table_name("orders")
        .item("pk", s("a"))
        .item("v", s("1"))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("orders")
        .item("pk", s("a"))
        .item("v", s("2"))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("orders")
        .item("pk", s("a"))
        .item("v", s("2"))
        .send()
        .await
        .unwrap(); // no change
    client.delete_item().table_name("orders").key("pk", s("a")).send().await.unwrap();
    let got = wait_for(&k, "feed", 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    // One item lands in one shard, in commit order.
    let names: Vec<&str> = got.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    let insert = &got[0];
    let keys: Vec<&str> = insert.as_object().unwrap().keys().map(String::as_str).collect();
    // serde_json sorts keys, so order is checked on the raw bytes below; here the set.
    let mut want = vec![
        "awsRegion",
        "dynamodb",
        "eventID",
        "eventName",
        "eventSource",
        "recordFormat",
        "tableName",
        "userIdentity",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(insert["awsRegion"], "us-east-1");
    assert_eq!(insert["tableName"], "orders");
    assert_eq!(insert["recordFormat"], "application/json");
    assert_eq!(insert["eventSource"], "aws:dynamodb");
    assert_eq!(insert["userIdentity"], Value::Null);
    assert_eq!(insert["eventID"].as_str().unwrap().len(), 36, "a dashed UUID");
    let d = &insert["dynamodb"];
    assert_eq!(d["Keys"], json!({"pk": {"S": "a"}}));
    assert_eq!(d["NewImage"], json!({"pk": {"S": "a"}, "v": {"S": "1"}}));
    assert!(d.get("OldImage").is_none());
    assert!(d["ApproximateCreationDateTime"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(
        d["ApproximateCreationDateTime"].as_i64().unwrap() < 100_000_000_000_000,
        "milliseconds"
    );
    assert!(d.get("ApproximateCreationDateTimePrecision").is_none());
    assert_eq!(got[1]["dynamodb"]["OldImage"], json!({"pk": {"S": "a"}, "v": {"S": "1"}}));
    assert_eq!(got[1]["dynamodb"]["NewImage"], json!({"pk": {"S": "a"}, "v": {"S": "2"}}));
    assert!(got[2]["dynamodb"].get("NewImage").is_none());

    // The raw bytes keep AWS's key order.
    let raw = {
        let shards = k.list_shards().stream_name("feed").send().await.unwrap();
        let mut all = Vec::new();
        for shard in shards.shards() {
            let it =
                iterator(&k, "feed", shard.shard_id(), ShardIteratorType::TrimHorizon, None).await;
            let r = k.get_records().shard_iterator(&it).send().await.unwrap();
            all.extend(
                r.records().iter().map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()),
            );
        }
        all
    };
    let first = &raw[0];
    let order = [
        "\"awsRegion\"",
        "\"eventID\"",
        "\"eventName\"",
        "\"userIdentity\"",
        "\"recordFormat\"",
        "\"tableName\"",
        "\"dynamodb\"",
        "\"eventSource\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| first.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first}");

    // Microsecond precision after an update; TTL deletes name the service.
    client
        .update_kinesis_streaming_destination()
        .table_name("orders")
        .stream_arn(format!("{ARN}feed"))
        .update_kinesis_streaming_configuration(
            aws_sdk_dynamodb::types::UpdateKinesisStreamingConfiguration::builder()
                .approximate_creation_date_time_precision(
                    ApproximateCreationDateTimePrecision::Microsecond,
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    client
        .update_time_to_live()
        .table_name("orders")
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("exp")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("orders")
        .item("pk", s("t"))
        .item("exp", AttributeValue::N((now_secs() - 10).to_string()))
        .send()
        .await
        .unwrap();
    let got = wait_for(&k, "feed", 5).await;
    assert_eq!(got.len(), 5, "{got:?}");
    let ttl_delete = got
        .iter()
        .find(|r| r["eventName"] == "REMOVE" && r["dynamodb"]["Keys"]["pk"]["S"] == "t")
        .unwrap();
    assert_eq!(
        ttl_delete["userIdentity"],
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    );
    assert_eq!(ttl_delete["dynamodb"]["ApproximateCreationDateTimePrecision"], "MICROSECOND");
    assert!(
        ttl_delete["dynamodb"]["ApproximateCreationDateTime"].as_i64().unwrap()
            > 1_000_000_000_000_000
    );
}

#[tokio::test]
async fn one_destination_at_a_time_and_enable_disable_cycles() {
    let server = Server::start();
    let client = server.client();
    let k = server.kinesis();
    create_table(&client, "tab1", false).await;
    crate::kinesis::create(&k, "one", 1).await;
    crate::kinesis::create(&k, "two", 1).await;
    enable(&client, "tab1", "one", Some(ApproximateCreationDateTimePrecision::Millisecond)).await;
    let (code, message) = error_of(
        client
            .enable_kinesis_streaming_destination()
            .table_name("tab1")
            .stream_arn(format!("{ARN}two"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message
            .starts_with("Table is not in a valid state to enable Kinesis Streaming Destination"),
        "{message}"
    );
    client.put_item().table_name("tab1").item("pk", s("x")).send().await.unwrap();
    assert_eq!(wait_for(&k, "one", 1).await.len(), 1);

    let out = client
        .disable_kinesis_streaming_destination()
        .table_name("tab1")
        .stream_arn(format!("{ARN}one"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.destination_status(), Some(&DestinationStatus::Disabling));
    let (code, _) = error_of(
        client
            .disable_kinesis_streaming_destination()
            .table_name("tab1")
            .stream_arn(format!("{ARN}one"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    // Writes while disabled are not forwarded.
    client.put_item().table_name("tab1").item("pk", s("y")).send().await.unwrap();
    enable(&client, "tab1", "two", None).await;
    client.put_item().table_name("tab1").item("pk", s("z")).send().await.unwrap();
    let two = wait_for(&k, "two", 1).await;
    assert_eq!(two.len(), 1);
    assert_eq!(two[0]["dynamodb"]["Keys"]["pk"]["S"], "z");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(records(&k, "one").await.len(), 1);
    // Every destination the table has had is listed.
    assert_eq!(
        statuses(&client, "tab1").await,
        [
            (format!("{ARN}one"), "DISABLED".to_string()),
            (format!("{ARN}two"), "ACTIVE".to_string())
        ]
    );

    // A missing stream: ENABLE_FAILED with a description.
    create_table(&client, "tab2", false).await;
    enable(&client, "tab2", "missing", None).await;
    let out =
        client.describe_kinesis_streaming_destination().table_name("tab2").send().await.unwrap();
    let d = &out.kinesis_data_stream_destinations()[0];
    assert_eq!(d.destination_status(), Some(&DestinationStatus::EnableFailed));
    assert!(d.destination_status_description().is_some());
    // ENABLE_FAILED does not block a new enable.
    crate::kinesis::create(&k, "missing", 1).await;
    enable(&client, "tab2", "missing", None).await;
    assert_eq!(statuses(&client, "tab2").await[0].1, "ACTIVE");

    let (code, _) =
        error_of(client.describe_kinesis_streaming_destination().table_name("nope").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn concurrent_writes_give_exactly_one_record_each_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    let k = server.kinesis();
    create_table(&client, "many", false).await;
    crate::kinesis::create(&k, "sink", 3).await;
    enable(&client, "many", "sink", None).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                client
                    .put_item()
                    .table_name("many")
                    .item("pk", s(&format!("w{w}-{i}")))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Kill while forwarding may still be under way; acknowledged changes must all arrive,
    // once each, after the restart.
    server.kill();
    let server = Server::start_in(dir.path());
    let k = server.kinesis();
    let got = wait_for(&k, "sink", 320).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *seen.entry(r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string()).or_default() +=
            1;
    }
    assert_eq!(seen.len(), 320, "every change arrived");
    assert!(seen.values().all(|n| *n == 1), "and only once");
    // Forwarding goes on after the restart, and is counted.
    server.client().put_item().table_name("many").item("pk", s("after")).send().await.unwrap();
    assert_eq!(wait_for(&k, "sink", 321).await.len(), 321);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("sluice_bridge_forwarded_records_total{stream=\"sink\",table=\"many\"}"),
        "{metrics}"
    );
}

/// The sum of every series of `name` on the server's /metrics.
async fn metric_sum(server: &Server, name: &str) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_write_and_its_destination_record_are_one_commit_readable_when_answered() {
    let server = Server::start();
    let client = server.client();
    let k = server.kinesis();
    create_table(&client, "one", false).await;
    crate::kinesis::create(&k, "one-sink", 2).await;
    enable(&client, "one", "one-sink", None).await;
    let batches = metric_sum(&server, "sluice_storage_write_batches_total").await;
    for i in 0..30 {
        client.put_item().table_name("one").item("pk", s(&format!("k{i}"))).send().await.unwrap();
        // No waiting: the record was committed with the write it describes.
        assert_eq!(records(&k, "one-sink").await.len(), i + 1, "after write {i}");
    }
    // One storage batch per write (the forwarder found nothing left to do). The old
    // path, a table commit and then the destination's, took two.
    let used = metric_sum(&server, "sluice_storage_write_batches_total").await - batches;
    assert!((30.0..=33.0).contains(&used), "{used} batches for 30 writes");
    // A transaction's changes (two items, likely two partitions) too: one batch each.
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let batches = metric_sum(&server, "sluice_storage_write_batches_total").await;
    for i in 0..10 {
        let put = |pk: String| {
            let put = Put::builder().table_name("one").item("pk", s(&pk)).build().unwrap();
            TransactWriteItem::builder().put(put).build()
        };
        let txn = client.transact_write_items().transact_items(put(format!("ta{i}")));
        txn.transact_items(put(format!("tb{i}"))).send().await.unwrap();
        assert_eq!(records(&k, "one-sink").await.len(), 30 + 2 * (i + 1), "after txn {i}");
    }
    let used = metric_sum(&server, "sluice_storage_write_batches_total").await - batches;
    assert!((10.0..=13.0).contains(&used), "{used} batches for 10 transactions");
    let forwarded = metric_sum(&server, "sluice_bridge_forwarded_records_total").await;
    assert_eq!(forwarded, 50.0);
}

#[tokio::test]
async fn transactions_and_single_writes_interleaved_arrive_once_each_in_item_order() {
    use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
    let server = Server::start();
    let client = server.client();
    let k = server.kinesis();
    create_table(&client, "mix", false).await;
    crate::kinesis::create(&k, "mix-sink", 3).await;
    enable(&client, "mix", "mix-sink", None).await;
    const KEYS: usize = 6;
    const PER_TASK: usize = 25;
    let add = |key: usize| {
        Update::builder()
            .table_name("mix")
            .key("pk", s(&format!("k{key}")))
            .update_expression("ADD c :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .unwrap()
    };
    let mut tasks = Vec::new();
    // Single UpdateItems go through the table's writers (forwarded in their commit);
    // transactions commit on their own and leave their changes to the forwarder.
    for t in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let key = (t + i) % KEYS;
                client
                    .update_item()
                    .table_name("mix")
                    .key("pk", s(&format!("k{key}")))
                    .update_expression("ADD c :one")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in 0..2 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let (a, b) = ((t + i) % KEYS, (t + i + 1) % KEYS);
                let items = [a, b].map(|key| TransactWriteItem::builder().update(add(key)).build());
                // Two transactions on one item at once: AWS cancels one; try again.
                loop {
                    let r = client
                        .transact_write_items()
                        .set_transact_items(Some(items.to_vec()))
                        .send()
                        .await;
                    if r.is_ok() {
                        break;
                    }
                    let (code, message) = error_of(r);
                    assert!(
                        code.contains("TransactionCanceled")
                            || code.contains("TransactionConflict"),
                        "{code}: {message}"
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = 4 * PER_TASK + 2 * PER_TASK * 2;
    let got = wait_for(&k, "mix-sink", total).await;
    assert_eq!(got.len(), total, "every change once");
    // Per item, the counter's new values arrive as 1, 2, 3, ...: none skipped, none
    // twice, none out of order (one item's records share a shard, read in order).
    let mut last: HashMap<String, u64> = HashMap::new();
    for r in &got {
        let key = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
        let c: u64 = r["dynamodb"]["NewImage"]["c"]["N"].as_str().unwrap().parse().unwrap();
        let previous = last.insert(key.clone(), c).unwrap_or(0);
        assert_eq!(c, previous + 1, "{key}: {c} after {previous}");
    }
    assert_eq!(last.values().sum::<u64>(), total as u64);
}
