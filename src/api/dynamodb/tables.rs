//! Table operations: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable, and
//! the TableDescription they share.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::indexes::{self, GsiUpdate, IndexChange, IndexInput};
use crate::api::validate::Validator;
use crate::api::wire::epoch_seconds;
use crate::engine::catalog::{StreamSettings, Throughput};
use crate::engine::{
    Engine, EngineError, KeyAttribute, KeySchema, ScalarType, TableCounters, TableMeta,
};
use crate::protocol::RequestContext;

/// The largest capacity AWS accepts for either unit.
const MAX_CAPACITY: i64 = 1_000_000_000_000;

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

#[derive(Deserialize, Debug, Clone)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: Option<String>,
    #[serde(rename = "Value")]
    pub value: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
    pub tags: Option<Vec<Tag>>,
    pub deletion_protection_enabled: Option<bool>,
    pub table_class: Option<String>,
    pub local_secondary_indexes: Option<Vec<IndexInput>>,
    pub global_secondary_indexes: Option<Vec<IndexInput>>,
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

fn java_list(elements: &[KeySchemaElement]) -> String {
    let shown: Vec<String> = elements
        .iter()
        .map(|e| {
            format!(
                "KeySchemaElement(attributeName={}, keyType={})",
                e.attribute_name.as_deref().unwrap_or("null"),
                e.key_type.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

fn validate_create(input: &CreateTableInput) -> Result<(), DynamoError> {
    let name = check_table_name(input.table_name.as_deref())?;
    let mut v = Validator::new();
    if v.not_null(input.attribute_definitions.as_ref(), "attributeDefinitions")
        && let Some(defs) = &input.attribute_definitions
    {
        for (i, d) in defs.iter().enumerate() {
            let at = format!("attributeDefinitions.{}.member", i + 1);
            v.not_null(d.attribute_name.as_ref(), &format!("{at}.attributeName"));
            v.not_null(d.attribute_type.as_ref(), &format!("{at}.attributeType"));
            v.one_of(d.attribute_type.as_deref(), &format!("{at}.attributeType"), &["B", "N", "S"]);
        }
    }
    v.name(Some(name), "tableName", 3);
    if let Some(t) = &input.provisioned_throughput {
        for (value, path) in [
            (t.write_capacity_units, "provisionedThroughput.writeCapacityUnits"),
            (t.read_capacity_units, "provisionedThroughput.readCapacityUnits"),
        ] {
            v.not_null(value.as_ref(), path);
            v.at_least(value, path, 1);
        }
    }
    if v.not_null(input.key_schema.as_ref(), "keySchema")
        && let Some(ks) = &input.key_schema
    {
        if ks.is_empty() {
            v.fail(Some("[]"), "keySchema", "have length greater than or equal to 1");
        }
        if ks.len() > 2 {
            v.fail(Some(&java_list(ks)), "keySchema", "have length less than or equal to 2");
        }
        for (i, k) in ks.iter().enumerate() {
            let at = format!("keySchema.{}.member", i + 1);
            v.not_null(k.attribute_name.as_ref(), &format!("{at}.attributeName"));
            v.not_null(k.key_type.as_ref(), &format!("{at}.keyType"));
            v.one_of(k.key_type.as_deref(), &format!("{at}.keyType"), &["HASH", "RANGE"]);
        }
    }
    indexes::check_members(&mut v, input.local_secondary_indexes.as_ref(), "localSecondaryIndexes");
    indexes::check_members(
        &mut v,
        input.global_secondary_indexes.as_ref(),
        "globalSecondaryIndexes",
    );
    v.one_of(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
    if let Some(s) = &input.stream_specification {
        v.not_null(s.stream_enabled.as_ref(), "streamSpecification.streamEnabled");
        v.one_of(
            s.stream_view_type.as_deref(),
            "streamSpecification.streamViewType",
            &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
        );
    }
    v.one_of(
        input.table_class.as_deref(),
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    v.finish().map_err(DynamoError::Validation)
}

fn invalid(message: &str) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {message}"))
}

/// Checks billing mode against throughput; returns (mode, read, write).
fn billing(
    mode: Option<&str>,
    t: Option<&ProvisionedThroughput>,
) -> Result<(String, i64, i64), DynamoError> {
    match mode.unwrap_or("PROVISIONED") {
        "PAY_PER_REQUEST" => {
            if t.is_some() {
                return Err(invalid(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            Ok(("PAY_PER_REQUEST".into(), 0, 0))
        }
        _ => {
            let Some(t) = t else {
                return Err(invalid(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            };
            let (r, w) = (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1));
            if r > MAX_CAPACITY {
                return Err(DynamoError::validation(format!(
                    "Given value {r} for ReadCapacityUnits is out of bounds"
                )));
            }
            if w > MAX_CAPACITY {
                return Err(DynamoError::validation(format!(
                    "Given value {w} for WriteCapacityUnits is out of bounds"
                )));
            }
            Ok(("PROVISIONED".into(), r, w))
        }
    }
}

fn key_schema(input: &CreateTableInput) -> Result<(KeySchema, Vec<KeyAttribute>), DynamoError> {
    let defs: Vec<KeyAttribute> = input
        .attribute_definitions
        .iter()
        .flatten()
        .map(|d| KeyAttribute {
            name: d.attribute_name.clone().unwrap_or_default(),
            ty: d.attribute_type.as_deref().and_then(ScalarType::parse).unwrap_or(ScalarType::S),
        })
        .collect();
    let ks = input.key_schema.clone().unwrap_or_default();
    let names: Vec<&str> = ks.iter().map(|k| k.attribute_name.as_deref().unwrap_or("")).collect();
    let def_names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    let defined = |n: &str| def_names.contains(&n);
    if ks.len() == 2
        && (names.iter().any(|n| !defined(n)) || (names[0] == names[1] && defs.len() == 1))
    {
        return Err(DynamoError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    if ks.len() == 1 && !defined(names[0]) {
        return Err(invalid(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            def_names.join(", ")
        )));
    }
    if ks.len() == 2 && names[0] == names[1] {
        return Err(DynamoError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if ks[0].key_type.as_deref() != Some("HASH") {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if ks.len() == 2 && ks[1].key_type.as_deref() != Some("RANGE") {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    let has_indexes =
        input.local_secondary_indexes.is_some() || input.global_secondary_indexes.is_some();
    if !has_indexes && ks.len() != defs.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let attr = |n: &str| defs.iter().find(|d| d.name == n).cloned().expect("checked defined above");
    let schema = KeySchema { hash: attr(names[0]), range: names.get(1).map(|n| attr(n)) };
    Ok((schema, defs))
}

fn stream_settings(
    spec: Option<&StreamSpecification>,
) -> Result<Option<StreamSettings>, DynamoError> {
    let Some(spec) = spec else { return Ok(None) };
    let enabled = spec.stream_enabled.unwrap_or(false);
    if enabled && spec.stream_view_type.is_none() {
        return Err(invalid("You must specify a StreamViewType when enabling a stream"));
    }
    if !enabled && spec.stream_view_type.is_some() {
        return Err(invalid("You cannot modify stream view type if stream is not enabled"));
    }
    Ok(enabled.then(|| StreamSettings { enabled, view_type: spec.stream_view_type.clone() }))
}

pub(super) fn tags(list: Option<&Vec<Tag>>) -> Result<Vec<(String, String)>, DynamoError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in list.into_iter().flatten() {
        let (Some(k), Some(v)) = (&tag.key, &tag.value) else {
            return Err(invalid("Tag key and value must both be specified"));
        };
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid("Invalid TagKey"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("Invalid TagValue"));
        }
        out.retain(|(existing, _)| existing != k);
        out.push((k.clone(), v.clone()));
    }
    if out.len() > 50 {
        return Err(DynamoError::validation("The number of tags exceeds the limit of 50"));
    }
    Ok(out)
}

/// CreateTable.
pub async fn create_table(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: CreateTableInput,
) -> Result<TableDescriptionOutput, DynamoError> {
    validate_create(&input)?;
    let name = input.table_name.clone().unwrap_or_default();
    let (mode, read, write) =
        billing(input.billing_mode.as_deref(), input.provisioned_throughput.as_ref())?;
    let (schema, defs) = key_schema(&input)?;
    let secondary = indexes::create(
        input.local_secondary_indexes.as_ref(),
        input.global_secondary_indexes.as_ref(),
        &defs,
        &schema,
        mode == "PAY_PER_REQUEST",
    )?;
    if !secondary.is_empty() {
        indexes::check_definitions_used(&defs, &indexes::keys_used(&schema, &secondary))?;
    }
    let next_index_id = secondary.len() as u32 + 1;
    let stream = stream_settings(input.stream_specification.as_ref())?;
    let now = engine.clock.now_millis();
    let meta = TableMeta {
        version: crate::engine::catalog::TABLE_RECORD_VERSION,
        id: 0,
        name: name.clone(),
        uuid: uuid::Uuid::new_v4().to_string(),
        created_ms: now,
        key_schema: schema,
        attribute_definitions: defs,
        billing_mode_updated_ms: (mode == "PAY_PER_REQUEST").then_some(now),
        billing_mode: mode,
        throughput: Throughput { read, write, ..Default::default() },
        stream,
        tags: tags(input.tags.as_ref())?,
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        table_class: input.table_class.clone(),
        partitions: engine.config.dynamodb.partitions_per_table,
        indexes: secondary,
        next_index_id,
        ttl: Default::default(),
    };
    let meta = engine.create_table(meta).await.map_err(|e| match e {
        EngineError::TableExists => {
            DynamoError::ResourceInUse(format!("Table already exists: {name}"))
        }
        other => other.into(),
    })?;
    let mut description = describe(engine, ctx, &meta, &TableCounters::default());
    description["TableStatus"] = json!("CREATING");
    Ok(TableDescriptionOutput { table_description: description })
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
    if let Some(s) = &meta.stream {
        d["StreamSpecification"] =
            json!({"StreamEnabled": s.enabled, "StreamViewType": s.view_type});
    }
    if let Some(class) = &meta.table_class {
        d["TableClassSummary"] = json!({"TableClass": class});
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

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTableInput {
    pub table_name: Option<String>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub stream_specification: Option<StreamSpecification>,
    pub deletion_protection_enabled: Option<bool>,
    pub table_class: Option<String>,
    pub global_secondary_index_updates: Option<Vec<GsiUpdate>>,
}

/// UpdateTable: billing mode, throughput, deletion protection and table class.
pub async fn update_table(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: UpdateTableInput,
) -> Result<TableDescriptionOutput, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?).to_string();
    let mut v = Validator::new();
    v.one_of(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
    if let Some(t) = &input.provisioned_throughput {
        for (value, path) in [
            (t.write_capacity_units, "provisionedThroughput.writeCapacityUnits"),
            (t.read_capacity_units, "provisionedThroughput.readCapacityUnits"),
        ] {
            v.not_null(value.as_ref(), path);
            v.at_least(value, path, 1);
        }
    }
    let creates: Vec<IndexInput> = input
        .global_secondary_index_updates
        .iter()
        .flatten()
        .filter_map(|u| u.create.clone())
        .collect();
    indexes::check_members(&mut v, Some(&creates), "globalSecondaryIndexUpdates");
    v.finish().map_err(DynamoError::Validation)?;
    if input.stream_specification.is_some() {
        // Enabling and disabling streams arrives with the native Streams issue.
        return Err(invalid(
            "StreamSpecification updates are not supported by this version of sluice",
        ));
    }
    let index_updates = input.global_secondary_index_updates.clone().unwrap_or_default();
    let other_updates = input.billing_mode.is_some()
        || input.provisioned_throughput.is_some()
        || input.deletion_protection_enabled.is_some()
        || input.table_class.is_some();
    if !other_updates && index_updates.is_empty() {
        return Err(DynamoError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let now = engine.clock.now_millis();
    let table = engine.table(&name).ok_or_else(|| DynamoError::table_not_found(&name))?;
    if !index_updates.is_empty() {
        update_indexes(
            engine,
            &name,
            &table.meta(),
            &index_updates,
            input.attribute_definitions.as_ref(),
        )
        .await?;
        if !other_updates {
            let mut description = describe(engine, ctx, &table.meta(), &table.counters);
            description["TableStatus"] = json!("UPDATING");
            return Ok(TableDescriptionOutput { table_description: description });
        }
    }
    let meta = engine
        .update_table(&name, |meta: &mut TableMeta| -> Result<(), DynamoError> {
            let mode = input.billing_mode.clone().unwrap_or_else(|| meta.billing_mode.clone());
            if mode == "PAY_PER_REQUEST" {
                if input.provisioned_throughput.is_some() {
                    return Err(invalid(
                        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                    ));
                }
                if meta.billing_mode != mode {
                    meta.billing_mode_updated_ms = Some(now);
                    meta.throughput.read = 0;
                    meta.throughput.write = 0;
                }
            } else if let Some(t) = &input.provisioned_throughput {
                let (r, w) = (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1));
                for (value, unit) in [(r, "ReadCapacityUnits"), (w, "WriteCapacityUnits")] {
                    if value > MAX_CAPACITY {
                        return Err(DynamoError::validation(format!("Given value {value} for {unit} is out of bounds")));
                    }
                }
                if meta.billing_mode == mode && r == meta.throughput.read && w == meta.throughput.write {
                    return Err(DynamoError::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {r}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {w}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                        meta.throughput.read, meta.throughput.write
                    )));
                }
                let t = &mut meta.throughput;
                if r > t.read || w > t.write {
                    t.last_increase_ms = Some(now);
                }
                if r < t.read || w < t.write {
                    t.last_decrease_ms = Some(now);
                    t.decreases_today += 1;
                }
                (t.read, t.write) = (r, w);
            } else if meta.billing_mode != mode {
                return Err(invalid(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            }
            meta.billing_mode = mode;
            if let Some(p) = input.deletion_protection_enabled {
                meta.deletion_protection = p;
            }
            if let Some(class) = &input.table_class {
                meta.table_class = Some(class.clone());
            }
            Ok(())
        })
        .await?;
    let mut description = describe(engine, ctx, &meta, &table.counters);
    description["TableStatus"] = json!("UPDATING");
    Ok(TableDescriptionOutput { table_description: description })
}

/// Applies GlobalSecondaryIndexUpdates: at most one create or delete, plus throughput
/// changes. A new index's key attributes come from the request's AttributeDefinitions.
async fn update_indexes(
    engine: &Arc<Engine>,
    name: &str,
    meta: &TableMeta,
    updates: &[indexes::GsiUpdate],
    new_defs: Option<&Vec<AttributeDefinition>>,
) -> Result<(), DynamoError> {
    let mut defs = meta.attribute_definitions.clone();
    for d in new_defs.into_iter().flatten() {
        let (Some(n), Some(ty)) =
            (&d.attribute_name, d.attribute_type.as_deref().and_then(ScalarType::parse))
        else {
            continue;
        };
        match defs.iter_mut().find(|x| &x.name == n) {
            Some(existing) if existing.ty != ty => {
                return Err(invalid(&format!(
                    "Cannot change the type of attribute {n} while it is used by the table or an index"
                )));
            }
            Some(_) => {}
            None => defs.push(KeyAttribute { name: n.clone(), ty }),
        }
    }
    for change in indexes::plan_update(updates, meta, &defs)? {
        match change {
            IndexChange::Create(index) => {
                let defs = defs.clone();
                engine
                    .add_index(name, index, |m: &mut TableMeta| -> Result<(), DynamoError> {
                        m.attribute_definitions = defs;
                        Ok(())
                    })
                    .await?;
            }
            IndexChange::Delete(index_name) => {
                engine
                    .remove_index(
                        name,
                        &index_name,
                        |m: &mut TableMeta| -> Result<(), DynamoError> {
                            // AWS drops the definitions nothing uses any more.
                            let used: Vec<String> = indexes::keys_used(&m.key_schema, &m.indexes)
                                .into_iter()
                                .map(str::to_string)
                                .collect();
                            m.attribute_definitions.retain(|d| used.contains(&d.name));
                            Ok(())
                        },
                    )
                    .await?;
            }
            IndexChange::Throughput(index_name, throughput) => {
                engine
                    .update_table(name, |m: &mut TableMeta| -> Result<(), DynamoError> {
                        if let Some(index) = m.indexes.iter_mut().find(|i| i.name == index_name) {
                            index.throughput = Some(throughput);
                        }
                        Ok(())
                    })
                    .await?;
            }
        }
    }
    Ok(())
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
    let mut description = describe(engine, ctx, &meta, &counters);
    description["TableStatus"] = json!("DELETING");
    Ok(TableDescriptionOutput { table_description: description })
}
