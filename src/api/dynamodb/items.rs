//! Item operations: PutItem, GetItem, UpdateItem, DeleteItem. Expressions are parsed and
//! checked here, before the write is queued; the partition writer then runs the mutator,
//! which evaluates the condition and builds the new item against the real old one.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::keys::{self, PrimaryKey};
use super::mutators;
use super::tables::resolve_table_name;
use crate::api::validate::Validator;
use crate::api::wire::{WireItem, WireValues};
use crate::engine::collections::size_estimate_gb;
use crate::engine::{Engine, Table, TableMeta, WriteOutcome};
use crate::model::expr::{self, Condition, ExprContext, Projection, UpdateExpr};
use crate::model::{AttributeValue, Item, legacy, value};
use crate::protocol::RequestContext;

/// The expression-related members every item operation may carry.
#[derive(Debug, Default)]
pub struct ExpressionMembers {
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    pub expected: Option<Value>,
    pub conditional_operator: Option<String>,
}

/// `take_expression`, moving the expression members out, for each input that lists them.
macro_rules! take_expression {
    ($($input:ty),*) => {$(
        impl $input {
            fn take_expression(&mut self) -> ExpressionMembers {
                ExpressionMembers {
                    condition_expression: self.condition_expression.take(),
                    expression_attribute_names: self.expression_attribute_names.take(),
                    expression_attribute_values: self.expression_attribute_values.take(),
                    expected: self.expected.take(),
                    conditional_operator: self.conditional_operator.take(),
                }
            }
        }
    )*};
}

take_expression!(PutItemInput, UpdateItemInput, DeleteItemInput);

/// Looks up a table that item operations may use (not missing, not still CREATING).
pub(super) fn usable_table(engine: &Engine, name: Option<&str>) -> Result<Arc<Table>, DynamoError> {
    check_item_table_name(name)?;
    let name = resolve_table_name(name.unwrap_or_default());
    let table = engine.table(name).ok_or_else(DynamoError::no_table)?;
    if engine.is_creating(&table.meta()) {
        return Err(DynamoError::no_table());
    }
    Ok(table)
}

/// ReturnValues must name a known value; which ones an operation accepts is checked
/// after the other constraints, with its own message. The enum is listed in the order
/// AWS lists it (nubo-db/dynamodb-conformance validation-ordering/updateItem and
/// deepRequests, AWS).
pub(super) fn check_return_values(v: &mut Validator, value: Option<&str>) {
    v.one_of(value, "returnValues", &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"]);
}

/// A TableName alone, checked as the data-plane calls check it (see
/// [`Validator::table_name`]).
pub(super) fn check_item_table_name(name: Option<&str>) -> Result<(), DynamoError> {
    let mut v = Validator::new();
    v.table_name(name, "tableName");
    v.finish().map_err(DynamoError::Validation)
}

pub(super) fn check_common(
    v: &mut Validator,
    consumed: Option<&str>,
    metrics: Option<&str>,
    on_failure: Option<&str>,
) {
    v.one_of(consumed, "returnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"]);
    v.one_of(metrics, "returnItemCollectionMetrics", &["SIZE", "NONE"]);
    v.one_of(on_failure, "returnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"]);
}

/// The placeholder maps of a request, checked the way AWS checks them before parsing.
pub(super) fn expression_context<'a>(
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a WireValues>,
    uses_expressions: bool,
) -> Result<ExprContext<'a>, DynamoError> {
    if !uses_expressions {
        if names.is_some() {
            return Err(DynamoError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if values.is_some() {
            return Err(DynamoError::validation(
                "ExpressionAttributeValues can only be specified when using expressions",
            ));
        }
    }
    let ctx = ExprContext::new(names, values.map(|v| &v.0));
    ctx.check_maps()?;
    Ok(ctx)
}

pub(super) fn no_mixing(
    non_expression: &[(&str, bool)],
    expression: &[(&str, bool)],
) -> Result<(), DynamoError> {
    let old: Vec<&str> = non_expression.iter().filter(|(_, set)| *set).map(|(n, _)| *n).collect();
    let new: Vec<&str> = expression.iter().filter(|(_, set)| *set).map(|(n, _)| *n).collect();
    if !old.is_empty() && !new.is_empty() {
        return Err(DynamoError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            old.join(", "),
            new.join(", ")
        )));
    }
    Ok(())
}

/// Parses the request's condition: ConditionExpression, or the legacy Expected.
pub(super) fn condition(
    members: &ExpressionMembers,
    ctx: &mut ExprContext,
) -> Result<Option<Condition>, DynamoError> {
    if members.expected.is_none() && members.conditional_operator.is_some() {
        // ConditionalOperator alone: its enum check, then "ConditionalOperator cannot be
        // used without Filter or Expected" (the same checks as Query and Scan).
        return Ok(legacy::expected(&Value::Null, members.conditional_operator.as_deref())?);
    }
    if let Some(text) = &members.condition_expression {
        return Ok(Some(expr::parse_condition(text, expr::ExprKind::Condition, ctx)?));
    }
    if let Some(expected) = &members.expected {
        return Ok(legacy::expected(expected, members.conditional_operator.as_deref())?);
    }
    Ok(None)
}

/// Refuses an item with an attribute named by the empty string. Chosen wording: AWS's
/// "Empty attribute name" (its ExpressionAttributeNames message) in its parameter
/// envelope; see docs/dynamodb-compatibility.md.
pub(super) fn check_attribute_names<'a>(
    mut names: impl Iterator<Item = &'a String>,
) -> Result<(), DynamoError> {
    if names.any(String::is_empty) {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Empty attribute name",
        ));
    }
    Ok(())
}

/// ConsumedCapacity for one item operation, when asked for.
pub(super) fn consumed(table: &str, mode: Option<&str>, units: f64) -> Option<Value> {
    match mode {
        Some("TOTAL") => Some(json!({"TableName": table, "CapacityUnits": units})),
        Some("INDEXES") => Some(
            json!({"TableName": table, "CapacityUnits": units, "Table": {"CapacityUnits": units}}),
        ),
        _ => None,
    }
}

/// Write units: 1 per KB of the larger of the old and new item, at least 1.
pub(super) fn write_units(outcome: &WriteOutcome) -> f64 {
    let size = |i: &Option<Item>| i.as_ref().map_or(0, value::item_size);
    let bytes = size(&outcome.old).max(size(&outcome.new));
    (bytes.div_ceil(1024)).max(1) as f64
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    pub table_name: Option<String>,
    pub item: Option<WireItem>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
    // The expression members (`ExpressionMembers`), listed here rather than flattened:
    // serde buffers flattened members as a tree, which costs memory and hides their text
    // from the streaming item decoder.
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub expected: Option<Value>,
    pub conditional_operator: Option<String>,
}

/// The output of PutItem, UpdateItem and DeleteItem.
#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct WriteOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<Value>,
}

/// The ItemCollectionMetrics of a write to partition `hash`: only when asked for
/// (`SIZE`) and only on a table with a local secondary index, as AWS answers. The size
/// is measured, the partition read once from a snapshot after the write.
pub(super) async fn collection_metrics(
    engine: &Engine,
    meta: &TableMeta,
    hash: &AttributeValue,
    mode: Option<&str>,
) -> Result<Option<Value>, DynamoError> {
    if mode != Some("SIZE") || !meta.indexes.iter().any(|i| !i.global) {
        return Ok(None);
    }
    let bytes = engine.collection_bytes(meta, hash).await?;
    let mut key = Item::new();
    key.insert(meta.key_schema.hash.name.clone(), hash.clone());
    Ok(Some(serde_json::json!({
        "ItemCollectionKey": value::item_to_json(&key),
        "SizeEstimateRangeGB": size_estimate_gb(bytes),
    })))
}

/// The ItemCollectionMetrics of a batch or a transaction: each item collection in
/// `written` (a table and a partition key value, repeats allowed) once, listed under its
/// table's name; `None` unless SIZE was asked for. Callers gather `written` only then.
pub(super) async fn written_collections_metrics(
    engine: &Engine,
    written: &[(Arc<TableMeta>, AttributeValue)],
    mode: Option<&str>,
) -> Result<Option<serde_json::Map<String, Value>>, DynamoError> {
    if mode != Some("SIZE") {
        return Ok(None);
    }
    let mut metrics = serde_json::Map::new();
    for (at, (meta, hash)) in written.iter().enumerate() {
        let repeat = written[..at].iter().any(|(m, h)| m.id == meta.id && h == hash);
        if repeat {
            continue;
        }
        if let Some(m) = collection_metrics(engine, meta, hash, mode).await?
            && let Value::Array(list) =
                metrics.entry(meta.name.clone()).or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(m);
        }
    }
    Ok(Some(metrics))
}

/// PutItem.
pub async fn put_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    mut input: PutItemInput,
) -> Result<WriteOutput, DynamoError> {
    let mut v = Validator::new();
    v.table_name(input.table_name.as_deref(), "tableName");
    v.not_null(input.item.as_ref(), "item");
    check_return_values(&mut v, input.return_values.as_deref());
    v.one_of(input.conditional_operator.as_deref(), "conditionalOperator", &["OR", "AND"]);
    check_common(
        &mut v,
        input.return_consumed_capacity.as_deref(),
        input.return_item_collection_metrics.as_deref(),
        input.return_values_on_condition_check_failure.as_deref(),
    );
    v.finish().map_err(DynamoError::Validation)?;
    if let Some(rv) = input.return_values.as_deref().filter(|rv| !["NONE", "ALL_OLD"].contains(rv))
    {
        let _ = rv;
        return Err(DynamoError::validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    let e = &input.take_expression();
    no_mixing(
        &[("Expected", e.expected.is_some())],
        &[("ConditionExpression", e.condition_expression.is_some())],
    )?;
    let mut ctx = expression_context(
        e.expression_attribute_names.as_ref(),
        e.expression_attribute_values.as_ref(),
        e.condition_expression.is_some(),
    )?;
    let cond = condition(e, &mut ctx)?;
    ctx.finish()?;
    let item = input.item.map(|i| i.0).unwrap_or_default();
    let table = usable_table(engine, input.table_name.as_deref())?;
    let meta = table.meta();
    let PrimaryKey { hash, storage_key, .. } = keys::from_item(&meta, &item)?;
    check_attribute_names(item.keys())?;
    value::check_item_size(&item)?;
    let return_old = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let outcome =
        engine.write(&table, &hash, storage_key, mutators::put(cond, item, return_old)).await?;
    let attributes = match input.return_values.as_deref() {
        Some("ALL_OLD") => outcome.old.as_ref().map(value::item_to_json),
        _ => None,
    };
    let consumed_capacity =
        consumed(&meta.name, input.return_consumed_capacity.as_deref(), write_units(&outcome));
    let metrics = input.return_item_collection_metrics.as_deref();
    let item_collection_metrics = collection_metrics(engine, &meta, &hash, metrics).await?;
    Ok(WriteOutput { attributes, consumed_capacity, item_collection_metrics })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: Option<String>,
    pub key: Option<WireItem>,
    pub consistent_read: Option<bool>,
    pub projection_expression: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Value>,
}

/// The projection of a read: ProjectionExpression or the legacy AttributesToGet.
pub(super) fn projection(
    expression: Option<&String>,
    attributes_to_get: Option<&Vec<String>>,
    ctx: &mut ExprContext,
) -> Result<Option<Projection>, DynamoError> {
    no_mixing(
        &[("AttributesToGet", attributes_to_get.is_some())],
        &[("ProjectionExpression", expression.is_some())],
    )?;
    if let Some(text) = expression {
        return Ok(Some(expr::parse_projection(text, ctx)?));
    }
    if let Some(names) = attributes_to_get {
        let mut seen = BTreeSet::new();
        for n in names {
            if !seen.insert(n) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Duplicate value in attribute name: {n}"
                )));
            }
        }
        return Ok(Some(legacy::attributes_to_get(names)?));
    }
    Ok(None)
}

/// GetItem. Reads see every acknowledged write (strong and eventual reads alike).
pub async fn get_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: GetItemInput,
) -> Result<GetItemOutput, DynamoError> {
    let mut v = Validator::new();
    v.table_name(input.table_name.as_deref(), "tableName");
    v.not_null(input.key.as_ref(), "key");
    if let Some(names) = &input.attributes_to_get {
        v.extend(legacy::attributes_to_get_violations(names, "attributesToGet"));
    }
    v.one_of(
        input.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    v.finish().map_err(DynamoError::Validation)?;
    let mut ctx = expression_context(
        input.expression_attribute_names.as_ref(),
        None,
        input.projection_expression.is_some(),
    )?;
    let proj = projection(
        input.projection_expression.as_ref(),
        input.attributes_to_get.as_ref(),
        &mut ctx,
    )?;
    ctx.finish()?;
    let table = usable_table(engine, input.table_name.as_deref())?;
    let meta = table.meta();
    let key = keys::from_key(&meta, &input.key.unwrap_or_default().0)?;
    let item = engine.get_item(&key.storage_key)?;
    let size = item.as_ref().map_or(0, value::item_size);
    let units = (size.div_ceil(4096)).max(1) as f64
        * if input.consistent_read == Some(true) { 1.0 } else { 0.5 };
    let item = item.map(|i| match &proj {
        Some(p) => p.apply(&i),
        None => i,
    });
    Ok(GetItemOutput {
        item: item.as_ref().map(value::item_to_json),
        consumed_capacity: consumed(&meta.name, input.return_consumed_capacity.as_deref(), units),
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    pub table_name: Option<String>,
    pub key: Option<WireItem>,
    pub update_expression: Option<String>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub attribute_updates: Option<Value>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
    // The expression members (`ExpressionMembers`), listed here rather than flattened:
    // serde buffers flattened members as a tree, which costs memory and hides their text
    // from the streaming item decoder.
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub expected: Option<Value>,
    pub conditional_operator: Option<String>,
}

/// UpdateItem: an upsert, as on AWS, except that only REMOVE/DELETE actions on a
/// missing item create nothing (see `mutators::update`).
pub async fn update_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    mut input: UpdateItemInput,
) -> Result<WriteOutput, DynamoError> {
    // AWS's order: ReturnConsumedCapacity, TableName, ConditionalOperator, ReturnValues,
    // Key (nubo-db/dynamodb-conformance validation-ordering/updateItem, AWS).
    let mut v = Validator::new();
    let mode = input.return_consumed_capacity.as_deref();
    v.one_of(mode, "returnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"]);
    v.table_name(input.table_name.as_deref(), "tableName");
    v.one_of(input.conditional_operator.as_deref(), "conditionalOperator", &["OR", "AND"]);
    check_return_values(&mut v, input.return_values.as_deref());
    v.not_null(input.key.as_ref(), "key");
    check_common(
        &mut v,
        None,
        input.return_item_collection_metrics.as_deref(),
        input.return_values_on_condition_check_failure.as_deref(),
    );
    v.finish().map_err(DynamoError::Validation)?;
    let e = &input.take_expression();
    no_mixing(
        &[
            ("AttributeUpdates", input.attribute_updates.is_some()),
            ("Expected", e.expected.is_some()),
        ],
        &[
            ("UpdateExpression", input.update_expression.is_some()),
            ("ConditionExpression", e.condition_expression.is_some()),
        ],
    )?;
    let mut ctx = expression_context(
        e.expression_attribute_names.as_ref(),
        e.expression_attribute_values.as_ref(),
        e.condition_expression.is_some() || input.update_expression.is_some(),
    )?;
    let update: Option<UpdateExpr> = match (&input.update_expression, &input.attribute_updates) {
        (Some(text), _) => Some(expr::parse_update(text, &mut ctx)?),
        (None, Some(updates)) => {
            let update = legacy::attribute_updates(updates)?;
            check_attribute_names(updates.as_object().into_iter().flat_map(|m| m.keys()))?;
            Some(update)
        }
        (None, None) => None,
    };
    let cond = condition(e, &mut ctx)?;
    ctx.finish()?;
    let table = usable_table(engine, input.table_name.as_deref())?;
    let meta = table.meta();
    let key = keys::from_key(&meta, &input.key.unwrap_or_default().0)?;
    if let Some(update) = &update {
        update.check_keys(&meta.key_schema.names().collect::<Vec<_>>())?;
    }
    let key_item = mutators::key_item(&meta, &key);
    let return_old = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let update_for_return = update.clone();
    // AttributeUpdates words type mismatches its own way.
    let legacy_updates = input.update_expression.is_none() && input.attribute_updates.is_some();
    let outcome = engine
        .write(
            &table,
            &key.hash,
            key.storage_key,
            mutators::update(cond, update, key_item, return_old, legacy_updates),
        )
        .await?;
    let pick = |item: &Option<Item>| -> Option<Value> {
        let picked = update_for_return.as_ref()?.returned_attributes(item.as_ref()?);
        (!picked.is_empty()).then(|| value::item_to_json(&picked))
    };
    let attributes = match input.return_values.as_deref() {
        Some("ALL_OLD") => outcome.old.as_ref().map(value::item_to_json),
        Some("ALL_NEW") => outcome.new.as_ref().map(value::item_to_json),
        Some("UPDATED_OLD") => pick(&outcome.old),
        Some("UPDATED_NEW") => pick(&outcome.new),
        _ => None,
    };
    let consumed_capacity =
        consumed(&meta.name, input.return_consumed_capacity.as_deref(), write_units(&outcome));
    let metrics = input.return_item_collection_metrics.as_deref();
    let item_collection_metrics = collection_metrics(engine, &meta, &key.hash, metrics).await?;
    Ok(WriteOutput { attributes, consumed_capacity, item_collection_metrics })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    pub table_name: Option<String>,
    pub key: Option<WireItem>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
    // The expression members (`ExpressionMembers`), listed here rather than flattened:
    // serde buffers flattened members as a tree, which costs memory and hides their text
    // from the streaming item decoder.
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub expected: Option<Value>,
    pub conditional_operator: Option<String>,
}

/// DeleteItem.
pub async fn delete_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    mut input: DeleteItemInput,
) -> Result<WriteOutput, DynamoError> {
    let mut v = Validator::new();
    v.table_name(input.table_name.as_deref(), "tableName");
    v.not_null(input.key.as_ref(), "key");
    check_return_values(&mut v, input.return_values.as_deref());
    v.one_of(input.conditional_operator.as_deref(), "conditionalOperator", &["OR", "AND"]);
    check_common(
        &mut v,
        input.return_consumed_capacity.as_deref(),
        input.return_item_collection_metrics.as_deref(),
        input.return_values_on_condition_check_failure.as_deref(),
    );
    v.finish().map_err(DynamoError::Validation)?;
    if input.return_values.as_deref().is_some_and(|rv| !["NONE", "ALL_OLD"].contains(&rv)) {
        return Err(DynamoError::validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    let e = &input.take_expression();
    no_mixing(
        &[("Expected", e.expected.is_some())],
        &[("ConditionExpression", e.condition_expression.is_some())],
    )?;
    let mut ctx = expression_context(
        e.expression_attribute_names.as_ref(),
        e.expression_attribute_values.as_ref(),
        e.condition_expression.is_some(),
    )?;
    let cond = condition(e, &mut ctx)?;
    ctx.finish()?;
    let table = usable_table(engine, input.table_name.as_deref())?;
    let meta = table.meta();
    let key = keys::from_key(&meta, &input.key.unwrap_or_default().0)?;
    let return_old = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let outcome = engine
        .write(&table, &key.hash, key.storage_key, mutators::delete(cond, return_old))
        .await?;
    let attributes = match input.return_values.as_deref() {
        Some("ALL_OLD") => outcome.old.as_ref().map(value::item_to_json),
        _ => None,
    };
    let consumed_capacity =
        consumed(&meta.name, input.return_consumed_capacity.as_deref(), write_units(&outcome));
    let metrics = input.return_item_collection_metrics.as_deref();
    let item_collection_metrics = collection_metrics(engine, &meta, &key.hash, metrics).await?;
    Ok(WriteOutput { attributes, consumed_capacity, item_collection_metrics })
}
