//! Resharding end to end through the SDK: SplitShard, MergeShards and UpdateShardCount
//! keep lineage; a reader finishes each parent (ChildShards, no NextShardIterator) and
//! follows its children without losing or reordering a key's records; ListShards filters.

use std::collections::HashMap;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ScalingType, ShardFilter, ShardFilterType, ShardIteratorType};

use crate::harness::{Server, error_of};
use crate::kinesis::create;
use crate::kinesis_records::iterator;

/// Puts `n` records for each of `keys`, tagging each with its key and a counter.
async fn put_round(k: &Client, stream: &str, keys: &[&str], round: usize) {
    for key in keys {
        k.put_record()
            .stream_name(stream)
            .partition_key(*key)
            .data(Blob::new(format!("{key}:{round}")))
            .send()
            .await
            .unwrap();
    }
}

/// Reads the whole stream the way the KCL does: a shard only once all its parents are
/// read to their end (ChildShards and no NextShardIterator), open shards until caught up.
/// Returns each key's values in read order.
async fn read_by_lineage(k: &Client, stream: &str) -> HashMap<String, Vec<usize>> {
    let shards = k.list_shards().stream_name(stream).send().await.unwrap().shards.unwrap();
    let mut done: Vec<String> = Vec::new();
    let mut announced: Vec<String> = Vec::new();
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    while done.len() < shards.len() {
        let ready = shards.iter().find(|s| {
            let parents = [&s.parent_shard_id, &s.adjacent_parent_shard_id];
            !done.contains(&s.shard_id) && parents.into_iter().flatten().all(|p| done.contains(p))
        });
        let shard = ready.expect("a shard whose parents are done").shard_id.clone();
        if shards.iter().any(|s| s.parent_shard_id.is_some() && s.shard_id == shard) {
            assert!(announced.contains(&shard), "{shard} was announced by a parent's ChildShards");
        }
        let mut it = iterator(k, stream, &shard, ShardIteratorType::TrimHorizon, None).await;
        loop {
            let r = k.get_records().shard_iterator(&it).send().await.unwrap();
            for rec in &r.records {
                let text = String::from_utf8_lossy(rec.data.as_ref()).into_owned();
                let (key, n) = text.split_once(':').unwrap();
                out.entry(key.to_string()).or_default().push(n.parse().unwrap());
            }
            match r.next_shard_iterator {
                Some(next) if !r.records.is_empty() => it = next,
                Some(_) => break, // an open shard, caught up
                None => {
                    let children = r.child_shards.expect("ChildShards at a closed shard's end");
                    assert!(!children.is_empty());
                    for child in children {
                        assert!(child.parent_shards.contains(&shard));
                        announced.push(child.shard_id);
                    }
                    break;
                }
            }
        }
        done.push(shard);
    }
    out
}

#[tokio::test]
async fn split_merge_and_rescale_keep_every_key_in_order() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 2).await;
    let keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    put_round(&k, "s", &keys, 0).await;
    k.split_shard()
        .stream_name("s")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("85070591730234615865843651857942052864")
        .send()
        .await
        .unwrap();
    put_round(&k, "s", &keys, 1).await;
    let shards = k.list_shards().stream_name("s").send().await.unwrap().shards.unwrap();
    assert_eq!(shards.len(), 4);
    let parent = &shards[0];
    assert!(parent.sequence_number_range.as_ref().unwrap().ending_sequence_number.is_some());
    assert_eq!(shards[2].parent_shard_id.as_deref(), Some("shardId-000000000000"));
    assert_eq!(
        shards[2].hash_key_range.as_ref().unwrap().ending_hash_key,
        "85070591730234615865843651857942052863"
    );
    assert_eq!(
        shards[3].hash_key_range.as_ref().unwrap().starting_hash_key,
        "85070591730234615865843651857942052864"
    );

    k.merge_shards()
        .stream_name("s")
        .shard_to_merge("shardId-000000000002")
        .adjacent_shard_to_merge("shardId-000000000003")
        .send()
        .await
        .unwrap();
    put_round(&k, "s", &keys, 2).await;
    let shards = k.list_shards().stream_name("s").send().await.unwrap().shards.unwrap();
    let merged = &shards[4];
    assert_eq!(merged.parent_shard_id.as_deref(), Some("shardId-000000000002"));
    assert_eq!(merged.adjacent_parent_shard_id.as_deref(), Some("shardId-000000000003"));

    let r = k
        .update_shard_count()
        .stream_name("s")
        .target_shard_count(3)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!((r.current_shard_count, r.target_shard_count), (Some(2), Some(3)));
    put_round(&k, "s", &keys, 3).await;
    let open = k
        .list_shards()
        .stream_name("s")
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().unwrap())
        .send()
        .await
        .unwrap()
        .shards
        .unwrap();
    assert_eq!(open.len(), 3);
    let mut ranges: Vec<(u128, u128)> = open
        .iter()
        .map(|s| {
            let r = s.hash_key_range.as_ref().unwrap();
            (r.starting_hash_key.parse().unwrap(), r.ending_hash_key.parse().unwrap())
        })
        .collect();
    ranges.sort_unstable();
    assert_eq!((ranges[0].0, ranges[2].1), (0, u128::MAX));
    assert!(ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0), "{ranges:?}");

    let read = read_by_lineage(&k, "s").await;
    for key in keys {
        assert_eq!(read[key], [0, 1, 2, 3], "{key}");
    }

    // Filters and paging.
    let all = k.list_shards().stream_name("s").send().await.unwrap().shards.unwrap();
    let page = k.list_shards().stream_name("s").max_results(2).send().await.unwrap();
    assert_eq!(page.shards.as_ref().unwrap().len(), 2);
    let token = page.next_token.unwrap();
    let (code, message) =
        error_of(k.list_shards().stream_name("s").next_token(&token).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
    );
    let mut listed = page.shards.unwrap();
    let mut next = Some(token);
    while let Some(t) = next {
        let p = k.list_shards().next_token(t).max_results(2).send().await.unwrap();
        listed.extend(p.shards.unwrap());
        next = p.next_token;
    }
    assert_eq!(listed, all);
    let after = k
        .list_shards()
        .stream_name("s")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000004")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(after.shards.unwrap().iter().all(|s| s.shard_id.as_str() > "shardId-000000000004"));
    let horizon = k
        .list_shards()
        .stream_name("s")
        .shard_filter(
            ShardFilter::builder().r#type(ShardFilterType::AtTrimHorizon).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = horizon.shards.unwrap().into_iter().map(|s| s.shard_id).collect();
    assert_eq!(ids, ["shardId-000000000000", "shardId-000000000001"]);
    let from_ts = k
        .list_shards()
        .stream_name("s")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::FromTimestamp)
                .timestamp(aws_sdk_kinesis::primitives::DateTime::from_secs(4_000_000_000))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(from_ts.shards.unwrap().len(), 3, "only the open shards end after a future time");
    let (code, _) = error_of(
        k.list_shards()
            .stream_name("s")
            .shard_filter(
                ShardFilter::builder().r#type(ShardFilterType::AtTimestamp).build().unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    let (code, message) = error_of(k.list_shards().send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidArgumentException", "Either NextToken or StreamName should be provided.")
    );
}

#[tokio::test]
async fn resharding_errors() {
    let server = Server::start_with_config("[kinesis]\nupdate_stream_delay_ms = 60000\n");
    let k = server.kinesis();
    create(&k, "s", 2).await;
    let split = |shard: &str, key: &str| {
        k.split_shard().stream_name("s").shard_to_split(shard).new_starting_hash_key(key).send()
    };
    let (code, message) = error_of(split("shardId-000000000000", "1").await);
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.starts_with("NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0"), "{message}");
    let (code, message) = error_of(split("shardId-000000000007", "100").await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Could not find shard shardId-000000000007 in stream s under account 000000000000."
        )
    );
    let (code, message) = error_of(
        k.update_shard_count()
            .stream_name("s")
            .target_shard_count(5)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert_eq!(
        message,
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 2, Target shard count: 5"
    );
    create(&k, "three", 3).await;
    let (code, message) = error_of(
        k.merge_shards()
            .stream_name("three")
            .shard_to_merge("shardId-000000000000")
            .adjacent_shard_to_merge("shardId-000000000002")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.ends_with("are not an adjacent pair of shards eligible for merging"),
        "{message}"
    );
    // The stream stays UPDATING for the configured delay; reads and writes go on.
    split("shardId-000000000000", "100").await.unwrap();
    let s = k
        .describe_stream_summary()
        .stream_name("s")
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap();
    assert_eq!(s.stream_status, aws_sdk_kinesis::types::StreamStatus::Updating);
    k.put_record().stream_name("s").partition_key("a").data(Blob::new("x")).send().await.unwrap();
    let (code, message) =
        error_of(split("shardId-000000000001", "300000000000000000000000000000000000000").await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceInUseException",
            "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING"
        )
    );
}
