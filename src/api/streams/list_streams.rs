//! ListStreams: every stream still kept (enabled, or disabled within the retention
//! period), optionally of one table, paged by stream ARN.
//!
//! Order: by table name, then newest stream first, as AWS's example lists a table's
//! labels. A page resumes after `ExclusiveStartStreamArn`'s place in that order, so a
//! stream that expired between pages does not break paging.

use std::cmp::Reverse;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{StreamsError, parse_arn};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::protocol::RequestContext;

/// Streams per page by default and at most ("the upper limit is 100").
const MAX_LIMIT: i64 = 100;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub table_name: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_stream_arn: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    pub streams: Vec<StreamSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_stream_arn: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    pub stream_arn: String,
    pub table_name: String,
    pub stream_label: String,
}

/// ListStreams.
pub async fn list_streams(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListStreamsInput,
) -> Result<ListStreamsOutput, StreamsError> {
    let mut v = Validator::new();
    v.name(input.table_name.as_deref(), "tableName", 3);
    v.at_least(input.limit, "limit", 1);
    v.length(input.exclusive_start_stream_arn.as_deref(), "exclusiveStartStreamArn", 37, 1024);
    v.finish().map_err(StreamsError::Validation)?;
    let limit = input.limit.unwrap_or(MAX_LIMIT);
    if limit > MAX_LIMIT {
        return Err(StreamsError::invalid(
            "Limit cannot be greater than the maximum allowed size: 100",
        ));
    }
    let start = match input.exclusive_start_stream_arn.as_deref() {
        // An ARN of another region or account sorts like its table and label would.
        Some(arn) => parse_arn(ctx, arn).map(|p| Some((p.table, p.label)))?,
        None => None,
    };
    if let Some(name) = input.table_name.as_deref()
        && engine.table(name).is_none()
    {
        return Err(StreamsError::table_not_found(name));
    }

    let mut all = engine.list_streams();
    all.retain(|s| input.table_name.as_deref().is_none_or(|t| s.table_name == t));
    let order = |table: &str, label: &str| (table.to_string(), Reverse(label.to_string()));
    all.sort_by_key(|s| order(&s.table_name, &s.label));
    if let Some((table, label)) = start {
        let after = order(table, label);
        all.retain(|s| order(&s.table_name, &s.label) > after);
    }
    let more = all.len() > limit as usize;
    all.truncate(limit as usize);
    let streams: Vec<StreamSummary> = all
        .iter()
        .map(|s| StreamSummary {
            stream_arn: s.arn(&ctx.region, &ctx.account_id),
            table_name: s.table_name.clone(),
            stream_label: s.label.clone(),
        })
        .collect();
    let last_evaluated_stream_arn =
        if more { streams.last().map(|s| s.stream_arn.clone()) } else { None };
    Ok(ListStreamsOutput { streams, last_evaluated_stream_arn })
}
