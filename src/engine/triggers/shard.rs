//! One shard of one mapping: gather a batch, invoke, retry, checkpoint, again. One batch
//! is in flight per shard, so the function sees each shard's records in order.
//!
//! Gathering reads from the checkpoint on until the batch holds `BatchSize` records, or
//! its event would pass 6 MiB, or the batching window (which opens when the first record
//! is waiting, at the earliest when the previous invocation completed) has passed, or the
//! shard ended. With a window of 0 a batch goes as soon as anything is read, and the
//! worker reads as soon as a commit wakes it: a record reaches the function within
//! milliseconds of its write.
//!
//! The checkpoint moves only once a batch is done (processed, or discarded by AWS's rules
//! in `retry`), and is durable before the next batch is read. A shutdown or a disable
//! stops at the next step without moving it, so the batch goes again later: at least
//! once, and nothing is ever skipped but what AWS would discard.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::Mapping;
use super::batch::{self, Batch, EventRecord};
use super::filter::{self, Filters};
use super::record::MappingRecord;
use super::retry::Condition;
use super::source::{ShardInfo, ShardReader};
use crate::engine::Engine;
use crate::lambda::name;
use crate::metrics::esm::EsmSeries;
use crate::storage::StorageError;

/// Why a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exit {
    /// The shard is closed and every record of it is done.
    Finished,
    /// Shutdown, a disable or a delete.
    Stopped,
}

enum Gathered {
    Batch(Batch),
    /// The first waiting record alone passes the invocation limit.
    TooLarge(EventRecord),
    Finished(u64),
    Stop,
}

pub(super) struct Worker {
    pub engine: Arc<Engine>,
    pub mapping: Arc<Mapping>,
    pub records: watch::Receiver<Arc<MappingRecord>>,
    pub shutdown: watch::Receiver<bool>,
    pub reader: ShardReader,
    pub shard: ShardInfo,
    /// The next record to deliver: the checkpoint.
    pub position: u64,
    /// The next record to read.
    read_from: u64,
    /// Read and not yet delivered: at most one batch and one read's worth.
    pending: VecDeque<EventRecord>,
    read_all: bool,
    /// The mapping's FilterCriteria, compiled, and the criteria it was compiled from
    /// (compiled again when an update changes them).
    filters: Option<Filters>,
    filters_of: Option<serde_json::Value>,
}

impl Worker {
    pub fn new(
        engine: Arc<Engine>,
        mapping: Arc<Mapping>,
        shutdown: watch::Receiver<bool>,
        reader: ShardReader,
        shard: ShardInfo,
        checkpoint: Option<u64>,
    ) -> Worker {
        let position = checkpoint.unwrap_or(shard.start);
        let records = mapping.record.subscribe();
        Worker {
            engine,
            mapping,
            records,
            shutdown,
            reader,
            shard,
            position,
            read_from: position,
            pending: VecDeque::new(),
            read_all: false,
            filters: None,
            filters_of: None,
        }
    }

    pub async fn run(mut self) -> Result<Exit, StorageError> {
        loop {
            let batch = match self.gather().await? {
                Gathered::Stop => return Ok(Exit::Stopped),
                Gathered::Finished(end) => {
                    return Ok(if self.checkpoint(end).await {
                        Exit::Finished
                    } else {
                        Exit::Stopped
                    });
                }
                Gathered::TooLarge(record) => {
                    let next = record.seq + 1;
                    self.discard(Condition::PayloadTooLarge, &[record], 0);
                    if !self.checkpoint(next).await {
                        return Ok(Exit::Stopped);
                    }
                    continue;
                }
                Gathered::Batch(batch) => batch,
            };
            let Some(next) = self.deliver(batch).await else { return Ok(Exit::Stopped) };
            if !self.checkpoint(next).await {
                return Ok(Exit::Stopped);
            }
        }
    }

    /// The current record, marking it seen.
    pub(super) fn record(&mut self) -> Arc<MappingRecord> {
        self.records.borrow_and_update().clone()
    }

    /// Whether to stop: shutdown, or the mapping disabled, deleted or gone.
    pub(super) fn stopping(&mut self) -> bool {
        *self.shutdown.borrow() || self.records.has_changed().is_err() || !self.record().active()
    }

    /// Waits for a commit on the shard, a change of the mapping, shutdown, or `until`.
    async fn wait(&mut self, until: Option<Instant>) {
        let Worker { reader, records, shutdown, .. } = &mut *self;
        let deadline = async {
            match until {
                Some(t) => sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = reader.wake().changed() => {}
            _ = records.changed() => {}
            _ = shutdown.changed() => {}
            () = deadline => {}
        }
    }

    async fn gather(&mut self) -> Result<Gathered, StorageError> {
        let mut window_ends: Option<Instant> = None;
        loop {
            if self.stopping() {
                return Ok(Gathered::Stop);
            }
            let record = self.record();
            let size = record.settings.batch_size.max(1) as usize;
            let window =
                Duration::from_secs(record.settings.maximum_batching_window_seconds.into());
            // Marked before the read: a commit during it still wakes the wait below.
            self.reader.wake().mark();
            let (fit, cut) = self.fitting(size);
            let mut read_any = false;
            if fit < size && !cut && !self.read_all {
                let want = size - self.pending.len().min(size);
                let read = self.reader.read(self.read_from, want.max(1)).await?;
                read_any = !read.records.is_empty();
                let kept = self.filter(&record, read.records);
                self.read_from = read.next;
                self.read_all = read.finished;
                if kept.is_empty() && self.pending.is_empty() && read_any && !self.read_all {
                    // Everything read was filtered out: the iterator moves past it, as
                    // AWS's does, so a restart does not read it again.
                    if !self.checkpoint(self.read_from).await {
                        return Ok(Gathered::Stop);
                    }
                }
                self.pending.extend(kept);
            }
            if self.pending.is_empty() {
                if self.read_all {
                    return Ok(Gathered::Finished(self.read_from));
                }
                if !read_any {
                    self.wait(None).await;
                }
                continue;
            }
            let (fit, cut) = self.fitting(size);
            if fit == 0
                && let Some(first) = self.pending.pop_front()
            {
                return Ok(Gathered::TooLarge(first));
            }
            let full = fit >= size || cut || self.read_all || window.is_zero();
            if !full {
                // More may be committed already: read again before waiting.
                if read_any {
                    continue;
                }
                let ends = *window_ends.get_or_insert_with(|| Instant::now() + window);
                if Instant::now() < ends {
                    self.wait(Some(ends)).await;
                    continue;
                }
            }
            let mut batch = Batch::default();
            for r in self.pending.drain(..fit) {
                batch.push(r);
            }
            return Ok(Gathered::Batch(batch));
        }
    }

    /// The records of `read` that pass the mapping's filters; the others are counted and
    /// dropped, never delivered.
    fn filter(&mut self, record: &MappingRecord, read: Vec<EventRecord>) -> Vec<EventRecord> {
        let criteria = &record.settings.filter_criteria;
        if *criteria != self.filters_of {
            let kind = match record.source {
                super::record::Source::DynamoDb { .. } => filter::SourceKind::DynamoDb,
                super::record::Source::Kinesis { .. } => filter::SourceKind::Kinesis,
            };
            // Checked when the mapping was created or updated: an error cannot come back.
            self.filters = criteria.as_ref().and_then(|c| filter::compile(c, kind).ok().flatten());
            self.filters_of = criteria.clone();
        }
        let Some(filters) = &self.filters else { return read };
        let before = read.len();
        let kept: Vec<EventRecord> =
            read.into_iter().filter(|r| filters.matches(&r.json)).collect();
        let dropped = before - kept.len();
        if dropped > 0
            && let Some(f) = name::parse(&record.settings.function_name)
        {
            self.series(&f.name).records_filtered.inc_by(dropped as u64);
        }
        kept
    }

    /// How many waiting records (at most `size`) fit in one event, and whether the 6 MiB
    /// limit (not `size`) is what stopped it.
    fn fitting(&self, size: usize) -> (usize, bool) {
        batch::fitting(self.pending.iter().map(|r| r.json.len()), size)
    }

    pub(super) fn series(&self, function: &str) -> EsmSeries {
        let uuid = &self.records.borrow().uuid;
        self.engine.metrics.esm.series(uuid, function)
    }

    /// Reports records given up on. The on-failure destination (the next slice) will get
    /// the same facts AWS's on-failure record carries: positions, not data.
    pub(super) fn discard(&self, condition: Condition, records: &[EventRecord], invocations: u32) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return };
        let record = self.records.borrow().clone();
        let function =
            name::parse(&record.settings.function_name).map(|f| f.name).unwrap_or_default();
        let series = self.series(&function);
        series.dropped_batches.inc();
        series.dropped_records.inc_by(records.len() as u64);
        tracing::error!(
            mapping = %record.uuid, function = %function, shard = %self.shard.id,
            condition = condition.as_str(), batch_size = records.len(),
            first_sequence = first.seq, last_sequence = last.seq,
            first_arrival_ms = first.arrival_ms, last_arrival_ms = last.arrival_ms,
            approximate_invoke_count = invocations,
            "event source mapping discarded records ({}); no on-failure destination is delivered yet",
            condition.as_str()
        );
    }

    /// Moves the checkpoint to `next`, durably, retrying storage errors (a full disk) until
    /// they clear. `false` when it stopped instead (shutdown): the batch goes again later.
    pub(super) async fn checkpoint(&mut self, next: u64) -> bool {
        self.position = next;
        let uuid = self.records.borrow().uuid.clone();
        let mut pause = Duration::from_millis(100);
        loop {
            // A mapping being deleted keeps no checkpoints.
            if self.records.borrow().deleting() {
                return false;
            }
            match self.engine.save_checkpoint(&uuid, &self.shard.id, next).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(mapping = %uuid, shard = %self.shard.id, "cannot save the checkpoint: {e}; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = self.shutdown.changed() => return false,
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
