//! Transactions against real partition writers: overlapping transactions taken in
//! opposite action orders finish (no deadlock) and conserve a moved counter, a write
//! queued behind a transaction waits for it and sees its result, and a cancellation
//! leaves its partitions usable.

use std::sync::Arc;
use std::time::Duration;

use super::{ItemWrite, TxnError};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType, TableMeta};
use crate::engine::{Engine, Mutator, Table, WriteError};
use crate::metrics::Metrics;
use crate::model::{AttributeValue, Item, Number};

fn engine() -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    let clock: SharedClock = ManualClock::new(0);
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

async fn table(engine: &Engine, name: &str) -> Arc<Table> {
    let pk = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let meta = TableMeta::new(name, KeySchema::new(pk, None), 4);
    engine.create_table(meta).await.expect("create table");
    engine.table(name).expect("table exists")
}

fn counter(pk: &str, n: i64) -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("n".to_string(), AttributeValue::N(Number::from(n))),
    ])
}

fn value_of(item: Option<&Item>) -> i64 {
    match item.and_then(|i| i.get("n")) {
        Some(AttributeValue::N(n)) => n.to_string().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Adds `by` to the counter, refusing to go below zero as a condition would.
fn add(pk: &str, by: i64) -> Mutator {
    let pk = pk.to_string();
    Box::new(move |old| {
        let next = value_of(old) + by;
        if next < 0 {
            return Err(WriteError::ConditionalCheckFailed { item: None });
        }
        Ok(Some(counter(&pk, next)))
    })
}

fn write(table: &Arc<Table>, pk: &str, mutate: Mutator) -> ItemWrite {
    let meta = table.meta();
    let hash = AttributeValue::S(pk.into());
    let storage_key = Engine::storage_key(&meta, &hash, None);
    ItemWrite { table: table.clone(), hash, storage_key, mutate }
}

async fn read(engine: &Engine, table: &Table, pk: &str) -> i64 {
    let key = Engine::storage_key(&table.meta(), &AttributeValue::S(pk.into()), None);
    value_of(engine.get_item(&key).expect("read").as_ref())
}

/// A tiny deterministic generator: the test needs variety, not randomness.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_transactions_in_opposite_orders_finish_and_conserve_the_sum() {
    let engine = engine();
    let a = table(&engine, "left").await;
    let b = table(&engine, "right").await;
    let keys: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
    for k in &keys {
        for t in [&a, &b] {
            let w = write(t, k, add(k, 10));
            engine.transact(vec![w]).await.expect("seed");
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut seed = 7u64;
    for i in 0..300 {
        let (from, to) =
            (next(&mut seed) as usize % keys.len(), next(&mut seed) as usize % keys.len());
        let (e, ta, tb) = (engine.clone(), a.clone(), b.clone());
        let (from, to) = (keys[from].clone(), keys[to].clone());
        let reversed = i % 2 == 1;
        tasks.spawn(async move {
            // Half take table "right" first in action order, half "left": the lock
            // order must not depend on it.
            let mut actions = vec![write(&ta, &from, add(&from, -1)), write(&tb, &to, add(&to, 1))];
            if reversed {
                actions.reverse();
            }
            match e.transact(actions).await {
                Ok(_) | Err(TxnError::Cancelled(_)) => {}
                Err(e) => panic!("transaction failed: {e}"),
            }
        });
        let (e, tb) = (engine.clone(), b.clone());
        tasks.spawn(async move {
            // Plain writes to other items of the same partitions keep flowing.
            let pk = format!("other{}", i % 5);
            let w = write(&tb, &pk, add(&pk, 1));
            e.write_many(vec![w]).await.into_iter().for_each(|r| {
                r.expect("plain write");
            });
        });
    }
    let all = async {
        while let Some(done) = tasks.join_next().await {
            done.expect("task");
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all).await.expect("no deadlock");
    let mut sum = 0;
    for k in &keys {
        sum += read(&engine, &a, k).await + read(&engine, &b, k).await;
    }
    assert_eq!(sum, 120, "value moved between tables is neither lost nor duplicated");
    let mut others = 0;
    for i in 0..5 {
        others += read(&engine, &b, &format!("other{i}")).await;
    }
    assert_eq!(others, 300);
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing_and_releases_its_partitions() {
    let engine = engine();
    let t = table(&engine, "solo").await;
    let result =
        engine.transact(vec![write(&t, "x", add("x", 5)), write(&t, "y", add("y", -1))]).await;
    let Err(TxnError::Cancelled(reasons)) = result else { panic!("expected a cancellation") };
    assert!(reasons[0].is_none());
    assert!(matches!(reasons[1], Some(WriteError::ConditionalCheckFailed { .. })));
    assert_eq!(read(&engine, &t, "x").await, 0);
    // The partitions are free again: a plain write and a transaction both go through.
    engine.write_many(vec![write(&t, "x", add("x", 2))]).await.remove(0).expect("write");
    engine.transact(vec![write(&t, "y", add("y", 3))]).await.expect("transaction");
    assert_eq!(read(&engine, &t, "x").await + read(&engine, &t, "y").await, 5);
    assert_eq!(t.counters.items.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn two_actions_on_one_item_are_refused() {
    let engine = engine();
    let t = table(&engine, "dup").await;
    let result =
        engine.transact(vec![write(&t, "x", add("x", 1)), write(&t, "x", add("x", 1))]).await;
    assert!(matches!(result, Err(TxnError::Failed(WriteError::Validation(_)))));
    assert_eq!(read(&engine, &t, "x").await, 0);
}

#[tokio::test]
async fn a_deleted_table_fails_the_transaction() {
    let engine = engine();
    let t = table(&engine, "gone").await;
    engine.delete_table("gone").await.expect("delete");
    let result = engine.transact(vec![write(&t, "x", add("x", 1))]).await;
    assert!(matches!(result, Err(TxnError::Failed(WriteError::TableGone))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_behind_a_transaction_waits_and_sees_its_result() {
    let engine = engine();
    let t = table(&engine, "order").await;
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    // A mutator that holds the transaction open until the test lets it go.
    let slow: Mutator = Box::new(move |old| {
        let _ = entered_tx.send(());
        let _ = go_rx.recv();
        Ok(Some(counter("x", value_of(old) + 10)))
    });
    let txn = tokio::spawn({
        let (engine, t) = (engine.clone(), t.clone());
        async move { engine.transact(vec![write(&t, "x", slow)]).await }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv()).await.expect("join").expect("entered");
    let plain = tokio::spawn({
        let (engine, t) = (engine.clone(), t.clone());
        async move { engine.write_many(vec![write(&t, "x", add("x", 1))]).await.remove(0) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!plain.is_finished(), "a write to a partition a transaction holds waits for it");
    go_tx.send(()).expect("release");
    txn.await.expect("join").expect("transaction");
    let outcome = plain.await.expect("join").expect("write");
    assert_eq!(value_of(outcome.old.as_ref()), 10, "the write saw the transaction's result");
    assert_eq!(read(&engine, &t, "x").await, 11);
}

/// The counts a transaction changed are published before it is answered: a read right
/// after it (DescribeTable's counts, the stream's records) sees it, as after a single
/// write. Many times over on two threads, where the partitions' tasks run in parallel
/// with the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_is_answered_once_its_partitions_published_their_counts() {
    let engine = engine();
    let t = table(&engine, "pub").await;
    for round in 0..300 {
        let keys: Vec<String> = (0..4).map(|i| format!("r{round}k{i}")).collect();
        let writes = keys.iter().map(|k| write(&t, k, add(k, 1))).collect();
        engine.transact(writes).await.expect("committed");
        let items = t.counters.items.load(std::sync::atomic::Ordering::Acquire);
        assert_eq!(items, 4 * (round + 1), "round {round}");
    }
}
