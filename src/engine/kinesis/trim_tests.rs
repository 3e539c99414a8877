//! Retention trimming with a manual clock: records older than the stream's retention go,
//! oldest first, in batches; the trim horizon (and with it TRIM_HORIZON) moves; retained
//! counters and metrics follow; closed shards expire once past the retention period.

use super::append_tests::{NOW_MS, open, record, stream_with};
use super::reshard::Plan;
use super::{StreamError, StreamMeta};
use crate::clock::{Clock, ManualClock};

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn records_past_retention_are_trimmed_and_the_horizon_moves() {
    trimmed_and_the_horizon_moves(false).await;
}

#[tokio::test]
async fn records_stored_by_group_past_retention_are_trimmed_and_the_horizon_moves() {
    trimmed_and_the_horizon_moves(true).await;
}

async fn trimmed_and_the_horizon_moves(grouped: bool) {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s = stream_with(&engine, "s", 1, grouped).await;
    // 1,500 old records (more than one trimming batch), then 3 an hour later.
    let old: Vec<_> = (0..1500).map(|i| record(5, &format!("old{i}"))).collect();
    engine.kinesis_append(&s, old, vec![]).await.unwrap();
    clock.advance_millis(HOUR);
    let young: Vec<_> = (0..3).map(|i| record(5, &format!("young{i}"))).collect();
    engine.kinesis_append(&s, young, vec![]).await.unwrap();
    let retained = |engine: &crate::engine::Engine| {
        engine.metrics.kinesis.retained_records.with_label_values(&["s"]).get()
    };
    assert_eq!(retained(&engine), 1503);

    // Within retention nothing goes.
    clock.advance_millis(23 * HOUR);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(s.shared.tip(0).unwrap().first, 0);

    // Past it, the old ones go (in two batches) and the horizon moves to the young ones.
    clock.advance_millis(1);
    engine.trim_kinesis().await.unwrap();
    let tip = s.shared.tip(0).unwrap();
    assert_eq!((tip.first, tip.next), (1500, 1503));
    let batch = engine.kinesis_read(s.id(), 0, 0, 10, usize::MAX).await.unwrap();
    let first = &batch.records[0];
    assert_eq!((first.seq, first.record.data.as_slice()), (1500, b"young0".as_slice()));
    assert_eq!(retained(&engine), 3);
    let bytes = engine.metrics.kinesis.retained_bytes.with_label_values(&["s"]).get();
    assert_eq!(bytes, 3 * ("young0".len() as i64 + 2));

    // A day after the young ones arrived, they go too.
    clock.advance_millis(HOUR);
    engine.trim_kinesis().await.unwrap();
    let tip = s.shared.tip(0).unwrap();
    assert_eq!((tip.first, tip.next), (1503, 1503));
    // Sequence numbers are never reused after everything is trimmed.
    let next = engine.kinesis_append(&s, vec![record(5, "after")], vec![]).await.unwrap();
    assert_eq!(next[0].seq, 1503);
}

#[tokio::test]
async fn closed_shards_expire_after_the_retention_period() {
    closed_shards_expire(false).await;
}

#[tokio::test]
async fn closed_shards_of_a_grouped_stream_expire_after_the_retention_period() {
    closed_shards_expire(true).await;
}

async fn closed_shards_expire(grouped: bool) {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    let s = stream_with(&engine, "s", 1, grouped).await;
    engine.kinesis_append(&s, vec![record(1, "a")], vec![]).await.unwrap();
    let now = engine.clock.now_millis();
    engine
        .reshard_kinesis_stream(&s, |m: &StreamMeta| {
            let mut plan = Plan::new(m, now);
            plan.split(0, 1 << 100);
            Ok::<_, StreamError>(plan.finish())
        })
        .await
        .unwrap();
    let live = |s: &super::LiveStream| {
        let meta = s.meta();
        meta.live_shards(clock.now_millis()).map(|x| x.index).collect::<Vec<_>>()
    };
    assert_eq!(live(&s), [0, 1, 2]);
    clock.advance_millis(24 * HOUR);
    assert_eq!(live(&s), [0, 1, 2]);
    clock.advance_millis(1);
    engine.trim_kinesis().await.unwrap();
    assert_eq!(live(&s), [1, 2]);
    assert_eq!(s.shared.tip(0).unwrap().first, 1, "the parent's record is trimmed too");
}
