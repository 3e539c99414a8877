//! Point-in-time recovery: UpdateContinuousBackups, DescribeContinuousBackups and
//! RestoreTableToPointInTime. While it is enabled a table logs its changes (old and new
//! images, as its stream would) and keeps them for its recovery period; a restore to a
//! time reads today's items and the changes made since from one snapshot and puts every
//! changed item back as its first later change found it, then writes the result into a
//! new table as RestoreTableFromBackup does.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::DynamoError;
use super::backups::{RestoreOverrides, restored_meta};
use super::tables::{check_table_name, describe, resolve_table_name};
use crate::engine::catalog::{Pitr, TableMeta};
use crate::engine::{Engine, EngineError};
use crate::protocol::RequestContext;

/// AWS's default and largest recovery period.
const MAX_PERIOD_DAYS: u32 = 35;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Specification {
    pub point_in_time_recovery_enabled: Option<bool>,
    pub recovery_period_in_days: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContinuousBackupsInput {
    pub table_name: Option<String>,
    pub point_in_time_recovery_specification: Option<Specification>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeContinuousBackupsInput {
    pub table_name: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableToPointInTimeInput {
    pub source_table_arn: Option<String>,
    pub source_table_name: Option<String>,
    pub target_table_name: Option<String>,
    pub use_latest_restorable_time: Option<bool>,
    pub restore_date_time: Option<f64>,
    #[serde(flatten)]
    pub overrides: RestoreOverrides,
}

fn table_not_found(name: &str) -> DynamoError {
    DynamoError::Named("TableNotFoundException", format!("Table not found: {name}"))
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// ContinuousBackupsDescription of `meta` at `now_ms`.
fn description(meta: &TableMeta, now_ms: i64) -> Value {
    let pitr = match meta.pitr {
        Some(p) => json!({
            "PointInTimeRecoveryStatus": "ENABLED",
            "RecoveryPeriodInDays": p.recovery_period_days,
            "EarliestRestorableDateTime": seconds(p.earliest_ms(now_ms)),
            "LatestRestorableDateTime": seconds(now_ms),
        }),
        None => json!({ "PointInTimeRecoveryStatus": "DISABLED" }),
    };
    json!({
        "ContinuousBackupsDescription": {
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": pitr,
        }
    })
}

/// DescribeContinuousBackups.
pub async fn describe_continuous_backups(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: DescribeContinuousBackupsInput,
) -> Result<Value, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?);
    let table = engine.table(name).ok_or_else(|| table_not_found(name))?;
    Ok(description(&table.meta(), engine.clock.now_millis()))
}

/// UpdateContinuousBackups: turns point-in-time recovery on (from now) or off (its
/// history goes with it), or changes the recovery period.
pub async fn update_continuous_backups(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: UpdateContinuousBackupsInput,
) -> Result<Value, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?).to_string();
    let spec = input.point_in_time_recovery_specification.ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'pointInTimeRecoverySpecification' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let enabled = spec.point_in_time_recovery_enabled.ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let days = match spec.recovery_period_in_days {
        None => None,
        Some(d) if (1..=i64::from(MAX_PERIOD_DAYS)).contains(&d) => Some(d as u32),
        Some(d) => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{d}' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 35, Member must have value greater than or equal to 1"
            )));
        }
    };
    if !enabled && days.is_some() {
        return Err(DynamoError::validation(
            "RecoveryPeriodInDays can only be set when PointInTimeRecoveryEnabled is true",
        ));
    }
    let now = engine.clock.now_millis();
    let meta = engine
        .update_table(&name, |meta: &mut TableMeta| {
            meta.pitr = match (enabled, meta.pitr) {
                (false, _) => None,
                (true, Some(p)) => {
                    Some(Pitr { recovery_period_days: days.unwrap_or(p.recovery_period_days), ..p })
                }
                (true, None) => Some(Pitr {
                    enabled_ms: now,
                    recovery_period_days: days.unwrap_or(MAX_PERIOD_DAYS),
                }),
            };
            Ok::<(), EngineError>(())
        })
        .await
        .map_err(|e| match e {
            EngineError::TableNotFound => table_not_found(&name),
            other => DynamoError::Internal(other.to_string()),
        })?;
    Ok(description(&meta, now))
}

/// RestoreTableToPointInTime.
pub async fn restore_table_to_point_in_time(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: RestoreTableToPointInTimeInput,
) -> Result<Value, DynamoError> {
    let target = check_table_name(input.target_table_name.as_deref())?.to_string();
    input.overrides.check()?;
    let source = match (&input.source_table_arn, &input.source_table_name) {
        (Some(arn), _) => resolve_table_name(arn).to_string(),
        (None, Some(name)) => name.clone(),
        (None, None) => {
            return Err(DynamoError::validation(
                "Either SourceTableArn or SourceTableName must be provided",
            ));
        }
    };
    let table = engine.table(&source).ok_or_else(|| table_not_found(&source))?;
    let meta = table.meta();
    let source_arn = meta.arn(&ctx.region, &ctx.account_id);
    let Some(pitr) = meta.pitr else {
        return Err(DynamoError::Named(
            "PointInTimeRecoveryUnavailableException",
            format!("Point in time recovery is not enabled for table '{source}'"),
        ));
    };
    let now = engine.clock.now_millis();
    let at = match (input.use_latest_restorable_time, input.restore_date_time) {
        (Some(true), Some(_)) => {
            return Err(DynamoError::validation(
                "Only one of UseLatestRestorableTime and RestoreDateTime can be specified",
            ));
        }
        (Some(true), None) => now,
        (_, Some(t)) => (t * 1000.0) as i64,
        (_, None) => {
            return Err(DynamoError::validation(
                "RestoreDateTime must be specified when UseLatestRestorableTime is not true",
            ));
        }
    };
    let earliest = pitr.earliest_ms(now);
    if at < earliest || at > now {
        return Err(DynamoError::Named(
            "InvalidRestoreTimeException",
            format!(
                "RestoreDateTime is outside the restorable window [{}, {}]",
                seconds(earliest),
                seconds(now)
            ),
        ));
    }
    if engine.table(&target).is_some() {
        return Err(DynamoError::Named(
            "TableAlreadyExistsException",
            format!("Table already exists: {target}"),
        ));
    }
    let internal = |e: EngineError| DynamoError::Internal(e.to_string());
    let items = engine.items_at(&meta, at).map_err(internal)?;
    let new_meta = restored_meta(engine, &meta, &target, &input.overrides)?;
    engine.create_table(new_meta).await.map_err(|e| match e {
        EngineError::TableExists => DynamoError::Named(
            "TableAlreadyExistsException",
            format!("Table already exists: {target}"),
        ),
        other => internal(other),
    })?;
    engine.fill_table(&target, items).await.map_err(internal)?;
    let table = engine.table(&target).ok_or_else(|| DynamoError::table_not_found(&target))?;
    let meta = table.meta();
    let mut description = describe(engine, ctx, &meta, &table.counters);
    description["RestoreSummary"] = json!({
        "SourceTableArn": source_arn,
        "RestoreDateTime": seconds(at),
        "RestoreInProgress": false,
    });
    Ok(json!({ "TableDescription": description }))
}
