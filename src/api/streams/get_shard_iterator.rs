//! GetShardIterator: where in a shard to start reading, as an opaque token.
//!
//! A shard is a sequence range of one partition's change log (`engine::streams`), so a
//! position is a sequence number: TRIM_HORIZON is the shard's first record not yet
//! trimmed, LATEST just past the last one written (or the shard's end once it is
//! closed), AT/AFTER_SEQUENCE_NUMBER the named record or the one after it, and
//! AT_TIMESTAMP the first record committed at or after the timestamp.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::iterator::ShardIterator;
use super::{StreamsError, resolve_stream};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::streams::{ShardMeta, StreamMeta, parse_wire_seq};
use crate::protocol::RequestContext;

/// The iterator types, in the model's order (AWS lists them so in its messages).
const TYPES: &[&str] =
    &["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"];

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub sequence_number: Option<String>,
    /// Epoch seconds, for AT_TIMESTAMP.
    pub timestamp: Option<f64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

/// Where an iterator starts.
enum Start {
    TrimHorizon,
    Latest,
    At(String),
    After(String),
    AtTimestamp(f64),
}

/// GetShardIterator.
pub async fn get_shard_iterator(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: GetShardIteratorInput,
) -> Result<GetShardIteratorOutput, StreamsError> {
    let start = check(&input)?;
    let arn = input.stream_arn.as_deref().unwrap_or_default();
    let stream = resolve_stream(engine, ctx, arn)?;
    let shard_id = input.shard_id.as_deref().unwrap_or_default();
    // Boundaries held still while the position is worked out (see `StreamRegistry`).
    let _gate = engine.hold_shard_boundaries().await;
    let stream = engine.stream(&stream.table_name, &stream.label).unwrap_or(stream);
    let shard = stream.shard(shard_id).ok_or_else(StreamsError::shard_not_found)?;
    let position = position(engine, &stream, shard, start).await?;
    let iterator = ShardIterator {
        stream_arn: stream.arn(&ctx.region, &ctx.account_id),
        shard_id: shard.id.clone(),
        position,
        issued_ms: engine.clock.now_millis(),
        // A new chain of iterators: a new reader (never 0, which counts as untracked).
        reader: fastrand::u64(1..),
    };
    Ok(GetShardIteratorOutput { shard_iterator: iterator.encode() })
}

/// The framework's constraint checks, then the service's rules on which members go
/// with which iterator type.
fn check(input: &GetShardIteratorInput) -> Result<Start, StreamsError> {
    let mut v = Validator::new();
    if v.not_null(input.stream_arn.as_ref(), "streamArn") {
        v.length(input.stream_arn.as_deref(), "streamArn", 37, 1024);
    }
    if v.not_null(input.shard_id.as_ref(), "shardId") {
        v.length(input.shard_id.as_deref(), "shardId", 28, 65);
    }
    if v.not_null(input.shard_iterator_type.as_ref(), "shardIteratorType") {
        v.one_of(input.shard_iterator_type.as_deref(), "shardIteratorType", TYPES);
    }
    v.length(input.sequence_number.as_deref(), "sequenceNumber", 21, 40);
    v.finish().map_err(StreamsError::Validation)?;
    let kind = input.shard_iterator_type.as_deref().unwrap_or_default();
    let seq = input.sequence_number.clone();
    let start = match (kind, seq) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => Start::At(s),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => Start::After(s),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(StreamsError::invalid(&format!(
                "SequenceNumber must be provided for ShardIteratorType {kind}"
            )));
        }
        (_, Some(_)) => {
            return Err(StreamsError::invalid(&format!(
                "SequenceNumber cannot be provided for ShardIteratorType {kind}"
            )));
        }
        ("TRIM_HORIZON", None) => Start::TrimHorizon,
        ("LATEST", None) => Start::Latest,
        (_, None) => match input.timestamp {
            Some(ts) => Start::AtTimestamp(ts),
            None => {
                return Err(StreamsError::invalid(
                    "Timestamp must be provided for ShardIteratorType AT_TIMESTAMP",
                ));
            }
        },
    };
    Ok(start)
}

/// The sequence number an iterator of `start` reads from.
async fn position(
    engine: &Engine,
    stream: &StreamMeta,
    shard: &ShardMeta,
    start: Start,
) -> Result<u64, StreamsError> {
    let written_end = past_end(engine, stream, shard);
    let trim = trim_point(engine, stream, shard.partition)?;
    let horizon = shard.start_seq.max(trim).min(written_end);
    let named = |wire: &str, after: bool| -> Result<u64, StreamsError> {
        // A number names a place in this shard: from its first sequence number up to its
        // last (or, while open, the next one to be written).
        let last = match shard.end_seq {
            Some(end) => end.max(shard.start_seq),
            None => written_end,
        };
        let seq = parse_wire_seq(wire, shard.partition)
            .filter(|s| (shard.start_seq..=last).contains(s))
            .ok_or_else(|| StreamsError::validation("Invalid SequenceNumber for the shard"))?;
        let at = if after { seq.saturating_add(1) } else { seq };
        if at < trim && shard.end_seq.is_none_or(|end| at <= end) {
            return Err(StreamsError::TrimmedDataAccess);
        }
        Ok(at)
    };
    match start {
        Start::TrimHorizon => Ok(horizon),
        Start::Latest => Ok(written_end),
        Start::At(wire) => named(&wire, false),
        Start::After(wire) => named(&wire, true),
        Start::AtTimestamp(ts) => {
            let ts_ms = (ts * 1000.0) as i64;
            if ts_ms > engine.clock.now_millis() {
                return Err(StreamsError::invalid("Timestamp cannot be in the future"));
            }
            first_at_or_after(engine, stream, shard.partition, horizon, written_end, ts_ms).await
        }
    }
}

/// Just past the shard's last record: its end once closed, else the next sequence number
/// its partition will assign.
pub(crate) fn past_end(engine: &Engine, stream: &StreamMeta, shard: &ShardMeta) -> u64 {
    match shard.end_seq {
        Some(end) => end.saturating_add(1).max(shard.start_seq),
        None => engine.next_seq(stream, shard.partition).max(shard.start_seq),
    }
}

/// The first sequence number of a partition not yet trimmed: the oldest record kept,
/// or, when none is, the next one to be written.
pub(crate) fn trim_point(
    engine: &Engine,
    stream: &StreamMeta,
    partition: u32,
) -> Result<u64, StreamsError> {
    Ok(match engine.first_retained_seq(stream.table_id, partition)? {
        Some(seq) => seq,
        None => engine.next_seq(stream, partition),
    })
}

/// The first record in `[lo, hi)` committed at or after `ts_ms`, else `hi`. Commit times
/// grow with sequence numbers within a partition, so this is a binary search of point
/// reads; a record trimmed meanwhile counts as older (trimming takes the oldest first).
async fn first_at_or_after(
    engine: &Engine,
    stream: &StreamMeta,
    partition: u32,
    mut lo: u64,
    mut hi: u64,
    ts_ms: i64,
) -> Result<u64, StreamsError> {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let found = engine.read_changes(stream.table_id, partition, mid, Some(mid), 1, usize::MAX);
        let older = match found.await?.first() {
            Some(record) => record.created_ms < ts_ms,
            None => true,
        };
        if older {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}
