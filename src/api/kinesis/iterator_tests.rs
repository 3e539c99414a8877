//! Iterator rules on a real engine with a manual clock, through the handlers: iterators
//! expire after exactly 5 minutes with AWS's message, a position older than the trim
//! point reads from the trim horizon, NextTokens expire after 300 seconds, and
//! MillisBehindLatest measures from the oldest unread record.

use std::sync::Arc;

use serde_json::{Value, json};

use super::KinesisError;
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::protocol::RequestContext;

const NOW_MS: i64 = 1_767_225_600_000;

fn open(clock: SharedClock) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.kinesis.trim_interval_ms = 3_600_000;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

fn ctx() -> RequestContext {
    RequestContext {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        request_id: "r".into(),
        host: None,
    }
}

async fn call(engine: &Arc<Engine>, op: &str, body: Value) -> Result<Value, KinesisError> {
    let op = super::Operation::from_name(op).expect("an operation");
    match super::run(engine, op, &ctx(), body.into(), crate::api::Form::Tree).await? {
        crate::api::Output::Tree(v) => Ok(v),
        other => panic!("asked for a tree, got {other:?}"),
    }
}

async fn iterator(engine: &Arc<Engine>, kind: &str) -> String {
    let body =
        json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": kind});
    let r = call(engine, "GetShardIterator", body).await.unwrap();
    r["ShardIterator"].as_str().unwrap().to_string()
}

/// Puts a record with partition key "k"; returns its shard id.
async fn put(engine: &Arc<Engine>, data: &str) -> Value {
    let body = json!({"StreamName": "s", "PartitionKey": "k", "Data": data});
    call(engine, "PutRecord", body).await.unwrap()["ShardId"].clone()
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    call(&engine, "CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await.unwrap();
    put(&engine, "AAAA").await;
    let it = iterator(&engine, "TRIM_HORIZON").await;
    clock.advance_millis(300_000);
    let r = call(&engine, "GetRecords", json!({"ShardIterator": it})).await.unwrap();
    assert_eq!(r["Records"].as_array().unwrap().len(), 1);
    // The returned iterator is fresh; the old one expires one millisecond later.
    let next = r["NextShardIterator"].as_str().unwrap().to_string();
    clock.advance_millis(1);
    let e = call(&engine, "GetRecords", json!({"ShardIterator": it})).await.unwrap_err();
    assert_eq!(
        e,
        KinesisError::ExpiredIterator(
            "Iterator expired. The iterator was created at time Thu Jan 01 00:00:00 UTC 2026 while right now it is Thu Jan 01 00:05:00 UTC 2026 which is further in the future than the tolerated delay of 300000 milliseconds.".into()
        )
    );
    assert!(call(&engine, "GetRecords", json!({"ShardIterator": next})).await.is_ok());
}

#[tokio::test]
async fn trimmed_positions_read_from_the_trim_horizon() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    call(&engine, "CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await.unwrap();
    put(&engine, "AAAA").await;
    let old = iterator(&engine, "TRIM_HORIZON").await;
    clock.advance_millis(24 * 3_600_000 - 100_000);
    put(&engine, "BBBB").await;
    clock.advance_millis(100_001);
    engine.trim_kinesis().await.unwrap();
    let it = iterator(&engine, "TRIM_HORIZON").await;
    let r = call(&engine, "GetRecords", json!({"ShardIterator": it})).await.unwrap();
    assert_eq!(r["Records"][0]["Data"], "BBBB");
    // The old iterator has expired by now; a new AT_SEQUENCE_NUMBER of the trimmed record
    // reads from the horizon, as AWS does.
    assert!(matches!(
        call(&engine, "GetRecords", json!({"ShardIterator": old})).await,
        Err(KinesisError::ExpiredIterator(_))
    ));
    let stream = engine.kinesis.get("s").unwrap();
    let first = super::shapes::Shard::of(stream.id(), stream.meta().shard(0).unwrap());
    let body = json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": first.sequence_number_range.starting_sequence_number});
    let it = call(&engine, "GetShardIterator", body).await.unwrap()["ShardIterator"].clone();
    let r = call(&engine, "GetRecords", json!({"ShardIterator": it})).await.unwrap();
    assert_eq!(r["Records"][0]["Data"], "BBBB");
}

#[tokio::test]
async fn millis_behind_latest_and_next_token_expiry() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    call(&engine, "CreateStream", json!({"StreamName": "s", "ShardCount": 3})).await.unwrap();
    let shard = put(&engine, "AAAA").await;
    clock.advance_millis(1000);
    put(&engine, "BBBB").await;
    clock.advance_millis(500);
    let body = json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
    let it = call(&engine, "GetShardIterator", body).await.unwrap()["ShardIterator"].clone();
    let r = call(&engine, "GetRecords", json!({"ShardIterator": it, "Limit": 1})).await.unwrap();
    assert_eq!(r["Records"][0]["Data"], "AAAA");
    assert_eq!(r["MillisBehindLatest"], 500, "the oldest unread record arrived 500 ms ago");
    let r = call(&engine, "GetRecords", json!({"ShardIterator": r["NextShardIterator"]}))
        .await
        .unwrap();
    assert_eq!(r["MillisBehindLatest"], 0);

    let page =
        call(&engine, "ListShards", json!({"StreamName": "s", "MaxResults": 1})).await.unwrap();
    let token = page["NextToken"].clone();
    assert!(call(&engine, "ListShards", json!({"NextToken": token})).await.is_ok());
    clock.advance_millis(300_001);
    let e = call(&engine, "ListShards", json!({"NextToken": token})).await.unwrap_err();
    assert!(matches!(e, KinesisError::ExpiredNextToken(_)), "{e:?}");
}
