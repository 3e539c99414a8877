//! Stream settings: retention (Increase/DecreaseStreamRetentionPeriod), UpdateStreamMode,
//! UpdateMaxRecordSize, Start/StopStreamEncryption, Enable/DisableEnhancedMonitoring, and
//! DescribeLimits. Encryption and monitoring are recorded and reported, not performed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::input::{check_arn, check_name, find_stream, require_active};
use super::shapes::StreamModeDetails;
use super::streams::stream_mode;
use super::{Empty, KinesisError};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::meta::{
    Encryption, MAX_RETENTION_HOURS, MIN_RETENTION_HOURS, StreamMeta, StreamMode,
};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RetentionInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub retention_period_hours: Option<i64>,
}

async fn retention(
    engine: &Engine,
    ctx: &RequestContext,
    input: RetentionInput,
    increase: bool,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.retention_period_hours.as_ref(), "retentionPeriodHours");
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let hours = input.retention_period_hours.unwrap_or_default();
    if hours < i64::from(MIN_RETENTION_HOURS) {
        return Err(KinesisError::InvalidArgument(format!(
            "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
        )));
    }
    if hours > i64::from(MAX_RETENTION_HOURS) {
        return Err(KinesisError::InvalidArgument(format!(
            "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
        )));
    }
    require_active(engine, ctx, &stream)?;
    engine
        .update_kinesis_stream(&stream, |meta: &mut StreamMeta| {
            let current = i64::from(meta.retention_hours);
            if increase && hours < current {
                return Err(KinesisError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API.",
                    meta.name
                )));
            }
            if !increase && hours > current {
                return Err(KinesisError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API.",
                    meta.name
                )));
            }
            meta.retention_hours = hours as u32;
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// IncreaseStreamRetentionPeriod.
pub async fn increase_stream_retention_period(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RetentionInput,
) -> Result<Empty, KinesisError> {
    retention(engine, ctx, input, true).await
}

/// DecreaseStreamRetentionPeriod (the trimmer applies the shorter period on its next pass).
pub async fn decrease_stream_retention_period(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RetentionInput,
) -> Result<Empty, KinesisError> {
    retention(engine, ctx, input, false).await
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamModeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_mode_details: Option<StreamModeDetails>,
    pub warm_throughput_mi_bps: Option<i64>,
}

/// UpdateStreamMode: PROVISIONED <-> ON_DEMAND (shards stay as they are; an on-demand
/// stream is not resharded by hand).
pub async fn update_stream_mode(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UpdateStreamModeInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.stream_arn.as_ref(), "streamARN");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.stream_mode_details.as_ref(), "streamModeDetails");
    let mode = stream_mode(&mut v, input.stream_mode_details.as_ref(), "streamModeDetails");
    v.finish().map_err(KinesisError::Validation)?;
    let stream = find_stream(engine, ctx, None, input.stream_arn.as_deref())?;
    require_active(engine, ctx, &stream)?;
    let mode = mode.unwrap_or(StreamMode::Provisioned);
    let until = engine.clock.now_millis() + engine.config.kinesis.update_stream_delay_ms as i64;
    engine
        .update_kinesis_stream(&stream, |meta: &mut StreamMeta| {
            if meta.mode == mode {
                return Err(KinesisError::InvalidArgument(format!(
                    "Stream {} is already in {} mode.",
                    meta.name,
                    mode.as_str()
                )));
            }
            meta.mode = mode;
            meta.updating_until_ms = until;
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateMaxRecordSizeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub max_record_size_in_ki_b: Option<i64>,
}

/// UpdateMaxRecordSize (1024 to 10240 KiB).
pub async fn update_max_record_size(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UpdateMaxRecordSizeInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.max_record_size_in_ki_b.as_ref(), "maxRecordSizeInKiB");
    v.at_least(input.max_record_size_in_ki_b, "maxRecordSizeInKiB", 1024);
    v.at_most(input.max_record_size_in_ki_b, "maxRecordSizeInKiB", 10240);
    v.finish().map_err(KinesisError::Validation)?;
    let stream = find_stream(engine, ctx, None, input.stream_arn.as_deref())?;
    require_active(engine, ctx, &stream)?;
    let kib = input.max_record_size_in_ki_b.unwrap_or(1024) as u32;
    engine
        .update_kinesis_stream(&stream, |meta: &mut StreamMeta| {
            meta.max_record_kib = kib;
            Ok::<(), KinesisError>(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub encryption_type: Option<String>,
    pub key_id: Option<String>,
}

async fn encryption(
    engine: &Engine,
    ctx: &RequestContext,
    input: EncryptionInput,
    start: bool,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.encryption_type.as_ref(), "encryptionType");
    v.one_of(input.encryption_type.as_deref(), "encryptionType", &["NONE", "KMS"]);
    v.not_null(input.key_id.as_ref(), "keyId");
    v.length(input.key_id.as_deref(), "keyId", 1, 2048);
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    if input.encryption_type.as_deref() != Some("KMS") {
        return Err(KinesisError::InvalidArgument(format!(
            "Encryption type {} is not supported: the only valid encryption type is KMS.",
            input.encryption_type.unwrap_or_default()
        )));
    }
    require_active(engine, ctx, &stream)?;
    // Truthful: a stream reports encryption only when its records are sealed on disk.
    if start && engine.store.sealing_key_id().is_none() {
        return Err(KinesisError::InvalidArgument(
            "This sluice stores records unencrypted: set storage.encryption_key_file to \
             encrypt them at rest (every stream's records are then sealed with that key, \
             not with the KMS key named here)."
                .into(),
        ));
    }
    let key_id = input.key_id.unwrap_or_default();
    let until = engine.clock.now_millis() + engine.config.kinesis.update_stream_delay_ms as i64;
    engine
        .update_kinesis_stream(&stream, |meta: &mut StreamMeta| {
            meta.encryption = start.then_some(Encryption { key_id });
            meta.updating_until_ms = until;
            Ok::<(), KinesisError>(())
        })
        .await?;
    Ok(Empty {})
}

/// StartStreamEncryption (recorded: records report EncryptionType KMS).
pub async fn start_stream_encryption(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: EncryptionInput,
) -> Result<Empty, KinesisError> {
    encryption(engine, ctx, input, true).await
}

/// StopStreamEncryption.
pub async fn stop_stream_encryption(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: EncryptionInput,
) -> Result<Empty, KinesisError> {
    encryption(engine, ctx, input, false).await
}

const METRICS: [&str; 8] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
    "ALL",
];

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_level_metrics: Option<Vec<String>>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringOutput {
    pub stream_name: String,
    pub current_shard_level_metrics: Vec<String>,
    pub desired_shard_level_metrics: Vec<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

async fn monitoring(
    engine: &Engine,
    ctx: &RequestContext,
    input: MonitoringInput,
    enable: bool,
) -> Result<MonitoringOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.shard_level_metrics.as_ref(), "shardLevelMetrics");
    let asked = input.shard_level_metrics.unwrap_or_default();
    if asked.is_empty() || asked.len() > 7 {
        let bound =
            if asked.is_empty() { "greater than or equal to 1" } else { "less than or equal to 7" };
        v.fail(None, "shardLevelMetrics", &format!("have length {bound}"));
    }
    for (i, m) in asked.iter().enumerate() {
        v.one_of(Some(m), &format!("shardLevelMetrics.{}.member", i + 1), &METRICS);
    }
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    require_active(engine, ctx, &stream)?;
    let expand = |names: &[String]| -> Vec<String> {
        if names.iter().any(|n| n == "ALL") {
            METRICS[..7].iter().map(|s| s.to_string()).collect()
        } else {
            names.to_vec()
        }
    };
    let asked = expand(&asked);
    let current = stream.meta().shard_level_metrics.clone();
    let meta = engine
        .update_kinesis_stream(&stream, |meta: &mut StreamMeta| {
            let mut next: Vec<String> = METRICS[..7]
                .iter()
                .map(|s| s.to_string())
                .filter(|m| {
                    if enable {
                        current.contains(m) || asked.contains(m)
                    } else {
                        current.contains(m) && !asked.contains(m)
                    }
                })
                .collect();
            next.dedup();
            meta.shard_level_metrics = next;
            Ok::<(), KinesisError>(())
        })
        .await?;
    Ok(MonitoringOutput {
        stream_name: meta.name.clone(),
        current_shard_level_metrics: current,
        desired_shard_level_metrics: meta.shard_level_metrics.clone(),
        stream_arn: meta.arn(&ctx.region, &ctx.account_id),
    })
}

/// EnableEnhancedMonitoring (recorded and reported).
pub async fn enable_enhanced_monitoring(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: MonitoringInput,
) -> Result<MonitoringOutput, KinesisError> {
    monitoring(engine, ctx, input, true).await
}

/// DisableEnhancedMonitoring.
pub async fn disable_enhanced_monitoring(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: MonitoringInput,
) -> Result<MonitoringOutput, KinesisError> {
    monitoring(engine, ctx, input, false).await
}

#[derive(Deserialize, Debug)]
pub struct DescribeLimitsInput {}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLimitsOutput {
    pub shard_limit: u32,
    pub open_shard_count: usize,
    pub on_demand_stream_count: usize,
    pub on_demand_stream_count_limit: u32,
}

/// DescribeLimits.
pub async fn describe_limits(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    _input: DescribeLimitsInput,
) -> Result<DescribeLimitsOutput, KinesisError> {
    let on_demand =
        engine.kinesis.all().iter().filter(|s| s.meta().mode == StreamMode::OnDemand).count();
    Ok(DescribeLimitsOutput {
        shard_limit: engine.config.kinesis.shard_limit,
        open_shard_count: engine.kinesis_open_shards(),
        on_demand_stream_count: on_demand,
        // AWS's default quota of on-demand streams per account.
        on_demand_stream_count_limit: 50,
    })
}
