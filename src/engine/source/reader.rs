//! One shard of a source, read while this instance holds its lease: an iterator from the
//! checkpoint (AFTER_SEQUENCE_NUMBER, or the lease's starting position), GetRecords until
//! the shard ends, each batch forwarded and only then checkpointed (at least once, in
//! the shard's order, which is each item's order).
//!
//! Fencing: the reader forwards only while the lease is surely still this instance's
//! (renewed within the lease duration by this instance's clock, and not lost to a
//! conditional write); another instance takes a lease only after seeing it unrenewed for
//! a whole lease duration, so the two never forward the same shard at once, but for a
//! remote put already in flight when the lease lapsed. Its checkpoint write is refused
//! once the lease moved.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::client::{CallError, Client};
use super::convert;
use super::destination::{MAX_RECORD_BYTES, Target, Watch};
use super::leases::{LeaseTable, SHARD_END, lost};
use crate::engine::Engine;
use crate::engine::catalog::KeySchema;

/// Records per GetRecords call (DynamoDB Streams' most).
const LIMIT: usize = 1000;
/// First and longest pause after a failed or throttled call.
const RETRY_INITIAL: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// A held shard, shared by the coordinator (which renews it) and its reader.
pub struct Held {
    pub key: String,
    pub shard_id: String,
    pub stream_arn: String,
    /// The lease counter this instance last wrote.
    pub counter: AtomicU64,
    /// Until when the lease is surely this instance's (its last renewal's start plus the
    /// lease duration, less a margin).
    pub valid_until: Mutex<Instant>,
    /// Set when the lease is lost, or sluice stops: the reader ends.
    pub stop: AtomicBool,
    /// Set by the reader once the shard is read to its end and so checkpointed.
    pub finished: AtomicBool,
    /// Set by the coordinator to hand the shard to another instance: the reader stops
    /// after its current batch is checkpointed.
    pub shed: AtomicBool,
    /// Set by the reader when it has returned (nothing more of it is in flight).
    pub exited: AtomicBool,
}

impl Held {
    pub fn alive(&self) -> bool {
        !self.stop.load(Ordering::Acquire)
            && Instant::now() < *self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a reader needs besides its shard.
pub struct Context {
    pub engine: Weak<Engine>,
    pub name: String,
    pub table: String,
    pub region: String,
    pub me: String,
    pub schema: KeySchema,
    pub source: Arc<Client>,
    pub leases: Arc<LeaseTable>,
    pub poll_interval: Duration,
    /// Wakes the coordinator when a reader ends (a finished shard's children, a shed
    /// lease to give back).
    pub wake: Arc<tokio::sync::Notify>,
}

/// Marks the reader exited, and wakes the coordinator, however it returns.
struct Exit<'a>(&'a Held, &'a tokio::sync::Notify);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.exited.store(true, Ordering::Release);
        self.1.notify_one();
    }
}

/// Counts, logs and fences for a put in progress.
struct ShardWatch<'a> {
    ctx: &'a Context,
    held: &'a Held,
}

impl Watch for ShardWatch<'_> {
    fn throttled(&mut self, _n: u64) {
        count(self.ctx, |m| &m.read_throttles_total);
    }

    fn failed(&mut self, why: &str) {
        count(self.ctx, |m| &m.errors_total);
        tracing::warn!(source = %self.ctx.name, shard = %self.held.shard_id, "destination: {why}");
    }

    fn alive(&self) -> bool {
        self.held.alive()
    }
}

fn count(
    ctx: &Context,
    which: impl Fn(&crate::metrics::source::SourceMetrics) -> &prometheus::IntCounterVec,
) {
    if let Some(e) = ctx.engine.upgrade() {
        which(&e.metrics.source).with_label_values(&[&ctx.name]).inc();
    }
}

fn gauges(ctx: &Context, shard: &str, age_ms: i64, behind_ms: i64) {
    if let Some(e) = ctx.engine.upgrade() {
        let labels = [ctx.name.as_str(), shard];
        let age = e.metrics.source.age_of_oldest_unreplicated_seconds.with_label_values(&labels);
        age.set(age_ms.max(0) as f64 / 1000.0);
        e.metrics
            .source
            .behind_latest_seconds
            .with_label_values(&labels)
            .set(behind_ms.max(0) as f64 / 1000.0);
    }
}

fn now_ms(ctx: &Context) -> i64 {
    ctx.engine.upgrade().map_or(0, |e| e.clock.now_millis())
}

/// Reads `held` from `checkpoint` into `target` until the shard ends or the lease goes.
pub async fn run(ctx: Arc<Context>, held: Arc<Held>, mut checkpoint: String, mut target: Target) {
    let _exit = Exit(&held, &ctx.wake);
    let mut iterator: Option<String> = None;
    let mut pause = RETRY_INITIAL;
    let shard = held.shard_id.clone();
    // Each turn starts with everything forwarded checkpointed: a shed lease is given up
    // here.
    while held.alive() && !held.shed.load(Ordering::Acquire) {
        let Some(current) = iterator.clone() else {
            match shard_iterator(&ctx, &held, &checkpoint).await {
                Ok(Some(it)) => {
                    iterator = Some(it);
                    pause = RETRY_INITIAL;
                }
                // Nothing left to read: the shard and its records are gone.
                Ok(None) => {
                    finish(&ctx, &held).await;
                    return;
                }
                Err(Retry::Now(at)) => checkpoint = at,
                Err(Retry::Later) => pause = wait(pause).await,
            }
            continue;
        };
        let body = json!({"ShardIterator": current, "Limit": LIMIT});
        let page = match ctx.source.call("DynamoDBStreams_20120810.GetRecords", &body).await {
            Ok(page) => page,
            Err(e) if e.code() == Some("ExpiredIteratorException") => {
                iterator = None;
                continue;
            }
            Err(e) if e.code() == Some("TrimmedDataAccessException") => {
                trimmed(&ctx, &held, &checkpoint);
                checkpoint = "TRIM_HORIZON".into();
                iterator = None;
                continue;
            }
            Err(e) => {
                failed_call(&ctx, &held, "GetRecords", &e);
                pause = wait(pause).await;
                continue;
            }
        };
        pause = RETRY_INITIAL;
        let records = page["Records"].as_array().map_or(&[][..], Vec::as_slice);
        let next = page["NextShardIterator"].as_str().map(str::to_string);
        if !records.is_empty() {
            match forward(&ctx, &held, records, &mut target).await {
                Some(last) => checkpoint = last,
                // Not forwarded (the lease went, or the destination is missing): read the
                // same records again from the checkpoint.
                None => {
                    iterator = None;
                    pause = wait(pause).await;
                    continue;
                }
            }
            if !save(&ctx, &held, &checkpoint).await {
                return;
            }
        }
        let caught_up = records.len() < LIMIT;
        if caught_up {
            gauges(&ctx, &shard, 0, 0);
        }
        match next {
            Some(next) => iterator = Some(next),
            None => {
                finish(&ctx, &held).await;
                return;
            }
        }
        if records.is_empty() {
            tokio::time::sleep(ctx.poll_interval).await;
        }
    }
}

/// Why no iterator came.
enum Retry {
    /// Ask again at once, from this position.
    Now(String),
    /// Ask again after a pause.
    Later,
}

/// An iterator from `checkpoint`; `None` when the shard no longer exists.
async fn shard_iterator(
    ctx: &Context,
    held: &Held,
    checkpoint: &str,
) -> Result<Option<String>, Retry> {
    let mut body = json!({"StreamArn": held.stream_arn, "ShardId": held.shard_id});
    match checkpoint {
        "TRIM_HORIZON" | "LATEST" => body["ShardIteratorType"] = json!(checkpoint),
        seq => {
            body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            body["SequenceNumber"] = json!(seq);
        }
    }
    match ctx.source.call("DynamoDBStreams_20120810.GetShardIterator", &body).await {
        Ok(answer) => Ok(answer["ShardIterator"].as_str().map(str::to_string)),
        Err(e) if e.code() == Some("TrimmedDataAccessException") => {
            trimmed(ctx, held, checkpoint);
            Err(Retry::Now("TRIM_HORIZON".into()))
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            // The shard outlived its stream's retention: whatever it held unread is lost.
            trimmed(ctx, held, checkpoint);
            Ok(None)
        }
        Err(e) => {
            failed_call(ctx, held, "GetShardIterator", &e);
            Err(Retry::Later)
        }
    }
}

/// Converts `records` and puts them; the last one's sequence number once all are in.
async fn forward(
    ctx: &Context,
    held: &Held,
    records: &[Value],
    target: &mut Target,
) -> Option<String> {
    let mut batch = Vec::with_capacity(records.len());
    let mut last = None;
    let mut oldest = None;
    let mut newest = 0;
    for r in records {
        match convert::change(r, &ctx.schema, &ctx.table, &ctx.region, None) {
            Ok(change) => {
                oldest.get_or_insert(change.created_ms);
                newest = change.created_ms;
                last = Some(change.seq);
                if change.record.size() > MAX_RECORD_BYTES {
                    // As AWS's destination does: a change too big for a record is skipped.
                    count(ctx, |m| &m.errors_total);
                    tracing::warn!(source = %ctx.name, shard = %held.shard_id, "a change too big for a Kinesis record was skipped");
                    continue;
                }
                batch.push(change.record);
            }
            Err(why) => {
                // A record sluice cannot read is skipped, loudly, rather than blocking the
                // shard for ever.
                count(ctx, |m| &m.errors_total);
                tracing::error!(source = %ctx.name, shard = %held.shard_id, "skipped a stream record: {why}");
                if let Some(seq) = r["dynamodb"]["SequenceNumber"].as_str() {
                    last = Some(seq.to_string());
                }
            }
        }
    }
    if let Some(e) = ctx.engine.upgrade() {
        let read = e.metrics.source.records_read_total.with_label_values(&[&ctx.name]);
        read.inc_by(records.len() as u64);
    }
    let now = now_ms(ctx);
    gauges(ctx, &held.shard_id, now - oldest.unwrap_or(now), now - newest);
    let n = batch.len() as u64;
    if !held.alive() {
        return None;
    }
    let mut watch = ShardWatch { ctx, held };
    if let Err(why) = target.put(batch, &mut watch).await {
        count(ctx, |m| &m.errors_total);
        tracing::warn!(source = %ctx.name, shard = %held.shard_id, "not forwarded: {why}");
        return None;
    }
    if let Some(e) = ctx.engine.upgrade() {
        e.metrics.source.records_forwarded_total.with_label_values(&[&ctx.name]).inc_by(n);
    }
    last
}

/// Checkpoints `at`, retrying failed calls while the lease lasts; false when the lease
/// was lost (the reader ends).
async fn save(ctx: &Context, held: &Held, at: &str) -> bool {
    let mut pause = RETRY_INITIAL;
    while held.alive() {
        let counter = held.counter.load(Ordering::Acquire);
        match ctx.leases.checkpoint(&held.key, &ctx.me, counter, at).await {
            Ok(()) => return true,
            // A renewal moved the counter meanwhile: try again with the new one, unless
            // the lease is gone.
            Err(e) if lost(&e) && held.counter.load(Ordering::Acquire) != counter => {}
            // Or a renewal's write is in but its answer not yet here (a loaded machine
            // widens that window): the table says whether the lease is still ours. Giving
            // it up here would hand the shard on from an older checkpoint.
            Err(e) if lost(&e) && still_held(ctx, held).await => {}
            Err(e) if lost(&e) => {
                held.stop.store(true, Ordering::Release);
                tracing::info!(source = %ctx.name, shard = %held.shard_id, "lease lost: checkpoint refused");
                return false;
            }
            Err(e) => {
                failed_call(ctx, held, "checkpoint", &e);
                pause = wait(pause).await;
            }
        }
    }
    false
}

/// Whether the lease table still names this instance as `held`'s owner; if so, `held`
/// takes the counter it shows (a renewal's, whose answer is still on its way).
async fn still_held(ctx: &Context, held: &Held) -> bool {
    match ctx.leases.holder(&held.key).await {
        Ok(Some((Some(owner), counter))) if owner == ctx.me => {
            held.counter.fetch_max(counter, Ordering::AcqRel);
            true
        }
        _ => false,
    }
}

/// The shard is read to its end: checkpointed as such, and its children may start.
async fn finish(ctx: &Context, held: &Held) {
    if save(ctx, held, SHARD_END).await {
        held.finished.store(true, Ordering::Release);
        tracing::info!(source = %ctx.name, shard = %held.shard_id, "shard read to its end");
    }
}

fn trimmed(ctx: &Context, held: &Held, checkpoint: &str) {
    count(ctx, |m| &m.trimmed_gaps_total);
    tracing::error!(
        source = %ctx.name,
        shard = %held.shard_id,
        checkpoint,
        "changes after the checkpoint were trimmed from the source stream before they were forwarded: they are lost; going on from the oldest record left"
    );
}

fn failed_call(ctx: &Context, held: &Held, what: &str, e: &CallError) {
    if e.throttled() {
        count(ctx, |m| &m.read_throttles_total);
    } else {
        count(ctx, |m| &m.errors_total);
        tracing::warn!(source = %ctx.name, shard = %held.shard_id, "{what}: {e}");
    }
}

/// Sleeps `pause` (with jitter); the next, longer pause.
async fn wait(pause: Duration) -> Duration {
    let jittered = pause.mul_f64(0.5 + crate::engine::bridge::remote::backoff::jitter() / 2.0);
    tokio::time::sleep(jittered).await;
    (pause * 2).min(RETRY_MAX)
}
