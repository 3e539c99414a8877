//! GetShardIterator and GetRecords: positions from the five iterator types with AWS's
//! messages, signed iterators that expire after 5 minutes, and reads that answer at once
//! (records or none), with ChildShards and no NextShardIterator at a closed shard's end.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::KinesisError;
use super::input::{
    Timestamp, base64, check_arn, check_name, check_sequence, epoch_seconds, find_stream,
    require_created,
};
use super::shapes::{ChildShard, child_shards};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::ShardTip;
use crate::engine::kinesis::iterator::{ITERATOR_TTL_MS, IteratorToken, amz_utc};
use crate::engine::kinesis::meta::{StreamMeta, parse_shard_id, shard_id};
use crate::engine::kinesis::seqno::{self, SeqNo};
use crate::protocol::RequestContext;

/// Most bytes one GetRecords returns.
const MAX_READ_BYTES: usize = 10 * 1024 * 1024;

const TYPES: [&str; 5] =
    ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub starting_sequence_number: Option<String>,
    pub timestamp: Option<Timestamp>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

fn must_either(kind: &str, with: bool) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and {} StartingSequenceNumber.",
        if with { "also a" } else { "no" }
    ))
}

/// GetShardIterator.
pub async fn get_shard_iterator(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: GetShardIteratorInput,
) -> Result<GetShardIteratorOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.shard_id.as_ref(), "shardId");
    check_name(&mut v, input.shard_id.as_deref(), "shardId");
    v.not_null(input.shard_iterator_type.as_ref(), "shardIteratorType");
    v.one_of(input.shard_iterator_type.as_deref(), "shardIteratorType", &TYPES);
    check_sequence(&mut v, input.starting_sequence_number.as_deref(), "startingSequenceNumber");
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    require_created(engine, ctx, &stream)?;
    let (name, account) = (stream.name(), ctx.account_id.as_str());
    let given = input.shard_id.unwrap_or_default();
    let index = parse_shard_id(&given)
        .ok_or_else(|| KinesisError::shard_not_found(&given, name, account))?;
    let id = shard_id(index);
    let meta = stream.meta();
    let now = engine.clock.now_millis();
    let shard = meta.shard(index).filter(|s| !meta.is_expired(s, now));
    let (Some(shard), Some(tip)) = (shard, stream.shared.tip(index)) else {
        return Err(KinesisError::shard_does_not_exist(&id, name, account));
    };
    let kind = input.shard_iterator_type.unwrap_or_default();
    let starting = input.starting_sequence_number;
    let position = match (kind.as_str(), &starting) {
        ("TRIM_HORIZON" | "LATEST", Some(_)) => return Err(must_either(&kind, true)),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(must_either(&kind, false));
        }
        ("TRIM_HORIZON", None) => tip.first,
        ("LATEST", None) => shard.end_next.unwrap_or(tip.next),
        ("AT_TIMESTAMP", _) => {
            let Some(Timestamp(at)) = input.timestamp else {
                return Err(KinesisError::InvalidArgument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.".into(),
                ));
            };
            timestamp_position(engine, meta.id, index, tip, at).await?
        }
        (_, Some(s)) => sequence_position(
            s,
            kind == "AFTER_SEQUENCE_NUMBER",
            "GetShardIterator",
            &meta,
            index,
            account,
        )?,
        _ => return Err(must_either(&kind, false)),
    };
    let token = IteratorToken {
        stream_id: meta.id,
        stream_name: meta.name.clone(),
        shard: index,
        position,
        issued_ms: now,
    };
    Ok(GetShardIteratorOutput { shard_iterator: token.encode(engine.kinesis.secret()) })
}

/// The position of a record arrival time (AT_TIMESTAMP), refusing future times as AWS does.
pub(super) async fn timestamp_position(
    engine: &Engine,
    stream_id: u64,
    shard: u32,
    tip: ShardTip,
    at: i64,
) -> Result<u64, KinesisError> {
    let now = engine.clock.now_millis();
    if at > now {
        return Err(KinesisError::InvalidArgument(format!(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {at}, currentTimestampInMillis: {now}"
        )));
    }
    Ok(engine.kinesis_seq_at(stream_id, shard, at, tip.first, tip.next).await?)
}

/// The position AT or AFTER wire sequence number `s` of shard `index`, refusing numbers
/// of another shard or stream in AWS's words (`op` names the operation in them).
pub(super) fn sequence_position(
    s: &str,
    after: bool,
    op: &str,
    meta: &StreamMeta,
    index: u32,
    account: &str,
) -> Result<u64, KinesisError> {
    let (id, name) = (shard_id(index), meta.name.as_str());
    let invalid = |why: &str| {
        KinesisError::InvalidArgument(format!(
            "StartingSequenceNumber {s} used in {op} on shard {id} in stream {name} under account {account} is invalid{why}."
        ))
    };
    let n = SeqNo::parse(s).ok_or_else(|| invalid(""))?;
    if n.shard != index {
        return Err(KinesisError::InvalidArgument(format!(
            "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {id}",
            shard_id(n.shard)
        )));
    }
    if n.stream_id != meta.id {
        return Err(invalid(" because it did not come from this stream"));
    }
    Ok(seqno::resume_at(n.seq, after))
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub sequence_number: String,
    #[serde(serialize_with = "epoch_seconds")]
    pub approximate_arrival_timestamp: i64,
    #[serde(serialize_with = "base64")]
    pub data: Vec<u8>,
    pub partition_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_shard_iterator: Option<String>,
    pub millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_shards: Option<Vec<ChildShard>>,
}

/// GetRecords.
pub async fn get_records(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: GetRecordsInput,
) -> Result<GetRecordsOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.shard_iterator.as_ref(), "shardIterator");
    v.length(input.shard_iterator.as_deref(), "shardIterator", 1, 512);
    v.at_least(input.limit, "limit", 1);
    v.at_most(input.limit, "limit", 10000);
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let secret = engine.kinesis.secret();
    let token = IteratorToken::decode(input.shard_iterator.as_deref().unwrap_or_default(), secret)
        .ok_or_else(|| KinesisError::InvalidArgument("Invalid ShardIterator.".into()))?;
    let now = engine.clock.now_millis();
    // Saturating: the token's issue time is whatever its signed bytes say.
    if now.saturating_sub(token.issued_ms) > ITERATOR_TTL_MS {
        return Err(KinesisError::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
            amz_utc(token.issued_ms),
            amz_utc(now)
        )));
    }
    let (name, account, id) =
        (token.stream_name.as_str(), ctx.account_id.as_str(), shard_id(token.shard));
    let missing = || KinesisError::shard_does_not_exist(&id, name, account);
    let stream = engine.kinesis.by_id(token.stream_id).ok_or_else(missing)?;
    let meta = stream.meta();
    let shard = meta.shard(token.shard).filter(|s| !meta.is_expired(s, now)).ok_or_else(missing)?;
    let tip = stream.shared.tip(token.shard).ok_or_else(missing)?;
    if let Some(limits) = &stream.limits
        && !limits.shard(token.shard, meta.max_record_bytes()).admit_read()
    {
        engine.metrics.kinesis.throttled_total.with_label_values(&[name, "GetRecords"]).inc();
        return Err(KinesisError::throughput(&id, name, account));
    }
    let from = token.position.max(tip.first);
    let limit = input.limit.unwrap_or(10000) as usize;
    let batch = engine.kinesis_read(meta.id, token.shard, from, limit, MAX_READ_BYTES).await?;
    if let Some(limits) = &stream.limits {
        limits.shard(token.shard, meta.max_record_bytes()).charge_read(batch.bytes);
    }
    let behind = batch.next_arrival_ms.map_or(0, |t| (now - t).max(0));
    record_metrics(engine, name, &id, batch.records.len(), batch.bytes, behind);
    let ended = shard.end_next.is_some_and(|end| batch.next.max(from) >= end);
    let next_shard_iterator = (!ended).then(|| {
        IteratorToken { position: batch.next, issued_ms: now, ..token.clone() }.encode(secret)
    });
    let encryption_type = meta.encryption.as_ref().map(|_| "KMS");
    let records = batch
        .records
        .into_iter()
        .map(|r| Record {
            sequence_number: seqno::encode(meta.id, token.shard, r.seq),
            approximate_arrival_timestamp: r.record.arrival_ms,
            data: r.record.data,
            partition_key: r.record.partition_key,
            encryption_type,
        })
        .collect();
    Ok(GetRecordsOutput {
        records,
        next_shard_iterator,
        millis_behind_latest: behind,
        child_shards: ended.then(|| child_shards(&meta, token.shard)),
    })
}

fn record_metrics(
    engine: &Engine,
    stream: &str,
    shard: &str,
    records: usize,
    bytes: usize,
    behind: i64,
) {
    let k = &engine.metrics.kinesis;
    k.outgoing_records_total.with_label_values(&[stream, "polling"]).inc_by(records as u64);
    k.outgoing_bytes_total.with_label_values(&[stream, "polling"]).inc_by(bytes as u64);
    k.iterator_age_seconds.with_label_values(&[stream]).set(behind as f64 / 1000.0);
    if engine.config.metrics.per_shard {
        k.shard_outgoing_records_total
            .with_label_values(&[stream, shard, "polling"])
            .inc_by(records as u64);
        k.shard_outgoing_bytes_total
            .with_label_values(&[stream, shard, "polling"])
            .inc_by(bytes as u64);
        k.shard_iterator_age_seconds
            .with_label_values(&[stream, shard])
            .set(behind as f64 / 1000.0);
    }
}
