//! Tests of the change log and stream windows on a real engine (in-memory store) with a
//! manual clock: records per write, shard boundaries on enable, disable and rollover,
//! trimming by retention. Maintenance passes run by hand, so nothing sleeps.

use std::sync::Arc;

use super::catalog::{KeyAttribute, KeySchema, ScalarType};
use super::changelog::EventName;
use super::streams::ViewType;
use super::{Engine, TableMeta, WriteError};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{AttributeValue, Item};

const NOW_MS: i64 = 1_767_225_600_000;

fn open(clock: SharedClock) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.streams.retention_seconds = 60;
    config.streams.shard_rollover_seconds = 30;
    // The background task must not race the passes these tests run by hand.
    config.streams.maintenance_interval_ms = 3_600_000;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

fn item(pk: &str, v: &str) -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("v".to_string(), AttributeValue::S(v.into())),
    ])
}

async fn put(engine: &Engine, table: &str, it: Item) {
    let t = engine.table(table).unwrap();
    let hash = it["pk"].clone();
    let key = Engine::storage_key(&t.meta(), &hash, None);
    engine.write(&t, &hash, key, Box::new(move |_| Ok::<_, WriteError>(Some(it)))).await.unwrap();
}

async fn delete(engine: &Engine, table: &str, pk: &str) {
    let t = engine.table(table).unwrap();
    let hash = AttributeValue::S(pk.into());
    let key = Engine::storage_key(&t.meta(), &hash, None);
    engine.write(&t, &hash, key, Box::new(|_| Ok(None))).await.unwrap();
}

/// Every record of the table's only partition.
async fn records(engine: &Engine, table_id: u64) -> Vec<(u64, EventName)> {
    let all = engine.read_changes(table_id, 0, 0, None, 1000, usize::MAX).await.unwrap();
    all.iter().map(|r| (r.seq, r.event)).collect()
}

#[tokio::test]
async fn records_follow_writes_and_shards_follow_the_stream() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let key = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let meta =
        engine.create_table(TableMeta::new("t", KeySchema::new(key, None), 1)).await.unwrap();
    // No stream: no records.
    put(&engine, "t", item("a", "0")).await;
    assert!(records(&engine, meta.id).await.is_empty());

    let stream = engine.enable_stream("t", ViewType::NewAndOldImages).await.unwrap();
    assert_eq!(stream.shards.len(), 1);
    let first = stream.shards[0].start_seq;
    put(&engine, "t", item("a", "1")).await; // MODIFY
    put(&engine, "t", item("a", "1")).await; // no change: no record
    put(&engine, "t", item("b", "1")).await; // INSERT
    delete(&engine, "t", "a").await; // REMOVE
    delete(&engine, "t", "zz").await; // nothing to delete: no record
    let got = records(&engine, meta.id).await;
    let events: Vec<EventName> = got.iter().map(|(_, e)| *e).collect();
    assert_eq!(events, [EventName::Modify, EventName::Insert, EventName::Remove]);
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [first, first + 1, first + 2]);
    assert_eq!(engine.next_seq(&stream, 0), first + 3);
    let written = engine.metrics.stream_records_written_total.with_label_values(&["t"]);
    assert_eq!(written.get(), 3);
    assert!(engine.metrics.stream_written_bytes_total.with_label_values(&["t"]).get() > 0);

    // Rollover closes the shard at the last record and opens a child after it.
    clock.advance_millis(31_000);
    engine.maintain_streams().await.unwrap();
    let rolled = engine.stream("t", &stream.label).unwrap();
    assert_eq!(rolled.shards.len(), 2);
    assert_eq!(rolled.shards[0].end_seq, Some(first + 2));
    assert_eq!(rolled.shards[1].start_seq, first + 3);
    assert_eq!(rolled.shards[1].parent.as_deref(), Some(rolled.shards[0].id.as_str()));

    // Disabling closes the child; records written after never join a stream.
    put(&engine, "t", item("c", "1")).await;
    engine.disable_stream("t").await.unwrap();
    let disabled = engine.stream("t", &stream.label).unwrap();
    assert_eq!(disabled.status(), "DISABLED");
    assert_eq!(disabled.shards[1].end_seq, Some(first + 3));
    put(&engine, "t", item("d", "1")).await;
    assert_eq!(records(&engine, meta.id).await.len(), 4);

    // Re-enabling makes a new stream starting after everything so far.
    clock.advance_millis(1);
    let again = engine.enable_stream("t", ViewType::KeysOnly).await.unwrap();
    assert_ne!(again.label, stream.label);
    assert_eq!(again.shards[0].start_seq, first + 4);
    assert_eq!(engine.list_streams().len(), 2);

    // Past the retention period, old records, closed shards and the old stream go.
    clock.advance_millis(61_000);
    put(&engine, "t", item("e", "1")).await;
    engine.maintain_streams().await.unwrap();
    let left = records(&engine, meta.id).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(engine.first_retained_seq(meta.id, 0).unwrap(), Some(left[0].0));
    assert!(engine.stream("t", &stream.label).is_none());
    assert_eq!(engine.list_streams().len(), 1);
}

#[tokio::test]
async fn sequence_numbers_survive_a_full_trim_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    config.storage.durability = crate::config::Durability::None;
    config.streams.retention_seconds = 1;
    config.streams.maintenance_interval_ms = 3_600_000;
    let config = Arc::new(config);
    let shared: SharedClock = clock.clone();
    let engine = Engine::open(config.clone(), shared.clone(), Arc::new(Metrics::new())).unwrap();
    let key = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let meta =
        engine.create_table(TableMeta::new("t", KeySchema::new(key, None), 1)).await.unwrap();
    let stream = engine.enable_stream("t", ViewType::KeysOnly).await.unwrap();
    put(&engine, "t", item("a", "1")).await;
    put(&engine, "t", item("b", "1")).await;
    let next = engine.next_seq(&stream, 0);
    clock.advance_millis(5_000);
    engine.maintain_streams().await.unwrap();
    assert!(records(&engine, meta.id).await.is_empty());
    engine.shutdown().await;
    drop(engine);
    let engine = Engine::open(config, shared, Arc::new(Metrics::new())).unwrap();
    let stream = engine.stream("t", &stream.label).unwrap();
    assert_eq!(engine.next_seq(&stream, 0), next, "sequence numbers are never reused");
    put(&engine, "t", item("c", "1")).await;
    assert_eq!(records(&engine, meta.id).await, vec![(next, EventName::Insert)]);
}

/// Many writes at once to a few keys land in the same write groups: each must see the
/// one before it (uncommitted, from the group's overlay), and each change record must
/// chain from the previous image of its item.
#[tokio::test]
async fn concurrent_writes_to_the_same_keys_each_see_the_last() {
    let engine = open(ManualClock::new(NOW_MS));
    let key = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let meta =
        engine.create_table(TableMeta::new("t", KeySchema::new(key, None), 1)).await.unwrap();
    engine.enable_stream("t", ViewType::NewAndOldImages).await.unwrap();
    let t = engine.table("t").unwrap();
    let increments = (0..300).map(|i| {
        // Three keys written 100 times each, and one key per write written once.
        let pk = if i % 2 == 0 { format!("hot{}", i % 3) } else { format!("cold{i}") };
        let (engine, t) = (engine.clone(), t.clone());
        async move {
            let hash = AttributeValue::S(pk.clone());
            let key = Engine::storage_key(&t.meta(), &hash, None);
            let bump = move |old: Option<&Item>| {
                let n = old.map_or(0, |o| match &o["v"] {
                    AttributeValue::S(s) => s.parse::<u32>().unwrap(),
                    _ => unreachable!(),
                });
                Ok::<_, WriteError>(Some(item(&pk, &(n + 1).to_string())))
            };
            engine.write(&t, &hash, key, Box::new(bump)).await.unwrap();
        }
    });
    futures_util::future::join_all(increments).await;
    let changes = engine.read_changes(meta.id, 0, 0, None, 1000, usize::MAX).await.unwrap();
    assert_eq!(changes.len(), 300);
    let mut last: std::collections::HashMap<String, String> = Default::default();
    for c in &changes {
        let new = c.new.as_ref().unwrap();
        let AttributeValue::S(pk) = &new["pk"] else { unreachable!() };
        let AttributeValue::S(v) = &new["v"] else { unreachable!() };
        let old_v = c.old.as_ref().map(|o| match &o["v"] {
            AttributeValue::S(s) => s.clone(),
            _ => unreachable!(),
        });
        assert_eq!(old_v, last.get(pk).cloned(), "{pk}: the old image is the last new one");
        assert_eq!(v.parse::<u32>().unwrap(), old_v.map_or(0, |o| o.parse().unwrap()) + 1);
        last.insert(pk.clone(), v.clone());
    }
    for hot in ["hot0", "hot1", "hot2"] {
        assert_eq!(last[hot], "50", "{hot}");
    }
}
