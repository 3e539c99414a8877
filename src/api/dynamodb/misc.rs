//! Tags (TagResource, UntagResource, ListTagsOfResource), DescribeLimits and
//! DescribeEndpoints.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::table_create::tags;
use super::tables::Tag;
use crate::api::validate::Validator;
use crate::engine::{Engine, Table, TableMeta};
use crate::protocol::RequestContext;

/// Finds the table a resource ARN names, with AWS's errors.
fn table_by_arn(
    engine: &Engine,
    ctx: &RequestContext,
    arn: Option<&str>,
) -> Result<Arc<Table>, DynamoError> {
    let mut v = Validator::new();
    v.not_null(arn.as_ref(), "resourceArn");
    v.length(arn, "resourceArn", 1, 1283);
    v.finish().map_err(DynamoError::Validation)?;
    let arn = arn.unwrap_or_default();
    let prefix = format!("arn:aws:dynamodb:{}:{}:table/", ctx.region, ctx.account_id);
    // An index's ARN names a resource that exists but cannot carry tags (AWS, quoted in
    // ScyllaDB's test_tag_lsi_gsi, 2026).
    if let Some((_, index)) = arn.strip_prefix(&prefix).and_then(|rest| rest.split_once('/'))
        && index.starts_with("index/")
    {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}"
        )));
    }
    let Some(name) = arn.strip_prefix(&prefix).filter(|n| !n.contains('/')) else {
        if arn.starts_with("arn:aws:dynamodb:") {
            return Err(DynamoError::ResourceNotFound(format!(
                "Requested resource not found: ResourcArn: {arn} not found"
            )));
        }
        return Err(DynamoError::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        )));
    };
    engine.table(name).ok_or_else(|| {
        DynamoError::ResourceNotFound(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

/// An empty JSON object, the output of operations that return nothing.
#[derive(Serialize, Debug)]
pub struct Empty {}

/// TagResource: adds or overwrites tags.
pub async fn tag_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: TagResourceInput,
) -> Result<Empty, DynamoError> {
    let mut v = Validator::new();
    v.not_null(input.tags.as_ref(), "tags");
    v.finish().map_err(DynamoError::Validation)?;
    let table = table_by_arn(engine, ctx, input.resource_arn.as_deref())?;
    let new = tags(input.tags.as_ref())?;
    if new.is_empty() {
        return Err(DynamoError::validation("Atleast one Tag needs to be provided as Input."));
    }
    let name = table.meta().name.clone();
    engine
        .update_table(&name, |meta: &mut TableMeta| -> Result<(), DynamoError> {
            for (k, val) in new {
                meta.tags.retain(|(existing, _)| *existing != k);
                meta.tags.push((k, val));
            }
            if meta.tags.len() > 50 {
                return Err(DynamoError::validation("The number of tags exceeds the limit of 50"));
            }
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

/// UntagResource: removes tags by key (missing keys are ignored, as on AWS).
pub async fn untag_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UntagResourceInput,
) -> Result<Empty, DynamoError> {
    let mut v = Validator::new();
    v.not_null(input.tag_keys.as_ref(), "tagKeys");
    v.finish().map_err(DynamoError::Validation)?;
    let table = table_by_arn(engine, ctx, input.resource_arn.as_deref())?;
    let keys = input.tag_keys.unwrap_or_default();
    if keys.is_empty() {
        return Err(DynamoError::validation("Atleast one Tag Key needs to be provided as Input."));
    }
    let name = table.meta().name.clone();
    engine
        .update_table(&name, |meta: &mut TableMeta| -> Result<(), DynamoError> {
            meta.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    pub tags: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListTagsOfResource (all tags fit in one page: a table has at most 50).
pub async fn list_tags_of_resource(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ListTagsInput,
) -> Result<ListTagsOutput, DynamoError> {
    let table = table_by_arn(engine, ctx, input.resource_arn.as_deref())?;
    let tags = table.meta().tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    Ok(ListTagsOutput { tags, next_token: None })
}

/// DescribeLimits takes no input.
#[derive(Deserialize, Debug)]
pub struct NoInput {}

/// DescribeLimits: AWS's default account and table quotas.
pub async fn describe_limits(
    _: &Arc<Engine>,
    _: &RequestContext,
    _: NoInput,
) -> Result<Value, DynamoError> {
    Ok(json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }))
}

/// DescribeEndpoints: this endpoint itself, so endpoint-discovering SDKs stay here.
pub async fn describe_endpoints(
    _: &Arc<Engine>,
    ctx: &RequestContext,
    _: NoInput,
) -> Result<Value, DynamoError> {
    let address =
        ctx.host.clone().unwrap_or_else(|| format!("dynamodb.{}.amazonaws.com", ctx.region));
    Ok(json!({"Endpoints": [{"Address": address, "CachePeriodInMinutes": 1440}]}))
}
