//! GetRecords: up to `Limit` records (at most 1000 and about 1 MB) of one shard from
//! the iterator's position, and the iterator to continue with.
//!
//! Records are read straight from the change log, so one is readable as soon as the
//! write that made it was acknowledged: no polling interval, no delay. The next iterator
//! is left out only at the end of a closed shard, once everything up to its end has
//! been read, which tells consumers to move on to the children.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::get_shard_iterator::trim_point;
use super::iterator::ShardIterator;
use super::record::{self, Record};
use super::{StreamsError, parse_arn};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::stream_ops::INLINE_READ;
use crate::engine::streams::StreamMeta;
use crate::protocol::RequestContext;

/// Records per call by default and at most.
/// The throttle's message (AWS answers a throttled stream read with "Rate exceeded").
const READERS_EXCEEDED: &str = "Rate exceeded";

const MAX_LIMIT: i64 = 1000;

/// Stored bytes read per call: AWS returns "a maximum of 1 MB of data".
const MAX_BYTES: usize = 1 << 20;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_shard_iterator: Option<String>,
}

/// GetRecords.
pub async fn get_records(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: GetRecordsInput,
) -> Result<GetRecordsOutput, StreamsError> {
    let mut v = Validator::new();
    if v.not_null(input.shard_iterator.as_ref(), "shardIterator") {
        v.length(input.shard_iterator.as_deref(), "shardIterator", 1, 2048);
    }
    v.at_least(input.limit, "limit", 1);
    v.finish().map_err(StreamsError::Validation)?;
    let token = input.shard_iterator.as_deref().unwrap_or_default();
    let iterator = ShardIterator::decode(token)
        .ok_or_else(|| StreamsError::validation("Invalid ShardIterator"))?;
    let now = engine.clock.now_millis();
    let lifetime_ms = engine.config.streams.iterator_lifetime_seconds.saturating_mul(1000);
    iterator.check_age(now, lifetime_ms)?;
    let limit = input.limit.unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(StreamsError::invalid("Limit should be less than or equal to 1000"));
    }

    let not_found = || StreamsError::stream_not_found(&iterator.stream_arn);
    let parts = parse_arn(ctx, &iterator.stream_arn)?;
    if !parts.here {
        return Err(not_found());
    }
    // Boundaries held still from the shard's lookup to the end of the read, so an open
    // shard read without an upper bound never yields its child's records.
    let gate = engine.hold_shard_boundaries().await;
    let stream = engine.stream(parts.table, parts.label).ok_or_else(not_found)?;
    // A shard is forgotten once everything in it is past the retention period.
    let shard = stream
        .shard(&iterator.shard_id)
        .ok_or_else(|| StreamsError::ResourceNotFound("Invalid ShardId in ShardIterator".into()))?;
    // A third reader of the shard waits until one of the other two stops (AWS throttles
    // more than two readers of a shard).
    let limited = engine.config.streams.enforce_limits;
    if limited
        && !engine.stream_readers.admit(
            &iterator.stream_arn,
            &iterator.shard_id,
            iterator.reader,
            now,
        )
    {
        return Err(StreamsError::LimitExceeded(READERS_EXCEEDED.into()));
    }
    let from = iterator.position;
    let next = |position: u64| ShardIterator { position, issued_ms: now, ..iterator.clone() };
    if shard.end_seq.is_some_and(|end| from > end) {
        // Everything up to the end of a closed shard has been read.
        record_reads(engine, &stream, &[], None, now);
        return Ok(GetRecordsOutput { records: Vec::new(), next_shard_iterator: None });
    }
    let (table_id, partition, end) = (stream.table_id, shard.partition, shard.end_seq);
    // A reader at the open shard's tip reads the few records just committed on its own
    // thread (see INLINE_READ); a backlog is read on the blocking pool.
    let near_tip =
        end.is_none() && engine.next_seq(&stream, partition).saturating_sub(from) <= INLINE_READ;
    let changes = if near_tip {
        engine.read_changes_now(table_id, partition, from, end, limit as usize, MAX_BYTES)?
    } else {
        engine.read_changes(table_id, partition, from, end, limit as usize, MAX_BYTES).await?
    };
    drop(gate);
    // The log is dense: a first record past the position, or none at all, means either
    // nothing was written there yet or it was trimmed. Asked after the read, the trim
    // point tells the two apart even if the trimmer ran in between.
    if changes.first().is_none_or(|c| c.seq != from)
        && from < trim_point(engine, &stream, partition)?
    {
        return Err(StreamsError::TrimmedDataAccess);
    }
    let position = changes.last().map_or(from, |c| c.seq.saturating_add(1));
    let records: Vec<Record> =
        changes.iter().map(|c| record::render(c, partition, &stream, &ctx.region)).collect();
    record_reads(engine, &stream, &records, changes.first().map(|c| c.created_ms), now);
    let at_end = end.is_some_and(|end| position > end);
    Ok(GetRecordsOutput {
        records,
        next_shard_iterator: (!at_end).then(|| next(position).encode()),
    })
}

/// Records read, their bytes (as `SizeBytes` counts them), and how old the oldest
/// record this call saw unread was (0 when the reader is caught up).
fn record_reads(
    engine: &Engine,
    stream: &StreamMeta,
    records: &[Record],
    oldest_ms: Option<i64>,
    now: i64,
) {
    let metrics = &engine.metrics;
    let table = [stream.table_name.as_str()];
    let bytes: u64 = records.iter().map(|r| r.dynamodb.size_bytes).sum();
    metrics.stream_records_read_total.with_label_values(&table).inc_by(records.len() as u64);
    metrics.stream_read_bytes_total.with_label_values(&table).inc_by(bytes);
    let age = oldest_ms.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
    metrics.stream_iterator_age_seconds.with_label_values(&table).set(age);
}
