//! Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers and DeregisterStreamConsumer. A consumer is named by its ARN, or by
//! its stream's ARN and its name (all three may be given when they agree).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::input::{Timestamp, check_arn, check_name, epoch_seconds, find_stream, require_created};
use super::paging::PageToken;
use super::{Empty, KinesisError};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::consumers::{
    ConsumerMeta, ConsumerStatus, MAX_CONSUMERS, MAX_CREATING, parse_consumer_arn,
};
use crate::engine::kinesis::meta::stream_arn;
use crate::engine::kinesis::{LiveStream, StreamMeta};
use crate::protocol::RequestContext;

const CONSUMER_ARN_PATTERN: &str = "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";

/// A ConsumerARN member.
pub fn check_consumer_arn(v: &mut Validator, value: Option<&str>, path: &str) {
    if let Some(s) = value {
        if parse_consumer_arn(s).is_none() {
            let constraint = format!("satisfy regular expression pattern: {CONSUMER_ARN_PATTERN}");
            v.fail(Some(s), path, &constraint);
        }
        v.length(Some(s), path, 1, 2048);
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    pub consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: String,
    pub consumer_status: &'static str,
    #[serde(serialize_with = "epoch_seconds")]
    pub consumer_creation_timestamp: i64,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
}

impl Consumer {
    fn of(ctx: &RequestContext, stream: &str, c: &ConsumerMeta, status: ConsumerStatus) -> Self {
        Consumer {
            consumer_name: c.name.clone(),
            consumer_arn: c.arn(&ctx.region, &ctx.account_id, stream),
            consumer_status: status.as_str(),
            consumer_creation_timestamp: c.created_ms,
            stream_arn: None,
        }
    }
}

/// `Consumer <name> under stream <stream> under account <account> not found.`
pub fn consumer_not_found(name: &str, stream: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Consumer {name} under stream {stream} under account {account} not found."
    ))
}

/// The consumer a request names (by ARN, or by stream ARN and name), with its stream and
/// status.
pub fn resolve(
    engine: &Engine,
    ctx: &RequestContext,
    consumer_arn: Option<&str>,
    stream_arn: Option<&str>,
    consumer_name: Option<&str>,
) -> Result<(Arc<LiveStream>, ConsumerMeta, ConsumerStatus), KinesisError> {
    let account = ctx.account_id.as_str();
    let (stream, name, created_secs) = match consumer_arn.and_then(parse_consumer_arn) {
        Some(arn) => {
            let own_stream = stream_arn.is_none_or(|s| s == stream_arn_of(ctx, arn.stream));
            if !own_stream || consumer_name.is_some_and(|n| n != arn.consumer) {
                return Err(KinesisError::InvalidArgument(format!(
                    "ConsumerARN {} does not match the StreamARN and ConsumerName given.",
                    consumer_arn.unwrap_or_default()
                )));
            }
            if arn.region != ctx.region || arn.account != account {
                return Err(consumer_not_found(arn.consumer, arn.stream, arn.account));
            }
            let stream = engine
                .kinesis
                .get(arn.stream)
                .ok_or_else(|| KinesisError::stream_not_found(arn.stream, account))?;
            (stream, arn.consumer.to_string(), Some(arn.created_secs))
        }
        None => match (stream_arn, consumer_name) {
            (Some(s), Some(n)) => (find_stream(engine, ctx, None, Some(s))?, n.to_string(), None),
            _ => {
                // AWS's words, typo included.
                return Err(KinesisError::InvalidArgument(
                    "Both streamARN and consumer name must be provided if consumerARN is not provied.".into(),
                ));
            }
        },
    };
    let now = engine.clock.now_millis();
    let meta = stream.meta();
    let found = meta
        .consumer(&name, now, engine.consumer_delays())
        .filter(|(c, _)| created_secs.is_none_or(|s| s == c.created_secs()))
        .map(|(c, status)| (c.clone(), status));
    let (consumer, status) =
        found.ok_or_else(|| consumer_not_found(&name, stream.name(), account))?;
    Ok((stream, consumer, status))
}

fn stream_arn_of(ctx: &RequestContext, stream: &str) -> String {
    stream_arn(&ctx.region, &ctx.account_id, stream)
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStreamConsumerInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    pub tags: Option<HashMap<String, String>>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStreamConsumerOutput {
    pub consumer: Consumer,
}

/// RegisterStreamConsumer.
pub async fn register_stream_consumer(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RegisterStreamConsumerInput,
) -> Result<RegisterStreamConsumerOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.stream_arn.as_ref(), "streamARN");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.consumer_name.as_ref(), "consumerName");
    check_name(&mut v, input.consumer_name.as_deref(), "consumerName");
    if input.tags.as_ref().is_some_and(|t| t.len() > 50) {
        v.fail(None, "tags", "have length less than or equal to 50");
    }
    v.finish().map_err(KinesisError::Validation)?;
    let stream = find_stream(engine, ctx, None, input.stream_arn.as_deref())?;
    require_created(engine, ctx, &stream)?;
    let name = input.consumer_name.unwrap_or_default();
    let (stream_name, account) = (stream.name().to_string(), ctx.account_id.clone());
    let delays = engine.consumer_delays();
    let check = |meta: &StreamMeta, now: i64| {
        let live: Vec<_> = meta.live_consumers(now, delays).collect();
        if live.iter().any(|(c, _)| c.name == name) {
            return Err(KinesisError::ResourceInUse(format!(
                "Consumer {name} under stream {stream_name} under account {account} already exists."
            )));
        }
        if live.len() >= MAX_CONSUMERS {
            return Err(KinesisError::LimitExceeded(format!(
                "Stream {stream_name} under account {account} already has {MAX_CONSUMERS} registered consumers, the most allowed."
            )));
        }
        let creating = live.iter().filter(|(_, s)| *s == ConsumerStatus::Creating).count();
        if creating >= MAX_CREATING {
            return Err(KinesisError::LimitExceeded(format!(
                "Stream {stream_name} under account {account} already has {MAX_CREATING} consumers in CREATING state, the most allowed at once."
            )));
        }
        Ok(())
    };
    let consumer = engine.register_kinesis_consumer(&stream, &name, check).await?;
    let status =
        consumer.status(engine.clock.now_millis(), delays).unwrap_or(ConsumerStatus::Creating);
    Ok(RegisterStreamConsumerOutput {
        consumer: Consumer::of(ctx, stream.name(), &consumer, status),
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
}

impl ConsumerInput {
    fn validate(&self) -> Result<(), KinesisError> {
        let mut v = Validator::new();
        check_arn(&mut v, self.stream_arn.as_deref(), "streamARN");
        check_name(&mut v, self.consumer_name.as_deref(), "consumerName");
        check_consumer_arn(&mut v, self.consumer_arn.as_deref(), "consumerARN");
        v.finish().map_err(KinesisError::Validation)
    }

    /// Validates the request, then resolves the consumer it names.
    fn consumer(
        &self,
        engine: &Engine,
        ctx: &RequestContext,
    ) -> Result<(Arc<LiveStream>, ConsumerMeta, ConsumerStatus), KinesisError> {
        self.validate()?;
        resolve(
            engine,
            ctx,
            self.consumer_arn.as_deref(),
            self.stream_arn.as_deref(),
            self.consumer_name.as_deref(),
        )
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamConsumerOutput {
    pub consumer_description: Consumer,
}

/// DescribeStreamConsumer.
pub async fn describe_stream_consumer(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ConsumerInput,
) -> Result<DescribeStreamConsumerOutput, KinesisError> {
    let (stream, consumer, status) = input.consumer(engine, ctx)?;
    let mut description = Consumer::of(ctx, stream.name(), &consumer, status);
    description.stream_arn = Some(stream_arn_of(ctx, stream.name()));
    Ok(DescribeStreamConsumerOutput { consumer_description: description })
}

/// DeregisterStreamConsumer: the consumer is DELETING (its subscriptions end at once),
/// then gone.
pub async fn deregister_stream_consumer(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ConsumerInput,
) -> Result<Empty, KinesisError> {
    let (stream, consumer, _) = input.consumer(engine, ctx)?;
    let account = ctx.account_id.as_str();
    let check = |found: Option<&ConsumerMeta>| match found {
        // Still the consumer resolved above (not one re-registered since).
        Some(c) if c.created_ms == consumer.created_ms => Ok(()),
        _ => Err(consumer_not_found(&consumer.name, stream.name(), account)),
    };
    engine.deregister_kinesis_consumer(&stream, &consumer.name, check).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamConsumersInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub stream_creation_timestamp: Option<Timestamp>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamConsumersOutput {
    pub consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListStreamConsumers: by name, paged by NextToken (valid 300 s).
pub async fn list_stream_consumers(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListStreamConsumersInput,
) -> Result<ListStreamConsumersOutput, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.stream_arn.as_ref(), "streamARN");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.at_least(input.max_results, "maxResults", 1);
    v.at_most(input.max_results, "maxResults", 10000);
    v.length(input.next_token.as_deref(), "nextToken", 1, 1_048_576);
    v.finish().map_err(KinesisError::Validation)?;
    let stream = find_stream(engine, ctx, None, input.stream_arn.as_deref())?;
    let meta = stream.meta();
    let account = ctx.account_id.as_str();
    if input.stream_creation_timestamp.is_some_and(|Timestamp(t)| t != meta.created_ms) {
        return Err(KinesisError::stream_not_found(stream.name(), account));
    }
    let now = engine.clock.now_millis();
    let secret = engine.kinesis.secret();
    let after = match &input.next_token {
        Some(token) => {
            let t = PageToken::decode(token, 'c', secret, now)?;
            if t.stream_id != meta.id {
                return Err(KinesisError::InvalidArgument(format!("Invalid NextToken: {token}")));
            }
            Some(t.name)
        }
        None => None,
    };
    let mut live: Vec<_> = meta
        .live_consumers(now, engine.consumer_delays())
        .filter(|(c, _)| after.as_ref().is_none_or(|a| c.name > *a))
        .collect();
    live.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    // AWS returns at most 100 per page whatever MaxResults says.
    let page = input.max_results.map_or(100, |m| m.clamp(1, 100) as usize);
    let more = live.len() > page;
    live.truncate(page);
    let next_token = more.then(|| {
        let last = live.last().map(|(c, _)| c.name.clone()).unwrap_or_default();
        let token = PageToken {
            kind: 'c',
            issued_ms: now,
            name: last,
            stream_id: meta.id,
            after_shard: None,
            filter: None,
        };
        token.encode(secret)
    });
    let consumers =
        live.into_iter().map(|(c, status)| Consumer::of(ctx, stream.name(), c, status)).collect();
    Ok(ListStreamConsumersOutput { consumers, next_token })
}
