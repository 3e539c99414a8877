//! ListStreams: stream names and summaries in name order, paged by
//! ExclusiveStartStreamName or a NextToken.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::KinesisError;
use super::input::{self, check_name, epoch_seconds};
use super::paging::PageToken;
use super::shapes::StreamModeDetails;
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub limit: Option<i64>,
    pub exclusive_start_stream_name: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: &'static str,
    pub stream_mode_details: StreamModeDetails,
    #[serde(serialize_with = "epoch_seconds")]
    pub stream_creation_timestamp: i64,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    pub stream_names: Vec<String>,
    pub has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub stream_summaries: Vec<StreamSummary>,
}

/// ListStreams: names in order, paged by ExclusiveStartStreamName or NextToken.
pub async fn list_streams(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListStreamsInput,
) -> Result<ListStreamsOutput, KinesisError> {
    let mut v = Validator::new();
    v.at_least(input.limit, "limit", 1);
    v.at_most(input.limit, "limit", 10000);
    check_name(&mut v, input.exclusive_start_stream_name.as_deref(), "exclusiveStartStreamName");
    v.length(input.next_token.as_deref(), "nextToken", 1, 1_048_576);
    v.finish().map_err(KinesisError::Validation)?;
    let now = engine.clock.now_millis();
    let secret = engine.kinesis.secret();
    let after = match &input.next_token {
        Some(token) => Some(PageToken::decode(token, 's', secret, now)?.name),
        None => input.exclusive_start_stream_name.clone(),
    };
    let limit = input.limit.unwrap_or(100).clamp(1, 10000) as usize;
    let all: Vec<_> = engine
        .kinesis
        .all()
        .into_iter()
        .filter(|s| after.as_deref().is_none_or(|a| s.name() > a))
        .collect();
    let page = &all[..all.len().min(limit)];
    let has_more = all.len() > limit;
    let summaries: Vec<StreamSummary> = page
        .iter()
        .map(|s| {
            let meta = s.meta();
            StreamSummary {
                stream_name: meta.name.clone(),
                stream_arn: meta.arn(&ctx.region, &ctx.account_id),
                stream_status: input::status_of(engine, s).as_str(),
                stream_mode_details: StreamModeDetails::of(&meta),
                stream_creation_timestamp: meta.created_ms,
            }
        })
        .collect();
    let next_token = (has_more && !page.is_empty()).then(|| {
        let last = page[page.len() - 1].name().to_string();
        PageToken {
            kind: 's',
            issued_ms: now,
            name: last,
            stream_id: 0,
            after_shard: None,
            filter: None,
        }
        .encode(secret)
    });
    Ok(ListStreamsOutput {
        stream_names: summaries.iter().map(|s| s.stream_name.clone()).collect(),
        has_more_streams: has_more,
        next_token,
        stream_summaries: summaries,
    })
}
