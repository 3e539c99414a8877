//! SubscribeToShard: checks the consumer, the shard and the starting position (errors
//! here are ordinary JSON errors, before any event), opens the engine's subscription and
//! words its events as the SubscribeToShardEventStream members: SubscribeToShardEvent
//! (records, ContinuationSequenceNumber, MillisBehindLatest, and ChildShards with no
//! continuation at the end of a closed shard) or a modelled exception event.
//!
//! The output is a stream, not a value, so this operation is not in the `operations!`
//! table: the server routes it here and frames what [`EventSource::next`] yields.

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::KinesisError;
use super::consumers::{check_consumer_arn, resolve};
use super::input::{Timestamp, check_name, check_sequence, require_created};
use super::reads::{Record, sequence_position, timestamp_position};
use super::shapes::{ChildShard, child_shards};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::consumers::ConsumerStatus;
use crate::engine::kinesis::fanout::EndReason;
use crate::engine::kinesis::meta::{parse_shard_id, shard_id};
use crate::engine::kinesis::ring::SharedRecord;
use crate::engine::kinesis::seqno;
use crate::engine::kinesis::subscription::{Event, SubscribeError, Subscription};
use crate::protocol::{RequestBody, RequestContext};

/// The operation name, as routed and as the metrics label.
pub const OPERATION: &str = "SubscribeToShard";

const TYPES: [&str; 5] =
    ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StartingPosition {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub sequence_number: Option<String>,
    pub timestamp: Option<Timestamp>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeToShardInput {
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
    pub shard_id: Option<String>,
    pub starting_position: Option<StartingPosition>,
}

/// SubscribeToShardEvent, members in the order AWS writes them.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeToShardEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_sequence_number: Option<String>,
    pub millis_behind_latest: i64,
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_shards: Option<Vec<ChildShard>>,
}

/// One message of the event stream, before framing.
#[derive(Debug)]
pub enum StreamEvent {
    /// A SubscribeToShardEvent.
    Event(EventBody),
    /// A modelled exception event; the stream ends after it.
    Exception { code: &'static str, message: String },
}

/// A SubscribeToShardEvent's members, written in the request's codec when framed.
#[derive(Debug)]
pub struct EventBody {
    stream_id: u64,
    shard: u32,
    /// EncryptionType KMS on every record (the stream is encrypted).
    kms: bool,
    continuation: Option<String>,
    millis_behind: i64,
    records: Vec<Arc<SharedRecord>>,
    child_shards: Option<Vec<ChildShard>>,
}

impl EventBody {
    /// The awsJson payload, written straight to bytes. Each record's JSON is made once
    /// per shard and kept on the shared record (every subscriber at the tip sends the
    /// same records), without its EncryptionType, which follows the stream's current
    /// setting.
    pub fn json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            96 + self.records.iter().map(|r| 80 + r.record.size() * 4 / 3).sum::<usize>(),
        );
        out.push(b'{');
        if let Some(c) = &self.continuation {
            out.extend_from_slice(b"\"ContinuationSequenceNumber\":");
            let _ = serde_json::to_writer(&mut out, c);
            out.push(b',');
        }
        let _ = write!(out, "\"MillisBehindLatest\":{},\"Records\":[", self.millis_behind);
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r.wire.get_or_init(|| self.record_json(r)));
            out.extend_from_slice(if self.kms {
                &b",\"EncryptionType\":\"KMS\"}"[..]
            } else {
                b"}"
            });
        }
        out.push(b']');
        if let Some(children) = &self.child_shards {
            out.extend_from_slice(b",\"ChildShards\":");
            let _ = serde_json::to_writer(&mut out, children);
        }
        out.push(b'}');
        out
    }

    /// One record's JSON object without its closing brace (or EncryptionType). Strings and
    /// a finite number only: serde_json cannot fail on it.
    fn record_json(&self, r: &SharedRecord) -> Bytes {
        let mut json = serde_json::to_vec(&self.record(r, None)).unwrap_or_default();
        json.pop();
        json.into()
    }

    fn record(&self, r: &SharedRecord, encryption_type: Option<&'static str>) -> Record {
        Record {
            sequence_number: seqno::encode(self.stream_id, self.shard, r.seq),
            approximate_arrival_timestamp: r.record.arrival_ms,
            data: r.record.data.clone(),
            partition_key: r.record.partition_key.clone(),
            encryption_type,
        }
    }

    /// The event as a JSON tree, for the CBOR codec (which writes it by the model's
    /// shapes).
    pub fn tree(&self) -> Result<Value, serde_json::Error> {
        let encryption_type = self.kms.then_some("KMS");
        serde_json::to_value(SubscribeToShardEvent {
            continuation_sequence_number: self.continuation.clone(),
            millis_behind_latest: self.millis_behind,
            records: self.records.iter().map(|r| self.record(r, encryption_type)).collect(),
            child_shards: self.child_shards.clone(),
        })
    }
}

/// An open subscription, worded for the wire.
pub struct EventSource {
    subscription: Subscription,
    account: String,
    consumer: String,
    consumer_created_secs: i64,
    /// Set after an exception event: nothing may follow one.
    ended: bool,
}

/// Opens a subscription, or answers why not.
pub async fn subscribe_to_shard(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    body: impl Into<RequestBody>,
) -> Result<EventSource, KinesisError> {
    let input: SubscribeToShardInput = crate::api::wire::decode(body.into())?;
    let mut v = Validator::new();
    v.not_null(input.consumer_arn.as_ref(), "consumerARN");
    check_consumer_arn(&mut v, input.consumer_arn.as_deref(), "consumerARN");
    v.not_null(input.shard_id.as_ref(), "shardId");
    check_name(&mut v, input.shard_id.as_deref(), "shardId");
    v.not_null(input.starting_position.as_ref(), "startingPosition");
    if let Some(p) = &input.starting_position {
        v.not_null(p.kind.as_ref(), "startingPosition.type");
        v.one_of(p.kind.as_deref(), "startingPosition.type", &TYPES);
        check_sequence(&mut v, p.sequence_number.as_deref(), "startingPosition.sequenceNumber");
    }
    v.finish().map_err(KinesisError::Validation)?;
    let (stream, consumer, status) =
        resolve(engine, ctx, input.consumer_arn.as_deref(), None, None)?;
    require_created(engine, ctx, &stream)?;
    let (name, account) = (stream.name(), ctx.account_id.as_str());
    if status != ConsumerStatus::Active {
        return Err(not_active(&consumer.name, consumer.created_secs(), name, account));
    }
    let given = input.shard_id.unwrap_or_default();
    let index = parse_shard_id(&given)
        .ok_or_else(|| KinesisError::shard_not_found(&given, name, account))?;
    let meta = stream.meta();
    let now = engine.clock.now_millis();
    let shard = meta.shard(index).filter(|s| !meta.is_expired(s, now));
    let (Some(shard), Some(tip)) = (shard, stream.shared.tip(index)) else {
        return Err(KinesisError::shard_not_found(&shard_id(index), name, account));
    };
    let p = input.starting_position.unwrap_or(StartingPosition {
        kind: None,
        sequence_number: None,
        timestamp: None,
    });
    let kind = p.kind.unwrap_or_default();
    let position = match (kind.as_str(), p.sequence_number.as_deref()) {
        ("TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP", Some(_)) => {
            return Err(KinesisError::InvalidArgument(format!(
                "StartingPosition of type {kind} must not carry a SequenceNumber."
            )));
        }
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(KinesisError::InvalidArgument(format!(
                "StartingPosition of type {kind} requires a SequenceNumber."
            )));
        }
        ("TRIM_HORIZON", None) => tip.first,
        ("LATEST", None) => shard.end_next.unwrap_or(tip.next),
        ("AT_TIMESTAMP", None) => {
            let Some(Timestamp(at)) = p.timestamp else {
                return Err(KinesisError::InvalidArgument(
                    "StartingPosition of type AT_TIMESTAMP requires a Timestamp.".into(),
                ));
            };
            timestamp_position(engine, meta.id, index, tip, at).await?
        }
        (_, Some(s)) => {
            let after = kind == "AFTER_SEQUENCE_NUMBER";
            sequence_position(s, after, OPERATION, &meta, index, account)?
        }
        _ => {
            return Err(KinesisError::InvalidArgument(format!("Invalid StartingPosition {kind}.")));
        }
    };
    let subscription =
        engine.kinesis_subscribe(&stream, &consumer, index, position).map_err(|e| match e {
            SubscribeError::InUse => KinesisError::ResourceInUse(format!(
                "Another active subscription exists for this consumer: {account}:{name}:{}:{}",
                shard_id(index),
                consumer.name
            )),
            SubscribeError::NoShard => {
                KinesisError::shard_not_found(&shard_id(index), name, account)
            }
        })?;
    Ok(EventSource {
        subscription,
        account: account.to_string(),
        consumer: consumer.name.clone(),
        consumer_created_secs: consumer.created_secs(),
        ended: false,
    })
}

/// AWS's words for a consumer that is CREATING or DELETING (spacing included).
fn not_active(consumer: &str, created_secs: i64, stream: &str, account: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "Consumer {consumer} with creation timestamp {created_secs} under stream: {stream} , account {account} is not in ACTIVE status."
    ))
}

impl EventSource {
    /// The next message; `None` when the stream ends cleanly.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        if self.ended {
            return None;
        }
        let event = self.word().await;
        self.ended = matches!(event, Some(StreamEvent::Exception { .. }));
        event
    }

    async fn word(&mut self) -> Option<StreamEvent> {
        let event = match self.subscription.next().await {
            Ok(event) => event?,
            Err(e) => {
                tracing::error!("SubscribeToShard read failed: {e}");
                return Some(exception(
                    "InternalFailureException",
                    "Internal Service Failure".into(),
                ));
            }
        };
        let stream = self.subscription.stream().clone();
        let shard = self.subscription.shard();
        let (name, account) = (stream.name(), self.account.as_str());
        let meta = stream.meta();
        let body = |continuation, millis_behind, records, child_shards| EventBody {
            stream_id: meta.id,
            shard,
            kms: meta.encryption.is_some(),
            continuation,
            millis_behind,
            records,
            child_shards,
        };
        let body = match event {
            Event::Records(d) => body(
                Some(seqno::continuation(meta.id, shard, d.next)),
                d.millis_behind,
                d.records,
                None,
            ),
            // The shard is closed and fully read: its children, and no continuation.
            Event::ShardEnd => body(None, 0, Vec::new(), Some(child_shards(&meta, shard))),
            Event::Ended(EndReason::StreamDeleted) => {
                let e = KinesisError::stream_not_found(name, account);
                return Some(exception("ResourceNotFoundException", e.to_string()));
            }
            Event::Ended(EndReason::ConsumerDeleted) => {
                let e = not_active(&self.consumer, self.consumer_created_secs, name, account);
                return Some(exception("ResourceInUseException", e.to_string()));
            }
            Event::Ended(EndReason::TakenOver | EndReason::Shutdown) => {
                let message = format!(
                    "Another active subscription exists for this consumer: {account}:{name}:{}:{}",
                    shard_id(shard),
                    self.consumer
                );
                return Some(exception("ResourceInUseException", message));
            }
        };
        Some(StreamEvent::Event(body))
    }
}

fn exception(code: &'static str, message: String) -> StreamEvent {
    StreamEvent::Exception { code, message }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::api::kinesis::shapes::HashKeyRange;
    use crate::storage::keys::kinesis::StoredRecord;

    fn body(records: &[(String, Vec<u8>, i64)], kms: bool, end: bool) -> EventBody {
        EventBody {
            stream_id: 7,
            shard: 3,
            kms,
            continuation: (!end).then(|| "4960".into()),
            millis_behind: 12,
            records: records
                .iter()
                .enumerate()
                .map(|(i, (pk, data, ms))| {
                    Arc::new(SharedRecord {
                        seq: i as u64 * 3,
                        record: StoredRecord {
                            arrival_ms: *ms,
                            partition_key: pk.clone(),
                            data: data.clone(),
                        },
                        wire: OnceLock::new(),
                    })
                })
                .collect(),
            child_shards: end.then(|| {
                vec![ChildShard {
                    shard_id: "shardId-000000000004".into(),
                    parent_shards: vec!["shardId-000000000003".into()],
                    hash_key_range: HashKeyRange {
                        starting_hash_key: "0".into(),
                        ending_hash_key: "9".into(),
                    },
                }]
            }),
        }
    }

    proptest! {
        /// The bytes written straight are the event serde writes, for any partition key
        /// (escapes), data and arrival time, encrypted or not, at a shard's end or not;
        /// a second writing, from the records' cached JSON, is the same bytes.
        #[test]
        fn json_is_the_serialized_event(
            records in proptest::collection::vec((".{1,20}", proptest::collection::vec(any::<u8>(), 0..40), 0i64..4_000_000_000_000), 0..4),
            kms in any::<bool>(),
            end in any::<bool>(),
        ) {
            let body = body(&records, kms, end);
            let json = body.json();
            let parsed: Value = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(parsed, body.tree().unwrap());
            prop_assert_eq!(body.json(), json);
        }
    }

    #[test]
    fn a_records_cached_json_leaves_encryption_to_the_stream() {
        let plain = body(&[("k".into(), b"x".to_vec(), 1_500)], false, false);
        let json = String::from_utf8(plain.json()).unwrap();
        assert_eq!(
            json,
            r#"{"ContinuationSequenceNumber":"4960","MillisBehindLatest":12,"Records":[{"SequenceNumber":"49000000000000000000000000000000000000000000000000000000","ApproximateArrivalTimestamp":1.5,"Data":"eA==","PartitionKey":"k"}]}"#
                .replace("49000000000000000000000000000000000000000000000000000000", &seqno::encode(7, 3, 0))
        );
        // The same shared record later sent while the stream is encrypted.
        let kms = EventBody { kms: true, records: plain.records.clone(), ..body(&[], true, false) };
        let json: Value = serde_json::from_slice(&kms.json()).unwrap();
        assert_eq!(json["Records"][0]["EncryptionType"], "KMS");
    }
}
