//! Engine tests of the write path: appends with extra mutations commit in one batch,
//! committed tips wake subscribers, and resharding closes parents at exact boundaries
//! while appends keep arriving.

use std::sync::Arc;

use super::meta::{self, ShardMeta, StreamMeta, StreamMode, even_ranges};
use super::reshard::Plan;
use super::{LiveStream, NewRecord, StreamError};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::storage::{Mutation, Space};

pub(crate) const NOW_MS: i64 = 1_767_225_600_000;

pub(crate) fn open(clock: SharedClock) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    // The trimmer must not race the passes these tests run by hand.
    config.kinesis.trim_interval_ms = 3_600_000;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

pub(crate) async fn stream(engine: &Engine, name: &str, shards: u32) -> Arc<LiveStream> {
    stream_with(engine, name, shards, false).await
}

/// A stream of `shards` shards, its records stored by group when `grouped` (as the API
/// creates them), else in runs (as streams created before groups).
pub(crate) async fn stream_with(
    engine: &Engine,
    name: &str,
    shards: u32,
    grouped: bool,
) -> Arc<LiveStream> {
    let now = engine.clock.now_millis();
    let meta = StreamMeta {
        version: meta::RECORD_VERSION,
        id: 0,
        name: name.into(),
        created_ms: now,
        retention_hours: 24,
        mode: StreamMode::Provisioned,
        max_record_kib: 1024,
        encryption: None,
        shard_level_metrics: vec![],
        tags: Default::default(),
        updating_until_ms: 0,
        scalings_ms: vec![],
        consumers: vec![],
        grouped,
        shards: even_ranges(shards)
            .into_iter()
            .enumerate()
            .map(|(i, r)| ShardMeta::open(i as u32, r, now))
            .collect(),
    };
    engine.create_kinesis_stream(meta, |_| Ok::<(), StreamError>(())).await.unwrap()
}

pub(crate) fn record(hash: u128, data: &str) -> NewRecord {
    NewRecord { hash, partition_key: "pk".into(), data: data.as_bytes().to_vec() }
}

#[tokio::test]
async fn extra_mutations_commit_with_the_records_and_subscribers_wake() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream(&engine, "s", 2).await;
    let mut tip = s.shared.subscribe(1).unwrap();
    let cursor = Mutation::put(Space::Meta, b"zbridge-cursor".to_vec(), b"42".to_vec());
    let appended = engine
        .kinesis_append(
            &s,
            vec![record(0, "a"), record(u128::MAX, "b"), record(u128::MAX, "c")],
            vec![cursor],
        )
        .await
        .unwrap();
    let placed: Vec<(u32, u64)> = appended.iter().map(|a| (a.shard, a.seq)).collect();
    assert_eq!(placed, [(0, 0), (1, 0), (1, 1)]);
    assert_eq!(engine.store.get(Space::Meta, b"zbridge-cursor").unwrap(), Some(b"42".to_vec()));
    // The tip moved before the reply: the receiver sees the change at once.
    tip.changed().await.unwrap();
    assert_eq!(tip.borrow().next, 2);
    // A cursor-only append (nothing to forward) commits too.
    let only = Mutation::put(Space::Meta, b"zbridge-cursor".to_vec(), b"43".to_vec());
    assert!(engine.kinesis_append(&s, vec![], vec![only]).await.unwrap().is_empty());
    assert_eq!(engine.store.get(Space::Meta, b"zbridge-cursor").unwrap(), Some(b"43".to_vec()));
    let batch = engine.kinesis_read(s.id(), 1, 0, 10, usize::MAX).await.unwrap();
    let data: Vec<&[u8]> = batch.records.iter().map(|r| r.record.data.as_slice()).collect();
    assert_eq!(data, [b"b", b"c"]);
    assert_eq!((batch.next, batch.next_arrival_ms), (2, None));
    // A waiter parked on a shard wakes on the next commit (no polling).
    let waiter = {
        let mut rx = s.shared.subscribe(0).unwrap();
        tokio::spawn(async move {
            rx.changed().await.unwrap();
            rx.borrow().next
        })
    };
    tokio::task::yield_now().await;
    engine.kinesis_append(&s, vec![record(1, "d")], vec![]).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 2);
}

#[tokio::test]
async fn resharding_closes_parents_exactly_between_appends() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream(&engine, "s", 1).await;
    let writers: Vec<_> = (0..4u128)
        .map(|w| {
            let (engine, s) = (engine.clone(), s.clone());
            tokio::spawn(async move {
                let mut placed = Vec::new();
                for i in 0..50 {
                    let hash = w << 126 | i;
                    let a =
                        engine.kinesis_append(&s, vec![record(hash, "x")], vec![]).await.unwrap();
                    placed.push(a[0]);
                }
                placed
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let now = engine.clock.now_millis();
    let meta = engine
        .reshard_kinesis_stream(&s, |m: &StreamMeta| {
            let mut plan = Plan::new(m, now);
            plan.split(0, 1 << 127);
            Ok::<_, StreamError>(plan.finish())
        })
        .await
        .unwrap();
    let end = meta.shards[0].end_next.unwrap();
    let mut per_writer = Vec::new();
    for w in writers {
        per_writer.push(w.await.unwrap());
    }
    let in_parent = per_writer.iter().flatten().filter(|a| a.shard == 0).count() as u64;
    assert_eq!(in_parent, end, "the parent holds exactly what was queued before the split");
    for placed in &per_writer {
        // Once a writer's records reach a child, none goes back to the parent.
        let first_child = placed.iter().position(|a| a.shard != 0).unwrap_or(placed.len());
        assert!(placed[first_child..].iter().all(|a| a.shard != 0));
    }
    assert!(s.shared.tip(0).unwrap().closed);
    assert_eq!(s.shared.tip(0).unwrap().next, end);
    let children: u64 = [1, 2].iter().map(|c| s.shared.tip(*c).unwrap().next).sum();
    assert_eq!(in_parent + children, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_fails_the_groups_built_on_it_and_leaves_no_gap() {
    use crate::config::FaultSpec;
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.kinesis.trim_interval_ms = 3_600_000;
    let clock = ManualClock::new(NOW_MS);
    let engine = Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).unwrap();
    let s = stream(&engine, "s", 1).await;
    engine.kinesis_append(&s, vec![record(1, "a")], vec![]).await.unwrap();
    // The next commit stalls, then fails: the writer sends the next group meanwhile,
    // built on the failing one.
    let spec = FaultSpec {
        service: "storage".into(),
        error: Some("IOError".into()),
        count: Some(1),
        latency_ms: 300,
        ..serde_json::from_value(serde_json::json!({"service": "storage"})).unwrap()
    };
    engine.faults.add(spec).unwrap();
    let failing = tokio::spawn({
        let (engine, s) = (engine.clone(), s.clone());
        async move { engine.kinesis_append(&s, vec![record(1, "b")], vec![]).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let built_on_it = engine.kinesis_append(&s, vec![record(1, "c")], vec![]).await;
    assert!(matches!(failing.await.unwrap(), Err(StreamError::Storage(_))));
    assert!(matches!(built_on_it, Err(StreamError::Storage(_))), "{built_on_it:?}");
    // The line starts over from what is committed: the next record takes sequence
    // number 1, right after "a", and the shard holds exactly a and d.
    let next = engine.kinesis_append(&s, vec![record(1, "d")], vec![]).await.unwrap();
    assert_eq!(next[0].seq, 1);
    assert_eq!(s.shared.tip(0).unwrap().next, 2);
    let keys: Vec<_> =
        engine.store.scan_prefix(Space::Kinesis, &[]).filter_map(Result::ok).collect();
    assert_eq!(keys.len(), 2);
}
