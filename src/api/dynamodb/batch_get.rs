//! BatchGetItem: up to 100 keys across tables, each table with its own projection and
//! read consistency. Keys whose items would take the response past 16 MB come back as
//! UnprocessedKeys (with their table's parameters), as AWS does.
//!
//! Check order and messages follow dynalite's recorded tests (validations/batchGetItem.js)
//! and the 2026 captures of nubo-db/dynamodb-conformance (empty map, >100 keys).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::items::{consumed, expression_context, no_mixing, projection, usable_table};
use super::keys;
use super::tables::resolve_table_name;
use crate::api::validate::Validator;
use crate::api::wire::WireItem;
use crate::engine::Engine;
use crate::model::{Item, legacy, value};
use crate::protocol::RequestContext;

/// Keys per request, over all tables.
const MAX_KEYS: usize = 100;
/// Response data per request; the rest is left unprocessed.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    pub keys: Option<Vec<WireItem>>,
    pub attributes_to_get: Option<Vec<String>>,
    pub consistent_read: Option<bool>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemInput {
    pub request_items: Option<BTreeMap<String, KeysAndAttributes>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemOutput {
    pub responses: BTreeMap<String, Vec<Value>>,
    pub unprocessed_keys: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<Value>>,
}

/// The map-key constraint of RequestItems: table names (or ARNs naming valid tables).
pub(super) fn check_table_keys<'a>(
    v: &mut Validator,
    names: impl Iterator<Item = &'a String>,
    dump: impl FnOnce() -> String,
) {
    let bad = |n: &String| {
        let n = resolve_table_name(n);
        n.len() < 3 || n.len() > 255 || !crate::api::validate::is_name(n)
    };
    if names.into_iter().any(bad) {
        v.fail_constraint(
            Some(&dump()),
            "requestItems",
            "Map keys must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]",
        );
    }
}

/// RequestItems as AWS echoes it in a constraint message today: compact JSON of what
/// was sent (nubo-db/dynamodb-conformance error-messages/batchGetItem, AWS 2026; older
/// AWS printed Java's toString, which BatchWriteItem's message still records).
fn dump(items: &BTreeMap<String, KeysAndAttributes>) -> String {
    let tables = items.iter().map(|(name, k)| {
        let mut members = serde_json::Map::new();
        if let Some(names) = &k.attributes_to_get {
            members.insert("AttributesToGet".into(), json!(names));
        }
        if let Some(c) = k.consistent_read {
            members.insert("ConsistentRead".into(), json!(c));
        }
        if let Some(names) = &k.expression_attribute_names {
            members.insert("ExpressionAttributeNames".into(), json!(names));
        }
        if let Some(keys) = &k.keys {
            let keys = keys.iter().map(|w| value::item_to_json(&w.0)).collect::<Vec<_>>();
            members.insert("Keys".into(), json!(keys));
        }
        if let Some(p) = &k.projection_expression {
            members.insert("ProjectionExpression".into(), json!(p));
        }
        (name.clone(), serde_json::Value::Object(members))
    });
    serde_json::Value::Object(tables.collect()).to_string()
}

/// Read units of one read: 1 per 4 KB, at least 1, halved for eventual consistency.
pub(super) fn read_units(item: Option<&Item>, consistent: bool) -> f64 {
    let size = item.map_or(0, value::item_size);
    size.div_ceil(4096).max(1) as f64 * if consistent { 1.0 } else { 0.5 }
}

fn validate(
    input: &BatchGetItemInput,
) -> Result<&BTreeMap<String, KeysAndAttributes>, DynamoError> {
    // RequestItems first, then ReturnConsumedCapacity; an empty Keys named as the
    // 100-key limit names it (AWS, nubo-db/dynamodb-conformance error-messages/
    // batchGetItem and validation-ordering/batchOperations).
    let mut v = Validator::new();
    v.not_null(input.request_items.as_ref(), "requestItems");
    if let Some(items) = &input.request_items {
        check_table_keys(&mut v, items.keys(), || dump(items));
        for (name, k) in items {
            let path = format!("requestItems.{name}.member.keys");
            if v.not_null(k.keys.as_ref(), &path) && k.keys.as_ref().is_some_and(Vec::is_empty) {
                v.fail_unshown(
                    &format!("RequestItems.{name}.member.Keys"),
                    "Member must have length greater than or equal to 1",
                );
            }
            if let Some(names) = &k.attributes_to_get {
                let path = format!("requestItems.{name}.member.attributesToGet");
                v.extend(legacy::attributes_to_get_violations(names, &path));
            }
        }
    }
    v.one_of(
        input.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    v.finish().map_err(DynamoError::Validation)?;
    let Some(items) = input.request_items.as_ref() else {
        return Err(DynamoError::validation(
            "The requestItems parameter is required for BatchGetItem",
        ));
    };
    if items.is_empty() {
        return Err(DynamoError::validation(
            "The requestItems parameter is required for BatchGetItem",
        ));
    }
    for (name, k) in items {
        if k.keys.as_ref().is_some_and(|keys| keys.len() > MAX_KEYS) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value at 'RequestItems.{name}.member.Keys' failed to satisfy constraint: Member must have length less than or equal to 100"
            )));
        }
    }
    // Expression and legacy projections may not be mixed, even across tables.
    no_mixing(
        &[("AttributesToGet", items.values().any(|k| k.attributes_to_get.is_some()))],
        &[("ProjectionExpression", items.values().any(|k| k.projection_expression.is_some()))],
    )?;
    Ok(items)
}

/// BatchGetItem.
pub async fn batch_get_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: BatchGetItemInput,
) -> Result<BatchGetItemOutput, DynamoError> {
    let items = validate(&input)?;
    // Every table's expressions and keys are checked before any table is looked up.
    let mut projections = Vec::with_capacity(items.len());
    let mut total = 0;
    for k in items.values() {
        let mut ctx = expression_context(
            k.expression_attribute_names.as_ref(),
            None,
            k.projection_expression.is_some(),
        )?;
        projections.push(projection(
            k.projection_expression.as_ref(),
            k.attributes_to_get.as_ref(),
            &mut ctx,
        )?);
        ctx.finish()?;
        let keys = k.keys.as_deref().unwrap_or_default();
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].contains(key) {
                return Err(DynamoError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
        }
        total += keys.len();
        if total > MAX_KEYS {
            return Err(DynamoError::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
    }
    let mut storage_keys = Vec::with_capacity(total);
    let mut metas = Vec::with_capacity(items.len());
    for name in items.keys() {
        let table = usable_table(engine, Some(name))?;
        metas.push(table.meta());
    }
    for (k, meta) in items.values().zip(&metas) {
        for key in k.keys.as_deref().unwrap_or_default() {
            storage_keys.push(keys::from_key(meta, &key.0)?.storage_key);
        }
    }
    // One snapshot: the batch sees one instant, and every acknowledged write.
    let mut found = engine.get_items_consistent(&storage_keys)?.into_iter();
    let mut out = BatchGetItemOutput::default();
    let mut capacity = Vec::new();
    let (mut bytes, mut full) = (0usize, false);
    for (((name, k), meta), proj) in items.iter().zip(&metas).zip(&projections) {
        let consistent = k.consistent_read == Some(true);
        let (mut units, mut unprocessed) = (0.0, Vec::new());
        let responses = out.responses.entry(name.clone()).or_default();
        for key in k.keys.as_deref().unwrap_or_default() {
            let item = found.next().flatten();
            let size = item.as_ref().map_or(0, value::item_size);
            // Past the limit, this key and every later one are left for a retry.
            full = full || bytes + size > MAX_RESPONSE_BYTES;
            if full {
                unprocessed.push(value::item_to_json(&key.0));
                continue;
            }
            bytes += size;
            units += read_units(item.as_ref(), consistent);
            if let Some(item) = item {
                let item = proj.as_ref().map_or(item.clone(), |p| p.apply(&item));
                responses.push(value::item_to_json(&item));
            }
        }
        if !unprocessed.is_empty() {
            out.unprocessed_keys.insert(name.clone(), unprocessed_entry(k, unprocessed));
        }
        capacity.extend(consumed(&meta.name, input.return_consumed_capacity.as_deref(), units));
    }
    if matches!(input.return_consumed_capacity.as_deref(), Some("TOTAL" | "INDEXES")) {
        out.consumed_capacity = Some(capacity);
    }
    Ok(out)
}

/// The KeysAndAttributes to retry: the remaining keys with the table's parameters.
fn unprocessed_entry(k: &KeysAndAttributes, keys: Vec<Value>) -> Value {
    let mut entry = json!({ "Keys": keys });
    if let Some(a) = &k.attributes_to_get {
        entry["AttributesToGet"] = json!(a);
    }
    if let Some(c) = k.consistent_read {
        entry["ConsistentRead"] = json!(c);
    }
    if let Some(p) = &k.projection_expression {
        entry["ProjectionExpression"] = json!(p);
    }
    if let Some(n) = &k.expression_attribute_names {
        entry["ExpressionAttributeNames"] = json!(n);
    }
    entry
}
