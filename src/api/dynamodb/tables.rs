//! Table operations: DescribeTable, ListTables and DeleteTable, the shapes and checks
//! every table operation shares, and the TableDescription (CreateTable and UpdateTable
//! live in `table_create.rs` and `table_update.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::DynamoError;
use super::indexes;
use crate::api::validate::Validator;
use crate::api::wire::epoch_seconds;
use crate::engine::{Engine, EngineError, TableCounters, TableMeta};
use crate::protocol::RequestContext;

/// The largest capacity AWS accepts for either unit.
pub(super) const MAX_CAPACITY: i64 = 1_000_000_000_000;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: Option<String>,
    pub attribute_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: Option<String>,
    pub key_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughput {
    pub read_capacity_units: Option<i64>,
    pub write_capacity_units: Option<i64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_enabled: Option<bool>,
    pub stream_view_type: Option<String>,
}

/// CreateTable's SSESpecification.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct SseSpecification {
    pub enabled: Option<bool>,
    #[serde(rename = "SSEType")]
    pub sse_type: Option<String>,
    #[serde(rename = "KMSMasterKeyId")]
    pub kms_master_key_id: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: Option<String>,
    #[serde(rename = "Value")]
    pub value: Option<String>,
}

/// `{"TableDescription": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDescriptionOutput {
    pub table_description: Value,
}

/// `{"Table": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTableOutput {
    pub table: Value,
}

/// The TableName checks every table operation starts with, in AWS's order.
pub fn check_table_name(name: Option<&str>) -> Result<&str, DynamoError> {
    let name = name.ok_or_else(|| {
        DynamoError::validation(
            "The parameter 'TableName' is required but was not present in the request",
        )
    })?;
    if name.len() < 3 || name.len() > 255 {
        return Err(DynamoError::validation(
            "TableName must be at least 3 characters long and at most 255 characters long",
        ));
    }
    Ok(name)
}

/// Resolves a TableName that may also be a table ARN, as the item operations allow.
pub fn resolve_table_name(name: &str) -> &str {
    name.rsplit_once(":table/").map_or(name, |(_, rest)| rest)
}

/// "One or more parameter values were invalid: <message>".
pub(super) fn invalid(message: &str) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {message}"))
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    pub table_name: Option<String>,
}

/// DescribeTable.
pub async fn describe_table(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: TableNameInput,
) -> Result<DescribeTableOutput, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?);
    let table = engine.table(name).ok_or_else(|| DynamoError::table_not_found(name))?;
    Ok(DescribeTableOutput { table: describe(engine, ctx, &table.meta(), &table.counters) })
}

/// The TableDescription of `meta`.
pub fn describe(
    engine: &Engine,
    ctx: &RequestContext,
    meta: &TableMeta,
    counters: &TableCounters,
) -> Value {
    let items = counters.items.load(Ordering::Relaxed);
    let bytes = counters.bytes.load(Ordering::Relaxed);
    let key_schema: Vec<Value> =
        std::iter::once(json!({"AttributeName": meta.key_schema.hash.name, "KeyType": "HASH"}))
            .chain(
                meta.key_schema
                    .range
                    .iter()
                    .map(|r| json!({"AttributeName": r.name, "KeyType": "RANGE"})),
            )
            .collect();
    let defs: Vec<Value> = meta
        .attribute_definitions
        .iter()
        .map(|d| json!({"AttributeName": d.name, "AttributeType": d.ty.as_str()}))
        .collect();
    let t = &meta.throughput;
    let mut throughput = json!({
        "NumberOfDecreasesToday": t.decreases_today,
        "ReadCapacityUnits": t.read,
        "WriteCapacityUnits": t.write,
    });
    if let Some(ms) = t.last_increase_ms {
        throughput["LastIncreaseDateTime"] = epoch_seconds(ms);
    }
    if let Some(ms) = t.last_decrease_ms {
        throughput["LastDecreaseDateTime"] = epoch_seconds(ms);
    }
    let mut billing = json!({"BillingMode": meta.billing_mode});
    if let Some(ms) =
        meta.billing_mode_updated_ms.filter(|_| meta.billing_mode == "PAY_PER_REQUEST")
    {
        billing["LastUpdateToPayPerRequestDateTime"] = epoch_seconds(ms);
    }
    let status = if engine.is_creating(meta) { "CREATING" } else { "ACTIVE" };
    let mut d = json!({
        "AttributeDefinitions": defs,
        "TableName": meta.name,
        "KeySchema": key_schema,
        "TableStatus": status,
        "CreationDateTime": epoch_seconds(meta.created_ms),
        "ProvisionedThroughput": throughput,
        "TableSizeBytes": bytes,
        "ItemCount": items,
        "TableArn": meta.arn(&ctx.region, &ctx.account_id),
        "TableId": meta.uuid,
        "BillingModeSummary": billing,
        "DeletionProtectionEnabled": meta.deletion_protection,
    });
    let (lsis, gsis) = indexes::describe(meta, counters, &meta.arn(&ctx.region, &ctx.account_id));
    if let Some(lsis) = lsis {
        d["LocalSecondaryIndexes"] = lsis;
    }
    if let Some(gsis) = gsis {
        d["GlobalSecondaryIndexes"] = gsis;
    }
    if let Some(s) = meta.stream.as_ref().filter(|s| s.enabled) {
        d["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": s.view_type});
    }
    // AWS keeps naming the latest stream after it is disabled.
    if let Some(label) = &meta.latest_stream_label {
        d["LatestStreamLabel"] = json!(label);
        d["LatestStreamArn"] =
            json!(format!("{}/stream/{label}", meta.arn(&ctx.region, &ctx.account_id)));
    }
    if let Some(class) = &meta.table_class {
        d["TableClassSummary"] = json!({"TableClass": class});
    }
    if let Some(key) = &meta.sse_kms_key {
        let arn = if key.starts_with("arn:") {
            key.clone()
        } else {
            format!("arn:aws:kms:{}:{}:{key}", ctx.region, ctx.account_id)
        };
        d["SSEDescription"] =
            json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn});
    }
    d
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    pub exclusive_start_table_name: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesOutput {
    pub table_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_table_name: Option<String>,
}

/// ListTables, paged in name order.
pub async fn list_tables(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: ListTablesInput,
) -> Result<ListTablesOutput, DynamoError> {
    let mut v = Validator::new();
    v.name(input.exclusive_start_table_name.as_deref(), "exclusiveStartTableName", 3);
    v.at_least(input.limit, "limit", 1);
    v.at_most(input.limit, "limit", 100);
    v.finish().map_err(DynamoError::Validation)?;
    let limit = input.limit.unwrap_or(100) as usize;
    let names: Vec<String> = engine
        .table_names()
        .into_iter()
        .filter(|n| input.exclusive_start_table_name.as_ref().is_none_or(|start| n > start))
        .collect();
    let more = names.len() > limit;
    let table_names: Vec<String> = names.into_iter().take(limit).collect();
    let last_evaluated_table_name = more.then(|| table_names.last().cloned()).flatten();
    Ok(ListTablesOutput { table_names, last_evaluated_table_name })
}

/// DeleteTable.
pub async fn delete_table(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: TableNameInput,
) -> Result<TableDescriptionOutput, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?).to_string();
    let table = engine.table(&name).ok_or_else(|| DynamoError::table_not_found(&name))?;
    if table.meta().deletion_protection {
        return Err(DynamoError::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    let (meta, counters) = engine.delete_table(&name).await.map_err(|e| match e {
        EngineError::TableNotFound => DynamoError::table_not_found(&name),
        other => other.into(),
    })?;
    let description = deleting(describe(engine, ctx, &meta, &counters));
    Ok(TableDescriptionOutput { table_description: description })
}

/// The reduced TableDescription DeleteTable answers with: no schema, indexes, streams or
/// dates (AWS captures cited in docs/dynamodb-compatibility.md, "DeleteTable").
fn deleting(full: Value) -> Value {
    let Value::Object(mut full) = full else { return full };
    let mut d = Map::new();
    for member in [
        "TableName",
        "ProvisionedThroughput",
        "TableSizeBytes",
        "ItemCount",
        "TableArn",
        "TableId",
        "TableClassSummary",
        "DeletionProtectionEnabled",
    ] {
        if let Some(v) = full.remove(member) {
            d.insert(member.into(), v);
        }
    }
    d.insert("TableStatus".into(), json!("DELETING"));
    if let Some(Value::Object(throughput)) = d.get_mut("ProvisionedThroughput") {
        throughput.retain(|k, _| {
            ["NumberOfDecreasesToday", "ReadCapacityUnits", "WriteCapacityUnits"].contains(&&**k)
        });
    }
    // Chosen: an on-demand table says so (its throughput reads 0/0); a provisioned one
    // is answered as AWS answers it, without the summary.
    if let Some(billing) = full.remove("BillingModeSummary")
        && billing["BillingMode"] == "PAY_PER_REQUEST"
    {
        d.insert("BillingModeSummary".into(), billing);
    }
    Value::Object(d)
}
