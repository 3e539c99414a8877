//! Stream tags: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream, and the newer
//! ARN-based TagResource, UntagResource and ListTagsForResource.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::input::{check_arn, check_name, find_stream, parse_arn};
use super::{Empty, KinesisError};
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::kinesis::{LiveStream, StreamMeta, StreamStatus};
use crate::protocol::RequestContext;

/// Tags a stream may carry.
const MAX_TAGS: usize = 50;

/// AWS's refusal of a 51st tag.
pub fn too_many_tags(name: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Failed to add tags to stream {name} under account {account} because a given stream cannot have more than {MAX_TAGS} tags associated with it."
    ))
}

/// Checks a tag map's keys (1 to 128 characters) and values (at most 256).
pub fn check_tag_map(v: &mut Validator, tags: &HashMap<String, String>, path: &str) {
    if tags.keys().any(|k| k.is_empty() || k.chars().count() > 128) {
        v.fail_constraint(
            None,
            path,
            "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
        );
    }
    if tags.values().any(|k| k.chars().count() > 256) {
        v.fail_constraint(
            None,
            path,
            "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]",
        );
    }
}

fn check_characters(tags: &HashMap<String, String>) -> Result<(), KinesisError> {
    let ok = |s: &String| s.chars().all(|c| c.is_alphanumeric() || " _./=+-@%:".contains(c));
    if tags.keys().chain(tags.values()).all(ok) {
        return Ok(());
    }
    Err(KinesisError::InvalidArgument(
        "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :."
            .into(),
    ))
}

/// Tag changes are refused while the stream is CREATING (AWS: not ACTIVE).
fn require_tagable(
    engine: &Engine,
    ctx: &RequestContext,
    s: &LiveStream,
) -> Result<(), KinesisError> {
    match super::input::status_of(engine, s) {
        StreamStatus::Creating => {
            Err(KinesisError::not_active(s.name(), &ctx.account_id, StreamStatus::Creating))
        }
        _ => Ok(()),
    }
}

async fn add(
    engine: &Engine,
    ctx: &RequestContext,
    stream: &LiveStream,
    tags: HashMap<String, String>,
) -> Result<(), KinesisError> {
    check_characters(&tags)?;
    require_tagable(engine, ctx, stream)?;
    let (name, account) = (stream.name().to_string(), ctx.account_id.clone());
    engine
        .update_kinesis_stream(stream, |meta: &mut StreamMeta| {
            let mut next = meta.tags.clone();
            next.extend(tags);
            if next.len() > MAX_TAGS {
                return Err(too_many_tags(&name, &account));
            }
            meta.tags = next;
            Ok(())
        })
        .await?;
    Ok(())
}

async fn remove(
    engine: &Engine,
    ctx: &RequestContext,
    stream: &LiveStream,
    keys: Vec<String>,
) -> Result<(), KinesisError> {
    require_tagable(engine, ctx, stream)?;
    engine
        .update_kinesis_stream(stream, |meta: &mut StreamMeta| {
            meta.tags.retain(|k, _| !keys.contains(k));
            Ok::<(), KinesisError>(())
        })
        .await?;
    Ok(())
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsToStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tags: Option<HashMap<String, String>>,
}

/// AddTagsToStream.
pub async fn add_tags_to_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: AddTagsToStreamInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.not_null(input.tags.as_ref(), "tags");
    if input.tags.as_ref().is_some_and(HashMap::is_empty) {
        v.fail(Some("{}"), "tags", "have length greater than or equal to 1");
    }
    let tags = input.tags.unwrap_or_default();
    check_tag_map(&mut v, &tags, "tags");
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    add(engine, ctx, &stream, tags).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsFromStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

fn check_keys(v: &mut Validator, keys: Option<&Vec<String>>) {
    v.not_null(keys, "tagKeys");
    if let Some(keys) = keys {
        if keys.is_empty() || keys.len() > 50 {
            let bound = if keys.is_empty() {
                "greater than or equal to 1"
            } else {
                "less than or equal to 50"
            };
            v.fail(None, "tagKeys", &format!("have length {bound}"));
        }
        if keys.iter().any(|k| k.is_empty() || k.chars().count() > 128) {
            v.fail_constraint(None, "tagKeys", "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]");
        }
    }
}

/// RemoveTagsFromStream (keys it does not have are ignored, as on AWS).
pub async fn remove_tags_from_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RemoveTagsFromStreamInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    check_keys(&mut v, input.tag_keys.as_ref());
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    remove(engine, ctx, &stream, input.tag_keys.unwrap_or_default()).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub exclusive_start_tag_key: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamOutput {
    pub tags: Vec<Tag>,
    pub has_more_tags: bool,
}

/// ListTagsForStream: tags in key order, after ExclusiveStartTagKey, at most Limit.
pub async fn list_tags_for_stream(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListTagsForStreamInput,
) -> Result<ListTagsForStreamOutput, KinesisError> {
    let mut v = Validator::new();
    check_name(&mut v, input.stream_name.as_deref(), "streamName");
    check_arn(&mut v, input.stream_arn.as_deref(), "streamARN");
    v.length(input.exclusive_start_tag_key.as_deref(), "exclusiveStartTagKey", 1, 128);
    v.at_least(input.limit, "limit", 1);
    v.at_most(input.limit, "limit", 50);
    v.finish().map_err(KinesisError::Validation)?;
    let stream =
        find_stream(engine, ctx, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let meta = stream.meta();
    let limit = input.limit.unwrap_or(50) as usize;
    let after = input.exclusive_start_tag_key.as_deref();
    let all: Vec<Tag> = meta
        .tags
        .iter()
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .map(|(k, v)| Tag { key: k.clone(), value: v.clone() })
        .collect();
    let has_more_tags = all.len() > limit;
    Ok(ListTagsForStreamOutput { tags: all.into_iter().take(limit).collect(), has_more_tags })
}

/// The stream a ResourceARN names.
fn by_resource_arn(
    engine: &Engine,
    ctx: &RequestContext,
    arn: Option<&str>,
) -> Result<Arc<LiveStream>, KinesisError> {
    let mut v = Validator::new();
    v.not_null(arn, "resourceARN");
    check_arn(&mut v, arn, "resourceARN");
    v.finish().map_err(KinesisError::Validation)?;
    let name = arn.and_then(parse_arn).map(|(_, _, n)| n);
    find_stream(engine, ctx, None, name.and(arn))
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tags: Option<HashMap<String, String>>,
}

/// TagResource.
pub async fn tag_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: TagResourceInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    v.not_null(input.tags.as_ref(), "tags");
    let tags = input.tags.unwrap_or_default();
    check_tag_map(&mut v, &tags, "tags");
    v.finish().map_err(KinesisError::Validation)?;
    let stream = by_resource_arn(engine, ctx, input.resource_arn.as_deref())?;
    add(engine, ctx, &stream, tags).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

/// UntagResource.
pub async fn untag_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UntagResourceInput,
) -> Result<Empty, KinesisError> {
    let mut v = Validator::new();
    check_keys(&mut v, input.tag_keys.as_ref());
    v.finish().map_err(KinesisError::Validation)?;
    let stream = by_resource_arn(engine, ctx, input.resource_arn.as_deref())?;
    remove(engine, ctx, &stream, input.tag_keys.unwrap_or_default()).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    pub tags: Vec<Tag>,
}

/// ListTagsForResource.
pub async fn list_tags_for_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, KinesisError> {
    let stream = by_resource_arn(engine, ctx, input.resource_arn.as_deref())?;
    let tags =
        stream.meta().tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect();
    Ok(ListTagsForResourceOutput { tags })
}
