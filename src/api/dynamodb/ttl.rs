//! Time to Live settings: UpdateTimeToLive and DescribeTimeToLive. The expiry itself is
//! the engine's background task (`engine::ttl`).
//!
//! AWS's behaviour, as captured against real tables (ack-api-quirks DDB-TABLE-115, -118,
//! -143 to -147) and the botocore model:
//! - UpdateTimeToLive is not idempotent: enabling twice, disabling a disabled table or
//!   naming another attribute than the active one are ValidationExceptions. These content
//!   checks come before the rate rule.
//! - After a successful change, another one is refused for a while ("Time to live has
//!   been modified multiple times within a fixed interval"); AWS documents an hour and was
//!   observed at about 31 minutes. `dynamodb.ttl_update_cooldown_ms` sets it.
//! - The status settles at once: AWS lists ENABLING/DISABLING but they were never seen
//!   at 1 s polling, so sluice reports ENABLED/DISABLED straight away.
//! - A disabled table describes as `{TimeToLiveStatus: DISABLED}` without AttributeName,
//!   whether TTL was never set or was disabled.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::DynamoError;
use super::tables::{check_table_name, resolve_table_name};
use crate::api::validate::Validator;
use crate::engine::{Engine, Table, TableMeta};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecification {
    pub enabled: Option<bool>,
    pub attribute_name: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveInput {
    pub table_name: Option<String>,
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTimeToLiveInput {
    pub table_name: Option<String>,
}

/// AWS's message for a change inside the rate window.
pub const MSG_TOO_SOON: &str =
    "Time to live has been modified multiple times within a fixed interval";

/// The named table (or table ARN), with AWS's error when it does not exist.
fn find_table(engine: &Engine, name: &str) -> Result<Arc<Table>, DynamoError> {
    engine.table(name).ok_or_else(|| DynamoError::table_not_found(name))
}

/// The specification's members, or AWS's constraint message (members in model order).
fn specification(spec: Option<TimeToLiveSpecification>) -> Result<(bool, String), DynamoError> {
    let mut v = Validator::new();
    if v.not_null(spec.as_ref(), "timeToLiveSpecification")
        && let Some(spec) = &spec
    {
        v.not_null(spec.enabled.as_ref(), "timeToLiveSpecification.enabled");
        v.not_null(spec.attribute_name.as_ref(), "timeToLiveSpecification.attributeName");
        let name = spec.attribute_name.as_deref();
        v.length(name, "timeToLiveSpecification.attributeName", 1, 255);
    }
    v.finish().map_err(DynamoError::Validation)?;
    match spec {
        Some(TimeToLiveSpecification { enabled: Some(e), attribute_name: Some(a) }) => Ok((e, a)),
        // The validator refused every other shape above.
        _ => Err(DynamoError::Internal("unchecked TimeToLiveSpecification".into())),
    }
}

/// UpdateTimeToLive: enables or disables TTL and echoes the specification.
pub async fn update_time_to_live(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: UpdateTimeToLiveInput,
) -> Result<Value, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?).to_string();
    let (enabled, attribute) = specification(input.time_to_live_specification)?;
    let table = find_table(engine, &name)?;
    if engine.is_creating(&table.meta()) {
        return Err(DynamoError::ResourceInUse(format!(
            "Attempt to change a resource which is still in use: Table {name} is being created"
        )));
    }
    let now = engine.clock.now_millis();
    let cooldown = engine.config.dynamodb.ttl_update_cooldown_ms as i64;
    let requested = attribute.clone();
    engine
        .update_table(&name, move |meta: &mut TableMeta| -> Result<(), DynamoError> {
            let ttl = &mut meta.ttl;
            if let Some(current) = ttl.attribute.as_ref().filter(|c| **c != requested) {
                return Err(DynamoError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                )));
            }
            match (ttl.attribute.is_some(), enabled) {
                (true, true) => {
                    return Err(DynamoError::validation("TimeToLive is already enabled"));
                }
                (false, false) => {
                    return Err(DynamoError::validation("TimeToLive is already disabled"));
                }
                _ => {}
            }
            if cooldown > 0 && ttl.changed_ms.is_some_and(|at| now < at.saturating_add(cooldown))
            {
                return Err(DynamoError::validation(MSG_TOO_SOON));
            }
            ttl.attribute = enabled.then_some(requested);
            ttl.changed_ms = Some(now);
            Ok(())
        })
        .await
        .map_err(|e| match e {
            DynamoError::ResourceNotFound(_) => DynamoError::table_not_found(&name),
            other => other,
        })?;
    Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}))
}

/// DescribeTimeToLive: ENABLED with the attribute, or DISABLED.
pub async fn describe_time_to_live(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: DescribeTimeToLiveInput,
) -> Result<Value, DynamoError> {
    let name = resolve_table_name(check_table_name(input.table_name.as_deref())?);
    let meta = find_table(engine, name)?.meta();
    if engine.is_creating(&meta) {
        return Err(DynamoError::validation(
            "Cannot describe time to live while table is in CREATING state: Current table state is CREATING",
        ));
    }
    let description = match &meta.ttl.attribute {
        Some(attribute) => json!({"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}),
        None => json!({"TimeToLiveStatus": "DISABLED"}),
    };
    Ok(json!({"TimeToLiveDescription": description}))
}
