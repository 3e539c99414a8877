//! Delivering one PutRecords request's worth of records to a remote destination, retrying
//! until every record is in: whole-call failures (connection errors, timeouts, 5xx,
//! throttling) resend everything after a backoff pause; per-entry failures
//! (ProvisionedThroughputExceededException, InternalFailure) resend only the entries that
//! still need it.
//!
//! Per-item order: records of one item share a partition key. When an entry fails, the
//! later entries with its key are resent after it even if they went through, so the last
//! copy of each change in the stream is in commit order (a consumer applying records in
//! order ends in the right state; the earlier copies are the duplicates at-least-once
//! delivery allows). Entries of other keys that went through are not resent.
//!
//! The sink, the pause and the jitter are injected so the policy is tested without a
//! network or a clock.

use std::collections::HashSet;
use std::time::Duration;

use super::backoff::Backoff;
use super::client::RemoteError;
use crate::engine::kinesis::NewRecord;

/// What the remote said about one entry of a PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Delivered,
    /// ProvisionedThroughputExceededException.
    Throttled,
    /// Any other ErrorCode (InternalFailure), with the code and message.
    Failed(String),
}

/// Where records go: a PutRecords call, answered per entry in request order.
pub(crate) trait Sink {
    async fn put(&mut self, records: &[&NewRecord]) -> Result<Vec<EntryOutcome>, RemoteError>;
}

/// What delivery reports and how it waits.
pub(crate) trait Hooks {
    /// `n` records were throttled (whole call or per entry).
    fn throttled(&mut self, n: u64);
    /// A call failed, or `n` of its entries did, for `why`.
    fn failed(&mut self, n: u64, why: &str);
    /// Waits `delay` before the next attempt; false when delivery should stop (the
    /// destination went away meanwhile).
    async fn pause(&mut self, delay: Duration) -> bool;
}

/// How delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every record is in the stream (some perhaps twice).
    Done,
    /// Stopped by `Hooks::pause`; some records may not be in.
    Abandoned,
}

/// Delivers `records` (in commit order) to `sink`, retrying as the module describes.
pub(crate) async fn deliver(
    records: &[NewRecord],
    sink: &mut impl Sink,
    backoff: &mut Backoff,
    hooks: &mut impl Hooks,
    jitter: &mut impl FnMut() -> f64,
) -> Delivery {
    let mut pending: Vec<usize> = (0..records.len()).collect();
    while !pending.is_empty() {
        let batch: Vec<&NewRecord> = pending.iter().filter_map(|&i| records.get(i)).collect();
        match sink.put(&batch).await {
            Ok(outcomes) => {
                let throttled = outcomes.iter().filter(|o| **o == EntryOutcome::Throttled).count();
                if throttled > 0 {
                    hooks.throttled(throttled as u64);
                }
                let failed: Vec<&str> = outcomes
                    .iter()
                    .filter_map(|o| match o {
                        EntryOutcome::Failed(why) => Some(why.as_str()),
                        _ => None,
                    })
                    .collect();
                if let Some(why) = failed.first() {
                    hooks.failed(failed.len() as u64, why);
                }
                let retry = still_pending(records, &pending, &outcomes);
                if retry.len() < pending.len() {
                    // Progress: the remote is up, so the next pause starts short again.
                    backoff.reset();
                }
                pending = retry;
                if pending.is_empty() {
                    return Delivery::Done;
                }
            }
            Err(e) if e.throttled() => hooks.throttled(batch.len() as u64),
            Err(e) => hooks.failed(1, &e.to_string()),
        }
        if !hooks.pause(backoff.next_delay(jitter())).await {
            return Delivery::Abandoned;
        }
    }
    Delivery::Done
}

/// The entries of `pending` (indexes into `records`) to send again after `outcomes`:
/// every failed one, and every later one sharing a failed one's partition key.
fn still_pending(
    records: &[NewRecord],
    pending: &[usize],
    outcomes: &[EntryOutcome],
) -> Vec<usize> {
    let mut blocked: HashSet<&str> = HashSet::new();
    pending
        .iter()
        .enumerate()
        .filter_map(|(at, &i)| {
            let key = records.get(i).map_or("", |r| r.partition_key.as_str());
            // A missing outcome counts as a failure: resending is always safe.
            let failed = outcomes.get(at).is_none_or(|o| *o != EntryOutcome::Delivered);
            if failed {
                blocked.insert(key);
            }
            (failed || blocked.contains(key)).then_some(i)
        })
        .collect()
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
