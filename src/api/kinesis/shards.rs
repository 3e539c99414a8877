//! ListShards: every ShardFilter type, ExclusiveStartShardId, MaxResults (at most 1000
//! returned), and NextToken with its exclusion rules and 300-second expiry.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::KinesisError;
use super::input::{Timestamp, check_arn, check_name, find_stream, status_of};
use super::paging::PageToken;
use super::shapes::Shard;
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::meta::{ShardMeta, StreamMeta, parse_shard_id};
use crate::engine::kinesis::{LiveStream, StreamStatus};
use crate::protocol::RequestContext;

const FILTERS: [&str; 6] = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    pub r#type: Option<String>,
    pub shard_id: Option<String>,
    pub timestamp: Option<Timestamp>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<i64>,
    pub stream_creation_timestamp: Option<Timestamp>,
    pub shard_filter: Option<ShardFilter>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    pub shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A filter as the token keeps it: type, shard index, timestamp.
type Filter = (String, Option<u32>, Option<i64>);

/// Whether `s` passes `filter` at `now_ms`.
fn passes(meta: &StreamMeta, s: &ShardMeta, filter: Option<&Filter>, now_ms: i64) -> bool {
    // Shards open at `t` (never before the stream existed).
    let open_at = |t: i64| {
        let t = t.max(meta.created_ms);
        s.created_ms <= t && s.closed_ms.is_none_or(|c| c > t)
    };
    match filter {
        None => true,
        Some((kind, shard, ts)) => match kind.as_str() {
            "AFTER_SHARD_ID" => shard.is_none_or(|after| s.index > after),
            "AT_TRIM_HORIZON" => open_at(now_ms - meta.retention_ms()),
            "AT_LATEST" => s.is_open(),
            "AT_TIMESTAMP" => open_at(ts.unwrap_or(now_ms)),
            "FROM_TIMESTAMP" => s.closed_ms.is_none_or(|c| c >= ts.unwrap_or(now_ms)),
            // FROM_TRIM_HORIZON: everything still within retention.
            _ => true,
        },
    }
}

fn check_filter(v: &mut Validator, f: &ShardFilter) -> Result<Filter, KinesisError> {
    v.not_null(f.r#type.as_ref(), "shardFilter.type");
    v.one_of(f.r#type.as_deref(), "shardFilter.type", &FILTERS);
    check_name(v, f.shard_id.as_deref(), "shardFilter.shardId");
    let kind = f.r#type.clone().unwrap_or_default();
    match kind.as_str() {
        "AFTER_SHARD_ID" if f.shard_id.is_none() => Err(KinesisError::InvalidArgument(
            "ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID.".into(),
        )),
        "AT_TIMESTAMP" | "FROM_TIMESTAMP" if f.timestamp.is_none() => {
            Err(KinesisError::InvalidArgument(format!(
                "Timestamp must be supplied in a ShardFilter with a Type of {kind}."
            )))
        }
        _ => Ok((kind, f.shard_id.as_deref().and_then(parse_shard_id), f.timestamp.map(|t| t.0))),
    }
}

/// ListShards.
pub async fn list_shards(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListShardsInput,
) -> Result<ListShardsOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.length(input.next_token.as_deref(), "nextToken", 1, 1_048_576);
    check_name(&mut v, input.exclusive_start_shard_id.as_deref(), "exclusiveStartShardId");
    v.at_least(input.max_results, "maxResults", 1);
    v.at_most(input.max_results, "maxResults", 10000);
    let filter = input.shard_filter.as_ref().map(|f| check_filter(&mut v, f));
    v.finish().map_err(KinesisError::Validation)?;
    let mut filter = filter.transpose()?;
    let now = engine.clock.now_millis();
    let secret = engine.kinesis.secret();
    let (stream, mut after) = match &input.next_token {
        Some(token) => {
            for (given, member) in [
                (input.stream_name.is_some(), "StreamName"),
                (input.stream_arn.is_some(), "StreamARN"),
                (input.exclusive_start_shard_id.is_some(), "ExclusiveStartShardId"),
                (input.stream_creation_timestamp.is_some(), "StreamCreationTimestamp"),
            ] {
                if given {
                    return Err(KinesisError::InvalidArgument(format!(
                        "NextToken and {member} cannot be provided together."
                    )));
                }
            }
            let t = PageToken::decode(token, 'h', secret, now)?;
            let stream = engine
                .kinesis
                .by_id(t.stream_id)
                .ok_or_else(|| KinesisError::stream_not_found(&t.name, &ctx.account_id))?;
            filter = t.filter;
            (stream, t.after_shard)
        }
        None => {
            if input.stream_name.is_none() && input.stream_arn.is_none() {
                return Err(KinesisError::InvalidArgument(
                    "Either NextToken or StreamName should be provided.".into(),
                ));
            }
            let stream = find_stream(
                engine,
                ctx,
                input.stream_name.as_deref(),
                input.stream_arn.as_deref(),
            )?;
            check_created(&stream, ctx, input.stream_creation_timestamp)?;
            (stream.clone(), input.exclusive_start_shard_id.as_deref().and_then(parse_shard_id))
        }
    };
    if status_of(engine, &stream) == StreamStatus::Creating {
        return Err(KinesisError::not_active(
            stream.name(),
            &ctx.account_id,
            StreamStatus::Creating,
        ));
    }
    let meta = stream.meta();
    let limit = input.max_results.unwrap_or(1000).clamp(1, 1000) as usize;
    let chosen: Vec<&ShardMeta> = meta
        .live_shards(now)
        .filter(|s| passes(&meta, s, filter.as_ref(), now))
        .filter(|s| after.is_none_or(|a| s.index > a))
        .collect();
    let page: Vec<Shard> = chosen.iter().take(limit).map(|s| Shard::of(meta.id, s)).collect();
    let next_token = (chosen.len() > limit).then(|| {
        after = chosen.get(limit - 1).map(|s| s.index);
        PageToken {
            kind: 'h',
            issued_ms: now,
            name: meta.name.clone(),
            stream_id: meta.id,
            after_shard: after,
            filter,
        }
        .encode(secret)
    });
    Ok(ListShardsOutput { shards: page, next_token })
}

/// StreamCreationTimestamp tells streams of the same name apart: another one is not found.
fn check_created(
    stream: &LiveStream,
    ctx: &RequestContext,
    created: Option<Timestamp>,
) -> Result<(), KinesisError> {
    match created {
        Some(Timestamp(ms)) if (ms - stream.meta().created_ms).abs() >= 1000 => {
            Err(KinesisError::stream_not_found(stream.name(), &ctx.account_id))
        }
        _ => Ok(()),
    }
}
