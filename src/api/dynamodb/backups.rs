//! On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup and
//! RestoreTableFromBackup (`engine::backups` keeps them). A backup is whole when
//! CreateBackup answers (AVAILABLE), and a restore has written every item when
//! RestoreTableFromBackup answers. The restored table gets the backup's key schema,
//! indexes, billing and encryption settings, and (as on AWS) no stream, TTL, tags or
//! deletion protection.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::DynamoError;
use super::tables::{check_table_name, describe, resolve_table_name};
use crate::engine::backups::BackupRecord;
use crate::engine::catalog::TableMeta;
use crate::engine::{Engine, EngineError};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBackupInput {
    pub table_name: Option<String>,
    pub backup_name: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct BackupArnInput {
    pub backup_arn: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListBackupsInput {
    pub table_name: Option<String>,
    pub limit: Option<i64>,
    pub time_range_lower_bound: Option<f64>,
    pub time_range_upper_bound: Option<f64>,
    pub exclusive_start_backup_arn: Option<String>,
    pub backup_type: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableFromBackupInput {
    pub target_table_name: Option<String>,
    pub backup_arn: Option<String>,
    #[serde(flatten)]
    pub overrides: RestoreOverrides,
}

/// What a restore may change of the source's settings (RestoreTableFromBackup and
/// RestoreTableToPointInTime take the same).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreOverrides {
    pub billing_mode_override: Option<String>,
    pub global_secondary_index_override: Option<Value>,
    pub local_secondary_index_override: Option<Value>,
    pub provisioned_throughput_override: Option<Value>,
    pub on_demand_throughput_override: Option<Value>,
    #[serde(rename = "SSESpecificationOverride")]
    pub sse_specification_override: Option<Value>,
}

fn internal(e: EngineError) -> DynamoError {
    DynamoError::Internal(e.to_string())
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// "1 validation error detected: ..." for one member.
fn member_error(value: &str, member: &str, constraint: &str) -> DynamoError {
    DynamoError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

fn check_backup_name(name: Option<&str>) -> Result<&str, DynamoError> {
    let name = name.ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'backupName' failed to satisfy constraint: Member must not be null",
        )
    })?;
    // Only the constraints the name breaks are named, as AWS's validator does.
    let broken: Vec<&str> = [
        (
            // An empty name breaks only the length (all of nothing matches).
            !name.is_empty() && !crate::api::validate::is_name(name),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ),
        (name.len() > 255, "Member must have length less than or equal to 255"),
        (name.len() < 3, "Member must have length greater than or equal to 3"),
    ]
    .into_iter()
    .filter_map(|(bad, why)| bad.then_some(why))
    .collect();
    if !broken.is_empty() {
        return Err(member_error(name, "backupName", &broken.join(", ")));
    }
    Ok(name)
}

fn check_backup_arn(arn: Option<&str>) -> Result<&str, DynamoError> {
    let arn = arn.ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'backupArn' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if !(37..=1024).contains(&arn.len()) {
        return Err(member_error(
            arn,
            "backupArn",
            "Member must have length less than or equal to 1024, Member must have length greater than or equal to 37",
        ));
    }
    Ok(arn)
}

fn not_found(arn: &str) -> DynamoError {
    DynamoError::Named("BackupNotFoundException", format!("Backup not found: {arn}"))
}

/// BackupDetails.
fn details(record: &BackupRecord, status: &str) -> Value {
    json!({
        "BackupArn": record.arn,
        "BackupName": record.name,
        "BackupSizeBytes": record.size_bytes,
        "BackupStatus": status,
        "BackupType": "USER",
        "BackupCreationDateTime": seconds(record.created_ms),
    })
}

/// BackupDescription.
fn description(record: &BackupRecord, status: &str) -> Value {
    let table = &record.table;
    let key_schema: Vec<Value> =
        std::iter::once(json!({"AttributeName": table.key_schema.hash.name, "KeyType": "HASH"}))
            .chain(
                table
                    .key_schema
                    .range
                    .iter()
                    .map(|r| json!({"AttributeName": r.name, "KeyType": "RANGE"})),
            )
            .collect();
    let counters = crate::engine::writer::TableCounters::default();
    let (lsis, gsis) = super::indexes::describe(table, &counters, &record.table_arn);
    let mut features = json!({
        "TimeToLiveDescription": {
            "TimeToLiveStatus": if table.ttl.attribute.is_some() { "ENABLED" } else { "DISABLED" },
        },
    });
    if let Some(attribute) = &table.ttl.attribute {
        features["TimeToLiveDescription"]["AttributeName"] = json!(attribute);
    }
    if let Some(lsis) = lsis {
        features["LocalSecondaryIndexes"] = lsis;
    }
    if let Some(gsis) = gsis {
        features["GlobalSecondaryIndexes"] = gsis;
    }
    if let Some(stream) = table.stream.as_ref().filter(|s| s.enabled) {
        features["StreamDescription"] =
            json!({"StreamEnabled": true, "StreamViewType": stream.view_type});
    }
    json!({
        "BackupDetails": details(record, status),
        "SourceTableDetails": {
            "TableName": table.name,
            "TableId": table.uuid,
            "TableArn": record.table_arn,
            "TableSizeBytes": record.size_bytes,
            "KeySchema": key_schema,
            "TableCreationDateTime": seconds(table.created_ms),
            "ProvisionedThroughput": {
                "ReadCapacityUnits": table.throughput.read,
                "WriteCapacityUnits": table.throughput.write,
            },
            "ItemCount": record.item_count,
            "BillingMode": table.billing_mode,
        },
        "SourceTableFeatureDetails": features,
    })
}

/// CreateBackup.
pub async fn create_backup(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: CreateBackupInput,
) -> Result<Value, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?).to_string();
    let backup_name = check_backup_name(input.backup_name.as_deref())?;
    let table = engine.table(&name).ok_or_else(|| {
        DynamoError::Named("TableNotFoundException", format!("Table not found: {name}"))
    })?;
    let table_arn = table.meta().arn(&ctx.region, &ctx.account_id);
    let now = engine.clock.now_millis();
    let arn = format!("{table_arn}/backup/{now:014}-{:08x}", fastrand::u32(..));
    let record =
        engine.create_backup(&name, backup_name, arn, table_arn).await.map_err(|e| match e {
            EngineError::TableNotFound => {
                DynamoError::Named("TableNotFoundException", format!("Table not found: {name}"))
            }
            other => internal(other),
        })?;
    Ok(json!({ "BackupDetails": details(&record, "AVAILABLE") }))
}

/// DescribeBackup.
pub async fn describe_backup(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: BackupArnInput,
) -> Result<Value, DynamoError> {
    let arn = check_backup_arn(input.backup_arn.as_deref())?;
    let record = engine.backup(arn).map_err(internal)?.ok_or_else(|| not_found(arn))?;
    Ok(json!({ "BackupDescription": description(&record, "AVAILABLE") }))
}

/// DeleteBackup.
pub async fn delete_backup(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: BackupArnInput,
) -> Result<Value, DynamoError> {
    let arn = check_backup_arn(input.backup_arn.as_deref())?;
    let record =
        engine.delete_backup(arn).await.map_err(internal)?.ok_or_else(|| not_found(arn))?;
    Ok(json!({ "BackupDescription": description(&record, "DELETED") }))
}

/// ListBackups: newest last, filtered by table, creation time and type; paged by ARN.
pub async fn list_backups(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: ListBackupsInput,
) -> Result<Value, DynamoError> {
    if let Some(limit) = input.limit.filter(|l| !(1..=100).contains(l)) {
        return Err(member_error(
            &limit.to_string(),
            "limit",
            "Member must have value less than or equal to 100, Member must have value greater than or equal to 1",
        ));
    }
    let kind = input.backup_type.as_deref().unwrap_or("USER");
    if !["USER", "SYSTEM", "AWS_BACKUP", "ALL"].contains(&kind) {
        return Err(member_error(
            kind,
            "backupType",
            "Member must satisfy enum value set: [USER, SYSTEM, AWS_BACKUP, ALL]",
        ));
    }
    let table = input.table_name.as_deref().map(resolve_table_name);
    let mut all = engine.backups().map_err(internal)?;
    all.sort_by(|a, b| (a.created_ms, &a.arn).cmp(&(b.created_ms, &b.arn)));
    let lower = input.time_range_lower_bound.map(|s| (s * 1000.0) as i64);
    let upper = input.time_range_upper_bound.map(|s| (s * 1000.0) as i64);
    let matching = all.iter().filter(|b| {
        ["USER", "ALL"].contains(&kind)
            && table.is_none_or(|t| b.table.name == t)
            && lower.is_none_or(|l| b.created_ms >= l)
            && upper.is_none_or(|u| b.created_ms < u)
    });
    let mut after_start = input.exclusive_start_backup_arn.is_none();
    let limit = input.limit.unwrap_or(100) as usize;
    let mut page = Vec::new();
    let mut more = false;
    for b in matching {
        if !after_start {
            after_start = input.exclusive_start_backup_arn.as_deref() == Some(b.arn.as_str());
            continue;
        }
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(b);
    }
    let summaries: Vec<Value> = page
        .iter()
        .map(|b| {
            json!({
                "TableName": b.table.name,
                "TableId": b.table.uuid,
                "TableArn": b.table_arn,
                "BackupArn": b.arn,
                "BackupName": b.name,
                "BackupCreationDateTime": seconds(b.created_ms),
                "BackupStatus": "AVAILABLE",
                "BackupType": "USER",
                "BackupSizeBytes": b.size_bytes,
            })
        })
        .collect();
    let mut out = json!({ "BackupSummaries": summaries });
    if more && let Some(last) = page.last() {
        out["LastEvaluatedBackupArn"] = json!(last.arn);
    }
    Ok(out)
}

/// RestoreTableFromBackup.
pub async fn restore_table_from_backup(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RestoreTableFromBackupInput,
) -> Result<Value, DynamoError> {
    let target = check_table_name(input.target_table_name.as_deref())?.to_string();
    let arn = check_backup_arn(input.backup_arn.as_deref())?;
    input.overrides.check()?;
    let record = engine.backup(arn).map_err(internal)?.ok_or_else(|| not_found(arn))?;
    if engine.table(&target).is_some() {
        return Err(DynamoError::Named(
            "TableAlreadyExistsException",
            format!("Table already exists: {target}"),
        ));
    }
    let meta = restored_meta(engine, &record.table, &target, &input.overrides)?;
    let meta = engine.restore_backup(&record, meta).await.map_err(|e| match e {
        EngineError::TableExists => DynamoError::Named(
            "TableAlreadyExistsException",
            format!("Table already exists: {target}"),
        ),
        other => internal(other),
    })?;
    let table = engine.table(&target).ok_or_else(|| DynamoError::table_not_found(&target))?;
    let mut description = describe(engine, ctx, &meta, &table.counters);
    description["RestoreSummary"] = json!({
        "SourceBackupArn": record.arn,
        "SourceTableArn": record.table_arn,
        "RestoreDateTime": seconds(meta.created_ms),
        "RestoreInProgress": false,
    });
    Ok(json!({ "TableDescription": description }))
}

impl RestoreOverrides {
    /// Refuses the overrides sluice does not apply.
    pub fn check(&self) -> Result<(), DynamoError> {
        if self.on_demand_throughput_override.is_some() {
            // CreateTable keeps no on-demand maximums either: nothing would report it.
            return Err(DynamoError::validation(
                "OnDemandThroughputOverride is not supported by this endpoint (sluice keeps no on-demand throughput maximums)",
            ));
        }
        Ok(())
    }
}

/// Applies a GlobalSecondaryIndexOverride or LocalSecondaryIndexOverride: the restored
/// table has exactly the listed indexes of that kind (an empty list: none), each of
/// which must be one of the source's, with its key schema and projection; a GSI's
/// throughput may change. As AWS documents it: "The indexes provided should match
/// existing secondary indexes. You can choose to exclude some or all of the indexes at
/// the time of restore."
fn override_indexes(meta: &mut TableMeta, listed: &Value, global: bool) -> Result<(), DynamoError> {
    let member =
        if global { "GlobalSecondaryIndexOverride" } else { "LocalSecondaryIndexOverride" };
    let inputs: Vec<super::indexes::IndexInput> = serde_json::from_value(listed.clone())
        .map_err(|_| {
            DynamoError::validation(format!(
                "One or more parameter values were invalid: {member} must be a list of index definitions"
            ))
        })?;
    let pay_per_request = meta.billing_mode == "PAY_PER_REQUEST";
    let mut kept = Vec::new();
    for input in &inputs {
        let wanted = super::indexes::build(
            input,
            &meta.attribute_definitions,
            &meta.key_schema,
            global,
            pay_per_request,
        )?;
        let source = meta.indexes.iter().find(|i| i.global == global && i.name == wanted.name);
        let Some(source) = source
            .filter(|s| s.key_schema == wanted.key_schema && s.projection == wanted.projection)
        else {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: {member} names index {} that the backup's table does not have with that key schema and projection",
                wanted.name
            )));
        };
        if kept.iter().any(|k: &crate::engine::catalog::IndexMeta| k.name == wanted.name) {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Duplicate index name: {}",
                wanted.name
            )));
        }
        let mut index = source.clone();
        index.throughput = wanted.throughput;
        kept.push(index);
    }
    meta.indexes.retain(|i| i.global != global);
    meta.indexes.extend(kept);
    meta.indexes.sort_by_key(|i| i.id);
    Ok(())
}

/// Applies an SSESpecificationOverride as CreateTable applies an SSESpecification.
fn override_sse(engine: &Engine, meta: &mut TableMeta, given: &Value) -> Result<(), DynamoError> {
    let sse: super::tables::SseSpecification =
        serde_json::from_value(given.clone()).map_err(|_| {
            DynamoError::validation(
                "One or more parameter values were invalid: SSESpecificationOverride is not an SSESpecification",
            )
        })?;
    meta.sse_kms_key = super::table_create::sse_key(engine, Some(&sse))?;
    Ok(())
}

/// The new table's settings: the source's, under the new name, without what AWS does not
/// restore (stream, TTL, tags, deletion protection, Kinesis destinations, point-in-time
/// recovery).
pub(super) fn restored_meta(
    engine: &Engine,
    source: &TableMeta,
    target: &str,
    input: &RestoreOverrides,
) -> Result<TableMeta, DynamoError> {
    let mut meta = source.clone();
    meta.name = target.to_string();
    meta.pitr = None;
    meta.uuid = uuid::Uuid::new_v4().to_string();
    meta.created_ms = engine.clock.now_millis();
    meta.stream = None;
    meta.latest_stream_label = None;
    meta.tags.clear();
    meta.deletion_protection = false;
    meta.ttl = Default::default();
    meta.destinations.clear();
    for index in &mut meta.indexes {
        index.backfilling = false;
    }
    match input.billing_mode_override.as_deref() {
        None => {}
        Some("PAY_PER_REQUEST") => {
            meta.billing_mode = "PAY_PER_REQUEST".into();
            meta.throughput = Default::default();
            for index in &mut meta.indexes {
                index.throughput = None;
            }
        }
        Some("PROVISIONED") => {
            let throughput = input.provisioned_throughput_override.as_ref().ok_or_else(|| {
                DynamoError::validation(
                    "One or more parameter values were invalid: ProvisionedThroughputOverride must be specified when BillingModeOverride is PROVISIONED",
                )
            })?;
            let units = |member: &str| {
                throughput[member].as_i64().filter(|u| *u >= 1).ok_or_else(|| {
                    DynamoError::validation(format!(
                        "One or more parameter values were invalid: ProvisionedThroughputOverride.{member} must be a number of at least 1"
                    ))
                })
            };
            meta.billing_mode = "PROVISIONED".into();
            meta.throughput.read = units("ReadCapacityUnits")?;
            meta.throughput.write = units("WriteCapacityUnits")?;
        }
        Some(other) => {
            return Err(member_error(
                other,
                "billingModeOverride",
                "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
            ));
        }
    }
    if let Some(listed) = &input.global_secondary_index_override {
        override_indexes(&mut meta, listed, true)?;
    }
    if let Some(listed) = &input.local_secondary_index_override {
        override_indexes(&mut meta, listed, false)?;
    }
    if input.billing_mode_override.as_deref() == Some("PROVISIONED") {
        // An index the source had on demand needs capacity of its own: the table's,
        // unless the index override gave it some.
        let table = meta.throughput.clone();
        for index in meta.indexes.iter_mut().filter(|i| i.global && i.throughput.is_none()) {
            index.throughput = Some(crate::engine::catalog::Throughput {
                read: table.read,
                write: table.write,
                ..Default::default()
            });
        }
    }
    // The definitions of the key attributes of indexes left out go with them.
    let used: Vec<String> = super::indexes::keys_used(&meta.key_schema, &meta.indexes)
        .into_iter()
        .map(String::from)
        .collect();
    meta.attribute_definitions.retain(|d| used.contains(&d.name));
    if let Some(given) = &input.sse_specification_override {
        override_sse(engine, &mut meta, given)?;
    }
    Ok(meta)
}
