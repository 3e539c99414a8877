//! Kinesis across a crash and under enforced limits: everything acknowledged survives a
//! SIGKILL (records, shards and lineage, settings, tags, iterators, sequence numbers), and
//! `kinesis.enforce_limits` throttles as AWS does, per entry for PutRecords.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::harness::{Server, error_of};
use crate::kinesis::create;
use crate::kinesis_records::{iterator, read_all};

#[tokio::test]
async fn acknowledged_records_and_streams_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                k.put_record()
                    .stream_name("s")
                    .partition_key(format!("w{w}"))
                    .data(Blob::new(format!("w{w}-{i}")))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut batch = k.put_records().stream_name("s");
    for i in 0..50 {
        batch = batch.records(
            PutRecordsRequestEntry::builder()
                .partition_key("b")
                .data(Blob::new(format!("b-{i}")))
                .build()
                .unwrap(),
        );
    }
    batch.send().await.unwrap();
    k.split_shard()
        .stream_name("s")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    let child = k
        .put_record()
        .stream_name("s")
        .partition_key("after")
        .explicit_hash_key("0")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    k.increase_stream_retention_period()
        .stream_name("s")
        .retention_period_hours(720)
        .send()
        .await
        .unwrap();
    k.add_tags_to_stream().stream_name("s").tags("kept", "yes").send().await.unwrap();
    let before = read_all(
        &k,
        iterator(&k, "s", "shardId-000000000000", ShardIteratorType::TrimHorizon, None).await,
    )
    .await;
    assert_eq!(before.len(), 150);
    let old_iterator =
        iterator(&k, "s", "shardId-000000000000", ShardIteratorType::TrimHorizon, None).await;
    server.kill();

    let server = Server::start_in(dir.path());
    let k = server.kinesis();
    let after = read_all(
        &k,
        iterator(&k, "s", "shardId-000000000000", ShardIteratorType::TrimHorizon, None).await,
    )
    .await;
    assert_eq!(after, before);
    // Iterators issued before the crash still read (their signing key is persisted).
    assert_eq!(read_all(&k, old_iterator).await, before);
    for w in 0..4 {
        let mine: Vec<&String> =
            after.iter().filter(|d| d.starts_with(&format!("w{w}-"))).collect();
        let expected: Vec<String> = (0..25).map(|i| format!("w{w}-{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "per-key order of w{w}");
    }
    let d = k.describe_stream().stream_name("s").send().await.unwrap().stream_description.unwrap();
    assert_eq!(d.retention_period_hours, 720);
    assert_eq!(d.shards.len(), 3);
    assert_eq!(d.shards[1].parent_shard_id.as_deref(), Some("shardId-000000000000"));
    assert!(d.shards[0].sequence_number_range.as_ref().unwrap().ending_sequence_number.is_some());
    let tags = k.list_tags_for_stream().stream_name("s").send().await.unwrap().tags;
    assert_eq!(tags[0].key, "kept");
    // Sequence numbers go on from where they were, never reused.
    let next = k
        .put_record()
        .stream_name("s")
        .partition_key("after")
        .explicit_hash_key("0")
        .data(Blob::new("next"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.shard_id, child.shard_id);
    assert!(next.sequence_number > child.sequence_number);
    let children = read_all(
        &k,
        iterator(&k, "s", &child.shard_id, ShardIteratorType::TrimHorizon, None).await,
    )
    .await;
    assert_eq!(children, ["after", "next"]);
}

#[tokio::test]
async fn enforced_limits_throttle_per_shard_and_per_entry() {
    let server = Server::start_with_config("[kinesis]\nenforce_limits = true\n");
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let entries = |n: usize| -> Vec<PutRecordsRequestEntry> {
        (0..n)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key("k")
                    .data(Blob::new(format!("{i}")))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let mut failed = 0;
    let mut throttled_entry = None;
    for _ in 0..4 {
        let r =
            k.put_records().stream_name("s").set_records(Some(entries(500))).send().await.unwrap();
        failed += r.failed_record_count.unwrap_or_default();
        for e in &r.records {
            match &e.error_code {
                Some(code) => {
                    throttled_entry =
                        Some((code.clone(), e.error_message.clone().unwrap_or_default()))
                }
                None => assert!(e.sequence_number.is_some() && e.shard_id.is_some()),
            }
        }
    }
    assert!(failed > 0, "2,000 records within a few hundred milliseconds exceed 1,000 records/s");
    let (code, message) = throttled_entry.unwrap();
    assert_eq!(code, "ProvisionedThroughputExceededException");
    assert_eq!(
        message,
        "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."
    );

    // 1 MiB/s of bytes: a second 1 MiB record within the second is refused whole.
    create(&k, "bytes", 1).await;
    let mib = vec![1u8; 1024 * 1024 - 1];
    k.put_record()
        .stream_name("bytes")
        .partition_key("k")
        .data(Blob::new(mib.clone()))
        .send()
        .await
        .unwrap();
    let (code, _) = error_of(
        k.put_record().stream_name("bytes").partition_key("k").data(Blob::new(mib)).send().await,
    );
    assert_eq!(code, "ProvisionedThroughputExceededException");

    // Five GetRecords per second per shard.
    let it = iterator(&k, "bytes", "shardId-000000000000", ShardIteratorType::Latest, None).await;
    let mut refused = 0;
    for _ in 0..10 {
        if let Err(e) = k.get_records().shard_iterator(&it).send().await {
            assert_eq!(error_of::<(), _>(Err(e)).0, "ProvisionedThroughputExceededException");
            refused += 1;
        }
    }
    assert!(refused > 0);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            "sluice_kinesis_throttled_requests_total{operation=\"PutRecords\",stream=\"s\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        "sluice_kinesis_throttled_requests_total{operation=\"GetRecords\",stream=\"bytes\"}"
    ));
    assert!(metrics.contains("sluice_kinesis_incoming_records_total{stream=\"s\"}"));
    assert!(metrics.contains("sluice_kinesis_retained_bytes{stream=\"bytes\"}"));
    k.delete_stream().stream_name("bytes").send().await.unwrap();
    let metrics = server.metrics().await;
    assert!(!metrics.contains("stream=\"bytes\""), "a deleted stream's series are removed");
}
