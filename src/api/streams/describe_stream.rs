//! DescribeStream: a stream's status, view type, key schema and shards, paged by shard
//! id, optionally only the children of one shard (`ShardFilter` CHILD_SHARDS).
//!
//! Shards are listed in shard id order, which AWS's Kinesis-based consumers expect;
//! since ids begin with their creation time, parents come before their children. An
//! `ExclusiveStartShardId` of no shard resumes at its place in that order (AWS answers
//! an unknown one with an empty page, not an error).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{StreamsError, resolve_stream, shown_end};
use crate::api::validate::Validator;
use crate::api::wire::epoch_seconds;
use crate::engine::Engine;
use crate::engine::streams::{ShardMeta, StreamMeta, wire_seq};
use crate::protocol::RequestContext;

/// Shards per page by default and at most ("the upper limit is 100").
const MAX_LIMIT: i64 = 100;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    pub stream_arn: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
    pub shard_filter: Option<ShardFilter>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub shard_id: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    pub stream_description: StreamDescription,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    pub stream_arn: String,
    pub stream_label: String,
    pub stream_status: &'static str,
    pub stream_view_type: &'static str,
    pub creation_request_date_time: Value,
    pub table_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_shard_id: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: &'static str,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    pub sequence_number_range: SequenceNumberRange,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    /// Only on a closed shard: an open one has no end yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

/// DescribeStream.
pub async fn describe_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: DescribeStreamInput,
) -> Result<DescribeStreamOutput, StreamsError> {
    let mut v = Validator::new();
    if v.not_null(input.stream_arn.as_ref(), "streamArn") {
        v.length(input.stream_arn.as_deref(), "streamArn", 37, 1024);
    }
    v.at_least(input.limit, "limit", 1);
    v.length(input.exclusive_start_shard_id.as_deref(), "exclusiveStartShardId", 28, 65);
    if let Some(filter) = &input.shard_filter {
        v.one_of(filter.kind.as_deref(), "shardFilter.type", &["CHILD_SHARDS"]);
        v.length(filter.shard_id.as_deref(), "shardFilter.shardId", 28, 65);
    }
    v.finish().map_err(StreamsError::Validation)?;
    let limit = input.limit.unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(StreamsError::invalid("Limit cannot be greater than the maximum: 100"));
    }
    // A filter must say which shard's children it wants.
    let parent = match &input.shard_filter {
        Some(filter) => match (filter.kind.as_deref(), filter.shard_id.as_deref()) {
            (Some(_), Some(id)) => Some(id),
            (None, _) => return Err(StreamsError::invalid("ShardFilter Type must be provided")),
            (Some(_), None) => {
                return Err(StreamsError::invalid(
                    "ShardFilter ShardId must be provided for CHILD_SHARDS",
                ));
            }
        },
        None => None,
    };
    let arn = input.stream_arn.as_deref().unwrap_or_default();
    let stream = resolve_stream(engine, ctx, arn)?;

    let mut shards: Vec<&ShardMeta> = stream
        .shards
        .iter()
        .filter(|s| parent.is_none_or(|p| s.parent.as_deref() == Some(p)))
        .filter(|s| input.exclusive_start_shard_id.as_deref().is_none_or(|x| s.id.as_str() > x))
        .collect();
    shards.sort_by(|a, b| a.id.cmp(&b.id));
    let more = shards.len() > limit as usize;
    shards.truncate(limit as usize);
    let last_evaluated_shard_id = if more { shards.last().map(|s| s.id.clone()) } else { None };
    Ok(DescribeStreamOutput {
        stream_description: StreamDescription {
            stream_arn: arn.to_string(),
            stream_label: stream.label.clone(),
            stream_status: stream
                .status_at(engine.clock.now_millis(), engine.config.streams.status_delay_ms as i64),
            stream_view_type: stream.view_type.as_str(),
            creation_request_date_time: epoch_seconds(stream.created_ms),
            table_name: stream.table_name.clone(),
            key_schema: key_schema(&stream),
            shards: shards.into_iter().map(shard).collect(),
            last_evaluated_shard_id,
        },
    })
}

fn key_schema(stream: &StreamMeta) -> Vec<KeySchemaElement> {
    let schema = &stream.key_schema;
    let hash = KeySchemaElement { attribute_name: schema.hash.name.clone(), key_type: "HASH" };
    let range = schema
        .range
        .as_ref()
        .map(|r| KeySchemaElement { attribute_name: r.name.clone(), key_type: "RANGE" });
    std::iter::once(hash).chain(range).collect()
}

fn shard(s: &ShardMeta) -> Shard {
    Shard {
        shard_id: s.id.clone(),
        sequence_number_range: SequenceNumberRange {
            starting_sequence_number: wire_seq(s.partition, s.start_seq),
            ending_sequence_number: s.end_seq.map(|end| shown_end(s, end)),
        },
        parent_shard_id: s.parent.clone(),
    }
}
