//! SplitShard, MergeShards and UpdateShardCount: AWS's checks and messages, then a plan
//! (`engine::kinesis::reshard`) the stream's writer applies at an exact point.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::input::{check_arn, check_hash_key, check_name, find_stream, require_active};
use super::streams::shard_limit_error;
use super::{Empty, KinesisError};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::meta::{StreamMeta, StreamMode, parse_shard_id};
use crate::engine::kinesis::reshard::{Plan, adjacent};
use crate::engine::kinesis::{LiveStream, ShardMeta};
use crate::protocol::RequestContext;

/// UpdateShardCount calls allowed per rolling 24 hours.
const SCALINGS_PER_DAY: usize = 10;

/// An open shard named by `given`, or AWS's "Could not find shard".
fn open_shard<'a>(
    meta: &'a StreamMeta,
    given: &str,
    ctx: &RequestContext,
) -> Result<&'a ShardMeta, KinesisError> {
    parse_shard_id(given)
        .and_then(|i| meta.shard(i))
        .filter(|s| s.is_open())
        .ok_or_else(|| KinesisError::shard_not_found(given, &meta.name, &ctx.account_id))
}

/// Resharding is for provisioned streams only.
fn require_provisioned(meta: &StreamMeta, op: &str) -> Result<(), KinesisError> {
    match meta.mode {
        StreamMode::Provisioned => Ok(()),
        StreamMode::OnDemand => Err(KinesisError::Validation(format!(
            "{op} is not supported for stream {} in ON_DEMAND mode.",
            meta.name
        ))),
    }
}

/// Runs a plan on the stream under its control lock, leaving it UPDATING for the
/// configured delay.
async fn run(
    engine: &Engine,
    ctx: &RequestContext,
    stream: &LiveStream,
    build: impl FnOnce(&StreamMeta, &mut Plan) -> Result<(), KinesisError>,
) -> Result<Arc<StreamMeta>, KinesisError> {
    require_active(engine, ctx, stream)?;
    let now = engine.clock.now_millis();
    let delay = engine.config.kinesis.update_stream_delay_ms as i64;
    let limit = engine.config.kinesis.shard_limit;
    let total = engine.kinesis_open_shards();
    engine
        .reshard_kinesis_stream(stream, |meta: &StreamMeta| {
            let mut plan = Plan::new(meta, now);
            build(meta, &mut plan)?;
            let before = meta.open_shards().count();
            let after = plan.meta.open_shards().count();
            if after > before && total + (after - before) > limit as usize {
                return Err(shard_limit_error(ctx, total, limit, after - before));
            }
            plan.meta.updating_until_ms = now + delay;
            Ok(plan.finish())
        })
        .await
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SplitShardInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_to_split: Option<String>,
    pub new_starting_hash_key: Option<String>,
}

/// SplitShard.
pub async fn split_shard(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: SplitShardInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.new_starting_hash_key.as_ref(), "newStartingHashKey");
    check_hash_key(&mut v, input.new_starting_hash_key.as_deref(), "newStartingHashKey");
    v.not_null(input.shard_to_split.as_ref(), "shardToSplit");
    check_name(&mut v, input.shard_to_split.as_deref(), "shardToSplit");
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let given = input.shard_to_split.unwrap_or_default();
    let key_text = input.new_starting_hash_key.unwrap_or_default();
    run(engine, ctx, &stream, |meta, plan| {
        require_provisioned(meta, "SplitShard")?;
        let shard = open_shard(meta, &given, ctx)?;
        let key = key_text.parse::<u128>().ok();
        let valid = key.filter(|k| *k > shard.start_hash.saturating_add(1) && *k < shard.end_hash);
        let Some(key) = valid else {
            return Err(KinesisError::InvalidArgument(format!(
                "NewStartingHashKey {key_text} used in SplitShard() on shard {} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                shard.id(),
                meta.name,
                ctx.account_id,
                shard.start_hash,
                shard.end_hash
            )));
        };
        plan.split(shard.index, key);
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct MergeShardsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_to_merge: Option<String>,
    pub adjacent_shard_to_merge: Option<String>,
}

/// MergeShards.
pub async fn merge_shards(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: MergeShardsInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.adjacent_shard_to_merge.as_ref(), "adjacentShardToMerge");
    check_name(&mut v, input.adjacent_shard_to_merge.as_deref(), "adjacentShardToMerge");
    v.not_null(input.shard_to_merge.as_ref(), "shardToMerge");
    check_name(&mut v, input.shard_to_merge.as_deref(), "shardToMerge");
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let (first, second) = (
        input.shard_to_merge.unwrap_or_default(),
        input.adjacent_shard_to_merge.unwrap_or_default(),
    );
    run(engine, ctx, &stream, |meta, plan| {
        require_provisioned(meta, "MergeShards")?;
        let a = open_shard(meta, &first, ctx)?;
        let b = open_shard(meta, &second, ctx)?;
        if a.index == b.index || !adjacent(a, b) {
            return Err(KinesisError::InvalidArgument(format!(
                "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                a.id(),
                b.id(),
                meta.name,
                ctx.account_id
            )));
        }
        plan.merge(a.index, b.index);
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub target_shard_count: Option<i64>,
    pub scaling_type: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountOutput {
    pub stream_name: String,
    pub current_shard_count: usize,
    pub target_shard_count: i64,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

/// UpdateShardCount (UNIFORM_SCALING): at most double and at least half the open shards.
pub async fn update_shard_count(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UpdateShardCountInput,
) -> Result<UpdateShardCountOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.scaling_type.as_ref(), "scalingType");
    v.one_of(input.scaling_type.as_deref(), "scalingType", &["UNIFORM_SCALING"]);
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.target_shard_count.as_ref(), "targetShardCount");
    v.at_least(input.target_shard_count, "targetShardCount", 1);
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let target = input.target_shard_count.unwrap_or(1);
    let now = engine.clock.now_millis();
    let limit = i64::from(engine.config.kinesis.shard_limit);
    let mut current = 0;
    run(engine, ctx, &stream, |meta, plan| {
        require_provisioned(meta, "UpdateShardCount")?;
        let open = meta.open_shards().count() as i64;
        current = open as usize;
        let counts = format!("Current open shard count: {open}, Target shard count: {target}");
        if target > limit {
            return Err(KinesisError::LimitExceeded(format!(
                "Target shard count or number of open shards cannot be greater than {limit}. {counts}"
            )));
        }
        if target > open * 2 {
            return Err(KinesisError::LimitExceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. {counts}"
            )));
        }
        if target * 2 < open {
            return Err(KinesisError::LimitExceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. {counts}"
            )));
        }
        let recent: Vec<i64> = meta.scalings_ms.iter().copied().filter(|t| now - t < 86_400_000).collect();
        if recent.len() >= SCALINGS_PER_DAY {
            return Err(KinesisError::LimitExceeded(format!(
                "Exceeded the limit of {SCALINGS_PER_DAY} UpdateShardCount calls per rolling 24 hours for stream {} under account {}.",
                meta.name, ctx.account_id
            )));
        }
        plan.meta.scalings_ms = recent;
        plan.meta.scalings_ms.push(now);
        plan.scale_to(target as u32);
        Ok(())
    })
    .await?;
    let meta = stream.meta();
    Ok(UpdateShardCountOutput {
        stream_name: meta.name.clone(),
        current_shard_count: current,
        target_shard_count: target,
        stream_arn: meta.arn(&ctx.region, &ctx.account_id),
    })
}
