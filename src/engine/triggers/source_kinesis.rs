//! A Kinesis stream as a mapping's source: its shards with their resharding lineage
//! (parent and adjacent parent), read from the Kinesis log and rendered as Lambda's
//! Kinesis entries. A shard's committed tip tells where it ends: everything before
//! `next` is durable, `first` is the trim horizon, and `closed` says `next` will never
//! move again.

use std::sync::Arc;

use super::batch::EventRecord;
use super::event::{self, EventContext};
use super::rendered::{Cached, RunKey};
use super::source::{MAX_READ_BYTES, Read, ShardInfo, Wake};
use crate::engine::Engine;
use crate::engine::kinesis::LiveStream;
use crate::engine::kinesis::meta::shard_id;
use crate::engine::kinesis::seqno::SeqNo;
use crate::storage::StorageError;

/// A Kinesis stream, opened for a mapping.
pub struct KinesisSource {
    engine: Arc<Engine>,
    stream: Arc<LiveStream>,
    cx: Arc<EventContext>,
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
    pub(super) wake: Wake,
}

impl KinesisSource {
    /// The stream with id `stream_id`, while it exists.
    pub fn open(engine: &Arc<Engine>, stream_id: u64, cx: EventContext) -> Option<KinesisSource> {
        let stream = engine.kinesis.by_id(stream_id)?;
        Some(KinesisSource { engine: engine.clone(), stream, cx: Arc::new(cx) })
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
            Some(rx) => Wake::Tip(rx),
            None => Wake::Never,
        };
        KinesisShard {
            engine: self.engine.clone(),
            stream: self.stream.clone(),
            index,
            shard_id: shard.id.clone(),
            key: (self.cx.source_arn.clone(), self.stream.id(), shard.id.clone()),
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
    fn render(&self, r: &crate::engine::kinesis::read::ReadRecord) -> EventRecord {
        let seq = self.wire_seq(r.seq);
        let json = event::kinesis(
            &self.shard_id,
            &seq,
            &r.record.partition_key,
            &r.record.data,
            r.record.arrival_ms,
            &self.cx,
        );
        EventRecord {
            seq: r.seq,
            sequence_number: seq,
            key_hash: event::key_hash(r.record.partition_key.as_bytes()),
            arrival_ms: r.record.arrival_ms,
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
            let read: Vec<EventRecord> = batch.records.iter().map(|r| self.render(r)).collect();
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
}
