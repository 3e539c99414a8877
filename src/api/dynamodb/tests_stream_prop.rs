//! Property test: a random sequence of writes (puts, updates, deletes, no-ops, failed
//! conditions, batches, transactions) yields exactly the change records a plain model
//! expects: for each item, one record per real change, in commit order, with the right
//! event and full old and new images; none for writes that change nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::engine::Engine;
use crate::engine::changelog::EventName;
use crate::metrics::Metrics;
use crate::model::{Item, value};
use crate::protocol::RequestContext;

/// One write of the sequence; keys are `k0`..`k4`, values small numbers.
#[derive(Debug, Clone)]
enum Write {
    Put(u8, u8),
    /// SET v = :v (creates a missing item, as UpdateItem does).
    Update(u8, u8),
    Delete(u8),
    /// A put conditioned on the item not existing.
    PutIfAbsent(u8, u8),
    Batch(Vec<(u8, Option<u8>)>),
    Transaction(Vec<(u8, Option<u8>)>),
}

fn write() -> impl Strategy<Value = Write> {
    let k = 0u8..5;
    let v = 0u8..3;
    // Distinct keys per batch or transaction, as both require.
    let group = proptest::collection::btree_map(0u8..5, prop::option::of(0u8..3), 1..4)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    prop_oneof![
        (k.clone(), v.clone()).prop_map(|(k, v)| Write::Put(k, v)),
        (k.clone(), v.clone()).prop_map(|(k, v)| Write::Update(k, v)),
        k.clone().prop_map(Write::Delete),
        (k, v).prop_map(|(k, v)| Write::PutIfAbsent(k, v)),
        group.clone().prop_map(Write::Batch),
        group.prop_map(Write::Transaction),
    ]
}

fn item(k: u8, v: u8) -> Item {
    value::item_from_json(&item_json(k, v)).expect("valid item")
}

fn item_json(k: u8, v: u8) -> Value {
    json!({"pk": {"S": format!("k{k}")}, "v": {"N": v.to_string()}})
}

fn key_json(k: u8) -> Value {
    json!({"pk": {"S": format!("k{k}")}})
}

/// (event, old, new) of one expected record.
type Expected = (EventName, Option<Item>, Option<Item>);

/// Applies `new` to the model, recording a change if there is one.
fn change(
    model: &mut BTreeMap<u8, Item>,
    log: &mut BTreeMap<u8, Vec<Expected>>,
    k: u8,
    new: Option<Item>,
) {
    let old = model.get(&k).cloned();
    // The model's own rule (not EventName::of, which the engine uses).
    let event = match (&old, &new) {
        (None, Some(_)) => Some(EventName::Insert),
        (Some(o), Some(n)) if o != n => Some(EventName::Modify),
        (Some(_), None) => Some(EventName::Remove),
        _ => None,
    };
    if let Some(event) = event {
        log.entry(k).or_default().push((event, old, new.clone()));
    }
    match new {
        Some(item) => model.insert(k, item),
        None => model.remove(&k),
    };
}

fn call(
    rt: &tokio::runtime::Runtime,
    engine: &Arc<Engine>,
    op: &str,
    body: Value,
) -> Result<Value, String> {
    let ctx = RequestContext {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        request_id: "test".into(),
        host: None,
    };
    let handled = rt.block_on(super::handle(engine, op, &ctx, body));
    handled.result.map_err(|e| format!("{e:?}"))
}

fn request((k, v): (u8, Option<u8>)) -> Value {
    match v {
        Some(v) => json!({"PutRequest": {"Item": item_json(k, v)}}),
        None => json!({"DeleteRequest": {"Key": key_json(k)}}),
    }
}

#[test]
fn writes_yield_exactly_the_expected_records() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build();
    let rt = rt.expect("runtime");
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.dynamodb.partitions_per_table = 3;
    let engine = rt
        .block_on(async {
            Engine::open(Arc::new(config), Arc::new(SystemClock), Arc::new(Metrics::new()))
        })
        .expect("engine");
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 32,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&proptest::collection::vec(write(), 1..30), |writes| {
        let table = format!("sp{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        call(&rt, &engine, "CreateTable", json!({
            "TableName": table, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }))
        .expect("create");
        let mut model = BTreeMap::new();
        let mut log: BTreeMap<u8, Vec<Expected>> = BTreeMap::new();
        for w in &writes {
            match w {
                Write::Put(k, v) => {
                    call(&rt, &engine, "PutItem", json!({"TableName": table, "Item": item_json(*k, *v)})).expect("put");
                    change(&mut model, &mut log, *k, Some(item(*k, *v)));
                }
                Write::Update(k, v) => {
                    call(&rt, &engine, "UpdateItem", json!({"TableName": table, "Key": key_json(*k),
                        "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": v.to_string()}}}))
                    .expect("update");
                    change(&mut model, &mut log, *k, Some(item(*k, *v)));
                }
                Write::Delete(k) => {
                    call(&rt, &engine, "DeleteItem", json!({"TableName": table, "Key": key_json(*k)})).expect("delete");
                    change(&mut model, &mut log, *k, None);
                }
                Write::PutIfAbsent(k, v) => {
                    let result = call(&rt, &engine, "PutItem", json!({"TableName": table, "Item": item_json(*k, *v),
                        "ConditionExpression": "attribute_not_exists(pk)"}));
                    prop_assert_eq!(result.is_ok(), !model.contains_key(k));
                    if result.is_ok() {
                        change(&mut model, &mut log, *k, Some(item(*k, *v)));
                    }
                }
                Write::Batch(group) => {
                    let requests: Vec<Value> = group.iter().map(|g| request(*g)).collect();
                    call(&rt, &engine, "BatchWriteItem", json!({"RequestItems": {table.clone(): requests}})).expect("batch");
                    for (k, v) in group {
                        change(&mut model, &mut log, *k, v.map(|v| item(*k, v)));
                    }
                }
                Write::Transaction(group) => {
                    let actions: Vec<Value> = group
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => json!({"Put": {"TableName": table, "Item": item_json(*k, *v)}}),
                            None => json!({"Delete": {"TableName": table, "Key": key_json(*k)}}),
                        })
                        .collect();
                    call(&rt, &engine, "TransactWriteItems", json!({"TransactItems": actions})).expect("transaction");
                    for (k, v) in group {
                        change(&mut model, &mut log, *k, v.map(|v| item(*k, v)));
                    }
                }
            }
        }
        // Every record of every partition, grouped by item in sequence order.
        let table_meta = engine.table(&table).expect("table").meta();
        let mut actual: BTreeMap<u8, Vec<Expected>> = BTreeMap::new();
        let mut total = 0;
        for partition in 0..table_meta.partitions {
            let records = rt
                .block_on(engine.read_changes(table_meta.id, partition, 0, None, 10_000, usize::MAX))
                .expect("read");
            prop_assert!(records.windows(2).all(|w| w[0].seq + 1 == w[1].seq), "dense, increasing sequence numbers");
            for r in records {
                let pk = match r.item().get("pk") {
                    Some(crate::model::AttributeValue::S(s)) => s.trim_start_matches('k').parse::<u8>().expect("key"),
                    other => panic!("record without a key: {other:?}"),
                };
                actual.entry(pk).or_default().push((r.event, r.old, r.new));
                total += 1;
            }
        }
        prop_assert_eq!(total, log.values().map(Vec::len).sum::<usize>());
        prop_assert_eq!(actual, log);
        call(&rt, &engine, "DeleteTable", json!({"TableName": table})).expect("delete table");
        Ok(())
    });
    rt.block_on(engine.shutdown());
    if let Err(e) = result {
        panic!("{e}");
    }
}
