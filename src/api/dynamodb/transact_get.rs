//! TransactGetItems: up to 100 Gets across tables, read from ONE storage snapshot, so
//! the items are consistent with each other (a transaction's writes appear whole or not
//! at all). Responses come back in request order, `{}` for a missing item.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::error::CancellationReason;
use super::items::{expression_context, usable_table};
use super::keys;
use crate::api::validate::Validator;
use crate::api::wire::WireItem;
use crate::engine::Engine;
use crate::model::expr;
use crate::model::value;
use crate::protocol::RequestContext;

/// Actions per transaction (TransactWriteItems and TransactGetItems alike).
pub(super) const MAX_ACTIONS: usize = 100;

/// AWS's refusal of two actions on one item.
pub(super) const MSG_ONE_ITEM: &str =
    "Transaction request cannot include multiple operations on one item";

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Get {
    pub table_name: Option<String>,
    pub key: Option<WireItem>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItem {
    pub get: Option<Get>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    pub transact_items: Option<Vec<TransactGetItem>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsOutput {
    pub responses: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<Value>>,
}

/// The `transactItems` length constraints, with AWS's echo of the list.
pub(super) fn check_actions(v: &mut Validator, count: usize, class: &str) {
    if count == 0 {
        v.fail(Some("[]"), "transactItems", "have length greater than or equal to 1");
    } else if count > MAX_ACTIONS {
        // AWS echoes the list as Java objects; their identity hashes are arbitrary.
        let shown: Vec<String> = (0..count)
            .map(|i| format!("com.amazonaws.dynamodb.v20120810.{class}@{:x}", 0x1000_0001 + i))
            .collect();
        v.fail(
            Some(&format!("[{}]", shown.join(", "))),
            "transactItems",
            "have length less than or equal to 100",
        );
    }
}

/// ConsumedCapacity of a transaction: per table, with the read or write units named
/// (`member` is "ReadCapacityUnits" or "WriteCapacityUnits").
pub(super) fn transaction_capacity(
    mode: Option<&str>,
    per_table: &[(String, f64)],
    member: &str,
) -> Option<Vec<Value>> {
    let indexes = match mode {
        Some("TOTAL") => false,
        Some("INDEXES") => true,
        _ => return None,
    };
    let entries = per_table.iter().map(|(table, units)| {
        let mut entry = json!({"TableName": table, "CapacityUnits": units, member: units});
        if indexes {
            entry["Table"] = json!({"CapacityUnits": units, member: units});
        }
        entry
    });
    Some(entries.collect())
}

/// Adds `units` to `table`'s entry, keeping first-seen order.
pub(super) fn add_units(per_table: &mut Vec<(String, f64)>, table: &str, units: f64) {
    match per_table.iter_mut().find(|(t, _)| t == table) {
        Some((_, u)) => *u += units,
        None => per_table.push((table.to_string(), units)),
    }
}

/// TransactGetItems.
pub async fn transact_get_items(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: TransactGetItemsInput,
) -> Result<TransactGetItemsOutput, DynamoError> {
    let mut v = Validator::new();
    let mode = input.return_consumed_capacity.as_deref();
    v.one_of(mode, "returnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"]);
    if v.not_null(input.transact_items.as_ref(), "transactItems") {
        let items = input.transact_items.as_deref().unwrap_or_default();
        check_actions(&mut v, items.len(), "TransactGetItem");
        for (i, item) in items.iter().enumerate() {
            let path = format!("transactItems.{}.member.get", i + 1);
            if let Some(get) = &item.get {
                v.not_null(get.key.as_ref(), format_args!("{path}.key"));
                v.table_name(get.table_name.as_deref(), &format!("{path}.tableName"));
            } else {
                v.not_null::<Get>(None, &path);
            }
        }
    }
    v.finish().map_err(DynamoError::Validation)?;
    let gets: Vec<&Get> = input
        .transact_items
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.get.as_ref())
        .collect();
    let mut projections = Vec::with_capacity(gets.len());
    for get in &gets {
        let mut ctx = expression_context(
            get.expression_attribute_names.as_ref(),
            None,
            get.projection_expression.is_some(),
        )?;
        let proj =
            get.projection_expression.as_deref().map(|p| expr::parse_projection(p, &mut ctx));
        projections.push(proj.transpose()?);
        ctx.finish()?;
    }
    let mut storage_keys = Vec::with_capacity(gets.len());
    let mut names = Vec::with_capacity(gets.len());
    let mut seen = HashSet::new();
    let mut faults = Vec::new();
    for (at, get) in gets.iter().enumerate() {
        let table = usable_table(engine, get.table_name.as_deref())?;
        let meta = table.meta();
        let key = keys::from_key(&meta, &get.key.as_ref().map(|k| k.0.clone()).unwrap_or_default());
        let key = match key {
            Ok(key) => key,
            Err(e) => match keys::mismatches_schema(&e) {
                Some(message) => {
                    faults.push((at, message.to_string()));
                    continue;
                }
                None => return Err(e),
            },
        };
        if !seen.insert((meta.id, key.storage_key.clone())) {
            return Err(DynamoError::validation(MSG_ONE_ITEM));
        }
        storage_keys.push(key.storage_key);
        names.push(meta.name.clone());
    }
    if !faults.is_empty() {
        return Err(CancellationReason::cancelled(gets.len(), &faults));
    }
    let items = engine.get_items_consistent(&storage_keys)?;
    let mut per_table = Vec::new();
    let mut responses = Vec::with_capacity(items.len());
    for ((item, proj), table) in items.into_iter().zip(&projections).zip(&names) {
        // Transactional reads cost twice a strongly consistent read.
        let size = item.as_ref().map_or(0, value::item_size);
        add_units(&mut per_table, table, 2.0 * size.div_ceil(4096).max(1) as f64);
        responses.push(match item {
            Some(item) => {
                let item = proj.as_ref().map_or(item.clone(), |p| p.apply(&item));
                json!({"Item": value::item_to_json(&item)})
            }
            None => json!({}),
        });
    }
    Ok(TransactGetItemsOutput {
        responses,
        consumed_capacity: transaction_capacity(mode, &per_table, "ReadCapacityUnits"),
    })
}
