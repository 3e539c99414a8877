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
//! With ParallelizationFactor N, a round of up to N batches is gathered instead, the
//! records spread over them by key (item key or partition key), so each key's records
//! stay in order in one batch stream; the round's batches are invoked at once and the
//! next round starts when all are done.
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
use super::deliver::Lane;
use super::filter::{self, Filters};
use super::record::MappingRecord;
use super::retry::Condition;
use super::source::{ShardInfo, ShardReader};
use super::window::{self, Window};
use crate::engine::Engine;
use crate::lambda::name;
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
    /// The tumbling window in progress is over.
    CloseWindow,
    /// The first waiting record alone passes the invocation limit.
    TooLarge(EventRecord),
    Finished(u64),
    Stop,
}

pub(super) struct Worker {
    /// What delivering needs: cloned per batch when several are in flight.
    pub lane: Lane,
    pub reader: ShardReader,
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
        let uuid = mapping.record().uuid.clone();
        let window = engine.saved_window(&uuid, &shard.id).unwrap_or_else(|e| {
            tracing::error!(mapping = %uuid, shard = %shard.id, "tumbling window state lost: {e}");
            None
        });
        let lane = Lane {
            engine,
            mapping,
            records,
            shutdown,
            shard_id: shard.id.clone(),
            retention_ms: reader.retention_ms(),
            checkpoints: true,
            window,
            unsaved: None,
            saved_at: None,
            series: None,
        };
        Worker {
            lane,
            reader,
            read_from: position,
            pending: VecDeque::new(),
            read_all: false,
            filters: None,
            filters_of: None,
        }
    }

    pub async fn run(mut self) -> Result<Exit, StorageError> {
        let exit = self.deliver_all().await;
        // A checkpoint not saved yet is saved before the worker goes (a disable, a
        // restart of the poller, shutdown); a crash instead delivers its batches again.
        if matches!(exit, Ok(Exit::Stopped)) || exit.is_err() {
            self.lane.flush().await;
        }
        exit
    }

    async fn deliver_all(&mut self) -> Result<Exit, StorageError> {
        loop {
            let batch = match self.gather().await? {
                Gathered::Stop => return Ok(Exit::Stopped),
                Gathered::CloseWindow => {
                    // Nothing is read past the window: the checkpoint stays where it is.
                    let at = self.pending.front().map_or(self.read_from, |r| r.seq);
                    self.lane.unsaved = Some(at);
                    if !self.lane.close_window().await || !self.lane.flush().await {
                        return Ok(Exit::Stopped);
                    }
                    continue;
                }
                Gathered::Finished(end) => {
                    // Saved at once: the poller reads it to start the shard's children.
                    self.lane.unsaved = Some(end);
                    return Ok(if self.lane.flush().await {
                        Exit::Finished
                    } else {
                        Exit::Stopped
                    });
                }
                Gathered::TooLarge(record) => {
                    let next = record.seq + 1;
                    if !self.lane.discard(Condition::PayloadTooLarge, &[record], 0, None).await
                        || !self.checkpoint(next).await
                    {
                        return Ok(Exit::Stopped);
                    }
                    continue;
                }
                Gathered::Batch(batch) => batch,
            };
            let Some(next) = self.deliver_round(batch).await else { return Ok(Exit::Stopped) };
            if !self.checkpoint(next).await {
                return Ok(Exit::Stopped);
            }
        }
    }

    fn record(&mut self) -> Arc<MappingRecord> {
        self.lane.record()
    }

    fn stopping(&mut self) -> bool {
        self.lane.stopping()
    }

    async fn checkpoint(&mut self, next: u64) -> bool {
        self.lane.checkpoint(next).await
    }

    /// Delivers a gathered round: one batch, or with ParallelizationFactor N up to N
    /// batches at once, the records of one key always in the same one, in order. The
    /// position after the round, or `None` to stop without moving the checkpoint.
    async fn deliver_round(&mut self, round: Batch) -> Option<u64> {
        let end = round.next_position()?;
        let factor = factor_of(&self.record());
        if factor == 1 {
            return self.lane.deliver(round).await;
        }
        let lanes = batch::by_key(round, factor);
        // Several batches in flight: none may move the shard's checkpoint past records
        // another still holds, so only the whole round does.
        let deliveries = lanes.into_iter().map(|b| {
            let mut lane = Lane { checkpoints: false, ..self.lane.clone() };
            async move { lane.deliver(b).await }
        });
        let done = futures_util::future::join_all(deliveries).await;
        done.iter().all(Option::is_some).then_some(end)
    }

    /// Waits for a commit on the shard, a change of the mapping, shutdown, or `until`;
    /// saves a checkpoint not saved yet when it is due meanwhile.
    async fn wait(&mut self, until: Option<Instant>) {
        if let Some(due) = self.lane.flush_due() {
            if due <= Instant::now() {
                self.lane.flush().await;
                return;
            }
            if until.is_none_or(|u| due < u) {
                // Woken to save it, then back to waiting.
                let until = Some(due);
                self.wait_for(until).await;
                return;
            }
        }
        self.wait_for(until).await;
    }

    async fn wait_for(&mut self, until: Option<Instant>) {
        let Worker { reader, lane: Lane { records, shutdown, .. }, .. } = &mut *self;
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
            let factor = factor_of(&record);
            let tumbling = record.settings.tumbling_window_seconds;
            // A round holds up to `factor` batches.
            let round = size.saturating_mul(factor);
            let window =
                Duration::from_secs(record.settings.maximum_batching_window_seconds.into());
            // Marked before the read: a commit during it still wakes the wait below.
            self.reader.wake().mark();
            let (fit, cut) = self.fitting(size, factor);
            let mut read_any = false;
            if fit < round && !cut && !self.read_all {
                let want = round - self.pending.len().min(round);
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
                // A window ends with its shard, or once its end has passed.
                let window_end = self.lane.window.as_ref().map(|w| w.end_ms + window::GRACE_MS);
                if let Some(end) = window_end
                    && (self.read_all || self.lane.engine.clock.now_millis() >= end)
                {
                    return Ok(Gathered::CloseWindow);
                }
                if self.read_all {
                    return Ok(Gathered::Finished(self.read_from));
                }
                if !read_any {
                    let until = window_end.map(|end| {
                        let left = (end - self.lane.engine.clock.now_millis()).max(0) as u64;
                        Instant::now() + Duration::from_millis(left)
                    });
                    self.wait(until).await;
                }
                continue;
            }
            if tumbling > 0 {
                let first = self.pending[0].arrival_ms;
                match &self.lane.window {
                    Some(w) if !w.holds(first) => return Ok(Gathered::CloseWindow),
                    Some(_) => {}
                    None => self.lane.window = Some(Window::of(first, tumbling)),
                }
            }
            let (fit, cut) = self.fitting(size, factor);
            if fit == 0
                && let Some(first) = self.pending.pop_front()
            {
                return Ok(Gathered::TooLarge(first));
            }
            // A batch never spans two tumbling windows.
            let (fit, cut) = match &self.lane.window {
                Some(w) => {
                    let inside = self.pending.iter().take_while(|r| w.holds(r.arrival_ms)).count();
                    if inside < fit { (inside, true) } else { (fit, cut) }
                }
                None => (fit, cut),
            };
            let full = fit >= round || cut || self.read_all || window.is_zero();
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
            self.lane.series(&f.name).records_filtered.inc_by(dropped as u64);
        }
        kept
    }

    /// How many waiting records (a prefix) fit one round of `factor` batches of at most
    /// `size` records and 6 MiB each, and whether a full batch (not the round's count)
    /// is what stopped it.
    fn fitting(&self, size: usize, factor: usize) -> (usize, bool) {
        if let Some(w) = &self.lane.window {
            // Room for the window's members: its state and a little more.
            let room = batch::MAX_PAYLOAD.saturating_sub(w.state.to_string().len() + 1024);
            return batch::fitting_within(self.pending.iter().map(|r| r.json.len()), size, room);
        }
        if factor == 1 {
            return batch::fitting(self.pending.iter().map(|r| r.json.len()), size);
        }
        batch::fitting_by_key(self.pending.iter().map(|r| (r.key_hash, r.json.len())), size, factor)
    }
}

/// Batches of one shard in flight at once: ParallelizationFactor, or one in a tumbling
/// window (its state goes from one invocation to the next).
fn factor_of(record: &MappingRecord) -> usize {
    if record.settings.tumbling_window_seconds > 0 {
        return 1;
    }
    record.settings.parallelization_factor.max(1) as usize
}
