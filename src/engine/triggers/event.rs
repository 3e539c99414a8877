//! The entries of Lambda's event, as Lambda writes them (docs/lambda-event-source-mappings.md
//! §9 and §10, recorded from AWS): serde writes struct fields in declaration order, so
//! the declarations below ARE the key order of the wire.
//!
//! DynamoDB: the Streams API's record (`eventID` ... `dynamodb`), in Lambda's order
//! (eventID, eventName, eventVersion, eventSource, awsRegion, dynamodb), then
//! `eventSourceARN`; a Time to Live delete carries `userIdentity` with camelCase keys
//! (the Streams API writes `UserIdentity` with `PrincipalId`/`Type`). The images are
//! projected through the stream's view type exactly as GetRecords projects them.
//!
//! Kinesis: `kinesis` {kinesisSchemaVersion, partitionKey, sequenceNumber, data (base64),
//! approximateArrivalTimestamp (epoch seconds with milliseconds)}, then eventSource,
//! eventVersion `1.0`, eventID `<shardId>:<sequenceNumber>`, eventName, invokeIdentityArn,
//! awsRegion, eventSourceARN.

use serde::Serialize;
use serde_json::Value;

use crate::engine::WriteOrigin;
use crate::engine::changelog::ChangeRecord;
use crate::engine::streams::{StreamMeta, approximate_creation, project, wire_seq};
use crate::model::value;

/// What every entry of one mapping's events shares.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub region: String,
    /// The mapping's EventSourceArn.
    pub source_arn: String,
    /// Kinesis only: the role ARN Lambda would invoke with (sluice has no roles).
    pub invoke_identity_arn: String,
}

/// A DynamoDB Streams entry.
#[derive(Serialize)]
struct DynamoDbEntry<'a> {
    #[serde(rename = "eventID")]
    event_id: String,
    #[serde(rename = "eventName")]
    event_name: &'static str,
    #[serde(rename = "eventVersion")]
    event_version: &'static str,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
    #[serde(rename = "awsRegion")]
    aws_region: &'a str,
    dynamodb: StreamRecord,
    #[serde(rename = "userIdentity", skip_serializing_if = "Option::is_none")]
    user_identity: Option<UserIdentity>,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

/// The `dynamodb` member, PascalCase as in the Streams API.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamRecord {
    approximate_creation_date_time: Value,
    keys: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_image: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_image: Option<Value>,
    sequence_number: String,
    size_bytes: u64,
    stream_view_type: &'static str,
}

#[derive(Serialize)]
struct UserIdentity {
    #[serde(rename = "principalId")]
    principal_id: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `change`, a record of partition `partition`'s shards, as an entry of the event of a
/// mapping on `stream`.
pub fn dynamodb(
    change: &ChangeRecord,
    partition: u32,
    stream: &StreamMeta,
    cx: &EventContext,
) -> Vec<u8> {
    let p = project(change, stream);
    let entry = DynamoDbEntry {
        event_id: change.event_id_hex(),
        event_name: change.event.as_str(),
        event_version: "1.1",
        event_source: "aws:dynamodb",
        aws_region: &cx.region,
        dynamodb: StreamRecord {
            approximate_creation_date_time: approximate_creation(change.created_ms),
            keys: value::item_to_json(&p.keys),
            new_image: p.new.map(value::item_to_json),
            old_image: p.old.map(value::item_to_json),
            sequence_number: wire_seq(partition, change.seq),
            size_bytes: p.size_bytes,
            stream_view_type: stream.view_type.as_str(),
        },
        user_identity: match change.origin {
            WriteOrigin::Client => None,
            WriteOrigin::TtlExpiry => {
                Some(UserIdentity { principal_id: "dynamodb.amazonaws.com", kind: "Service" })
            }
        },
        event_source_arn: &cx.source_arn,
    };
    // Strings, numbers and maps of them: serializing cannot fail.
    serde_json::to_vec(&entry).unwrap_or_default()
}

/// A Kinesis entry.
#[derive(Serialize)]
struct KinesisEntry<'a> {
    kinesis: KinesisData<'a>,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
    #[serde(rename = "eventVersion")]
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: String,
    #[serde(rename = "eventName")]
    event_name: &'static str,
    #[serde(rename = "invokeIdentityArn")]
    invoke_identity_arn: &'a str,
    #[serde(rename = "awsRegion")]
    aws_region: &'a str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KinesisData<'a> {
    kinesis_schema_version: &'static str,
    partition_key: &'a str,
    sequence_number: &'a str,
    data: String,
    approximate_arrival_timestamp: Value,
}

/// One Kinesis record (`sequence_number` its wire form) as an entry of the event of a
/// mapping reading shard `shard_id`.
pub fn kinesis(
    shard_id: &str,
    sequence_number: &str,
    partition_key: &str,
    data: &[u8],
    arrival_ms: i64,
    cx: &EventContext,
) -> Vec<u8> {
    // Epoch seconds with the milliseconds as decimals (`1545084650.987`).
    let arrival =
        serde_json::Number::from_f64(arrival_ms as f64 / 1000.0).map_or(Value::Null, Value::Number);
    let entry = KinesisEntry {
        kinesis: KinesisData {
            kinesis_schema_version: "1.0",
            partition_key,
            sequence_number,
            data: crate::model::blob::encode(data),
            approximate_arrival_timestamp: arrival,
        },
        event_source: "aws:kinesis",
        event_version: "1.0",
        event_id: format!("{shard_id}:{sequence_number}"),
        event_name: "aws:kinesis:record",
        invoke_identity_arn: &cx.invoke_identity_arn,
        aws_region: &cx.region,
        event_source_arn: &cx.source_arn,
    };
    serde_json::to_vec(&entry).unwrap_or_default()
}

/// A stable hash of a key's bytes (FNV-1a): the same key lands in the same batch of a
/// round on every run.
pub fn key_hash(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The key hash of a change: its key attributes' names and values, in the key schema's
/// order (a number by its order-preserving bytes, so `1` and `1.0` are one key).
pub fn dynamodb_key_hash(change: &ChangeRecord, stream: &StreamMeta) -> u64 {
    use crate::model::AttributeValue;
    let mut bytes = Vec::new();
    for name in stream.key_schema.names() {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        match change.item().get(name) {
            Some(AttributeValue::S(s)) => bytes.extend_from_slice(s.as_bytes()),
            Some(AttributeValue::N(n)) => bytes.extend_from_slice(&n.sort_key_bytes()),
            Some(AttributeValue::B(b)) => bytes.extend_from_slice(b),
            _ => {}
        }
        bytes.push(0);
    }
    key_hash(&bytes)
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
