//! Records stored by group: every shard reads back exactly its own records from any
//! position, a shard idle while others fill many groups is found through its locators,
//! a restart resumes counters and group numbers, a failed group leaves no locator
//! behind, and trimming drops whole groups with their headers and spent locators.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::LiveStream;
use super::append_tests::{NOW_MS, open, record, stream_with};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::storage::Space;
use crate::storage::keys::kinesis_groups::{GROUP_SHARD, LOCATE_EVERY_GROUPS};

const HOUR: i64 = 3_600_000;

/// The hash key that routes to shard `shard` of `of` even shards.
fn hash_of(shard: u32, of: u32) -> u128 {
    let width = u128::MAX / u128::from(of);
    width * u128::from(shard) + width / 2
}

/// Every record of `shard`, read `limit` at a time from `from`: (seq, data).
async fn read_all(
    engine: &Engine,
    s: &LiveStream,
    shard: u32,
    from: u64,
    limit: usize,
) -> Vec<(u64, String)> {
    let (mut out, mut at) = (Vec::new(), from);
    loop {
        let batch = engine.kinesis_read(s.id(), shard, at, limit, usize::MAX).await.unwrap();
        if batch.records.is_empty() {
            return out;
        }
        out.extend(
            batch
                .records
                .iter()
                .map(|r| (r.seq, String::from_utf8(r.record.data.clone()).unwrap())),
        );
        at = batch.next;
    }
}

/// The shard field of every key in the Kinesis keyspace, and the number of locators of
/// each shard in the index keyspace.
fn stored(engine: &Engine) -> (Vec<u32>, BTreeMap<u32, usize>) {
    let shard_of = |k: &[u8]| u32::from_be_bytes(k[8..12].try_into().unwrap());
    let records = engine.store.scan_prefix(Space::Kinesis, &[]).map(|e| shard_of(&e.unwrap().0));
    let mut locators = BTreeMap::new();
    for entry in engine.store.scan_prefix(Space::KinesisIndex, &[]) {
        let shard = shard_of(&entry.unwrap().0);
        if shard != GROUP_SHARD {
            *locators.entry(shard).or_insert(0) += 1;
        }
    }
    (records.collect(), locators)
}

#[tokio::test]
async fn every_shard_reads_back_its_own_records_from_any_position() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream_with(&engine, "s", 8, true).await;
    let mut expected: BTreeMap<u32, Vec<(u64, String)>> = BTreeMap::new();
    for call in 0..30u32 {
        // Each call spreads its records over the shards unevenly.
        let records: Vec<_> = (0..40u32)
            .map(|i| record(hash_of((i * i + call) % 8, 8), &format!("c{call}r{i}")))
            .collect();
        let data: Vec<String> =
            records.iter().map(|r| String::from_utf8(r.data.clone()).unwrap()).collect();
        let placed = engine.kinesis_append(&s, records, vec![]).await.unwrap();
        for (a, d) in placed.iter().zip(data) {
            expected.entry(a.shard).or_default().push((a.seq, d));
        }
    }
    let (keys, _) = stored(&engine);
    assert!(!keys.is_empty() && keys.iter().all(|&k| k == GROUP_SHARD), "only group keys");
    for (shard, records) in &expected {
        assert_eq!(&read_all(&engine, &s, *shard, 0, 7).await, records, "shard {shard}");
        for from in [1, 13, records.len() as u64 - 1, records.len() as u64] {
            let tail: Vec<_> = records.iter().filter(|r| r.0 >= from).cloned().collect();
            assert_eq!(read_all(&engine, &s, *shard, from, 1000).await, tail, "{shard} {from}");
        }
        // AT_TIMESTAMP's search reads single positions.
        let at = engine.kinesis_seq_at(s.id(), *shard, NOW_MS, 0, records.len() as u64).await;
        assert_eq!(at.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_shard_idle_while_others_fill_many_groups_is_found_through_its_locators() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream_with(&engine, "s", 2, true).await;
    engine.kinesis_append(&s, vec![record(hash_of(0, 2), "early")], vec![]).await.unwrap();
    for i in 0..3 * LOCATE_EVERY_GROUPS {
        let busy = record(hash_of(1, 2), &format!("busy{i}"));
        engine.kinesis_append(&s, vec![busy], vec![]).await.unwrap();
    }
    engine.kinesis_append(&s, vec![record(hash_of(0, 2), "late")], vec![]).await.unwrap();
    let both = vec![(0, "early".to_string()), (1, "late".to_string())];
    assert_eq!(read_all(&engine, &s, 0, 0, 10).await, both);
    assert_eq!(read_all(&engine, &s, 0, 1, 10).await, both[1..]);
    assert_eq!(read_all(&engine, &s, 1, 0, 1000).await.len() as u64, 3 * LOCATE_EVERY_GROUPS);
    let (_, locators) = stored(&engine);
    assert_eq!(locators.get(&0), Some(&2), "the late section is past the early one's window");
    assert_eq!(locators.get(&1), Some(&3), "one a window of groups");
}

fn open_at(dir: &std::path::Path, clock: SharedClock) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.data_dir = dir.to_path_buf();
    config.storage.durability = crate::config::Durability::None;
    config.kinesis.trim_interval_ms = 3_600_000;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

#[tokio::test]
async fn a_restart_resumes_counters_and_group_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    let id = {
        let engine = open_at(dir.path(), clock.clone());
        let s = stream_with(&engine, "s", 4, true).await;
        for i in 0..20u32 {
            let r = record(hash_of(i % 4, 4), &format!("before{i}"));
            engine.kinesis_append(&s, vec![r], vec![]).await.unwrap();
        }
        engine.shutdown().await;
        let id = s.id();
        drop((s, engine));
        id
    };
    let engine = open_at(dir.path(), clock);
    let s = engine.kinesis.by_id(id).unwrap();
    assert!(s.shared.grouped);
    for shard in 0..4 {
        assert_eq!(s.shared.tip(shard).unwrap().next, 5, "counters brought up to date");
    }
    for i in 0..8u32 {
        let r = record(hash_of(i % 4, 4), &format!("after{i}"));
        let placed = engine.kinesis_append(&s, vec![r], vec![]).await.unwrap();
        assert_eq!(placed[0].seq, 5 + u64::from(i / 4));
    }
    for shard in 0..4u32 {
        let read = read_all(&engine, &s, shard, 0, 3).await;
        let data: Vec<&str> = read.iter().map(|r| r.1.as_str()).collect();
        let mut want: Vec<String> =
            (0..20).filter(|i| i % 4 == shard).map(|i| format!("before{i}")).collect();
        want.extend((0..8).filter(|i| i % 4 == shard).map(|i| format!("after{i}")));
        assert_eq!(data, want, "no group of the first run was written over");
    }
}

#[tokio::test]
async fn groups_past_retention_go_whole_with_their_headers_and_spent_locators() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s = stream_with(&engine, "s", 2, true).await;
    // 1,500 old records over both shards (more than a trimming batch), in many groups.
    for call in 0..30u32 {
        let old: Vec<_> = (0..50u32)
            .map(|i| record(hash_of((i + call) % 2, 2), &format!("old{call}-{i}")))
            .collect();
        engine.kinesis_append(&s, old, vec![]).await.unwrap();
    }
    clock.advance_millis(HOUR);
    let young = vec![record(hash_of(0, 2), "young0"), record(hash_of(1, 2), "young1")];
    engine.kinesis_append(&s, young, vec![]).await.unwrap();
    let retained = || engine.metrics.kinesis.retained_records.with_label_values(&["s"]).get();
    assert_eq!(retained(), 1502);

    clock.advance_millis(23 * HOUR);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(retained(), 1502, "within retention nothing goes");

    clock.advance_millis(1);
    engine.trim_kinesis().await.unwrap();
    for shard in 0..2 {
        let tip = s.shared.tip(shard).unwrap();
        assert_eq!((tip.first, tip.next), (750, 751), "shard {shard}");
        let read = read_all(&engine, &s, shard, 0, 10).await;
        assert_eq!(read, vec![(750, format!("young{shard}"))]);
    }
    assert_eq!(retained(), 2);
    let bytes = engine.metrics.kinesis.retained_bytes.with_label_values(&["s"]).get();
    assert_eq!(bytes, 2 * ("young0".len() as i64 + 2));
    let (keys, locators) = stored(&engine);
    assert_eq!(keys.len(), 1, "only the young group is left");
    assert!(locators.values().all(|&n| n <= 2), "spent locators went: {locators:?}");

    clock.advance_millis(HOUR);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(stored(&engine).0.len(), 0);
    assert_eq!(retained(), 0);
    // Sequence numbers are never reused, and reads find what comes next.
    let next =
        engine.kinesis_append(&s, vec![record(hash_of(0, 2), "after")], vec![]).await.unwrap();
    assert_eq!(next[0].seq, 751);
    assert_eq!(read_all(&engine, &s, 0, 0, 10).await, vec![(751, "after".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_leaves_no_locator_behind() {
    use crate::config::FaultSpec;
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.kinesis.trim_interval_ms = 3_600_000;
    let engine =
        Engine::open(Arc::new(config), ManualClock::new(NOW_MS), Arc::new(Metrics::new())).unwrap();
    let s = stream_with(&engine, "s", 2, true).await;
    engine.kinesis_append(&s, vec![record(hash_of(1, 2), "busy")], vec![]).await.unwrap();
    let spec = FaultSpec {
        service: "storage".into(),
        error: Some("IOError".into()),
        count: Some(1),
        ..serde_json::from_value(serde_json::json!({"service": "storage"})).unwrap()
    };
    engine.faults.add(spec).unwrap();
    // Shard 0's first section would have carried its first locator.
    let failed = engine.kinesis_append(&s, vec![record(hash_of(0, 2), "lost")], vec![]).await;
    assert!(failed.is_err());
    engine.kinesis_append(&s, vec![record(hash_of(0, 2), "kept")], vec![]).await.unwrap();
    assert_eq!(read_all(&engine, &s, 0, 0, 10).await, vec![(0, "kept".to_string())]);
    assert_eq!(stored(&engine).1.get(&0), Some(&1));
}

#[tokio::test]
async fn deleting_a_grouped_stream_purges_its_groups_headers_and_locators() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream_with(&engine, "s", 3, true).await;
    let keep = stream_with(&engine, "keep", 1, true).await;
    for i in 0..40u32 {
        let r = record(hash_of(i % 3, 3), "x");
        engine.kinesis_append(&s, vec![r], vec![]).await.unwrap();
    }
    engine.kinesis_append(&keep, vec![record(1, "kept")], vec![]).await.unwrap();
    engine.delete_kinesis_stream("s").await.unwrap();
    let prefix = s.id().to_be_bytes();
    let left = |space| engine.store.scan_prefix(space, &prefix).count();
    for _ in 0..200 {
        if left(Space::Kinesis) + left(Space::KinesisIndex) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!((left(Space::Kinesis), left(Space::KinesisIndex)), (0, 0));
    assert_eq!(read_all(&engine, &keep, 0, 0, 10).await, vec![(0, "kept".to_string())]);
}

#[tokio::test]
async fn after_everything_is_trimmed_a_restart_numbers_groups_past_the_kept_locators() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    let id = {
        let engine = open_at(dir.path(), clock.clone());
        let s = stream_with(&engine, "s", 1, true).await;
        for i in 0..20 {
            engine.kinesis_append(&s, vec![record(1, &format!("old{i}"))], vec![]).await.unwrap();
        }
        clock.advance_millis(25 * HOUR);
        engine.trim_kinesis().await.unwrap();
        let (keys, locators) = stored(&engine);
        assert!(keys.is_empty() && locators.get(&0) == Some(&1), "{keys:?} {locators:?}");
        engine.shutdown().await;
        let id = s.id();
        drop((s, engine));
        id
    };
    let engine = open_at(dir.path(), clock);
    let s = engine.kinesis.by_id(id).unwrap();
    engine.kinesis_append(&s, vec![record(1, "new")], vec![]).await.unwrap();
    assert_eq!(read_all(&engine, &s, 0, 0, 10).await, vec![(20, "new".to_string())]);
}

#[tokio::test]
async fn with_encryption_at_rest_each_section_is_sealed_on_its_own_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, [5u8; 32]).unwrap();
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.storage.encryption_key_file = key_file.to_string_lossy().into_owned();
    config.kinesis.trim_interval_ms = 3_600_000;
    let clock: SharedClock = ManualClock::new(NOW_MS);
    let engine = Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).unwrap();
    let s = stream_with(&engine, "s", 8, true).await;
    let mut expected: BTreeMap<u32, Vec<(u64, String)>> = BTreeMap::new();
    for call in 0..20u32 {
        let records: Vec<_> =
            (0..50u32).map(|i| record(hash_of(i % 8, 8), &format!("canary-{call}-{i}"))).collect();
        let placed = engine.kinesis_append(&s, records, vec![]).await.unwrap();
        for (i, a) in placed.iter().enumerate() {
            expected.entry(a.shard).or_default().push((a.seq, format!("canary-{call}-{i}")));
        }
    }
    for (shard, records) in &expected {
        assert_eq!(&read_all(&engine, &s, *shard, 0, 7).await, records, "shard {shard}");
        let from = records[records.len() / 2].0;
        let later: Vec<_> = records.iter().filter(|(seq, _)| *seq >= from).cloned().collect();
        assert_eq!(read_all(&engine, &s, *shard, from, 1000).await, later);
    }
    // Every group value is sealed part by part (its table, then each section), and no
    // record is in the clear.
    let mut groups = 0;
    for guard in engine.store.spaces.kinesis.iter() {
        let (_, stored) = guard.into_inner().unwrap();
        let parts = crate::storage::seal::Parted::new(&stored).unwrap();
        assert!(crate::storage::seal::is_parted(&stored));
        assert!(parts.count() > 2, "a table and a section per shard");
        assert!(!stored.windows(7).any(|w| w == b"canary-"));
        groups += 1;
    }
    assert!(groups > 0);
}
