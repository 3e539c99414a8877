//! DynamoDB Streams through the official SDK: streams enabled by CreateTable and
//! UpdateTable, described and listed, their records per view type and per kind of
//! write, every iterator type, shard lineage after rollover and trimming (with short
//! intervals from the config file), and one record's exact JSON over raw HTTP.
//!
//! The helpers here read whole shards and streams; tests that care about the order of
//! records across items run tables with one partition, so a stream has one open shard
//! and one commit order.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::Client as Streams;
use aws_sdk_dynamodbstreams::types::{Record, Shard, ShardIteratorType};

mod describe;
mod iterators;
mod lifecycle;
mod records;

/// One partition per table: one open shard per stream.
pub const ONE_SHARD: &str = "[dynamodb]\npartitions_per_table = 1\n";

/// The daemon's clock is the machine's.
#[allow(clippy::disallowed_methods)]
pub fn now_secs_f64() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

pub fn spec(view: Option<&str>) -> StreamSpecification {
    let builder = StreamSpecification::builder().stream_enabled(view.is_some());
    let builder = match view {
        Some(v) => builder.stream_view_type(StreamViewType::from(v)),
        None => builder,
    };
    builder.build().unwrap()
}

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Creates a table keyed by `pk` (S) with a stream of `view`; returns the stream's ARN.
pub async fn create_with_stream(client: &Client, name: &str, view: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let out = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .stream_specification(spec(Some(view)))
        .send()
        .await
        .expect("create table with stream");
    let arn = out.table_description().and_then(|d| d.latest_stream_arn()).expect("stream arn");
    arn.to_string()
}

/// Enables a stream with UpdateTable; returns its ARN.
pub async fn enable(client: &Client, name: &str, view: &str) -> String {
    let out = client
        .update_table()
        .table_name(name)
        .stream_specification(spec(Some(view)))
        .send()
        .await
        .expect("enable stream");
    out.table_description().and_then(|d| d.latest_stream_arn()).expect("stream arn").to_string()
}

/// Disables the table's stream with UpdateTable.
pub async fn disable(client: &Client, name: &str) {
    client
        .update_table()
        .table_name(name)
        .stream_specification(spec(None))
        .send()
        .await
        .expect("disable stream");
}

pub async fn put(client: &Client, table: &str, pk: &str, v: &str) {
    client
        .put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("v", s(v))
        .send()
        .await
        .expect("put item");
}

pub async fn delete(client: &Client, table: &str, pk: &str) {
    client.delete_item().table_name(table).key("pk", s(pk)).send().await.expect("delete item");
}

/// Every shard of a stream, through every DescribeStream page.
pub async fn shards(streams: &Streams, arn: &str) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = streams
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .expect("describe stream");
        let d = page.stream_description().expect("description");
        out.extend(d.shards().iter().cloned());
        match d.last_evaluated_shard_id() {
            Some(last) => start = Some(last.to_string()),
            None => return out,
        }
    }
}

/// The only shard of a one-partition stream that is still open.
pub async fn open_shard(streams: &Streams, arn: &str) -> Shard {
    let all = shards(streams, arn).await;
    let open: Vec<Shard> = all
        .into_iter()
        .filter(|s| s.sequence_number_range().unwrap().ending_sequence_number().is_none())
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    open.into_iter().next().unwrap()
}

pub async fn iterator(
    streams: &Streams,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_sequence_number(seq.map(String::from))
        .send()
        .await
        .expect("get shard iterator")
        .shard_iterator()
        .expect("iterator")
        .to_string()
}

/// Reads a shard from `iterator` until a page comes back empty or the shard ends;
/// returns the records and the iterator to go on with (`None` at a closed shard's end).
pub async fn drain(streams: &Streams, iterator: String) -> (Vec<Record>, Option<String>) {
    let mut records = Vec::new();
    let mut next = Some(iterator);
    while let Some(it) = next.clone() {
        let page = streams.get_records().shard_iterator(it).send().await.expect("get records");
        next = page.next_shard_iterator().map(String::from);
        if page.records().is_empty() {
            break;
        }
        records.extend(page.records().iter().cloned());
    }
    (records, next)
}

/// Every record of every shard of a stream, from TRIM_HORIZON, shard by shard.
pub async fn read_stream(streams: &Streams, arn: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for shard in shards(streams, arn).await {
        let id = shard.shard_id().unwrap();
        let it = iterator(streams, arn, id, ShardIteratorType::TrimHorizon, None).await;
        out.extend(drain(streams, it).await.0);
    }
    out
}

/// (eventName, pk) of each record.
pub fn events(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            let keys = r.dynamodb().and_then(|d| d.keys()).expect("keys");
            let pk = match keys.get("pk") {
                Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(s)) => s.clone(),
                other => panic!("pk {other:?}"),
            };
            (r.event_name().expect("eventName").as_str().to_string(), pk)
        })
        .collect()
}

pub fn seq(record: &Record) -> String {
    record.dynamodb().and_then(|d| d.sequence_number()).expect("sequence number").to_string()
}

/// Polls `check` every 20 ms until it gives a value, for at most `within`.
pub async fn poll<T, F, Fut>(within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
