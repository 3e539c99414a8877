//! The engine's side of DynamoDB Streams: enabling and disabling a table's stream,
//! listing streams, reading a shard's records from the change log, and the maintenance
//! task that rolls shards over and trims records past the retention period.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::catalog::{StreamSettings, TableMeta};
use super::changelog::ChangeRecord;
use super::read::prefix_end;
use super::streams::{ShardMeta, StreamMeta, ViewType, label_of, new_shard_id};
use super::writer::WriterMsg;
use super::{Engine, EngineError, Table};
use crate::storage::{Mutation, Space, StorageError, keys};

/// Records deleted per trimming batch.
const TRIM_BATCH: usize = 1000;

/// Every stream sluice knows, by (table name, label), and the gate that holds shard
/// boundaries still.
#[derive(Default)]
pub struct StreamRegistry {
    streams: std::sync::RwLock<BTreeMap<(String, String), Arc<StreamMeta>>>,
    /// Taken for writing from the moment a shard's end is asked of the writers until
    /// the closed shard is in the registry (rollover, disable), and by every other change
    /// of a stream record, so none works on a stale copy. Readers hold it for reading
    /// while they look a shard up and read it: a shard they see open then cannot have
    /// an end they do not know, so reading its partition's log without an upper bound
    /// never returns a record that belongs to its child.
    gate: tokio::sync::RwLock<()>,
}

/// A read of at most this many records just committed (a reader at its shard's tip) is
/// made on the caller's thread rather than the blocking pool: the records are in the
/// write buffers, and the trip to the pool and back costs more than the read. Each commit
/// wakes every reader at the tip (20 fan-out consumers are 20 reads of the same records),
/// so the trip was most of their CPU and latency.
pub const INLINE_READ: u64 = 16;

impl Engine {
    /// Loads the persisted stream records (at open).
    pub(super) fn load_streams(&self) -> Result<(), StorageError> {
        let mut all = self.streams.streams.write().unwrap_or_else(|e| e.into_inner());
        for record in self.store.scan_prefix(Space::Meta, &keys::stream_record_prefix(&self.ns_key))
        {
            let (_, bytes) = record?;
            let stream: StreamMeta = serde_json::from_slice(&bytes)
                .map_err(|e| StorageError::Corrupt(format!("stream record: {e}")))?;
            all.insert((stream.table_name.clone(), stream.label.clone()), Arc::new(stream));
        }
        Ok(())
    }

    /// Every stream still listed (enabled, or disabled within the retention period), by
    /// table name then creation.
    pub fn list_streams(&self) -> Vec<Arc<StreamMeta>> {
        let all = self.streams.streams.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<StreamMeta>> = all.values().cloned().collect();
        out.sort_by(|a, b| (&a.table_name, a.created_ms).cmp(&(&b.table_name, b.created_ms)));
        out
    }

    /// One stream by table name and label.
    pub fn stream(&self, table: &str, label: &str) -> Option<Arc<StreamMeta>> {
        let all = self.streams.streams.read().unwrap_or_else(|e| e.into_inner());
        all.get(&(table.to_string(), label.to_string())).cloned()
    }

    /// Holds every shard's boundaries still while the guard lives (see `StreamRegistry`):
    /// look a shard up and read it under one guard.
    pub async fn hold_shard_boundaries(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.streams.gate.read().await
    }

    /// The next sequence number partition `partition` of the stream's table will assign:
    /// where LATEST points. For a table that is gone, the position after its last shard.
    pub fn next_seq(&self, stream: &StreamMeta, partition: u32) -> u64 {
        if let Some(table) = self.table(&stream.table_name)
            && table.meta().id == stream.table_id
            && let Some(seq) = table.counters.next_seqs.get(partition as usize)
        {
            return seq.load(std::sync::atomic::Ordering::Acquire);
        }
        let ends = stream.shards.iter().filter(|s| s.partition == partition);
        ends.map(|s| s.end_seq.map_or(s.start_seq, |e| e + 1)).max().unwrap_or(1)
    }

    /// The sequence number of the oldest record still kept for a partition, if any.
    pub fn first_retained_seq(
        &self,
        table_id: u64,
        partition: u32,
    ) -> Result<Option<u64>, StorageError> {
        let prefix = keys::change_prefix(table_id, partition);
        match self.store.scan_prefix(Space::Changes, &prefix).next() {
            Some(entry) => Ok(Some(seq_of(&entry?.0)?)),
            None => Ok(None),
        }
    }

    /// Reads records `from..=to` (`to` unbounded when `None`) of a partition's change log,
    /// at most `limit` of them and stopping after `max_bytes` of encoded records, from one
    /// snapshot on the blocking pool.
    pub async fn read_changes(
        &self,
        table_id: u64,
        partition: u32,
        from: u64,
        to: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<ChangeRecord>, StorageError> {
        let view = self.store.read_view();
        tokio::task::spawn_blocking(move || {
            read_changes_in(&view, table_id, partition, from, to, limit, max_bytes)
        })
        .await
        .map_err(|e| StorageError::Fjall(format!("read task: {e}")))?
    }

    /// [`Engine::read_changes`] on the calling thread: for reads known to be a few
    /// records just committed (a follower caught up with its shard), where handing the
    /// read to the blocking pool would cost more than the read.
    pub fn read_changes_now(
        &self,
        table_id: u64,
        partition: u32,
        from: u64,
        to: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<ChangeRecord>, StorageError> {
        let view = self.store.read_view();
        read_changes_in(&view, table_id, partition, from, to, limit, max_bytes)
    }

    /// Enables a stream on `table_name` (whose metadata must not have one enabled):
    /// turns change logging on, then opens one shard per partition at the partition's
    /// next sequence number.
    pub async fn enable_stream(
        &self,
        table_name: &str,
        view: ViewType,
    ) -> Result<Arc<StreamMeta>, EngineError> {
        let table = self.table(table_name).ok_or(EngineError::TableNotFound)?;
        let mut now = self.clock.now_millis();
        // Labels must differ per table: a second enable within the same millisecond
        // takes the next one.
        while self.stream(table_name, &label_of(now)).is_some() {
            now += 1;
        }
        let label = label_of(now);
        let meta = self
            .update_table(table_name, |m: &mut TableMeta| {
                m.stream =
                    Some(StreamSettings { enabled: true, view_type: Some(view.as_str().into()) });
                m.latest_stream_label = Some(label.clone());
                Ok::<(), EngineError>(())
            })
            .await?;
        let starts = boundaries(&table).await.map_err(|e| self.settle_engine(e))?;
        let shards = starts
            .iter()
            .enumerate()
            .map(|(p, start)| ShardMeta {
                id: new_shard_id(now),
                partition: p as u32,
                start_seq: *start,
                end_seq: None,
                parent: None,
                created_ms: now,
                closed_ms: None,
            })
            .collect();
        let stream = StreamMeta {
            table_name: table_name.to_string(),
            table_id: meta.id,
            label,
            view_type: view,
            created_ms: now,
            disabled_ms: None,
            key_schema: meta.key_schema.clone(),
            shards,
        };
        self.save_stream(stream).await
    }

    /// Disables the table's enabled stream: closes its open shards at each partition's
    /// last sequence number, then turns change logging off.
    pub async fn disable_stream(&self, table_name: &str) -> Result<(), EngineError> {
        let table = self.table(table_name).ok_or(EngineError::TableNotFound)?;
        let gate = self.streams.gate.write().await;
        let ends = boundaries(&table).await.map_err(|e| self.settle_engine(e))?;
        self.close_stream_gated(table_name, &table.meta(), &ends).await?;
        drop(gate);
        self.update_table(table_name, |m: &mut TableMeta| {
            m.stream = None;
            Ok::<(), EngineError>(())
        })
        .await?;
        Ok(())
    }

    /// Closes the open shards of the table's enabled stream, each at the sequence number
    /// before `next[partition]`, and marks the stream disabled (also used when the table
    /// is deleted, with its writers already stopped).
    pub(super) async fn close_stream(
        &self,
        table_name: &str,
        meta: &TableMeta,
        next: &[u64],
    ) -> Result<(), EngineError> {
        let _gate = self.streams.gate.write().await;
        self.close_stream_gated(table_name, meta, next).await
    }

    /// `close_stream` for a caller that holds the gate.
    async fn close_stream_gated(
        &self,
        table_name: &str,
        meta: &TableMeta,
        next: &[u64],
    ) -> Result<(), EngineError> {
        let Some(label) = meta.latest_stream_label.as_deref() else { return Ok(()) };
        let Some(stream) = self.stream(table_name, label).filter(|s| s.disabled_ms.is_none())
        else {
            return Ok(());
        };
        let now = self.clock.now_millis();
        let mut stream = (*stream).clone();
        for shard in stream.shards.iter_mut().filter(|s| s.end_seq.is_none()) {
            let next = next.get(shard.partition as usize).copied().unwrap_or(shard.start_seq);
            // An empty shard ends just before it starts.
            shard.end_seq = Some(next.saturating_sub(1).max(shard.start_seq.saturating_sub(1)));
            shard.closed_ms = Some(now);
        }
        stream.disabled_ms = Some(now);
        self.save_stream(stream).await?;
        Ok(())
    }

    /// Closes every open shard of `stream` and opens a child on the same partition.
    async fn roll_over(&self, stream: &StreamMeta) -> Result<(), EngineError> {
        let table = self.table(&stream.table_name).ok_or(EngineError::TableNotFound)?;
        let _gate = self.streams.gate.write().await;
        // The caller's copy may predate a disable: work on the current one.
        let Some(stream) = self.stream(&stream.table_name, &stream.label) else { return Ok(()) };
        if stream.disabled_ms.is_some() {
            return Ok(());
        }
        let next = boundaries(&table).await.map_err(|e| self.settle_engine(e))?;
        let now = self.clock.now_millis();
        let mut stream = (*stream).clone();
        let mut children = Vec::new();
        for shard in stream.shards.iter_mut().filter(|s| s.end_seq.is_none()) {
            let start = next.get(shard.partition as usize).copied().unwrap_or(shard.start_seq);
            shard.end_seq = Some(start.saturating_sub(1).max(shard.start_seq.saturating_sub(1)));
            shard.closed_ms = Some(now);
            children.push(ShardMeta {
                id: new_shard_id(now),
                partition: shard.partition,
                start_seq: start.max(shard.start_seq),
                end_seq: None,
                parent: Some(shard.id.clone()),
                created_ms: now,
                closed_ms: None,
            });
        }
        stream.shards.extend(children);
        self.save_stream(stream).await?;
        Ok(())
    }

    async fn save_stream(&self, stream: StreamMeta) -> Result<Arc<StreamMeta>, EngineError> {
        let record =
            serde_json::to_vec(&stream).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let key = keys::stream_record(&self.ns_key, &stream.table_name, &stream.label);
        self.committer.commit(vec![Mutation::put(Space::Meta, key, record)], 0).await?;
        let stream = Arc::new(stream);
        let mut all = self.streams.streams.write().unwrap_or_else(|e| e.into_inner());
        all.insert((stream.table_name.clone(), stream.label.clone()), stream.clone());
        Ok(stream)
    }

    async fn forget_stream(&self, stream: &StreamMeta) -> Result<(), EngineError> {
        let key = keys::stream_record(&self.ns_key, &stream.table_name, &stream.label);
        self.committer.commit(vec![Mutation::delete(Space::Meta, key)], 0).await?;
        let mut all = self.streams.streams.write().unwrap_or_else(|e| e.into_inner());
        all.remove(&(stream.table_name.clone(), stream.label.clone()));
        Ok(())
    }

    /// One maintenance pass: roll over shards older than the rollover interval, trim
    /// records older than the retention period, forget shards and streams whose records
    /// are all gone.
    pub async fn maintain_streams(&self) -> Result<(), EngineError> {
        let now = self.clock.now_millis();
        let rollover = (self.config.streams.shard_rollover_seconds * 1000) as i64;
        let cutoff = now - (self.config.streams.retention_seconds * 1000) as i64;
        for stream in self.list_streams() {
            let open_since =
                stream.shards.iter().filter(|s| s.end_seq.is_none()).map(|s| s.created_ms).min();
            if stream.disabled_ms.is_none() && open_since.is_some_and(|t| now - t >= rollover) {
                match self.roll_over(&stream).await {
                    Ok(()) | Err(EngineError::TableNotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let mut logs: Vec<(u64, u32)> = self
            .tables
            .iter()
            .flat_map(|t| {
                let meta = t.meta();
                (0..meta.partitions).map(move |p| (meta.id, p))
            })
            .collect();
        // A table with point-in-time recovery keeps its changes for its recovery period.
        let kept_longer: std::collections::HashMap<u64, i64> = self
            .tables
            .iter()
            .filter_map(|t| {
                let meta = t.meta();
                meta.pitr.map(|p| (meta.id, p.earliest_ms(now).min(cutoff)))
            })
            .collect();
        for stream in self.list_streams() {
            logs.extend(stream.shards.iter().map(|s| (stream.table_id, s.partition)));
        }
        logs.sort_unstable();
        logs.dedup();
        for (table_id, partition) in logs {
            // The bridge has not forwarded changes from its cursor on: keep them, however
            // old (nothing acknowledged may be lost while a destination lags).
            let cursor = self.store.get(Space::Meta, &keys::bridge_cursor(table_id, partition))?;
            let keep_from = cursor.and_then(|v| v.try_into().ok()).map(u64::from_be_bytes);
            let cutoff = kept_longer.get(&table_id).copied().unwrap_or(cutoff);
            self.trim(table_id, partition, cutoff, keep_from).await?;
        }
        for listed in self.list_streams() {
            // A closed shard's records are all older than its closing: once that is past
            // the retention period, nothing of it is left to read.
            let expired = |s: &ShardMeta| s.closed_ms.is_some_and(|t| t < cutoff);
            let _gate = self.streams.gate.write().await;
            let Some(stream) = self.stream(&listed.table_name, &listed.label) else { continue };
            if stream.disabled_ms.is_some_and(|t| t < cutoff) {
                self.forget_stream(&stream).await?;
            } else if stream.shards.iter().any(expired) {
                let mut kept = (*stream).clone();
                kept.shards.retain(|s| !expired(s));
                self.save_stream(kept).await?;
            }
        }
        Ok(())
    }

    /// Deletes a partition's records older than `cutoff`, oldest first, stopping at
    /// sequence number `keep_from` (the bridge's cursor) when there is one.
    async fn trim(
        &self,
        table_id: u64,
        partition: u32,
        cutoff: i64,
        keep_from: Option<u64>,
    ) -> Result<(), EngineError> {
        let prefix = keys::change_prefix(table_id, partition);
        loop {
            let mut batch = Vec::new();
            for entry in self.store.scan_prefix(Space::Changes, &prefix).take(TRIM_BATCH) {
                let (key, value) = entry?;
                if keep_from.is_some_and(|k| seq_of(&key).is_ok_and(|seq| seq >= k))
                    || ChangeRecord::decode(&value)?.created_ms >= cutoff
                {
                    break;
                }
                batch.push(Mutation::delete(Space::Changes, key));
            }
            let full = batch.len() == TRIM_BATCH;
            if batch.is_empty() {
                return Ok(());
            }
            self.committer.commit(batch, 0).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Starts the stream maintenance task; it stops once the engine is dropped.
    pub(super) fn spawn_stream_maintenance(self: &Arc<Self>) {
        let engine: Weak<Engine> = Arc::downgrade(self);
        let interval = Duration::from_millis(self.config.streams.maintenance_interval_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(engine) = engine.upgrade() else { return };
                // The store's size and its write buffers': the maintenance tick refreshes them.
                engine.metrics.storage_size_bytes.set(engine.store.disk_space() as i64);
                let buffers = engine.store.write_buffer_bytes() as i64;
                engine.metrics.storage_write_buffer_bytes.set(buffers);
                if let Err(e) = engine.maintain_streams().await {
                    tracing::warn!("stream maintenance: {e}");
                }
            }
        });
    }
}

/// Asks every partition writer of `table` for its next sequence number, after the writes
/// queued before the question.
pub(crate) async fn boundaries(table: &Table) -> Result<Vec<u64>, EngineError> {
    let mut out = Vec::with_capacity(table.writers.len());
    for writer in &table.writers {
        let (tx, rx) = oneshot::channel();
        writer.send(WriterMsg::Boundary(tx)).await.map_err(|_| EngineError::TableNotFound)?;
        out.push(rx.await.map_err(|_| EngineError::TableNotFound)?);
    }
    Ok(out)
}

/// The sequence number at the end of a change-log key.
fn seq_of(key: &[u8]) -> Result<u64, StorageError> {
    key.get(12..20)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt("change key layout".into()))
}

/// The change records of one partition from `from` (to `to`, inclusive), at most `limit`
/// of them and about `max_bytes`.
fn read_changes_in(
    view: &crate::storage::ReadView,
    table_id: u64,
    partition: u32,
    from: u64,
    to: Option<u64>,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<ChangeRecord>, StorageError> {
    let lower = Bound::Included(keys::change_key(table_id, partition, from));
    let upper = match to {
        Some(to) => Bound::Included(keys::change_key(table_id, partition, to)),
        None => prefix_end(&keys::change_prefix(table_id, partition)),
    };
    let mut out = Vec::new();
    let mut bytes = 0;
    for entry in view.range(Space::Changes, lower, upper) {
        let (_, value) = entry?;
        bytes += value.len();
        out.push(ChangeRecord::decode(&value)?);
        if out.len() >= limit || bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}
