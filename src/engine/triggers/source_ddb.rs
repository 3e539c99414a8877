//! A DynamoDB stream as a mapping's source: its shards are sequence ranges of the table's
//! partition change logs (`engine::streams`), with rollover lineage; records are read
//! from the change log and rendered as Lambda's DynamoDB entries.
//!
//! A shard is looked up and read under the stream registry's gate
//! (`Engine::hold_shard_boundaries`), as GetRecords does: an open shard read without an
//! upper bound then never yields a record that belongs to its child.

use std::sync::Arc;

use super::batch::EventRecord;
use super::event::{self, EventContext};
use super::rendered::{Cached, RunKey};
use super::source::{MAX_READ_BYTES, Read, ShardInfo, Wake};
use crate::engine::Engine;
use crate::engine::changelog::ChangeRecord;
use crate::engine::stream_ops::INLINE_READ;
use crate::engine::streams::StreamMeta;
use crate::storage::StorageError;

/// A DynamoDB stream, opened for a mapping.
pub struct DynamoDbSource {
    engine: Arc<Engine>,
    stream: Arc<StreamMeta>,
    cx: Arc<EventContext>,
}

/// One shard's reader.
pub struct DynamoDbShard {
    engine: Arc<Engine>,
    table: String,
    label: String,
    shard_id: String,
    /// The table partition whose change log the shard holds (its records' numbers).
    pub(super) partition: u32,
    cx: Arc<EventContext>,
    /// Its records as every mapping on the stream renders them (`rendered`).
    key: RunKey,
    pub(super) wake: Wake,
    pub(super) retention_ms: i64,
}

impl DynamoDbSource {
    /// The stream `label` of `table`, while it is kept.
    pub fn open(
        engine: &Arc<Engine>,
        table: &str,
        label: &str,
        cx: EventContext,
    ) -> Option<DynamoDbSource> {
        let stream = engine.stream(table, label)?;
        Some(DynamoDbSource { engine: engine.clone(), stream, cx: Arc::new(cx) })
    }

    pub fn shards(&self) -> Vec<ShardInfo> {
        self.stream.shards.iter().map(shard_info).collect()
    }

    pub fn reader(&self, shard: &ShardInfo) -> DynamoDbShard {
        let s = &self.stream;
        // The table's commits, if the table the stream belongs to is still there.
        let wake = match self.engine.table(&s.table_name) {
            Some(t) if t.meta().id == s.table_id => Wake::Commits(t.counters.commits.subscribe()),
            _ => Wake::Never,
        };
        DynamoDbShard {
            engine: self.engine.clone(),
            table: s.table_name.clone(),
            label: s.label.clone(),
            shard_id: shard.id.clone(),
            partition: s.shard(&shard.id).map_or(0, |m| m.partition),
            key: (self.cx.source_arn.clone(), s.table_id, shard.id.clone()),
            cx: self.cx.clone(),
            wake,
            retention_ms: (self.engine.config.streams.retention_seconds as i64)
                .saturating_mul(1000),
        }
    }
}

fn shard_info(s: &crate::engine::streams::ShardMeta) -> ShardInfo {
    ShardInfo {
        id: s.id.clone(),
        parents: s.parent.iter().cloned().collect(),
        start: s.start_seq,
        // An empty shard ends just before it starts (`end_seq = start - 1`).
        end: s.end_seq.map(|e| e.saturating_add(1).max(s.start_seq)),
    }
}

/// The changes as entries of the mapping's events.
fn render(
    changes: &[ChangeRecord],
    partition: u32,
    stream: &StreamMeta,
    cx: &EventContext,
) -> Vec<EventRecord> {
    changes
        .iter()
        .map(|c| EventRecord {
            seq: c.seq,
            sequence_number: crate::engine::streams::wire_seq(partition, c.seq),
            key_hash: event::dynamodb_key_hash(c, stream),
            arrival_ms: c.created_ms,
            json: event::dynamodb(c, partition, stream, cx).into(),
        })
        .collect()
}

impl DynamoDbShard {
    /// Reads up to `limit` records from `from` (trimmed records are skipped: they have
    /// expired, as on AWS).
    pub async fn read(&mut self, from: u64, limit: usize) -> Result<Read, StorageError> {
        let gate = self.engine.hold_shard_boundaries().await;
        // Forgotten (every record past the retention period) or gone: nothing left.
        let Some(stream) = self.engine.stream(&self.table, &self.label) else {
            return Ok(Read { records: Vec::new(), next: from, finished: true });
        };
        let Some(shard) = stream.shard(&self.shard_id) else {
            return Ok(Read { records: Vec::new(), next: from, finished: true });
        };
        let info = shard_info(shard);
        let from = from.max(shard.start_seq);
        if info.finished(Some(from)) {
            return Ok(Read { records: Vec::new(), next: from, finished: true });
        }
        // Nothing committed at or past `from` yet: no read (and no trip to the blocking
        // pool) for a poller that is caught up.
        if shard.end_seq.is_none() && self.engine.next_seq(&stream, shard.partition) <= from {
            return Ok(Read { records: Vec::new(), next: from, finished: false });
        }
        // What another mapping on the stream rendered already is taken as it is; the
        // store is read only past it.
        let (table_id, partition, to) = (stream.table_id, shard.partition, shard.end_seq);
        let rendered = &self.engine.triggers.rendered;
        let cached = rendered.get(&self.key, from, to, limit, MAX_READ_BYTES);
        let Cached { mut records, next: at, exhausted } =
            cached.unwrap_or(Cached { records: Vec::new(), next: from, exhausted: true });
        let committed = self.engine.next_seq(&stream, shard.partition);
        let past = to.map_or(committed, |to| to.saturating_add(1));
        let mut next = at;
        if exhausted && at < past {
            let (limit, bytes) = (limit - records.len(), MAX_READ_BYTES);
            // A follower caught up reads and renders the few records just committed on
            // its own thread; a backlog is read and rendered in the blocking pool, so a
            // mapping draining one does not hold a runtime thread the API's requests need.
            let read = if to.is_none() && committed.saturating_sub(at) <= INLINE_READ {
                let changes =
                    self.engine.read_changes_now(table_id, partition, at, to, limit, bytes)?;
                drop(gate);
                render(&changes, partition, &stream, &self.cx)
            } else {
                let changes =
                    self.engine.read_changes(table_id, partition, at, to, limit, bytes).await?;
                drop(gate);
                let (stream, cx) = (stream.clone(), self.cx.clone());
                tokio::task::spawn_blocking(move || render(&changes, partition, &stream, &cx))
                    .await
                    .map_err(|e| StorageError::Fjall(format!("render task: {e}")))?
            };
            let read_next = read.last().map_or(at, |r| r.seq + 1);
            rendered.put(&self.key, at, &read, read_next);
            records.extend(read);
            next = read_next;
        }
        // Nothing at all left in a closed shard's range (its tail trimmed): it is done too.
        let finished = info.finished(Some(next)) || (info.end.is_some() && records.is_empty());
        let next = if finished { next.max(info.end.unwrap_or(next)) } else { next };
        if finished {
            rendered.forget(&self.key);
        }
        Ok(Read { records, next, finished })
    }
}
