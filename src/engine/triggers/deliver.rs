//! Delivering one batch of one shard by AWS's rules (docs/lambda-event-source-mappings.md
//! §14 and §15): invoke, read the answer, then done, retry, split or discard.
//!
//! - With ReportBatchItemFailures, the records before the lowest reported one are done
//!   (checkpointed at once, never sent again) and the rest is retried; a retry after a
//!   partial failure uses the retry quota, as AWS's recorded invoke counts show.
//! - With BisectBatchOnFunctionError, a batch of more than one record that the function
//!   failed (an error, a timeout, or a report of failures) is split in two before it is
//!   retried: the first half goes first, then the second, each from a fresh retry quota,
//!   since "splitting a batch does not count towards the retry quota". A single record
//!   is retried as usual.
//! - Between the parts of a split batch the checkpoint moves too, so a restart resumes
//!   at the part it was working on (unless several batches of the shard are in flight:
//!   then the round as a whole moves it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::batch::{Batch, EventRecord, Outcome};
use super::record::MappingRecord;
use super::report::{self, Reported};
use super::retry::{self, Attempts, Condition, Next};
use super::window::Window;
use super::{Mapping, OK, PROBLEM, on_failure};
use crate::engine::Engine;
use crate::lambda::{InvokeDetails, name};
use crate::metrics::esm::EsmSeries;
use crate::storage::keys::mappings as keys;

/// What delivering a batch of one shard needs. Cheap to clone: a shard with a
/// ParallelizationFactor delivers several batches at once, one lane each.
#[derive(Clone)]
pub(super) struct Lane {
    pub engine: Arc<Engine>,
    pub mapping: Arc<Mapping>,
    pub records: watch::Receiver<Arc<MappingRecord>>,
    pub shutdown: watch::Receiver<bool>,
    pub shard_id: String,
    /// How long the source keeps records: older ones have expired.
    pub retention_ms: i64,
    /// Whether partial progress (records before a reported failure, the first part of
    /// a split batch) moves the shard's checkpoint at once: only when this lane is the
    /// only one in flight.
    pub checkpoints: bool,
    /// The tumbling window in progress (TumblingWindowInSeconds), saved with every
    /// checkpoint.
    pub window: Option<Window>,
    /// A checkpoint not saved yet, and when one was last saved (see [`CHECKPOINT_EVERY`]).
    pub unsaved: Option<u64>,
    pub saved_at: Option<Instant>,
    /// The series of the function last invoked (looking them up costs a dozen hashes).
    pub series: Option<(String, EsmSeries)>,
}

/// A shard's checkpoint is saved at most this often while batches keep completing; the
/// last one is saved when the shard goes idle for this long, when its worker stops, and
/// at once when the shard ends or a tumbling window is open. A crash can so deliver again
/// at most this much of a shard's recent batches (at least once, never a gap), and a
/// busy mapping costs the store a few commits a second instead of one per batch.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The FunctionResponseTypes value that turns partial failures on.
const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

impl Lane {
    /// The current record, marking it seen.
    pub(super) fn record(&mut self) -> Arc<MappingRecord> {
        self.records.borrow_and_update().clone()
    }

    /// Whether to stop: shutdown, or the mapping disabled, deleted or gone.
    pub(super) fn stopping(&mut self) -> bool {
        *self.shutdown.borrow() || self.records.has_changed().is_err() || !self.record().active()
    }

    pub(super) fn series(&mut self, function: &str) -> EsmSeries {
        match &self.series {
            Some((name, series)) if name == function => series.clone(),
            _ => {
                let uuid = self.records.borrow().uuid.clone();
                let series = self.engine.metrics.esm.series(&uuid, function);
                self.series = Some((function.to_string(), series.clone()));
                series
            }
        }
    }

    fn attempts(&self) -> Attempts {
        let config = &self.engine.config.lambda;
        Attempts::new(
            Duration::from_millis(config.mapping_retry_initial_ms),
            Duration::from_millis(config.mapping_retry_max_ms),
        )
    }

    /// Invokes until the batch is done (processed, or discarded by AWS's rules); the
    /// position after it, or `None` to stop without moving the checkpoint past it.
    pub(super) async fn deliver(&mut self, batch: Batch) -> Option<u64> {
        let end = batch.next_position()?;
        let last_arrival = batch.records.last().map_or(0, |r| r.arrival_ms);
        // What is still to deliver, in order: the batch, or the parts it was split into.
        let mut parts = VecDeque::from([batch]);
        while let Some(mut part) = parts.pop_front() {
            let mut attempts = self.attempts();
            let mut tries = 0u32;
            // The last answer's function error, for the on-failure record.
            let mut last_error = None;
            loop {
                if self.stopping() {
                    return None;
                }
                let record = self.record();
                let settings = &record.settings;
                let now = self.engine.clock.now_millis();
                let (cutoff, why) =
                    retry::cutoff(now, self.retention_ms, settings.maximum_record_age_seconds);
                let old = part.take_older_than(cutoff);
                if !old.is_empty()
                    && !self.discard(why, &old, attempts.invocations, last_error).await
                {
                    return None;
                }
                if part.is_empty() {
                    break;
                }
                let function = name::parse(&settings.function_name)?;
                let series = self.series(&function.name);
                if tries > 0 {
                    series.retries.inc();
                }
                tries += 1;
                let payload = match &self.window {
                    Some(w) => part.payload_with(&w.fields(
                        &self.shard_id,
                        &record.event_source_arn,
                        false,
                    )),
                    None => part.payload(),
                };
                let invoke =
                    self.engine.lambda.invoke(&function, payload, InvokeDetails::default());
                let result = tokio::select! {
                    r = invoke => r,
                    _ = self.shutdown.changed() => return None,
                };
                let mut outcome = Outcome::of(result)?;
                if let Outcome::Success(answer) = &outcome {
                    let reports = settings
                        .function_response_types
                        .iter()
                        .any(|t| t == REPORT_BATCH_ITEM_FAILURES);
                    let reported =
                        if reports { report::read(answer, &part) } else { Reported::Success };
                    let failed = match (reported, &mut self.window) {
                        (Reported::FailedFrom(at), _) => Some(at),
                        // In a tumbling window, an answer without a state failed.
                        (Reported::Success, Some(w)) => {
                            let mut next = w.clone();
                            let ok = next.take_state(answer);
                            if ok {
                                *w = next;
                            }
                            (!ok).then_some(0)
                        }
                        (Reported::Success, None) => None,
                    };
                    if let Some(at) = failed {
                        outcome = Outcome::Reported(at);
                    }
                }
                self.count(&series, &outcome, part.len());
                match &outcome {
                    Outcome::FunctionError(_) => {
                        last_error = Some(crate::lambda::invocation::UNHANDLED);
                    }
                    Outcome::Reported(_) => last_error = None,
                    Outcome::Success(_) | Outcome::NotInvoked(_) => {}
                }
                if let Outcome::Reported(at) = outcome
                    && at > 0
                {
                    // The records before the first failure are done.
                    let rest = part.split_off(at);
                    series.records_delivered.inc_by(part.len() as u64);
                    if self.checkpoints && !self.checkpoint(rest.records[0].seq).await {
                        return None;
                    }
                    part = rest;
                    outcome = Outcome::Reported(0);
                }
                let function_failed =
                    matches!(outcome, Outcome::FunctionError(_) | Outcome::Reported(_));
                if function_failed && settings.bisect_batch_on_function_error && part.len() > 1 {
                    self.mapping.set_result(PROBLEM);
                    let second = part.split_off(part.len().div_ceil(2));
                    tracing::warn!(
                        mapping = %record.uuid, shard = %self.shard_id,
                        "event source mapping batch failed; bisected into {} and {} records",
                        part.len(), second.len()
                    );
                    parts.push_front(second);
                    attempts = self.attempts();
                    tries = 0;
                    continue;
                }
                match attempts.after(&outcome, settings.maximum_retry_attempts) {
                    Next::Done => {
                        self.mapping.set_result(OK);
                        series.records_delivered.inc_by(part.len() as u64);
                        break;
                    }
                    Next::Discard(condition) => {
                        self.mapping.set_result(PROBLEM);
                        let invocations = attempts.invocations;
                        if !self.discard(condition, &part.records, invocations, last_error).await {
                            return None;
                        }
                        break;
                    }
                    Next::Retry(pause) => {
                        self.mapping.set_result(PROBLEM);
                        self.log_failure(&outcome, &part, attempts.invocations, pause);
                        self.pause(pause).await;
                    }
                }
            }
            // Everything before the next part is done: a restart starts there.
            if let Some(next) = parts.front().and_then(|p| p.records.first())
                && self.checkpoints
                && !self.checkpoint(next.seq).await
            {
                return None;
            }
        }
        let function = name::parse(&self.record().settings.function_name)?;
        let age = (self.engine.clock.now_millis() - last_arrival).max(0) as f64 / 1000.0;
        self.series(&function.name).iterator_age.set(age);
        Some(end)
    }

    /// Ends the tumbling window in progress: one invocation with no records and
    /// `isFinalInvokeForWindow`, retried until it succeeds. `false` when it stopped first
    /// (the window stays, and closes again after a restart).
    pub(super) async fn close_window(&mut self) -> bool {
        let Some(window) = self.window.clone() else { return true };
        let mut attempts = self.attempts();
        loop {
            if self.stopping() {
                return false;
            }
            let record = self.record();
            let Some(function) = name::parse(&record.settings.function_name) else { return false };
            let series = self.series(&function.name);
            let fields = window.fields(&self.shard_id, &record.event_source_arn, true);
            let payload = Batch::default().payload_with(&fields);
            let invoke = self.engine.lambda.invoke(&function, payload, InvokeDetails::default());
            let result = tokio::select! {
                r = invoke => r,
                _ = self.shutdown.changed() => return false,
            };
            let Some(outcome) = Outcome::of(result) else { return false };
            self.count(&series, &outcome, 0);
            if let Outcome::Success(_) = outcome {
                self.window = None;
                return true;
            }
            // "If unsuccessful, processing is suspended until it succeeds."
            self.mapping.set_result(PROBLEM);
            let pause = match attempts.after(&outcome, -1) {
                Next::Retry(pause) => pause,
                Next::Done | Next::Discard(_) => Duration::ZERO,
            };
            self.log_failure(&outcome, &Batch::default(), attempts.invocations, pause);
            self.pause(pause).await;
        }
    }

    /// Waits `pause` before a retry; woken early by a change of the mapping (a disable
    /// stops the retries) or shutdown.
    async fn pause(&mut self, pause: Duration) {
        let until = Instant::now() + pause;
        while Instant::now() < until && !self.stopping() {
            let Lane { records, shutdown, .. } = &mut *self;
            tokio::select! {
                () = sleep_until(until) => {}
                _ = records.changed() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    fn count(&self, series: &EsmSeries, outcome: &Outcome, records: usize) {
        match outcome {
            Outcome::NotInvoked(_) => series.invoke_failures.inc(),
            Outcome::FunctionError(_) => {
                series.invocations.inc();
                series.function_errors.inc();
                series.batch_size.observe(records as f64);
            }
            Outcome::Success(_) | Outcome::Reported(_) => {
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
                format!("function error: {}", crate::engine::http_client::truncate(&text, 512))
            }
            Outcome::Reported(_) => "the function reported failed records".to_string(),
            Outcome::NotInvoked(e) => format!("not invoked: {e}"),
            Outcome::Success(_) => return,
        };
        tracing::warn!(
            mapping = %uuid, shard = %self.shard_id, records = batch.len(), invocations,
            "event source mapping batch failed ({what}); retrying in {pause:?}"
        );
    }

    /// Reports records given up on: logged, counted, and sent to the mapping's OnFailure
    /// destination (positions, not data) before the checkpoint moves past them.
    /// `function_error` is the last answer's (`Unhandled`, or none when the function
    /// reported failures or was never reached). `false` when shutdown came first.
    pub(super) async fn discard(
        &mut self,
        condition: Condition,
        records: &[EventRecord],
        invocations: u32,
        function_error: Option<&'static str>,
    ) -> bool {
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return true };
        let record = self.records.borrow().clone();
        let function =
            name::parse(&record.settings.function_name).map(|f| f.name).unwrap_or_default();
        let series = self.series(&function);
        series.dropped_batches.inc();
        series.dropped_records.inc_by(records.len() as u64);
        tracing::error!(
            mapping = %record.uuid, function = %function, shard = %self.shard_id,
            condition = condition.as_str(), batch_size = records.len(),
            first_sequence = first.seq, last_sequence = last.seq,
            first_arrival_ms = first.arrival_ms, last_arrival_ms = last.arrival_ms,
            approximate_invoke_count = invocations,
            "event source mapping discarded records ({})",
            condition.as_str()
        );
        let mut shutdown = self.shutdown.clone();
        on_failure::report(
            &self.engine,
            &record,
            &self.shard_id,
            condition,
            records,
            invocations,
            function_error,
            &series,
            &mut shutdown,
        )
        .await
    }

    /// Moves the checkpoint to `next`: saved now if none was saved in the last
    /// [`CHECKPOINT_EVERY`] (or a window is open), else by a later [`Lane::flush`].
    /// `false` when it stopped instead (shutdown, a delete): the batch goes again later.
    pub(super) async fn checkpoint(&mut self, next: u64) -> bool {
        self.unsaved = Some(next);
        if self.window.is_none() && self.saved_at.is_some_and(|t| t.elapsed() < CHECKPOINT_EVERY) {
            return !self.records.borrow().deleting();
        }
        self.flush().await
    }

    /// When the checkpoint not saved yet is due.
    pub(super) fn flush_due(&self) -> Option<Instant> {
        self.unsaved?;
        Some(self.saved_at.map_or_else(Instant::now, |t| t + CHECKPOINT_EVERY))
    }

    /// Saves the checkpoint not saved yet, durably, retrying storage errors (a full disk)
    /// until they clear. `false` when it stopped instead (shutdown, a delete).
    pub(super) async fn flush(&mut self) -> bool {
        let Some(next) = self.unsaved else { return true };
        let uuid = self.records.borrow().uuid.clone();
        let mut pause = Duration::from_millis(100);
        loop {
            // A mapping being deleted keeps no checkpoints.
            if self.records.borrow().deleting() {
                return false;
            }
            let value = match &self.window {
                Some(w) => keys::encode_checkpoint_window(
                    next,
                    w.start_ms,
                    w.end_ms,
                    w.state.to_string().as_bytes(),
                ),
                None => keys::encode_checkpoint(next),
            };
            match self.engine.save_checkpoint(&uuid, &self.shard_id, value).await {
                Ok(()) => {
                    self.unsaved = None;
                    self.saved_at = Some(Instant::now());
                    return true;
                }
                Err(e) => {
                    tracing::error!(mapping = %uuid, shard = %self.shard_id, "cannot save the checkpoint: {e}; retrying");
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
