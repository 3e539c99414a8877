//! PutRecord and PutRecords: AWS's checks, routing by hash key, per-shard limits (per
//! entry for PutRecords), then one append through the stream's writer.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::KinesisError;
use super::input::{
    Blob, check_arn, check_hash_key, check_name, check_sequence, find_stream, require_created,
};
use crate::api::validate::Validator;
use crate::api::wire::Capped;
use crate::engine::Engine;
use crate::engine::kinesis::meta::{hash_of, shard_id};
use crate::engine::kinesis::seqno::{self, SeqNo};
use crate::engine::kinesis::{LiveStream, NewRecord, StreamError, StreamMeta};
use crate::protocol::RequestContext;

/// Largest Data blob the model allows (10 MiB), and the largest PutRecords request.
const MAX_DATA: usize = 10 * 1024 * 1024;

fn heap_buffer(n: usize) -> String {
    format!("java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]")
}

/// The member path prefix of an entry: `records.N.member.` (1-based) in PutRecords, empty
/// in PutRecord. Written only into the message of a member that fails.
#[derive(Clone, Copy)]
struct Entry(Option<usize>);

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.0 {
            Some(i) => write!(f, "records.{i}.member."),
            None => Ok(()),
        }
    }
}

/// Checks one entry's members.
fn check_entry(
    v: &mut Validator,
    at: Entry,
    data: Option<&Blob>,
    key: Option<&str>,
    explicit: Option<&str>,
) {
    // Paths are formatted only for a member that fails.
    v.not_null(data, format_args!("{at}data"));
    if let Some(d) = data.filter(|d| d.0.len() > MAX_DATA) {
        v.fail(
            Some(&heap_buffer(d.0.len())),
            format_args!("{at}data"),
            &format!("have length less than or equal to {MAX_DATA}"),
        );
    }
    v.not_null(key, format_args!("{at}partitionKey"));
    v.length(key, format_args!("{at}partitionKey"), 1, 256);
    check_hash_key(v, explicit, format_args!("{at}explicitHashKey"));
}

/// The hash key of a record, with AWS's refusal of an ExplicitHashKey past 2^128 - 1.
fn hash_key(partition_key: &str, explicit: Option<&str>) -> Result<u128, KinesisError> {
    match explicit {
        None => Ok(hash_of(partition_key)),
        Some(e) => e.parse::<u128>().map_err(|_| {
            KinesisError::InvalidArgument(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {e}"
            ))
        }),
    }
}

/// Refuses a record larger than the stream's maximum record size.
fn check_size(meta: &StreamMeta, record: &NewRecord) -> Result<(), KinesisError> {
    let max = meta.max_record_bytes();
    if record.data.len() > max {
        return Err(KinesisError::Validation(format!(
            "1 validation error detected: Value '{}' at 'data' failed to satisfy constraint: Member must have length less than or equal to {max}",
            heap_buffer(record.data.len())
        )));
    }
    if record.size() > max {
        return Err(KinesisError::InvalidArgument(format!(
            "Record size {} (data plus partition key) exceeds the maximum record size of {max} bytes for stream {}.",
            record.size(),
            meta.name
        )));
    }
    Ok(())
}

/// Whether the record's shard admits it under the limits (always, when they are off).
fn admit(stream: &LiveStream, meta: &StreamMeta, hash: u128, size: usize) -> Result<(), u32> {
    let Some(limits) = &stream.limits else { return Ok(()) };
    let Some(shard) = meta.route(hash) else { return Ok(()) };
    if limits.shard(shard.index, meta.max_record_bytes()).admit_write(1, size as u32) {
        return Ok(());
    }
    Err(shard.index)
}

fn throttled(engine: &Engine, stream: &str, operation: &str) {
    engine.metrics.kinesis.throttled_total.with_label_values(&[stream, operation]).inc();
}

fn gone(stream: &LiveStream, ctx: &RequestContext) -> impl Fn(StreamError) -> KinesisError {
    let (name, account) = (stream.name().to_string(), ctx.account_id.clone());
    move |e| match e {
        StreamError::NotFound => KinesisError::stream_not_found(&name, &account),
        other => other.into(),
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub data: Option<Blob>,
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
    pub sequence_number_for_ordering: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    pub shard_id: String,
    pub sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

/// PutRecord.
pub async fn put_record(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: PutRecordInput,
) -> Result<PutRecordOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    check_entry(
        &mut v,
        Entry(None),
        input.data.as_ref(),
        input.partition_key.as_deref(),
        input.explicit_hash_key.as_deref(),
    );
    check_sequence(
        &mut v,
        input.sequence_number_for_ordering.as_deref(),
        "sequenceNumberForOrdering",
    );
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    require_created(engine, ctx, &stream)?;
    let meta = stream.meta();
    let partition_key = input.partition_key.unwrap_or_default();
    let hash = hash_key(&partition_key, input.explicit_hash_key.as_deref())?;
    if let Some(s) = &input.sequence_number_for_ordering {
        // Any number this stream issued orders before every record appended now: the
        // writer's counters only grow, and children sort after their parents.
        if SeqNo::parse(s).is_none_or(|n| n.stream_id != meta.id) {
            return Err(KinesisError::InvalidArgument(format!(
                "ExclusiveMinimumSequenceNumber {s} used in PutRecord on stream {} under account {} is invalid.",
                meta.name, ctx.account_id
            )));
        }
    }
    let record = NewRecord { hash, partition_key, data: input.data.unwrap_or_default().0 };
    check_size(&meta, &record)?;
    if let Err(shard) = admit(&stream, &meta, hash, record.size()) {
        throttled(engine, stream.name(), "PutRecord");
        return Err(KinesisError::throughput(&shard_id(shard), stream.name(), &ctx.account_id));
    }
    let appended = engine
        .kinesis_append(&stream, vec![record], Vec::new())
        .await
        .map_err(gone(&stream, ctx))?;
    let a = appended
        .first()
        .ok_or_else(|| KinesisError::InternalFailure("Internal Service Failure".into()))?;
    Ok(PutRecordOutput {
        shard_id: shard_id(a.shard),
        sequence_number: seqno::encode(meta.id, a.shard, a.seq),
        encryption_type: meta.encryption.as_ref().map(|_| "KMS"),
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsEntry {
    pub data: Option<Blob>,
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// Past the 500 entries AWS takes, entries are checked and counted, not kept.
    pub records: Option<Capped<PutRecordsEntry, 501>>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Kept as numbers until written, like the shard.
    pub sequence_number: Option<seqno::SeqNo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<WireShardId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// A record's shard as PutRecords answers it (`shardId-...`), kept as its index until
/// written (the hand-written answer copies its bytes; serde writes its string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireShardId(pub u32);

impl Serialize for WireShardId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&shard_id(self.0))
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsOutput {
    pub failed_record_count: usize,
    pub records: Vec<PutRecordsResultEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

/// PutRecords: 1 to 500 entries; results in request order, throttled entries failed
/// one by one (the call itself succeeds).
pub async fn put_records(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: PutRecordsInput,
) -> Result<PutRecordsOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.records.as_ref(), "records");
    let entries = input.records.unwrap_or_default();
    let (n, entries) = (entries.len, entries.kept);
    if let Some(n) = Some(n).filter(|n| *n == 0 || *n > 500) {
        let bound = if n == 0 { "greater than or equal to 1" } else { "less than or equal to 500" };
        v.fail(Some(&format!("[{n} records]")), "records", &format!("have length {bound}"));
    }
    for (i, e) in entries.iter().enumerate().take(500) {
        check_entry(
            &mut v,
            Entry(Some(i + 1)),
            e.data.as_ref(),
            e.partition_key.as_deref(),
            e.explicit_hash_key.as_deref(),
        );
    }
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    require_created(engine, ctx, &stream)?;
    let meta = stream.meta();
    let mut records = Vec::with_capacity(entries.len());
    let mut total = 0;
    for e in entries {
        let partition_key = e.partition_key.unwrap_or_default();
        let hash = hash_key(&partition_key, e.explicit_hash_key.as_deref())?;
        let record = NewRecord { hash, partition_key, data: e.data.unwrap_or_default().0 };
        check_size(&meta, &record)?;
        total += record.size();
        records.push(record);
    }
    if total > MAX_DATA {
        return Err(KinesisError::InvalidArgument(format!(
            "Records size {total} exceeds the limit of {MAX_DATA} bytes for a PutRecords request."
        )));
    }
    let mut results: Vec<PutRecordsResultEntry> = Vec::with_capacity(records.len());
    let mut admitted = Vec::with_capacity(records.len());
    let mut slots = Vec::with_capacity(records.len());
    for (i, record) in records.into_iter().enumerate() {
        results.push(PutRecordsResultEntry::default());
        match admit(&stream, &meta, record.hash, record.size()) {
            Ok(()) => {
                slots.push(i);
                admitted.push(record);
            }
            Err(shard) => {
                throttled(engine, stream.name(), "PutRecords");
                let msg =
                    KinesisError::throughput(&shard_id(shard), stream.name(), &ctx.account_id);
                results[i].error_code = Some("ProvisionedThroughputExceededException");
                results[i].error_message = Some(msg.to_string());
            }
        }
    }
    let failed = results.len() - admitted.len();
    if !admitted.is_empty() {
        let appended = engine
            .kinesis_append(&stream, admitted, Vec::new())
            .await
            .map_err(gone(&stream, ctx))?;
        for (slot, a) in slots.into_iter().zip(appended) {
            results[slot].shard_id = Some(WireShardId(a.shard));
            let seq = seqno::SeqNo { stream_id: meta.id, shard: a.shard, seq: a.seq };
            results[slot].sequence_number = Some(seq);
        }
    }
    Ok(PutRecordsOutput {
        failed_record_count: failed,
        records: results,
        encryption_type: meta.encryption.as_ref().map(|_| "KMS"),
    })
}
