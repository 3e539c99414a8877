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

use super::batch::{self, Batch, EventRecord, Outcome};
use super::filter::{self, Filters};
use super::on_failure;
use super::record::MappingRecord;
use super::retry::{self, Attempts, Condition, Next};
use super::source::{ShardInfo, ShardReader};
use super::{Mapping, OK, PROBLEM};
use crate::engine::Engine;
use crate::lambda::{InvokeDetails, name};
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
                    if !self.discard(Condition::PayloadTooLarge, &[record], 0).await
                        || !self.checkpoint(next).await
                    {
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
    fn record(&mut self) -> Arc<MappingRecord> {
        self.records.borrow_and_update().clone()
    }

    /// Whether to stop: shutdown, or the mapping disabled, deleted or gone.
    fn stopping(&mut self) -> bool {
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

    /// Invokes until the batch is done; the position after it, or `None` to stop without
    /// moving the checkpoint.
    async fn deliver(&mut self, mut batch: Batch) -> Option<u64> {
        let end = batch.next_position()?;
        let last_arrival = batch.records.last().map_or(0, |r| r.arrival_ms);
        let config = &self.engine.config.lambda;
        let mut attempts = Attempts::new(
            Duration::from_millis(config.mapping_retry_initial_ms),
            Duration::from_millis(config.mapping_retry_max_ms),
        );
        let mut tries = 0u32;
        loop {
            if self.stopping() {
                return None;
            }
            let record = self.record();
            let settings = &record.settings;
            let now = self.engine.clock.now_millis();
            let (cutoff, why) =
                retry::cutoff(now, self.reader.retention_ms(), settings.maximum_record_age_seconds);
            let old = batch.take_older_than(cutoff);
            if !old.is_empty() && !self.discard(why, &old, attempts.invocations).await {
                return None;
            }
            if batch.is_empty() {
                break;
            }
            let function = name::parse(&settings.function_name)?;
            let series = self.series(&function.name);
            if tries > 0 {
                series.retries.inc();
            }
            tries += 1;
            let invoke =
                self.engine.lambda.invoke(&function, batch.payload(), InvokeDetails::default());
            let result = tokio::select! {
                r = invoke => r,
                _ = self.shutdown.changed() => return None,
            };
            let outcome = Outcome::of(result)?;
            self.count(&series, &outcome, batch.len());
            match attempts.after(&outcome, settings.maximum_retry_attempts) {
                Next::Done => {
                    self.mapping.set_result(OK);
                    series.records_delivered.inc_by(batch.len() as u64);
                    break;
                }
                Next::Discard(condition) => {
                    self.mapping.set_result(PROBLEM);
                    let records = std::mem::take(&mut batch.records);
                    if !self.discard(condition, &records, attempts.invocations).await {
                        return None;
                    }
                    break;
                }
                Next::Retry(pause) => {
                    self.mapping.set_result(PROBLEM);
                    self.log_failure(&outcome, &batch, attempts.invocations, pause);
                    let until = Instant::now() + pause;
                    // Woken early by a change of the mapping (a disable stops the retries).
                    while Instant::now() < until && !self.stopping() {
                        let Worker { records, shutdown, .. } = &mut *self;
                        tokio::select! {
                            () = sleep_until(until) => {}
                            _ = records.changed() => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                }
            }
        }
        let function = name::parse(&self.record().settings.function_name)?;
        let age = (self.engine.clock.now_millis() - last_arrival).max(0) as f64 / 1000.0;
        self.series(&function.name).iterator_age.set(age);
        Some(end)
    }

    fn series(&self, function: &str) -> EsmSeries {
        let uuid = &self.records.borrow().uuid;
        self.engine.metrics.esm.series(uuid, function)
    }

    fn count(&self, series: &EsmSeries, outcome: &Outcome, records: usize) {
        match outcome {
            Outcome::NotInvoked(_) => series.invoke_failures.inc(),
            Outcome::FunctionError(_) => {
                series.invocations.inc();
                series.function_errors.inc();
                series.batch_size.observe(records as f64);
            }
            Outcome::Success => {
                series.invocations.inc();
                series.batch_size.observe(records as f64);
            }
        }
    }

    fn log_failure(&self, outcome: &Outcome, batch: &Batch, invocations: u32, pause: Duration) {
        let uuid = &self.records.borrow().uuid;
        let what = match outcome {
            Outcome::FunctionError(error) => {
                let text = String::from_utf8_lossy(error);
                format!("function error: {}", crate::lambda::http_client::truncate(&text, 512))
            }
            Outcome::NotInvoked(e) => format!("not invoked: {e}"),
            Outcome::Success => return,
        };
        tracing::warn!(
            mapping = %uuid, shard = %self.shard.id, records = batch.len(), invocations,
            "event source mapping batch failed ({what}); retrying in {pause:?}"
        );
    }

    /// Reports records given up on, and sends their on-failure record (positions, not
    /// data) to the mapping's destination before the checkpoint moves past them. `false`
    /// when sluice shut down first: the checkpoint stays, the batch goes again later.
    async fn discard(
        &self,
        condition: Condition,
        records: &[EventRecord],
        invocations: u32,
    ) -> bool {
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return true };
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
            "event source mapping discarded records ({})",
            condition.as_str()
        );
        let mut shutdown = self.shutdown.clone();
        let wire_seq = |seq| self.reader.wire_seq(seq);
        on_failure::report(
            &self.engine,
            &record,
            &self.shard.id,
            wire_seq,
            condition,
            records,
            invocations,
            &series,
            &mut shutdown,
        )
        .await
    }

    /// Moves the checkpoint to `next`, durably, retrying storage errors (a full disk) until
    /// they clear. `false` when it stopped instead (shutdown): the batch goes again later.
    async fn checkpoint(&mut self, next: u64) -> bool {
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
