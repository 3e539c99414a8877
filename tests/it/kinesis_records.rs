//! Kinesis records through the SDK: PutRecord and PutRecords (routing, per-entry results,
//! sizes), every iterator type, GetRecords paging and its errors.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::harness::{Server, error_of};
use crate::kinesis::create;

/// An iterator of `kind` on shard `shard` of `stream`.
pub async fn iterator(
    k: &Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    let mut r =
        k.get_shard_iterator().stream_name(stream).shard_id(shard).shard_iterator_type(kind);
    if let Some(seq) = seq {
        r = r.starting_sequence_number(seq);
    }
    r.send().await.expect("shard iterator").shard_iterator.expect("an iterator")
}

/// Data of every record from `it` to the caught-up point.
pub async fn read_all(k: &Client, mut it: String) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let r = k.get_records().shard_iterator(&it).send().await.expect("get records");
        out.extend(r.records.iter().map(|r| String::from_utf8_lossy(r.data.as_ref()).into_owned()));
        match r.next_shard_iterator {
            Some(next) if !r.records.is_empty() => it = next,
            _ => return out,
        }
    }
}

#[tokio::test]
async fn put_and_get_in_order_with_every_iterator_type() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let shard = "shardId-000000000000";
    let latest = iterator(&k, "s", shard, ShardIteratorType::Latest, None).await;
    let mut seqs = Vec::new();
    for i in 0..5 {
        let r = k
            .put_record()
            .stream_name("s")
            .partition_key("pk")
            .data(Blob::new(format!("r{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.shard_id, shard);
        seqs.push(r.sequence_number);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let all = ["r0", "r1", "r2", "r3", "r4"];
    assert_eq!(read_all(&k, latest).await, all);
    let trim = iterator(&k, "s", shard, ShardIteratorType::TrimHorizon, None).await;
    assert_eq!(read_all(&k, trim).await, all);
    let at = iterator(&k, "s", shard, ShardIteratorType::AtSequenceNumber, Some(&seqs[2])).await;
    assert_eq!(read_all(&k, at).await, ["r2", "r3", "r4"]);
    let after =
        iterator(&k, "s", shard, ShardIteratorType::AfterSequenceNumber, Some(&seqs[2])).await;
    assert_eq!(read_all(&k, after).await, ["r3", "r4"]);
    let late = iterator(&k, "s", shard, ShardIteratorType::Latest, None).await;
    assert!(read_all(&k, late).await.is_empty());

    // AT_TIMESTAMP: the first record at or after the time.
    let it = iterator(&k, "s", shard, ShardIteratorType::AtSequenceNumber, Some(&seqs[4])).await;
    let last = k.get_records().shard_iterator(&it).send().await.unwrap().records.remove(0);
    let arrived = last.approximate_arrival_timestamp.unwrap().to_millis().unwrap();
    // Epoch-seconds floats can round a millisecond down on the way: step past it.
    let mark = DateTime::from_millis(arrived + 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    k.put_record()
        .stream_name("s")
        .partition_key("pk")
        .data(Blob::new("late"))
        .send()
        .await
        .unwrap();
    let ts = k
        .get_shard_iterator()
        .stream_name("s")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(mark)
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(&k, ts.shard_iterator.unwrap()).await, ["late"]);

    // Limit pages; MillisBehindLatest is 0 once caught up; a caught-up read answers at once.
    let it = iterator(&k, "s", shard, ShardIteratorType::TrimHorizon, None).await;
    let page = k.get_records().shard_iterator(&it).limit(2).send().await.unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(page.millis_behind_latest.unwrap() >= 0);
    let r = &page.records[0];
    assert_eq!((r.partition_key.as_str(), r.sequence_number.as_str()), ("pk", seqs[0].as_str()));
    assert!(r.approximate_arrival_timestamp.is_some());
    let end = iterator(&k, "s", shard, ShardIteratorType::Latest, None).await;
    let started = std::time::Instant::now();
    let empty = k.get_records().shard_iterator(&end).send().await.unwrap();
    assert!(empty.records.is_empty() && empty.next_shard_iterator.is_some());
    assert_eq!(empty.millis_behind_latest, Some(0));
    assert!(empty.child_shards.is_none());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn put_records_routes_by_hash_and_answers_in_request_order() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 4).await;
    let entry = |pk: &str, data: &str| {
        PutRecordsRequestEntry::builder().partition_key(pk).data(Blob::new(data)).build().unwrap()
    };
    let mut request = k.put_records().stream_name("s");
    for i in 0..40 {
        request = request.records(entry(&format!("key-{i}"), &format!("v{i}")));
    }
    // ExplicitHashKey overrides the partition key's MD5: the last shard's range.
    let explicit = PutRecordsRequestEntry::builder()
        .partition_key("key-0")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("edge"))
        .build()
        .unwrap();
    let r = request.records(explicit).send().await.unwrap();
    assert_eq!(r.failed_record_count, Some(0));
    assert_eq!(r.records.len(), 41);
    assert_eq!(r.records[40].shard_id.as_deref(), Some("shardId-000000000003"));
    let shards: std::collections::HashSet<_> =
        r.records.iter().filter_map(|e| e.shard_id.clone()).collect();
    assert_eq!(shards.len(), 4, "40 keys spread over every shard");
    // The same partition key always lands on the same shard (MD5 routing).
    let again = k
        .put_record()
        .stream_name("s")
        .partition_key("key-7")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(Some(again.shard_id), r.records[7].shard_id.clone());
    // Reading every shard gives back all 42 records.
    let mut total = 0;
    for shard in shards {
        let it = iterator(&k, "s", &shard, ShardIteratorType::TrimHorizon, None).await;
        total += read_all(&k, it).await.len();
    }
    assert_eq!(total, 42);
}

#[tokio::test]
async fn record_errors() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let put = |pk: &str, data: Vec<u8>| {
        k.put_record().stream_name("s").partition_key(pk).data(Blob::new(data)).send()
    };
    let (code, _) = error_of(put("a", vec![0; 1024 * 1024 + 1]).await);
    assert_eq!(code, "ValidationException");
    // Data plus partition key past 1 MiB.
    let (code, _) = error_of(put("ab", vec![0; 1024 * 1024 - 1]).await);
    assert_eq!(code, "InvalidArgumentException");
    assert!(put("a", vec![0; 1024 * 1024 - 1]).await.is_ok());
    let (code, message) = error_of(
        k.put_record()
            .stream_name("s")
            .partition_key("a")
            .explicit_hash_key("340282366920938463463374607431768211456")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.starts_with(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]."
        ),
        "{message}"
    );
    let (code, message) = error_of(
        k.put_record()
            .stream_name("s")
            .partition_key("a")
            .sequence_number_for_ordering("123")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "ExclusiveMinimumSequenceNumber 123 used in PutRecord on stream s under account 000000000000 is invalid."
    );
    let first = put("a", b"x".to_vec()).await.unwrap();
    let ordered = k
        .put_record()
        .stream_name("s")
        .partition_key("a")
        .sequence_number_for_ordering(&first.sequence_number)
        .data(Blob::new("y"))
        .send()
        .await
        .unwrap();
    assert!(ordered.sequence_number > first.sequence_number);
    let (code, message) = error_of(k.put_records().stream_name("s").send().await);
    assert_eq!(code, "ValidationException", "{message}");
    let (code, _) = error_of(
        k.put_record().stream_name("nope").partition_key("a").data(Blob::new("x")).send().await,
    );
    assert_eq!(code, "ResourceNotFoundException");

    // Iterator errors, with AWS's messages.
    let shard = "shardId-000000000000";
    let gsi = |kind: ShardIteratorType| {
        k.get_shard_iterator().stream_name("s").shard_id(shard).shard_iterator_type(kind)
    };
    let (code, message) = error_of(
        gsi(ShardIteratorType::TrimHorizon)
            .starting_sequence_number(&first.sequence_number)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.ends_with("Request specified TRIM_HORIZON and also a StartingSequenceNumber."),
        "{message}"
    );
    let (_, message) = error_of(gsi(ShardIteratorType::AtSequenceNumber).send().await);
    assert!(
        message.ends_with("Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."),
        "{message}"
    );
    let (_, message) = error_of(
        gsi(ShardIteratorType::AtSequenceNumber).starting_sequence_number("5").send().await,
    );
    assert_eq!(
        message,
        "StartingSequenceNumber 5 used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid."
    );
    let (_, message) = error_of(gsi(ShardIteratorType::AtTimestamp).send().await);
    assert!(message.starts_with("Must specify timestampInMillis parameter"), "{message}");
    let (code, message) = error_of(
        gsi(ShardIteratorType::AtTimestamp)
            .timestamp(DateTime::from_secs(4_000_000_000))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.starts_with(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis."
        ),
        "{message}"
    );
    let (code, message) = error_of(
        k.get_shard_iterator()
            .stream_name("s")
            .shard_id("shardId-000000000009")
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Shard shardId-000000000009 in stream s under account 000000000000 does not exist"
        )
    );
    let (_, message) = error_of(
        k.get_shard_iterator()
            .stream_name("s")
            .shard_id("bogus")
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
    );
    assert_eq!(message, "Could not find shard bogus in stream s under account 000000000000.");
    // A sequence number of another shard.
    create(&k, "two", 2).await;
    let other = k
        .put_record()
        .stream_name("two")
        .partition_key("x")
        .explicit_hash_key("0")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let (_, message) = error_of(
        k.get_shard_iterator()
            .stream_name("two")
            .shard_id("shardId-000000000001")
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(&other.sequence_number)
            .send()
            .await,
    );
    assert_eq!(
        message,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001"
    );

    let (code, message) =
        error_of(k.get_records().shard_iterator("AAAAAAAAAAAAAAAAAAAA").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidArgumentException", "Invalid ShardIterator.")
    );
    let it = iterator(&k, "s", shard, ShardIteratorType::TrimHorizon, None).await;
    let (code, _) = error_of(k.get_records().shard_iterator(&it).limit(10001).send().await);
    assert_eq!(code, "ValidationException");
    // A deleted stream's iterators name a shard that no longer exists.
    k.delete_stream().stream_name("s").send().await.unwrap();
    let (code, message) = error_of(k.get_records().shard_iterator(&it).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Shard shardId-000000000000 in stream s under account 000000000000 does not exist"
        )
    );
}
