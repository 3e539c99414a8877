//! Forwarding inside the table's own commit. A partition writer whose table forwards to
//! a stream of this sluice, and whose bridge cursor stands at its next change, builds the
//! Kinesis records of its group's changes while it stages them and hands the whole batch
//! (items, index entries, change records, statistics) to that stream's writer with the
//! records and the cursor move: the write, its stream record and its destination record
//! are durable in ONE commit, and the records are readable the moment the write is
//! acknowledged. A transaction does the same with every partition it changed, as long as
//! they all forward to one stream.
//!
//! The forwarder (`forwarder.rs`) stays for everything this path leaves behind: a
//! transaction whose tables forward to different streams, a cursor that fell behind (a
//! destination enabled on a busy table, a store written by an older sluice), a stream
//! the writer found gone. Both move the cursor through the stream's
//! writer, which moves it only from where the mover read it (`kinesis::CursorMove`), so
//! no change is forwarded twice or skipped, whichever gets there first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::record::{self, ChangeView, Precision};
use crate::engine::catalog::TableMeta;
use crate::engine::kinesis::{self, AppendFailure, CursorMove, LiveStream, NewRecord, OnSettle};
use crate::metrics::Metrics;
use crate::storage::{CommitHandle, Mutation, StorageError, keys};

/// A partition's bridge cursor when its table forwards nowhere (or not yet).
pub const NO_CURSOR: u64 = u64::MAX;

/// What a partition writer needs to forward inline, shared by every writer.
pub struct Inline {
    pub streams: Arc<kinesis::Registry>,
    pub metrics: Arc<Metrics>,
    pub region: String,
}

/// The destination records of one group's changes, built while the group is staged.
pub struct Batch {
    table: String,
    stream: Arc<LiveStream>,
    stream_name: String,
    precision: Option<Precision>,
    max_bytes: usize,
    cursor: Arc<AtomicU64>,
    cursor_key: Vec<u8>,
    /// The change the cursor stands at: the group's first.
    from: u64,
    records: Vec<NewRecord>,
    /// Changes whose record exceeds the stream's record size (skipped and counted, as AWS
    /// does), and the records' bytes.
    skipped: u64,
    bytes: u64,
}

impl Inline {
    /// A batch for a group of partition `partition` whose first change takes sequence
    /// number `next_seq`, when `meta`'s table forwards to a stream of this sluice and the
    /// partition's `cursor` stands there.
    pub fn begin(
        &self,
        meta: &TableMeta,
        partition: u32,
        cursor: &Arc<AtomicU64>,
        next_seq: u64,
    ) -> Option<Batch> {
        let destination = meta.forwarding_destination().filter(|d| !d.remote)?;
        if cursor.load(Ordering::Acquire) != next_seq {
            return None;
        }
        let stream = self.streams.get(&destination.stream_name)?;
        Some(Batch {
            table: meta.name.clone(),
            cursor_key: keys::bridge_cursor(meta.id, partition),
            max_bytes: stream.meta().max_record_bytes(),
            stream,
            stream_name: destination.stream_name.clone(),
            precision: destination.precision,
            cursor: cursor.clone(),
            from: next_seq,
            records: Vec::new(),
            skipped: 0,
            bytes: 0,
        })
    }

    /// Commits `mutations` (carrying `writes` client writes) with the records of
    /// `batches` and each one's cursor moved to its `u64` (past the partition's last
    /// staged change), as ONE batch: a partition writer's group has one batch, a
    /// transaction one per partition it changed. When the cursors moved meanwhile, the
    /// stream's writer stopped, or the batches go to different streams, the mutations
    /// still commit (alone) and the forwarder forwards their changes. `on_settle` runs
    /// once the batch is settled, with its result, before this returns (on the stream's
    /// writer when the batch goes through it).
    pub async fn commit(
        &self,
        batches: Vec<(Batch, u64)>,
        mutations: Vec<Mutation>,
        writes: usize,
        committer: &CommitHandle,
        on_settle: Option<OnSettle>,
    ) -> Result<(), StorageError> {
        let alone = |mutations, on_settle: Option<OnSettle>| async move {
            let result = committer.commit(mutations, writes).await;
            if let Some(run) = on_settle {
                run(result.as_ref().copied());
            }
            result
        };
        let Some(stream) = batches.first().map(|(b, _)| b.stream.clone()) else {
            return alone(mutations, on_settle).await;
        };
        if !batches.iter().all(|(b, _)| Arc::ptr_eq(&b.stream, &stream)) {
            return alone(mutations, on_settle).await;
        }
        let mut records = Vec::new();
        let mut cursors = Vec::with_capacity(batches.len());
        let mut counted = Vec::with_capacity(batches.len());
        for (batch, to) in batches {
            let n = batch.records.len() as u64;
            counted.push((batch.table, batch.stream_name, n, batch.bytes, batch.skipped));
            records.extend(batch.records);
            let cell = batch.cursor;
            cursors.push(CursorMove { cell, key: batch.cursor_key, from: batch.from, to });
        }
        match stream.append(records, mutations, cursors, true, on_settle).await {
            Ok(Some(_)) => {
                let bridge = &self.metrics.bridge;
                for (table, stream, records, bytes, skipped) in counted {
                    let labels = [table.as_str(), stream.as_str()];
                    bridge.forwarded_records_total.with_label_values(&labels).inc_by(records);
                    bridge.forwarded_bytes_total.with_label_values(&labels).inc_by(bytes);
                    if skipped > 0 {
                        bridge.failed_records_total.with_label_values(&labels).inc_by(skipped);
                    }
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(AppendFailure::Stopped(mutations, on_settle)) => alone(mutations, on_settle).await,
            Err(AppendFailure::Storage(e)) => Err(e),
        }
    }
}

impl Batch {
    /// Adds the record of one staged change of `meta`'s table.
    pub fn push(&mut self, meta: &TableMeta, region: &str, change: &ChangeView<'_>) {
        let data = record::data(change, &meta.key_schema, &meta.name, region, self.precision);
        let new = NewRecord::keyed(record::partition_key(change, &meta.key_schema), data);
        if new.size() > self.max_bytes {
            self.skipped += 1;
        } else {
            self.bytes += new.size() as u64;
            self.records.push(new);
        }
    }

    /// Where the batch stands, to go back to if the change being staged is refused.
    pub fn mark(&self) -> (usize, u64, u64) {
        (self.records.len(), self.skipped, self.bytes)
    }

    /// Forgets what was pushed since `mark`.
    pub fn rewind(&mut self, (records, skipped, bytes): (usize, u64, u64)) {
        self.records.truncate(records);
        (self.skipped, self.bytes) = (skipped, bytes);
    }
}
