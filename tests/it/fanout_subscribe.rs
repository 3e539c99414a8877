//! SubscribeToShard through the Rust SDK (HTTP/1.1 on http://): records pushed as they are
//! written, heartbeats, every StartingPosition type, resuming from
//! ContinuationSequenceNumber (an idle empty shard included) and across a SplitShard to
//! the children, 20 consumers each receiving every record, and the stream's lifetime.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition};

use crate::fanout::{FAST, next_event, position, put, records, register, subscribe};
use crate::harness::{Server, error_of};
use crate::kinesis::create;

const SHARD0: &str = "shardId-000000000000";

#[tokio::test]
async fn records_are_pushed_then_heartbeats_then_the_lifetime_ends_it() {
    let server = Server::start_with_config(&FAST.replace("60000", "2500"));
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "app").await;
    let mut events =
        subscribe(&k, &consumer, SHARD0, position(ShardIteratorType::Latest, None)).await;
    let opened = Instant::now();
    let writer = k.clone();
    let put_at = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        put(&writer, "s", "pk", &["one"]).await;
        Instant::now()
    });
    let (data, event) = records(&mut events, 1).await;
    let (received, acked) = (Instant::now(), put_at.await.unwrap());
    assert_eq!(data, ["one"]);
    // Pushed, not polled: the event follows the acknowledgement within milliseconds.
    assert!(received.saturating_duration_since(acked) < Duration::from_millis(200));
    assert_eq!(event.millis_behind_latest, 0);
    let seq = event.records[0].sequence_number.clone();
    assert_eq!(event.continuation_sequence_number, seq);
    assert!(event.child_shards.is_none());
    // Idle: empty events about every heartbeat interval, with the same continuation.
    let beat = next_event(&mut events).await.unwrap();
    assert!(beat.records.is_empty());
    assert_eq!(beat.continuation_sequence_number, seq);
    // The stream ends cleanly once its lifetime passed.
    while next_event(&mut events).await.is_some() {}
    let lived = opened.elapsed();
    assert!(lived >= Duration::from_millis(2400) && lived < Duration::from_secs(6), "{lived:?}");
    let text = server.metrics().await;
    assert!(text.contains("sluice_kinesis_fanout_records_total{consumer=\"app\",stream=\"s\"} 1"));
    assert!(text.contains("sluice_kinesis_fanout_subscriptions{consumer=\"app\",stream=\"s\"} 0"));
    assert!(text.contains(
        "sluice_kinesis_fanout_delivery_latency_seconds_count{consumer=\"app\",stream=\"s\"} 1"
    ));
    assert!(
        text.contains("sluice_kinesis_outgoing_records_total{reader=\"fanout\",stream=\"s\"} 1")
    );
}

#[tokio::test]
async fn every_starting_position_and_the_errors_before_the_stream() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    put(&k, "s", "pk", &["a", "b", "c"]).await;
    let got = k.get_shard_iterator().stream_name("s").shard_id(SHARD0);
    let it = got.shard_iterator_type(ShardIteratorType::TrimHorizon).send().await.unwrap();
    let all = k.get_records().shard_iterator(it.shard_iterator.unwrap()).send().await.unwrap();
    let seqs: Vec<String> = all.records.iter().map(|r| r.sequence_number.clone()).collect();
    let second_arrival = all.records[1].approximate_arrival_timestamp.unwrap();
    let cases: Vec<(StartingPosition, &[&str])> = vec![
        (position(ShardIteratorType::TrimHorizon, None), &["a", "b", "c"]),
        (position(ShardIteratorType::AtSequenceNumber, Some(&seqs[1])), &["b", "c"]),
        (position(ShardIteratorType::AfterSequenceNumber, Some(&seqs[1])), &["c"]),
        (
            StartingPosition::builder()
                .r#type(ShardIteratorType::AtTimestamp)
                .timestamp(second_arrival)
                .build()
                .unwrap(),
            &["b", "c"],
        ),
    ];
    for (i, (at, want)) in cases.into_iter().enumerate() {
        // A consumer per case: the 5-second rule is per consumer and shard.
        let consumer = register(&k, "s", &format!("c{i}")).await;
        let mut events = subscribe(&k, &consumer, SHARD0, at).await;
        let (data, _) = records(&mut events, want.len()).await;
        assert_eq!(data, want, "case {i}");
    }
    let latest = register(&k, "s", "latest").await;
    let mut events =
        subscribe(&k, &latest, SHARD0, position(ShardIteratorType::Latest, None)).await;
    put(&k, "s", "pk", &["d"]).await;
    assert_eq!(records(&mut events, 1).await.0, ["d"]);

    // Errors come as plain responses before any event.
    let consumer = register(&k, "s", "errors").await;
    let call = |shard: &str, at: StartingPosition| {
        k.subscribe_to_shard().consumer_arn(&consumer).shard_id(shard).starting_position(at).send()
    };
    let missing_seq = call(SHARD0, position(ShardIteratorType::AtSequenceNumber, None)).await;
    assert_eq!(error_of(missing_seq).0, "InvalidArgumentException");
    let foreign = call(SHARD0, position(ShardIteratorType::AtSequenceNumber, Some("1234"))).await;
    assert_eq!(error_of(foreign).0, "InvalidArgumentException");
    let no_shard = call("shardId-000000000009", position(ShardIteratorType::Latest, None)).await;
    assert_eq!(error_of(no_shard).0, "ResourceNotFoundException");
    let future = StartingPosition::builder()
        .r#type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(4_102_444_800))
        .build()
        .unwrap();
    assert_eq!(error_of(call(SHARD0, future).await).0, "InvalidArgumentException");
    let unknown = k
        .subscribe_to_shard()
        .consumer_arn(consumer.replace("consumer/errors:", "consumer/nobody:"))
        .shard_id(SHARD0)
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await;
    assert_eq!(error_of(unknown).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn a_consumer_still_creating_cannot_subscribe() {
    let server = Server::start_with_config("[kinesis]\nconsumer_create_delay_ms = 60000\n");
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let c = k.register_stream_consumer().stream_arn(crate::kinesis::arn("s")).consumer_name("app");
    let c = c.send().await.unwrap().consumer.unwrap();
    let secs = c.consumer_creation_timestamp.secs();
    let early = k
        .subscribe_to_shard()
        .consumer_arn(&c.consumer_arn)
        .shard_id(SHARD0)
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await;
    assert_eq!(
        error_of(early),
        (
            "ResourceInUseException".to_string(),
            format!(
                "Consumer app with creation timestamp {secs} under stream: s , account 000000000000 is not in ACTIVE status."
            )
        )
    );
}

#[tokio::test]
async fn resuming_from_continuation_numbers_and_across_a_split() {
    let server =
        Server::start_with_config(&FAST.replace("takeover_ms = 1000", "takeover_ms = 100"));
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "app").await;
    // An empty shard: the continuation of an idle subscription resumes before the first
    // record ever written, which must not be skipped.
    let mut events =
        subscribe(&k, &consumer, SHARD0, position(ShardIteratorType::TrimHorizon, None)).await;
    let idle = next_event(&mut events).await.unwrap();
    assert!(idle.records.is_empty());
    drop(events);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let after =
        position(ShardIteratorType::AfterSequenceNumber, Some(&idle.continuation_sequence_number));
    let mut events = subscribe(&k, &consumer, SHARD0, after).await;
    put(&k, "s", "pk", &["first", "second"]).await;
    let (data, last) = records(&mut events, 2).await;
    assert_eq!(data, ["first", "second"]);
    drop(events);
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Resume after the continuation; records written meanwhile and after, then the split.
    put(&k, "s", "pk", &["third"]).await;
    let after =
        position(ShardIteratorType::AfterSequenceNumber, Some(&last.continuation_sequence_number));
    let mut events = subscribe(&k, &consumer, SHARD0, after).await;
    assert_eq!(records(&mut events, 1).await.0, ["third"]);
    let split = k.split_shard().stream_name("s").shard_to_split(SHARD0);
    split.new_starting_hash_key((1u128 << 127).to_string()).send().await.unwrap();
    put(&k, "s", "a", &["to a child"]).await;
    // The parent ends: ChildShards, and no continuation (the Rust SDK reads it as empty).
    let end = next_event(&mut events).await.unwrap();
    assert!(end.records.is_empty());
    assert_eq!(end.continuation_sequence_number, "");
    let children: Vec<String> = end.child_shards().iter().map(|c| c.shard_id.clone()).collect();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    for c in end.child_shards() {
        assert_eq!(c.parent_shards, [SHARD0]);
    }
    assert!(next_event(&mut events).await.is_none(), "the stream ends after the shard");
    // The children, from their start, hold everything written after the split.
    let mut seen = Vec::new();
    for child in &children {
        let mut events =
            subscribe(&k, &consumer, child, position(ShardIteratorType::TrimHorizon, None)).await;
        let e = next_event(&mut events).await.unwrap();
        seen.extend(
            e.records.iter().map(|r| String::from_utf8_lossy(r.data.as_ref()).into_owned()),
        );
    }
    assert_eq!(seen, ["to a child"]);
}

#[tokio::test]
async fn twenty_consumers_each_receive_every_record() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let mut streams = Vec::new();
    for n in 0..20 {
        let consumer = register(&k, "s", &format!("c{n:02}")).await;
        streams.push(
            subscribe(&k, &consumer, SHARD0, position(ShardIteratorType::Latest, None)).await,
        );
    }
    let want: Vec<String> = (0..50).map(|i| format!("r{i:02}")).collect();
    let entries = want.iter().map(|d| {
        aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
            .partition_key("pk")
            .data(aws_sdk_kinesis::primitives::Blob::new(d.as_bytes()))
            .build()
            .unwrap()
    });
    k.put_records().stream_name("s").set_records(Some(entries.collect())).send().await.unwrap();
    let readers = streams
        .into_iter()
        .map(|mut events| tokio::spawn(async move { records(&mut events, 50).await.0 }));
    for reader in readers.collect::<Vec<_>>() {
        assert_eq!(reader.await.unwrap(), want);
    }
}
