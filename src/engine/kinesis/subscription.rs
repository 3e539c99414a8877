//! One SubscribeToShard stream, engine side: pushed records, heartbeats, the end of a
//! closed shard, and endings from outside, as typed events the api layer words for the
//! wire.
//!
//! Pull, not buffer: the connection asks for the next event when it can write one, and
//! the subscription then reads from storage from its position. Nothing is queued in
//! memory for a subscriber, so a slow one costs nothing but its position, never slows a
//! writer or another subscriber, and catches up from storage at its own pace. When it is
//! caught up it waits on the shard's committed tip, which the writer bumps right after
//! the commit and before acknowledging the PutRecord: a record is read within
//! milliseconds of its acknowledgement, with no polling. The readers a commit wakes share
//! one read of the new records through the shard's ring (`ring.rs`).

use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounter;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use super::consumers::ConsumerMeta;
use super::fanout::{Claim, EndReason, InUse, SlotKey};
use super::limits::FanoutBudget;
use super::meta::shard_id;
use super::ring::SharedRecord;
use super::{LiveStream, ShardTip};
use crate::engine::Engine;
use crate::metrics::fanout::FanoutSeries;
use crate::storage::StorageError;

/// Most records in one event.
const MAX_EVENT_RECORDS: usize = 10_000;
/// Most record bytes in one event (a larger record still goes alone). An event is read,
/// encoded and held whole until its reader takes it, so this bounds what a subscriber
/// that stopped reading in a backlog costs: about 1 MiB of RSS each (`sluice bench
/// subscriptions`), where 2 MiB events cost 7.5. Eight events a second still carry a
/// catching-up reader's 2 MiB/s.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// What a subscription produces.
#[derive(Debug)]
pub enum Event {
    /// Records, or none (a heartbeat), and where the subscription stands after them.
    Records(Delivery),
    /// The shard is closed and every record was delivered; nothing follows.
    ShardEnd,
    /// Ended from outside (not by shutdown, which just ends the stream); nothing follows.
    Ended(EndReason),
}

/// One batch of records.
#[derive(Debug)]
pub struct Delivery {
    pub records: Vec<Arc<SharedRecord>>,
    /// The next sequence number to deliver.
    pub next: u64,
    pub millis_behind: i64,
}

/// Why a subscription could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeError {
    /// The same consumer and shard subscribed less than the takeover window ago.
    InUse,
    /// The shard does not exist.
    NoShard,
}

impl From<InUse> for SubscribeError {
    fn from(_: InUse) -> Self {
        SubscribeError::InUse
    }
}

/// An open subscription.
pub struct Subscription {
    engine: Arc<Engine>,
    stream: Arc<LiveStream>,
    shard: u32,
    position: u64,
    tips: watch::Receiver<ShardTip>,
    claim: Claim,
    deadline: Instant,
    heartbeat: Duration,
    next_heartbeat: Instant,
    budget: Option<Arc<FanoutBudget>>,
    series: FanoutSeries,
    outgoing: (IntCounter, IntCounter),
    done: bool,
}

impl Engine {
    /// Opens a subscription of `consumer` to `shard` from sequence number `position`,
    /// under the 5-second rule (`kinesis.subscription_takeover_ms`).
    pub fn kinesis_subscribe(
        self: &Arc<Self>,
        stream: &Arc<LiveStream>,
        consumer: &ConsumerMeta,
        shard: u32,
        position: u64,
    ) -> Result<Subscription, SubscribeError> {
        let tips = stream.shared.subscribe(shard).ok_or(SubscribeError::NoShard)?;
        let config = &self.config.kinesis;
        let key = SlotKey {
            stream_id: stream.id(),
            consumer: consumer.name.clone(),
            consumer_created_ms: consumer.created_ms,
            shard,
        };
        let claim = self.kinesis.fanout.claim(
            key,
            self.clock.now_millis(),
            config.subscription_takeover_ms,
        )?;
        let name = stream.name();
        let series = self.metrics.fanout.series(name, &consumer.name);
        series.subscriptions.inc();
        let k = &self.metrics.kinesis;
        let outgoing = (
            k.outgoing_records_total.with_label_values(&[name, "fanout"]),
            k.outgoing_bytes_total.with_label_values(&[name, "fanout"]),
        );
        let budget =
            stream.limits.as_ref().map(|l| l.fanout(&consumer.name, consumer.created_ms, shard));
        let now = Instant::now();
        let heartbeat = Duration::from_millis(config.subscription_heartbeat_ms);
        Ok(Subscription {
            engine: self.clone(),
            stream: stream.clone(),
            shard,
            position,
            tips,
            claim,
            deadline: now + Duration::from_millis(config.subscription_lifetime_ms),
            heartbeat,
            next_heartbeat: now + heartbeat,
            budget,
            series,
            outgoing,
            done: false,
        })
    }
}

impl Subscription {
    /// The stream subscribed to.
    pub fn stream(&self) -> &Arc<LiveStream> {
        &self.stream
    }

    /// The shard subscribed to.
    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// The next sequence number it delivers.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next event; `None` once the stream is over (its lifetime passed, shutdown,
    /// or after a `ShardEnd` or `Ended`).
    pub async fn next(&mut self) -> Result<Option<Event>, StorageError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(reason) = *self.claim.end.borrow_and_update() {
                self.done = true;
                return Ok((reason != EndReason::Shutdown).then_some(Event::Ended(reason)));
            }
            if Instant::now() >= self.deadline {
                self.done = true;
                return Ok(None);
            }
            let tip = *self.tips.borrow_and_update();
            self.position = self.position.max(tip.first);
            if self.position < tip.next {
                if let Some(wait) = self.budget_wait() {
                    self.pause(wait).await;
                    continue;
                }
                if let Some(delivery) = self.read().await? {
                    return Ok(Some(Event::Records(delivery)));
                }
            } else if tip.closed {
                // Nothing more comes from this shard: its ring has no readers to serve.
                self.stream.shared.drop_ring(self.shard);
                self.done = true;
                self.series.events.inc();
                return Ok(Some(Event::ShardEnd));
            }
            tokio::select! {
                changed = self.tips.changed() => if changed.is_err() {
                    // The stream's state is gone with it.
                    self.done = true;
                    return Ok(Some(Event::Ended(EndReason::StreamDeleted)));
                },
                changed = self.claim.end.changed() => if changed.is_err() {
                    self.done = true;
                    return Ok(None);
                },
                () = sleep_until(self.deadline) => {}
                () = sleep_until(self.next_heartbeat) => {
                    self.next_heartbeat = Instant::now() + self.heartbeat;
                    self.series.events.inc();
                    self.series.behind_latest_seconds.set(0.0);
                    let delivery = Delivery { records: Vec::new(), next: self.position, millis_behind: 0 };
                    return Ok(Some(Event::Records(delivery)));
                }
            }
        }
    }

    /// How long the consumer's 2 MiB/s still asks to wait, when limits are enforced.
    fn budget_wait(&self) -> Option<Duration> {
        let wait = self.budget.as_ref()?.wait_ms(self.engine.clock.now_millis());
        (wait > 0).then(|| Duration::from_millis(wait as u64))
    }

    /// Waits `wait`, or less if the subscription is ended or its lifetime passes.
    async fn pause(&mut self, wait: Duration) {
        tokio::select! {
            () = sleep(wait) => {}
            _ = self.claim.end.changed() => {}
            () = sleep_until(self.deadline) => {}
        }
    }

    /// Reads the next batch from the position; `None` when nothing was there after all.
    async fn read(&mut self) -> Result<Option<Delivery>, StorageError> {
        let engine = &self.engine;
        let batch = engine
            .kinesis_read_shared(
                &self.stream,
                self.shard,
                self.position,
                MAX_EVENT_RECORDS,
                MAX_EVENT_BYTES,
            )
            .await?;
        let Some(last) = batch.records.last() else { return Ok(None) };
        let now_ms = engine.clock.now_millis();
        if let Some(budget) = &self.budget {
            budget.charge(batch.bytes, now_ms);
        }
        // Latency from the commit when this event ends at the tip (the live case); from the
        // newest record's arrival stamp when catching up.
        let tip = *self.tips.borrow();
        let latency = match tip.committed_at {
            Some(at) if batch.next == tip.next => at.elapsed().as_secs_f64(),
            _ => (now_ms - last.record.arrival_ms).max(0) as f64 / 1000.0,
        };
        let behind = batch.next_arrival_ms.map_or(0, |t| (now_ms - t).max(0));
        self.position = batch.next;
        self.next_heartbeat = Instant::now() + self.heartbeat;
        self.record_metrics(batch.records.len(), batch.bytes, behind, latency);
        Ok(Some(Delivery { records: batch.records, next: batch.next, millis_behind: behind }))
    }

    fn record_metrics(&self, records: usize, bytes: usize, behind: i64, latency: f64) {
        let s = &self.series;
        s.events.inc();
        s.records.inc_by(records as u64);
        s.bytes.inc_by(bytes as u64);
        s.behind_latest_seconds.set(behind as f64 / 1000.0);
        s.delivery_latency.observe(latency);
        self.outgoing.0.inc_by(records as u64);
        self.outgoing.1.inc_by(bytes as u64);
        if self.engine.config.metrics.per_shard {
            let k = &self.engine.metrics.kinesis;
            let labels = [self.stream.name(), &shard_id(self.shard), "fanout"];
            k.shard_outgoing_records_total.with_label_values(&labels).inc_by(records as u64);
            k.shard_outgoing_bytes_total.with_label_values(&labels).inc_by(bytes as u64);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.series.subscriptions.dec();
    }
}
