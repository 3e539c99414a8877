//! UpdateTable: billing mode, throughput, deletion protection, table class, encryption
//! (SSESpecification) and GlobalSecondaryIndexUpdates.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::DynamoError;
use super::indexes::{self, GsiUpdate, IndexChange, IndexInput};
use super::table_create::{sse_key, stream_view};
use super::tables::{
    AttributeDefinition, MAX_CAPACITY, ProvisionedThroughput, SseSpecification,
    StreamSpecification, TableDescriptionOutput, check_table_name, describe, invalid,
    resolve_table_name,
};
use crate::api::validate::Validator;
use crate::engine::streams::ViewType;
use crate::engine::{Engine, KeyAttribute, ScalarType, TableMeta};
use crate::protocol::RequestContext;

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
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<SseSpecification>,
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
    if let Some(s) = &input.sse_specification {
        v.one_of(s.sse_type.as_deref(), "sSESpecification.sSEType", &["AES256", "KMS"]);
    }
    if let Some(spec) = &input.stream_specification {
        v.not_null(spec.stream_enabled.as_ref(), "streamSpecification.streamEnabled");
        v.one_of(
            spec.stream_view_type.as_deref(),
            "streamSpecification.streamViewType",
            &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
        );
    }
    v.finish().map_err(DynamoError::Validation)?;
    let stream_view = stream_view(input.stream_specification.as_ref())?;
    let index_updates = input.global_secondary_index_updates.clone().unwrap_or_default();
    // Enabled: a KMS key (only where values are sealed at rest, as at creation); not
    // enabled: back to the owned key, which DescribeTable does not report.
    let sse_update = match &input.sse_specification {
        Some(s) => Some(sse_key(engine, Some(s))?),
        None => None,
    };
    let other_updates = input.billing_mode.is_some()
        || input.provisioned_throughput.is_some()
        || input.deletion_protection_enabled.is_some()
        || input.table_class.is_some()
        || sse_update.is_some();
    if !other_updates && index_updates.is_empty() && input.stream_specification.is_none() {
        return Err(DynamoError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let now = engine.clock.now_millis();
    let table = engine.table(&name).ok_or_else(|| DynamoError::table_not_found(&name))?;
    if input.stream_specification.is_some() {
        update_stream(engine, &name, &table.meta(), stream_view).await?;
        if !other_updates && index_updates.is_empty() {
            let mut description = describe(engine, ctx, &table.meta(), &table.counters);
            description["TableStatus"] = json!("UPDATING");
            return Ok(TableDescriptionOutput { table_description: description });
        }
    }
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
            if let Some(key) = &sse_update {
                meta.sse_kms_key = key.clone();
            }
            Ok(())
        })
        .await?;
    let mut description = describe(engine, ctx, &meta, &table.counters);
    description["TableStatus"] = json!("UPDATING");
    Ok(TableDescriptionOutput { table_description: description })
}

/// Enables (with `view`) or disables the table's stream, with AWS's refusals: an
/// enabled stream cannot be enabled again or changed, and a table without one has
/// nothing to disable.
async fn update_stream(
    engine: &Arc<Engine>,
    name: &str,
    meta: &TableMeta,
    view: Option<ViewType>,
) -> Result<(), DynamoError> {
    let enabled = meta.logs_changes();
    match view {
        Some(_) if enabled => Err(DynamoError::validation(format!(
            "Table already has an enabled stream: TableName: {name}"
        ))),
        Some(view) => engine.enable_stream(name, view).await.map(|_| ()).map_err(Into::into),
        // Not recorded from AWS: its documentation only says this is a ValidationException.
        None if !enabled => Err(DynamoError::validation(format!(
            "Table does not have an enabled stream to disable: TableName: {name}"
        ))),
        None => engine.disable_stream(name).await.map_err(Into::into),
    }
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
