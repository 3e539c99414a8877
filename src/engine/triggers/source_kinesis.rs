//! A Kinesis stream as a mapping's source: its shards with their resharding lineage
//! (parent and adjacent parent), read from the Kinesis log and rendered as Lambda's
//! Kinesis entries. A shard's committed tip tells where it ends: everything before
//! `next` is durable, `first` is the trim horizon, and `closed` says `next` will never
//! move again.
//!
//! A mapping on a fan-out consumer's ARN reads as Lambda does, with SubscribeToShard
//! (`engine::kinesis::subscription`): it holds the consumer's slot on each shard (a
//! SubscribeToShard of the same consumer and shard within the takeover window is refused,
//! a later one takes the slot over until the mapping's next read), it counts in the
//! consumer's fan-out metrics and read budget, it subscribes again when a subscription's
//! lifetime ends, and it stops reading once the consumer is deregistered.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::batch::EventRecord;
use super::event::{self, EventContext};
use super::rendered::{Cached, RunKey};
use super::source::{MAX_READ_BYTES, Read, ShardInfo, Wake};
use crate::engine::Engine;
use crate::engine::kinesis::consumers::ConsumerStatus;
use crate::engine::kinesis::fanout::EndReason;
use crate::engine::kinesis::meta::shard_id;
use crate::engine::kinesis::seqno::SeqNo;
use crate::engine::kinesis::subscription::{Event, SubscribeError, Subscription};
use crate::engine::kinesis::{LiveStream, ShardTip};
use crate::storage::StorageError;
use crate::storage::keys::kinesis::StoredRecord;

/// How long a mapping waits to subscribe again when the consumer's slot is held by
/// another subscriber (the takeover window is `kinesis.subscription_takeover_ms`).
const RESUBSCRIBE_PAUSE: Duration = Duration::from_secs(1);

/// A Kinesis stream, opened for a mapping.
pub struct KinesisSource {
    engine: Arc<Engine>,
    stream: Arc<LiveStream>,
    /// The fan-out consumer read as: its name and registration second.
    consumer: Option<(String, i64)>,
    cx: Arc<EventContext>,
}

/// A shard read through a fan-out consumer's subscription.
struct Fanout {
    consumer: String,
    created_secs: i64,
    subscription: Option<Subscription>,
    /// The consumer (or its stream) is gone: nothing more is read.
    gone: bool,
}

/// One shard's reader.
pub struct KinesisShard {
    engine: Arc<Engine>,
    stream: Arc<LiveStream>,
    index: u32,
    shard_id: String,
    cx: Arc<EventContext>,
    /// Its records as every mapping on the stream renders them (`rendered`).
    key: RunKey,
    fanout: Option<Fanout>,
    pub(super) wake: Wake,
}

impl KinesisSource {
    /// The stream with id `stream_id`, while it exists.
    pub fn open(
        engine: &Arc<Engine>,
        stream_id: u64,
        consumer: Option<(String, i64)>,
        cx: EventContext,
    ) -> Option<KinesisSource> {
        let stream = engine.kinesis.by_id(stream_id)?;
        Some(KinesisSource { engine: engine.clone(), stream, consumer, cx: Arc::new(cx) })
    }

    /// The shards AWS still lists (a closed shard past the retention period has nothing
    /// left to read), parents before children (indexes grow with resharding).
    pub fn shards(&self) -> Vec<ShardInfo> {
        let meta = self.stream.meta();
        let now = self.engine.clock.now_millis();
        meta.live_shards(now)
            .map(|s| ShardInfo {
                id: s.id(),
                parents: s
                    .parent
                    .iter()
                    .chain(s.adjacent_parent.iter())
                    .map(|p| shard_id(*p))
                    .collect(),
                start: 0,
                end: s.end_next,
            })
            .collect()
    }

    pub fn reader(&self, shard: &ShardInfo) -> KinesisShard {
        let index = crate::engine::kinesis::meta::parse_shard_id(&shard.id).unwrap_or(u32::MAX);
        let wake = match self.stream.shared.subscribe(index) {
            Some(rx) => Wake::Tip(rx, None),
            None => Wake::Never,
        };
        KinesisShard {
            engine: self.engine.clone(),
            stream: self.stream.clone(),
            index,
            shard_id: shard.id.clone(),
            key: (self.cx.source_arn.clone(), self.stream.id(), shard.id.clone()),
            fanout: self.consumer.as_ref().map(|(consumer, created_secs)| Fanout {
                consumer: consumer.clone(),
                created_secs: *created_secs,
                subscription: None,
                gone: false,
            }),
            cx: self.cx.clone(),
            wake,
        }
    }
}

impl KinesisShard {
    /// The wire sequence number of the shard's record `seq`.
    pub(super) fn wire_seq(&self, seq: u64) -> String {
        SeqNo { stream_id: self.stream.id(), shard: self.index, seq }.encode()
    }

    /// A record as the entry of a mapping's event.
    fn render(&self, seq: u64, record: &StoredRecord) -> EventRecord {
        let sequence_number = self.wire_seq(seq);
        let json = event::kinesis(
            &self.shard_id,
            &sequence_number,
            &record.partition_key,
            &record.data,
            record.arrival_ms,
            &self.cx,
        );
        EventRecord {
            seq,
            sequence_number,
            key_hash: event::key_hash(record.partition_key.as_bytes()),
            arrival_ms: record.arrival_ms,
            json: json.into(),
        }
    }

    pub(super) fn retention_ms(&self) -> i64 {
        self.stream.meta().retention_ms()
    }

    /// Reads up to `limit` records from `from` (or from the trim horizon, when the records
    /// there have expired).
    pub async fn read(&mut self, from: u64, limit: usize) -> Result<Read, StorageError> {
        let Some(tip) = self.stream.shared.tip(self.index) else {
            return Ok(Read { records: Vec::new(), next: from, finished: true });
        };
        let from = from.max(tip.first);
        if from >= tip.next {
            return Ok(Read { records: Vec::new(), next: from, finished: tip.closed });
        }
        if self.fanout.is_some() {
            return self.read_subscribed(from, tip).await;
        }
        // What another mapping on the stream rendered already is taken as it is; the
        // store is read only past it.
        let rendered = &self.engine.triggers.rendered;
        let cached = rendered.get(&self.key, from, None, limit, MAX_READ_BYTES);
        let Cached { mut records, next: at, exhausted } =
            cached.unwrap_or(Cached { records: Vec::new(), next: from, exhausted: true });
        let mut next = at;
        if exhausted && at < tip.next {
            let id = self.stream.id();
            let limit = limit - records.len();
            let batch = self.engine.kinesis_read(id, self.index, at, limit, MAX_READ_BYTES).await?;
            let read: Vec<EventRecord> =
                batch.records.iter().map(|r| self.render(r.seq, &r.record)).collect();
            rendered.put(&self.key, at, &read, batch.next);
            records.extend(read);
            next = batch.next;
        }
        // Records past `next` of a closed shard never exist: its writer committed
        // everything queued before the close.
        let finished = tip.closed && next >= tip.next;
        if finished {
            rendered.forget(&self.key);
        }
        Ok(Read { records, next, finished })
    }

    /// [`KinesisShard::read`] through the consumer's subscription, opened at `from` (again
    /// when the last one ended, was taken over, or stands elsewhere).
    async fn read_subscribed(&mut self, from: u64, tip: ShardTip) -> Result<Read, StorageError> {
        let nothing = Read { records: Vec::new(), next: from, finished: false };
        // A subscription whose lifetime just ended is opened again once.
        for _ in 0..2 {
            let Some(fanout) = self.fanout.as_mut() else { return Ok(nothing) };
            if fanout.gone {
                return Ok(nothing);
            }
            if fanout.subscription.as_ref().is_none_or(|s| s.position() != from) {
                fanout.subscription = None;
                match self.subscribe(from) {
                    Ok(Some(s)) => {
                        self.retry_at(None);
                        if let Some(f) = self.fanout.as_mut() {
                            f.subscription = Some(s);
                        }
                    }
                    // Held by another subscriber within the takeover window, or the
                    // consumer still being created: tried again shortly.
                    Ok(None) => {
                        self.retry_at(Some(Instant::now() + RESUBSCRIBE_PAUSE));
                        return Ok(nothing);
                    }
                    Err(Gone) => {
                        self.give_up();
                        return Ok(nothing);
                    }
                }
            }
            let Some(subscription) = self.fanout.as_mut().and_then(|f| f.subscription.as_mut())
            else {
                return Ok(nothing);
            };
            match subscription.next().await? {
                Some(Event::Records(delivery)) if delivery.records.is_empty() => {
                    return Ok(nothing);
                }
                Some(Event::Records(delivery)) => {
                    let records =
                        delivery.records.iter().map(|r| self.render(r.seq, &r.record)).collect();
                    let tip = self.stream.shared.tip(self.index).unwrap_or(tip);
                    let finished = tip.closed && delivery.next >= tip.next;
                    return Ok(Read { records, next: delivery.next, finished });
                }
                Some(Event::ShardEnd) => {
                    return Ok(Read { records: Vec::new(), next: from, finished: true });
                }
                // Another subscriber took the slot: taken back once the takeover window
                // allows, as Lambda subscribes again.
                Some(Event::Ended(EndReason::TakenOver)) => {
                    self.drop_subscription();
                    self.retry_at(Some(Instant::now() + RESUBSCRIBE_PAUSE));
                    return Ok(nothing);
                }
                Some(Event::Ended(_)) => {
                    self.give_up();
                    return Ok(nothing);
                }
                // Its lifetime passed (or shutdown): subscribe again.
                None => self.drop_subscription(),
            }
        }
        Ok(nothing)
    }

    /// A subscription of the consumer at `from`; `None` when it cannot be had now.
    fn subscribe(&self, from: u64) -> Result<Option<Subscription>, Gone> {
        let Some(fanout) = &self.fanout else { return Err(Gone) };
        let now = self.engine.clock.now_millis();
        let meta = self.stream.meta();
        let consumer = match meta.consumer(&fanout.consumer, now, self.engine.consumer_delays()) {
            Some((c, _)) if c.created_ms.div_euclid(1000) != fanout.created_secs => {
                return Err(Gone);
            }
            Some((c, ConsumerStatus::Active)) => c.clone(),
            Some((_, ConsumerStatus::Creating)) => return Ok(None),
            _ => return Err(Gone),
        };
        drop(meta);
        match self.engine.kinesis_subscribe(&self.stream, &consumer, self.index, from) {
            Ok(s) => Ok(Some(s)),
            Err(SubscribeError::InUse) => Ok(None),
            Err(SubscribeError::NoShard) => Err(Gone),
        }
    }

    /// Wakes the shard's worker at `at` too, to subscribe again.
    fn retry_at(&mut self, at: Option<Instant>) {
        if let Wake::Tip(_, retry) = &mut self.wake {
            *retry = at;
        }
    }

    fn drop_subscription(&mut self) {
        if let Some(f) = self.fanout.as_mut() {
            f.subscription = None;
        }
    }

    /// The consumer is gone: this shard reads nothing more (a consumer registered again
    /// under the name is another consumer, with another ARN).
    fn give_up(&mut self) {
        if let Some(f) = self.fanout.as_mut()
            && !f.gone
        {
            f.gone = true;
            f.subscription = None;
            tracing::warn!(
                consumer = %f.consumer, shard = %self.shard_id,
                "the fan-out consumer of an event source mapping is gone: it reads nothing more"
            );
            self.wake = Wake::Never;
        }
    }
}

/// The consumer, or its stream, no longer exists.
struct Gone;
