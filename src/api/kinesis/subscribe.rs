//! SubscribeToShard: checks the consumer, the shard and the starting position (errors
//! here are ordinary JSON errors, before any event), opens the engine's subscription and
//! words its events as the SubscribeToShardEventStream members: SubscribeToShardEvent
//! (records, ContinuationSequenceNumber, MillisBehindLatest, and ChildShards with no
//! continuation at the end of a closed shard) or a modelled exception event.
//!
//! The output is a stream, not a value, so this operation is not in the `operations!`
//! table: the server routes it here and frames what [`EventSource::next`] yields.

use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A SubscribeToShardEvent, as awsJson (blobs base64, timestamps epoch seconds).
    Event(Value),
    /// A modelled exception event; the stream ends after it.
    Exception { code: &'static str, message: String },
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
        let wire = match event {
            Event::Records(d) => {
                let encryption_type = meta.encryption.as_ref().map(|_| "KMS");
                let records = d
                    .records
                    .into_iter()
                    .map(|r| Record {
                        sequence_number: seqno::encode(meta.id, shard, r.seq),
                        approximate_arrival_timestamp: r.record.arrival_ms,
                        data: r.record.data,
                        partition_key: r.record.partition_key,
                        encryption_type,
                    })
                    .collect();
                SubscribeToShardEvent {
                    continuation_sequence_number: Some(seqno::continuation(meta.id, shard, d.next)),
                    millis_behind_latest: d.millis_behind,
                    records,
                    child_shards: None,
                }
            }
            // The shard is closed and fully read: its children, and no continuation.
            Event::ShardEnd => SubscribeToShardEvent {
                continuation_sequence_number: None,
                millis_behind_latest: 0,
                records: Vec::new(),
                child_shards: Some(child_shards(&meta, shard)),
            },
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
        match serde_json::to_value(wire) {
            Ok(v) => Some(StreamEvent::Event(v)),
            Err(e) => Some(exception("InternalFailureException", e.to_string())),
        }
    }
}

fn exception(code: &'static str, message: String) -> StreamEvent {
    StreamEvent::Exception { code, message }
}
