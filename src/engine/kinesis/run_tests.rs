//! Records stored in runs (one value per shard per commit group): reads start and stop
//! anywhere inside a run, runs are capped, a run is trimmed whole or from its front, and
//! the one-record values of stores written before runs, and compressed runs, are read and
//! trimmed alike.

use std::sync::Arc;

use super::LiveStream;
use super::append_tests::{NOW_MS, open, record, stream};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::storage::keys::kinesis::{self as kkeys, MAX_RUN_BYTES, MAX_RUN_RECORDS, RunBuilder};
use crate::storage::{Mutation, Space};

const DAY: i64 = 24 * 3_600_000;

/// The stored keys of the stream's records (one per run).
fn run_keys(engine: &Engine) -> Vec<u64> {
    let keys = engine.store.scan_prefix(Space::Kinesis, &[]).map(|e| e.unwrap().0);
    keys.map(|k| kkeys::seq_of(&k).unwrap()).collect()
}

async fn data(engine: &Engine, s: &LiveStream, from: u64, limit: usize) -> (Vec<String>, u64) {
    let batch = engine.kinesis_read(s.id(), 0, from, limit, usize::MAX).await.unwrap();
    let data = batch.records.iter().map(|r| String::from_utf8(r.record.data.clone()).unwrap());
    (data.collect(), batch.next)
}

#[tokio::test]
async fn one_append_is_one_run_and_reads_start_and_stop_inside_it() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream(&engine, "s", 1).await;
    let ten: Vec<_> = (0..10).map(|i| record(1, &format!("r{i}"))).collect();
    engine.kinesis_append(&s, ten, vec![]).await.unwrap();
    assert_eq!(run_keys(&engine), [0]);
    // A read cut by its limit stops inside the run; the next starts there.
    assert_eq!(
        data(&engine, &s, 3, 4).await,
        (vec!["r3".into(), "r4".into(), "r5".into(), "r6".into()], 7)
    );
    let (rest, next) = data(&engine, &s, 7, 100).await;
    assert_eq!((rest.len(), next), (3, 10));
    // The next run follows without a gap, and a read spans both.
    engine.kinesis_append(&s, vec![record(1, "r10"), record(1, "r11")], vec![]).await.unwrap();
    assert_eq!(run_keys(&engine), [0, 10]);
    let (all, next) = data(&engine, &s, 8, 100).await;
    assert_eq!((all, next), (vec!["r8".into(), "r9".into(), "r10".into(), "r11".into()], 12));
    // A timestamp inside the run finds its first record.
    let at = engine.kinesis_seq_at(s.id(), 0, NOW_MS, 0, 12).await.unwrap();
    assert_eq!(at, 0);
}

#[tokio::test]
async fn runs_are_capped_in_records_and_bytes() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream(&engine, "s", 1).await;
    let many: Vec<_> = (0..MAX_RUN_RECORDS + 100).map(|i| record(1, &i.to_string())).collect();
    engine.kinesis_append(&s, many, vec![]).await.unwrap();
    assert_eq!(run_keys(&engine), [0, u64::from(MAX_RUN_RECORDS)]);
    // Three records of 40 KiB: no two fit in one run; a 1 MiB record stands alone.
    let big = "x".repeat(40 * 1024);
    let next = u64::from(MAX_RUN_RECORDS) + 100;
    let records = vec![record(1, &big), record(1, &big), record(1, &"y".repeat(1 << 20))];
    assert!(2 * big.len() > MAX_RUN_BYTES);
    engine.kinesis_append(&s, records, vec![]).await.unwrap();
    let keys = run_keys(&engine);
    assert_eq!(keys[2..], [next, next + 1, next + 2]);
    let (read, end) = data(&engine, &s, next + 1, 10).await;
    assert_eq!((read.len(), read[1].len(), end), (2, 1 << 20, next + 3));
}

/// Replaces the shard's stored records with `values`, keyed by their first sequence
/// number, as a store written earlier (or a run whose records arrived apart) holds them.
async fn store_as(engine: &Engine, s: &LiveStream, values: Vec<(u64, Vec<u8>)>) {
    let old = run_keys(engine).into_iter();
    let mut mutations: Vec<Mutation> = old
        .map(|seq| Mutation::delete(Space::Kinesis, kkeys::record_key(s.id(), 0, seq)))
        .collect();
    for (seq, value) in values {
        mutations.push(Mutation::put(Space::Kinesis, kkeys::record_key(s.id(), 0, seq), value));
    }
    engine.committer.commit(mutations, 0).await.unwrap();
}

#[tokio::test]
async fn a_run_whose_records_arrived_apart_is_trimmed_from_its_front_then_whole() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s: Arc<LiveStream> = stream(&engine, "s", 1).await;
    let four: Vec<_> = (0..4).map(|i| record(1, &format!("r{i}"))).collect();
    engine.kinesis_append(&s, four, vec![]).await.unwrap();
    // One group's records share an arrival time; a run whose records arrived an hour
    // apart is made by hand to reach the trimmer's partial case.
    let mut run = RunBuilder::new(0);
    for i in 0..4 {
        run.push(NOW_MS + i * 3_600_000, "pk", format!("r{i}").as_bytes());
    }
    store_as(&engine, &s, vec![(0, run.finish())]).await;
    clock.advance_millis(DAY + 3_600_000 + 1);
    engine.trim_kinesis().await.unwrap();
    let tip = s.shared.tip(0).unwrap();
    assert_eq!((tip.first, tip.next), (2, 4));
    assert_eq!(run_keys(&engine), [0], "the run stays while it holds retained records");
    // Readers start at the horizon, whatever position they ask for.
    assert_eq!(data(&engine, &s, 0, 10).await, (vec!["r2".into(), "r3".into()], 4));
    let retained = engine.metrics.kinesis.retained_records.with_label_values(&["s"]).get();
    assert_eq!(retained, 2);
    clock.advance_millis(2 * 3_600_000);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(s.shared.tip(0).unwrap().first, 4);
    assert!(run_keys(&engine).is_empty(), "wholly trimmed, the run is deleted");
}

#[tokio::test]
async fn one_record_values_of_earlier_stores_are_read_and_trimmed() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s = stream(&engine, "s", 1).await;
    let three: Vec<_> = (0..3).map(|i| record(1, &format!("r{i}"))).collect();
    engine.kinesis_append(&s, three, vec![]).await.unwrap();
    let legacy =
        (0..3).map(|i| (i, kkeys::encode_record(NOW_MS, "pk", format!("r{i}").as_bytes())));
    store_as(&engine, &s, legacy.collect()).await;
    assert_eq!(run_keys(&engine), [0, 1, 2]);
    // New records go in runs after them; reads cross from one form to the other.
    engine.kinesis_append(&s, vec![record(1, "r3"), record(1, "r4")], vec![]).await.unwrap();
    assert_eq!(run_keys(&engine), [0, 1, 2, 3]);
    let (read, next) = data(&engine, &s, 1, 3).await;
    assert_eq!((read, next), (vec!["r1".into(), "r2".into(), "r3".into()], 4));
    clock.advance_millis(DAY + 1);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(s.shared.tip(0).unwrap().first, 5);
    assert!(run_keys(&engine).is_empty());
}

#[tokio::test]
async fn counters_written_now_and_then_are_brought_up_to_date_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config::Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    config.storage.durability = crate::config::Durability::None;
    config.kinesis.trim_interval_ms = 3_600_000;
    let config = Arc::new(config);
    let clock: crate::clock::SharedClock = ManualClock::new(NOW_MS);
    let metrics = || Arc::new(crate::metrics::Metrics::new());
    let engine = Engine::open(config.clone(), clock.clone(), metrics()).unwrap();
    let s = stream(&engine, "s", 1).await;
    let written = |engine: &Engine| {
        let v = engine.store.get(Space::Meta, &kkeys::shard_counters(s.id(), 0)).unwrap();
        kkeys::Counters::decode(&v.unwrap()).unwrap()
    };
    for group in 0..3 {
        let ten: Vec<_> = (0..10).map(|i| record(1, &format!("{group}-{i}"))).collect();
        engine.kinesis_append(&s, ten, vec![]).await.unwrap();
    }
    assert_eq!(written(&engine).next, 0, "30 records: the counters are not written yet");
    let many: Vec<_> = (0..4100).map(|i| record(1, &format!("m{i}"))).collect();
    engine.kinesis_append(&s, many, vec![]).await.unwrap();
    assert_eq!(written(&engine).next, 4130, "written with the group that passed 4,096");
    let five: Vec<_> = (0..5).map(|i| record(1, &format!("late{i}"))).collect();
    engine.kinesis_append(&s, five, vec![]).await.unwrap();
    let retained = |engine: &Engine| {
        let k = &engine.metrics.kinesis;
        (
            k.retained_records.with_label_values(&["s"]).get(),
            k.retained_bytes.with_label_values(&["s"]).get(),
        )
    };
    let before = retained(&engine);
    assert_eq!(before.0, 4135);
    engine.shutdown().await;
    drop((s, engine));

    let engine = Engine::open(config, clock, metrics()).unwrap();
    let s = engine.kinesis.all().into_iter().next().unwrap();
    let tip = s.shared.tip(0).unwrap();
    assert_eq!((tip.first, tip.next), (0, 4135));
    assert_eq!(retained(&engine), before);
    let next = engine.kinesis_append(&s, vec![record(1, "after")], vec![]).await.unwrap();
    assert_eq!(next[0].seq, 4135, "sequence numbers go on, never reused");
    let (read, _) = data(&engine, &s, 4129, 10).await;
    assert_eq!(read, ["m4099", "late0", "late1", "late2", "late3", "late4", "after"]);
}

#[tokio::test]
async fn a_run_that_shrinks_is_stored_compressed_and_read_and_trimmed_alike() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s = stream(&engine, "s", 1).await;
    let padding = "x".repeat(100);
    let forty: Vec<_> = (0..40).map(|i| record(1, &format!("r{i}{padding}"))).collect();
    engine.kinesis_append(&s, forty, vec![]).await.unwrap();
    let stored = engine.store.get(Space::Kinesis, &kkeys::record_key(s.id(), 0, 0)).unwrap();
    let stored = stored.unwrap();
    assert_eq!(stored[0], 3, "stored as a compressed run");
    assert!(stored.len() < 40 * 100 / 4, "{} bytes", stored.len());
    // Reads start and stop inside it, as in any run.
    let (read, next) = data(&engine, &s, 5, 3).await;
    assert_eq!(next, 8);
    assert_eq!(read, ["r5", "r6", "r7"].map(|r| format!("{r}{padding}")));
    // A compressed run whose records arrived an hour apart, trimmed from its front.
    let mut run = RunBuilder::new(0);
    for i in 0..4 {
        run.push(
            NOW_MS + i * 3_600_000,
            "pk",
            format!("r{i}{padding}{padding}{padding}").as_bytes(),
        );
    }
    let value = run.finish();
    assert_eq!(value[0], 3);
    store_as(&engine, &s, vec![(0, value)]).await;
    clock.advance_millis(DAY + 3_600_000 + 1);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(s.shared.tip(0).unwrap().first, 2);
    let (read, next) = data(&engine, &s, 0, 10).await;
    assert_eq!((read.len(), next), (2, 4));
    assert!(read[0].starts_with("r2x"));
}
