//! Engine tests of fan-out: records pushed on commit, heartbeats, the end of a split
//! shard, the 5-second rule on a manual clock, and every way a subscription is ended
//! from outside (takeover, deregistration, deletion, shutdown, lifetime).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::append_tests::{NOW_MS, record, stream};
use super::consumers::ConsumerMeta;
use super::fanout::EndReason;
use super::reshard::Plan;
use super::subscription::{Delivery, Event, SubscribeError, Subscription};
use super::{LiveStream, StreamError};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;

fn open(clock: SharedClock, heartbeat_ms: u64, lifetime_ms: u64) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.kinesis.trim_interval_ms = 3_600_000;
    config.kinesis.subscription_heartbeat_ms = heartbeat_ms;
    config.kinesis.subscription_lifetime_ms = lifetime_ms;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

async fn consumer(engine: &Engine, s: &LiveStream, name: &str) -> ConsumerMeta {
    engine.register_kinesis_consumer(s, name, |_, _| Ok::<(), StreamError>(())).await.unwrap()
}

async fn next(sub: &mut Subscription) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .expect("no storage error")
}

fn delivery(event: Option<Event>) -> Delivery {
    match event {
        Some(Event::Records(d)) => d,
        other => panic!("expected records, got {other:?}"),
    }
}

fn data(d: &Delivery) -> Vec<String> {
    d.records.iter().map(|r| String::from_utf8_lossy(&r.record.data).into_owned()).collect()
}

#[tokio::test]
async fn records_are_pushed_on_commit_and_idle_subscriptions_beat() {
    let engine = open(ManualClock::new(NOW_MS), 200, 60_000);
    let s = stream(&engine, "s", 1).await;
    engine.kinesis_append(&s, vec![record(0, "old")], vec![]).await.unwrap();
    let c = consumer(&engine, &s, "c").await;
    let mut sub = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    // Catching up from storage first.
    let first = delivery(next(&mut sub).await);
    assert_eq!((data(&first), first.next), (vec!["old".to_string()], 1));
    // Then a record appended while it waits arrives right after its commit.
    let (engine2, s2) = (engine.clone(), s.clone());
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let acked = Instant::now();
        engine2.kinesis_append(&s2, vec![record(0, "new")], vec![]).await.unwrap();
        acked
    });
    let live = delivery(next(&mut sub).await);
    let received = Instant::now();
    let acked = writer.await.unwrap();
    assert_eq!((data(&live), live.next, live.millis_behind), (vec!["new".to_string()], 2, 0));
    assert!(received.saturating_duration_since(acked) < Duration::from_millis(150));
    // Nothing more: an empty event after the heartbeat interval, at the same position.
    let started = Instant::now();
    let beat = delivery(next(&mut sub).await);
    assert!(beat.records.is_empty() && beat.next == 2);
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
    let text = engine.metrics.render();
    assert!(
        text.contains("sluice_kinesis_fanout_records_total{consumer=\"c\",stream=\"s\"} 2"),
        "{text}"
    );
    assert!(text.contains("sluice_kinesis_fanout_events_total{consumer=\"c\",stream=\"s\"} 3"));
    assert!(text.contains("sluice_kinesis_fanout_subscriptions{consumer=\"c\",stream=\"s\"} 1"));
    drop(sub);
    assert!(
        engine
            .metrics
            .render()
            .contains("sluice_kinesis_fanout_subscriptions{consumer=\"c\",stream=\"s\"} 0")
    );
}

#[tokio::test]
async fn a_split_shard_is_read_to_its_end_then_ends() {
    let engine = open(ManualClock::new(NOW_MS), 60_000, 60_000);
    let s = stream(&engine, "s", 1).await;
    let c = consumer(&engine, &s, "c").await;
    let mut sub = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    engine.kinesis_append(&s, vec![record(1, "a"), record(2, "b")], vec![]).await.unwrap();
    let mut early = engine.kinesis_subscribe(&s, &consumer(&engine, &s, "e").await, 0, 0).unwrap();
    assert_eq!(data(&delivery(next(&mut early).await)), ["a", "b"]);
    assert!(s.shared.has_ring(0), "the live run is kept for the shard's other readers");
    let split = |m: &super::StreamMeta| {
        let mut plan = Plan::new(m, NOW_MS);
        plan.split(0, 1 << 127);
        Ok::<_, StreamError>(plan.finish())
    };
    engine.reshard_kinesis_stream(&s, split).await.unwrap();
    engine.kinesis_append(&s, vec![record(3, "child")], vec![]).await.unwrap();
    let d = delivery(next(&mut sub).await);
    assert_eq!(data(&d), ["a", "b"]);
    // Read to the end of the closed shard: nothing more to share.
    assert!(!s.shared.has_ring(0));
    assert!(matches!(next(&mut sub).await, Some(Event::ShardEnd)));
    assert!(matches!(next(&mut early).await, Some(Event::ShardEnd)));
    assert!(!s.shared.has_ring(0));
    assert!(next(&mut sub).await.is_none());
    // A subscription opened at the end of the closed shard ends at once.
    let mut late = engine.kinesis_subscribe(&s, &c, 0, 2);
    assert!(matches!(late, Err(SubscribeError::InUse)), "the 5-second rule still holds");
    drop(late);
    let other = consumer(&engine, &s, "d").await;
    late = engine.kinesis_subscribe(&s, &other, 0, 2);
    assert!(matches!(next(late.as_mut().unwrap()).await, Some(Event::ShardEnd)));
}

#[tokio::test]
async fn the_five_second_rule_on_a_manual_clock() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone(), 60_000, 60_000);
    let s = stream(&engine, "s", 2).await;
    let c = consumer(&engine, &s, "c").await;
    let mut first = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    clock.advance_millis(4_999);
    assert!(matches!(engine.kinesis_subscribe(&s, &c, 0, 0), Err(SubscribeError::InUse)));
    // Another shard of the same consumer is its own slot.
    let _other_shard = engine.kinesis_subscribe(&s, &c, 1, 0).unwrap();
    clock.advance_millis(1);
    let mut second = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    assert!(matches!(next(&mut first).await, Some(Event::Ended(EndReason::TakenOver))));
    assert!(next(&mut first).await.is_none());
    engine.kinesis_append(&s, vec![record(0, "x")], vec![]).await.unwrap();
    assert_eq!(data(&delivery(next(&mut second).await)), ["x"]);
}

#[tokio::test]
async fn deregistration_deletion_shutdown_and_lifetime_end_subscriptions() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone(), 60_000, 300);
    let s = stream(&engine, "s", 1).await;
    let (c, d) = (consumer(&engine, &s, "c").await, consumer(&engine, &s, "d").await);
    let mut of_c = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    let mut of_d = engine.kinesis_subscribe(&s, &d, 0, 0).unwrap();
    let refuse = |found: Option<&ConsumerMeta>| found.map(|_| ()).ok_or(StreamError::NotFound);
    engine.deregister_kinesis_consumer(&s, "c", refuse).await.unwrap();
    assert!(matches!(next(&mut of_c).await, Some(Event::Ended(EndReason::ConsumerDeleted))));
    assert_eq!(engine.kinesis_consumer_count(&s), 2, "DELETING still counts");
    clock.advance_millis(engine.config.kinesis.consumer_delete_delay_ms as i64);
    assert_eq!(engine.kinesis_consumer_count(&s), 1, "then it is gone");
    // The subscription of the other consumer lives until its lifetime passes.
    let started = Instant::now();
    assert!(next(&mut of_d).await.is_none());
    assert!(started.elapsed() >= Duration::from_millis(250));
    clock.advance_millis(10_000);
    let mut again = engine.kinesis_subscribe(&s, &d, 0, 0).unwrap();
    engine.kinesis.fanout.end_all(EndReason::Shutdown);
    assert!(next(&mut again).await.is_none(), "shutdown ends the stream cleanly");

    let engine = open(ManualClock::new(NOW_MS), 60_000, 60_000);
    let s: Arc<LiveStream> = stream(&engine, "t", 1).await;
    let c = consumer(&engine, &s, "c").await;
    let mut sub = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    engine.delete_kinesis_stream("t").await.unwrap();
    assert!(matches!(next(&mut sub).await, Some(Event::Ended(EndReason::StreamDeleted))));
}

#[tokio::test]
async fn with_limits_enforced_a_consumer_reads_a_shard_at_two_mib_per_second() {
    let clock = ManualClock::new(NOW_MS);
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.kinesis.trim_interval_ms = 3_600_000;
    config.kinesis.enforce_limits = true;
    let engine = Engine::open(Arc::new(config), clock.clone(), Arc::new(Metrics::new())).unwrap();
    let s = stream(&engine, "s", 1).await;
    let big = |tag: &str| super::NewRecord {
        hash: 0,
        partition_key: tag.into(),
        data: vec![b'x'; 120_000],
    };
    engine.kinesis_append(&s, vec![big("a"), big("b"), big("c")], vec![]).await.unwrap();
    let (c, d) = (consumer(&engine, &s, "c").await, consumer(&engine, &s, "d").await);
    let mut sub = engine.kinesis_subscribe(&s, &c, 0, 0).unwrap();
    // One event holds up to 256 KiB; the next one waits until its bytes are paid back at
    // 2 MiB/s.
    assert_eq!(delivery(next(&mut sub).await).records.len(), 2);
    let early = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(early.is_err(), "paced: nothing before the clock moves on");
    // Another consumer has its own 2 MiB/s on the same shard.
    let mut other = engine.kinesis_subscribe(&s, &d, 0, 0).unwrap();
    assert_eq!(delivery(next(&mut other).await).records.len(), 2);
    clock.advance_millis(1_000);
    assert_eq!(delivery(next(&mut sub).await).records.len(), 1);
}

#[tokio::test]
async fn subscribers_at_the_tip_share_the_records_read_once() {
    let engine = open(ManualClock::new(NOW_MS), 60_000, 60_000);
    let s = stream(&engine, "s", 1).await;
    engine.kinesis_append(&s, vec![record(0, "old")], vec![]).await.unwrap();
    let (a, b) = (consumer(&engine, &s, "a").await, consumer(&engine, &s, "b").await);
    let mut first = engine.kinesis_subscribe(&s, &a, 0, 0).unwrap();
    let mut second = engine.kinesis_subscribe(&s, &b, 0, 1).unwrap();
    assert_eq!(data(&delivery(next(&mut first).await)), ["old"]);
    engine.kinesis_append(&s, vec![record(0, "x"), record(0, "y")], vec![]).await.unwrap();
    let (one, two) = (delivery(next(&mut first).await), delivery(next(&mut second).await));
    assert_eq!(
        (data(&one), data(&two)),
        (vec!["x".into(), "y".into()], vec!["x".into(), "y".into()])
    );
    // The second took the first's records from the shard's ring, not from storage.
    assert!(one.records.iter().zip(&two.records).all(|(x, y)| Arc::ptr_eq(x, y)));
    // A late subscriber from before the ring reads storage, and still gets every record.
    let late = consumer(&engine, &s, "late").await;
    let mut behind = engine.kinesis_subscribe(&s, &late, 0, 0).unwrap();
    assert_eq!(data(&delivery(next(&mut behind).await)), ["old", "x", "y"]);
}
