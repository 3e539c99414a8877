//! The DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator and
//! GetRecords over the engine's change log. `X-Amz-Target` operation names become an
//! `Operation` before any logic runs; each operation decodes its input, runs its handler
//! and encodes its output, as the DynamoDB API does.
//!
//! Streams are named by ARNs built from the request's region and the configured
//! account, so an ARN of another region or account names no stream here.

pub mod describe_stream;
pub mod error;
pub mod get_records;
pub mod get_shard_iterator;
pub mod iterator;
pub mod list_streams;
pub mod record;

use std::sync::Arc;

use crate::engine::Engine;
use crate::engine::streams::{ShardMeta, StreamMeta, parse_stream_arn, wire_seq};
use crate::protocol::RequestContext;

pub use error::StreamsError;

crate::api::operations! {
    error: StreamsError, internal: StreamsError::Internal;
    ListStreams => list_streams::list_streams,
    DescribeStream => describe_stream::describe_stream,
    GetShardIterator => get_shard_iterator::get_shard_iterator,
    GetRecords => get_records::get_records,
}

/// The parts of a stream ARN.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ArnParts<'a> {
    pub table: &'a str,
    pub label: &'a str,
    /// Whether the ARN is of the request's region and the configured account (any
    /// other names no stream here).
    pub here: bool,
}

/// Splits a stream ARN, or ValidationException for a string that is not a stream ARN at
/// all: AWS tells the two apart (a malformed ARN is invalid input, a well-formed one of
/// no stream is not found).
pub(crate) fn parse_arn<'a>(
    ctx: &RequestContext,
    arn: &'a str,
) -> Result<ArnParts<'a>, StreamsError> {
    let malformed = || StreamsError::validation("Invalid StreamArn");
    let (table, label) = parse_stream_arn(arn).ok_or_else(malformed)?;
    let scope = arn.strip_prefix("arn:aws:dynamodb:").and_then(|r| r.split_once(":table/"));
    let (region, account) = scope.and_then(|(s, _)| s.split_once(':')).ok_or_else(malformed)?;
    Ok(ArnParts { table, label, here: region == ctx.region && account == ctx.account_id })
}

/// The stream an ARN names, or the error AWS sends for it.
pub(crate) fn resolve_stream(
    engine: &Engine,
    ctx: &RequestContext,
    arn: &str,
) -> Result<Arc<StreamMeta>, StreamsError> {
    let parts = parse_arn(ctx, arn)?;
    parts
        .here
        .then(|| engine.stream(parts.table, parts.label))
        .flatten()
        .ok_or_else(|| StreamsError::stream_not_found(arn))
}

/// A shard's last sequence number as DescribeStream shows it. An empty closed shard ends
/// just before it starts in the engine; AWS never shows an Ending below the Starting
/// number, so it shows the Starting one (no record has it, and reading the shard from it
/// finds the end at once).
pub(crate) fn shown_end(shard: &ShardMeta, end: u64) -> String {
    wire_seq(shard.partition, end.max(shard.start_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            request_id: "r".into(),
            host: None,
        }
    }

    #[test]
    fn names_round_trip() {
        for name in ["ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"] {
            assert_eq!(Operation::from_name(name).map(Operation::name), Some(name));
        }
        assert_eq!(Operation::from_name("PutItem"), None);
    }

    #[test]
    fn arns_of_other_regions_and_accounts_name_no_stream() {
        let arn = |region: &str, account: &str| {
            format!("arn:aws:dynamodb:{region}:{account}:table/t/stream/2026-01-01T00:00:00.000")
        };
        fn here(a: &str) -> Result<(&str, &str, bool), StreamsError> {
            parse_arn(&ctx(), a).map(|p| (p.table, p.label, p.here))
        }
        let label = "2026-01-01T00:00:00.000";
        assert_eq!(here(&arn("us-east-1", "000000000000")), Ok(("t", label, true)));
        assert_eq!(here(&arn("eu-west-1", "000000000000")), Ok(("t", label, false)));
        assert_eq!(here(&arn("us-east-1", "111122223333")), Ok(("t", label, false)));
        for bad in ["sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf", "arn:aws:dynamodb:x"] {
            assert_eq!(parse_arn(&ctx(), bad), Err(StreamsError::validation("Invalid StreamArn")));
        }
    }
}
