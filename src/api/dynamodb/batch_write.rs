//! BatchWriteItem: up to 25 puts and deletes across tables. Every request is validated
//! before anything is written, index keys included (so a bad one fails the whole batch
//! and stores nothing, as on AWS); then each
//! goes through its partition's writer like a PutItem or DeleteItem, all queued at once
//! so they share group commits. They are not atomic with each other (AWS's are not
//! either), but every one is durable before the reply, so UnprocessedItems is empty.
//!
//! Check order and messages follow dynalite's recorded tests (validations and
//! test/batchWriteItem.js) and the 2026 captures of nubo-db/dynamodb-conformance.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::DynamoError;
use super::batch_get::check_table_keys;
use super::items::{
    check_attribute_names, consumed, usable_table, write_units, written_collections_metrics,
};
use super::java_dump;
use super::keys::{self, PrimaryKey};
use super::mutators;
use crate::api::validate::Validator;
use crate::api::wire::WireItem;
use crate::engine::{Engine, ItemWrite, TableMeta, index};
use crate::model::{Item, value};
use crate::protocol::RequestContext;

/// Requests per call, over all tables.
const MAX_REQUESTS: usize = 25;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PutRequest {
    pub item: Option<WireItem>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    pub key: Option<WireItem>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRequest {
    pub put_request: Option<PutRequest>,
    pub delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemInput {
    pub request_items: Option<BTreeMap<String, Vec<WriteRequest>>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemOutput {
    pub unprocessed_items: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<Map<String, Value>>,
}

fn dump(items: &BTreeMap<String, Vec<WriteRequest>>) -> String {
    use java_dump::{item, opt};
    java_dump::table_map(items.iter().map(|(name, requests)| {
        let shown: Vec<String> = requests
            .iter()
            .map(|r| {
                let put = opt(r.put_request.as_ref(), |p| {
                    format!(
                        "PutRequest(item={}, workloadProfileName=null)",
                        opt(p.item.as_ref(), |i| item(&i.0))
                    )
                });
                let delete = opt(r.delete_request.as_ref(), |d| {
                    format!("DeleteRequest(key={})", opt(d.key.as_ref(), |k| item(&k.0)))
                });
                format!("WriteRequest(putRequest={put}, deleteRequest={delete})")
            })
            .collect();
        (name, format!("[{}]", shown.join(", ")))
    }))
}

fn validate(
    input: &BatchWriteItemInput,
) -> Result<&BTreeMap<String, Vec<WriteRequest>>, DynamoError> {
    let mut v = Validator::new();
    v.one_of(
        input.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    v.one_of(
        input.return_item_collection_metrics.as_deref(),
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    );
    v.not_null(input.request_items.as_ref(), "requestItems");
    if let Some(items) = &input.request_items {
        check_table_keys(&mut v, items.keys(), || dump(items));
        if items.values().any(|r| r.is_empty() || r.len() > MAX_REQUESTS) {
            v.fail_constraint(
                Some(&dump(items)),
                "requestItems",
                "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            );
        }
        for (name, requests) in items {
            for (i, r) in requests.iter().enumerate() {
                let path = format!("requestItems.{name}.member.{}.member", i + 1);
                if let Some(d) = &r.delete_request {
                    v.not_null(d.key.as_ref(), format_args!("{path}.deleteRequest.key"));
                }
                if let Some(p) = &r.put_request {
                    v.not_null(p.item.as_ref(), format_args!("{path}.putRequest.item"));
                }
            }
        }
    }
    v.finish().map_err(DynamoError::Validation)?;
    let Some(items) = input.request_items.as_ref().filter(|i| !i.is_empty()) else {
        return Err(DynamoError::validation(
            "The requestItems parameter is required for BatchWriteItem",
        ));
    };
    for request in items.values().flatten() {
        match (&request.put_request, &request.delete_request) {
            (Some(p), None) => {
                value::check_item_size(&p.item.as_ref().map(|i| i.0.clone()).unwrap_or_default())?
            }
            (None, Some(_)) => {}
            // AWS's (odd) wording for a request that is neither one put nor one delete.
            _ => {
                return Err(DynamoError::validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ));
            }
        }
    }
    if items.values().map(Vec::len).sum::<usize>() > MAX_REQUESTS {
        return Err(DynamoError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    Ok(items)
}

/// The key of a PutRequest's item. Unlike PutItem, AWS answers a missing or mistyped key
/// attribute here with the generic schema message.
fn put_key(meta: &TableMeta, item: &Item) -> Result<PrimaryKey, DynamoError> {
    let key: Item = meta
        .key_schema
        .names()
        .filter_map(|n| item.get(n).map(|v| (n.to_string(), v.clone())))
        .collect();
    keys::from_key(meta, &key)
}

/// BatchWriteItem.
pub async fn batch_write_item(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: BatchWriteItemInput,
) -> Result<BatchWriteItemOutput, DynamoError> {
    let items = validate(&input)?;
    let mut writes = Vec::new();
    let mut tables = Vec::with_capacity(items.len());
    for (name, requests) in items {
        let table = usable_table(engine, Some(name))?;
        let meta = table.meta();
        let mut seen = HashSet::new();
        for request in requests {
            let (key, mutate) = match (&request.put_request, &request.delete_request) {
                (Some(p), _) => {
                    let item = p.item.as_ref().map(|i| i.0.clone()).unwrap_or_default();
                    let key = put_key(&meta, &item)?;
                    check_attribute_names(item.keys())?;
                    // The writer checks index keys too, but per item: by then the other
                    // puts of the batch would already be stored.
                    index::check_index_keys(&meta, &item).map_err(DynamoError::Validation)?;
                    (key, mutators::put(None, item, false))
                }
                (_, Some(d)) => {
                    let key = d.key.as_ref().map(|k| &k.0).cloned().unwrap_or_default();
                    (keys::from_key(&meta, &key)?, mutators::delete(None, false))
                }
                (None, None) => continue,
            };
            if !seen.insert(key.storage_key.clone()) {
                return Err(DynamoError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            writes.push((
                tables.len(),
                ItemWrite {
                    table: table.clone(),
                    hash: key.hash,
                    storage_key: key.storage_key,
                    mutate,
                },
            ));
        }
        tables.push(meta);
    }
    let (owners, writes): (Vec<usize>, Vec<ItemWrite>) = writes.into_iter().unzip();
    // The item collections written, gathered only when ReturnItemCollectionMetrics asks.
    let asked = input.return_item_collection_metrics.as_deref();
    let written: Vec<_> = match asked {
        Some("SIZE") => {
            owners.iter().zip(&writes).map(|(o, w)| (tables[*o].clone(), w.hash.clone())).collect()
        }
        _ => Vec::new(),
    };
    let mut units = vec![0.0; tables.len()];
    for (owner, result) in owners.into_iter().zip(engine.write_many(writes).await) {
        units[owner] += write_units(&result?);
    }
    let mode = input.return_consumed_capacity.as_deref();
    let capacity: Vec<Value> =
        tables.iter().zip(units).filter_map(|(meta, u)| consumed(&meta.name, mode, u)).collect();
    Ok(BatchWriteItemOutput {
        unprocessed_items: Map::new(),
        consumed_capacity: matches!(mode, Some("TOTAL" | "INDEXES")).then_some(capacity),
        item_collection_metrics: written_collections_metrics(engine, &written, asked).await?,
    })
}
