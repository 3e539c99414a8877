//! CreateStream, DeleteStream, DescribeStream and DescribeStreamSummary.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::input::{self, check_arn, check_name, epoch_seconds, find_stream};
use super::shapes::{self, EnhancedMetrics, Shard, StreamModeDetails};
use super::{Empty, KinesisError};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::StreamError;
use crate::engine::kinesis::meta::{self, ShardMeta, StreamMeta, StreamMode, even_ranges};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamInput {
    pub stream_name: Option<String>,
    pub shard_count: Option<i64>,
    pub stream_mode_details: Option<StreamModeDetails>,
    pub tags: Option<HashMap<String, String>>,
    pub warm_throughput_mi_bps: Option<i64>,
    pub max_record_size_in_ki_b: Option<i64>,
}

/// The message of a request past the account's shard limit.
pub fn shard_limit_error(
    ctx: &RequestContext,
    current: usize,
    limit: u32,
    more: usize,
) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {current}. Limit: {limit}. Number of additional shards that would have resulted from this request: {more}. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
        ctx.account_id, ctx.region
    ))
}

/// Parses a StreamModeDetails member.
pub fn stream_mode(
    v: &mut Validator,
    details: Option<&StreamModeDetails>,
    path: &str,
) -> Option<StreamMode> {
    let details = details?;
    let mode = details.stream_mode.as_deref();
    v.not_null(mode, format_args!("{path}.streamMode"));
    v.one_of(mode, &format!("{path}.streamMode"), &["PROVISIONED", "ON_DEMAND"]);
    match mode {
        Some("ON_DEMAND") => Some(StreamMode::OnDemand),
        Some("PROVISIONED") => Some(StreamMode::Provisioned),
        _ => None,
    }
}

/// CreateStream.
pub async fn create_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: CreateStreamInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.stream_name.as_ref(), "streamName");
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    v.at_least(input.shard_count, "shardCount", 1);
    let mode = stream_mode(&mut v, input.stream_mode_details.as_ref(), "streamModeDetails");
    v.at_least(input.warm_throughput_mi_bps, "warmThroughputMiBps", 0);
    v.at_least(input.max_record_size_in_ki_b, "maxRecordSizeInKiB", 1024);
    v.at_most(input.max_record_size_in_ki_b, "maxRecordSizeInKiB", 10240);
    let tags = input.tags.unwrap_or_default();
    super::tags::check_tag_map(&mut v, &tags, "tags");
    v.finish().map_err(KinesisError::Validation)?;
    let name = input.stream_name.unwrap_or_default();
    let mode = mode.unwrap_or(StreamMode::Provisioned);
    let shards = match (mode, input.shard_count) {
        (StreamMode::OnDemand, _) => meta::ON_DEMAND_SHARDS,
        (StreamMode::Provisioned, Some(n)) => n.min(i64::from(u32::MAX)) as u32,
        (StreamMode::Provisioned, None) => {
            return Err(KinesisError::InvalidArgument(
                "ShardCount is required for a stream in PROVISIONED mode.".into(),
            ));
        }
    };
    if tags.len() > 50 {
        return Err(super::tags::too_many_tags(&name, &ctx.account_id));
    }
    let now = engine.clock.now_millis();
    let limit = engine.config.kinesis.shard_limit;
    let mut meta = StreamMeta {
        version: meta::RECORD_VERSION,
        id: 0,
        name: name.clone(),
        created_ms: now,
        retention_hours: meta::DEFAULT_RETENTION_HOURS,
        mode,
        max_record_kib: input
            .max_record_size_in_ki_b
            .map_or(meta::DEFAULT_MAX_RECORD_KIB, |k| k as u32),
        encryption: None,
        shard_level_metrics: Vec::new(),
        tags: tags.into_iter().collect::<BTreeMap<_, _>>(),
        updating_until_ms: 0,
        scalings_ms: Vec::new(),
        shards: Vec::new(),
        consumers: Vec::new(),
        grouped: true,
    };
    let check = |engine: &Engine| {
        let current = engine.kinesis_open_shards();
        if current + shards as usize > limit as usize {
            return Err(shard_limit_error(ctx, current, limit, shards as usize));
        }
        Ok(())
    };
    // A count past the limit is refused by `check`; no need to build its shards.
    if shards as usize <= limit as usize {
        meta.shards = even_ranges(shards)
            .into_iter()
            .enumerate()
            .map(|(i, r)| ShardMeta::open(i as u32, r, now))
            .collect();
    }
    engine.create_kinesis_stream(meta, check).await.map_err(|e| match e {
        KinesisError::ResourceInUse(_) => KinesisError::ResourceInUse(format!(
            "Stream {name} under account {} already exists.",
            ctx.account_id
        )),
        other => other,
    })?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub enforce_consumer_deletion: Option<bool>,
}

/// DeleteStream.
pub async fn delete_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: DeleteStreamInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    if engine.kinesis_consumer_count(&stream) > 0
        && !input.enforce_consumer_deletion.unwrap_or(false)
    {
        return Err(KinesisError::ResourceInUse(format!(
            "Stream {} under account {} has registered consumers. Use EnforceConsumerDeletion to delete it with its consumers.",
            stream.name(),
            ctx.account_id
        )));
    }
    engine.delete_kinesis_stream(stream.name()).await.map_err(|e| match e {
        StreamError::NotFound => KinesisError::stream_not_found(stream.name(), &ctx.account_id),
        other => other.into(),
    })?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: &'static str,
    pub stream_mode_details: StreamModeDetails,
    pub shards: Vec<Shard>,
    pub has_more_shards: bool,
    pub retention_period_hours: u32,
    #[serde(serialize_with = "epoch_seconds")]
    pub stream_creation_timestamp: i64,
    pub enhanced_monitoring: Vec<EnhancedMetrics>,
    pub encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    pub stream_description: StreamDescription,
}

/// DescribeStream: at most `Limit` (default and cap 100) shards after
/// ExclusiveStartShardId, expired shards left out.
pub async fn describe_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: DescribeStreamInput,
) -> Result<DescribeStreamOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    v.at_least(input.limit, "limit", 1);
    v.at_most(input.limit, "limit", 10000);
    check_name(&mut v, input.exclusive_start_shard_id.as_deref(), "exclusiveStartShardId");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let meta = stream.meta();
    let now = engine.clock.now_millis();
    let limit = input.limit.unwrap_or(100).clamp(1, 100) as usize;
    let after = input.exclusive_start_shard_id.as_deref().and_then(meta::parse_shard_id);
    let live: Vec<_> =
        meta.live_shards(now).filter(|s| after.is_none_or(|a| s.index > a)).collect();
    let shards = live.iter().take(limit).map(|s| Shard::of(meta.id, s)).collect();
    let (encryption_type, key_id) = shapes::encryption(&meta);
    Ok(DescribeStreamOutput {
        stream_description: StreamDescription {
            stream_name: meta.name.clone(),
            stream_arn: meta.arn(&ctx.region, &ctx.account_id),
            stream_status: input::status_of(engine, &stream).as_str(),
            stream_mode_details: StreamModeDetails::of(&meta),
            shards,
            has_more_shards: live.len() > limit,
            retention_period_hours: meta.retention_hours,
            stream_creation_timestamp: meta.created_ms,
            enhanced_monitoring: shapes::enhanced_monitoring(&meta),
            encryption_type,
            key_id,
        },
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescriptionSummary {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: &'static str,
    pub stream_mode_details: StreamModeDetails,
    pub retention_period_hours: u32,
    #[serde(serialize_with = "epoch_seconds")]
    pub stream_creation_timestamp: i64,
    pub enhanced_monitoring: Vec<EnhancedMetrics>,
    pub encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub open_shard_count: usize,
    pub consumer_count: u32,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub max_record_size_in_ki_b: u32,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryOutput {
    pub stream_description_summary: StreamDescriptionSummary,
}

/// DescribeStreamSummary.
pub async fn describe_stream_summary(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: DescribeStreamSummaryInput,
) -> Result<DescribeStreamSummaryOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let meta = stream.meta();
    let (encryption_type, key_id) = shapes::encryption(&meta);
    Ok(DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: meta.name.clone(),
            stream_arn: meta.arn(&ctx.region, &ctx.account_id),
            stream_status: input::status_of(engine, &stream).as_str(),
            stream_mode_details: StreamModeDetails::of(&meta),
            retention_period_hours: meta.retention_hours,
            stream_creation_timestamp: meta.created_ms,
            enhanced_monitoring: shapes::enhanced_monitoring(&meta),
            encryption_type,
            key_id,
            open_shard_count: meta.open_shards().count(),
            consumer_count: engine.kinesis_consumer_count(&stream),
            max_record_size_in_ki_b: meta.max_record_kib,
        },
    })
}
