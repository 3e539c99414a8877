//! A partition writer survives what one write does: a mutator that panics fails that
//! write alone with an internal error, and the writes queued with it and after it are
//! applied (a dead writer task would answer every later write of its partition).

use std::sync::Arc;

use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType, TableMeta};
use crate::engine::{Engine, Mutator, WriteError};
use crate::metrics::Metrics;
use crate::model::{AttributeValue, Item};
use crate::storage::StorageError;

fn item(pk: &str) -> Item {
    Item::from([("pk".to_string(), AttributeValue::S(pk.into()))])
}

#[tokio::test]
async fn a_panicking_write_fails_alone_and_the_partition_goes_on() {
    let mut config = Config::default();
    config.storage.in_memory = true;
    let clock: SharedClock = ManualClock::new(0);
    let engine = Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).unwrap();
    let pk = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    // One partition: every write below goes through the same writer task.
    engine.create_table(TableMeta::new("t", KeySchema::new(pk, None), 1)).await.unwrap();
    let table = engine.table("t").unwrap();
    let write = |pk: &str, mutate: Mutator| {
        let (engine, table) = (engine.clone(), table.clone());
        let hash = AttributeValue::S(pk.into());
        let key = Engine::storage_key(&table.meta(), &hash, None);
        async move { engine.write(&table, &hash, key, mutate).await }
    };
    let put = |pk: &str| -> Mutator {
        let item = item(pk);
        Box::new(move |_| Ok(Some(item)))
    };
    let boom: Mutator = Box::new(|_| panic!("a bug in a mutator"));
    let (before, panicked, after) =
        tokio::join!(write("a", put("a")), write("b", boom), write("c", put("c")));
    assert!(before.is_ok() && after.is_ok(), "{before:?} {after:?}");
    assert!(
        matches!(&panicked, Err(WriteError::Storage(StorageError::Panicked(m))) if m == "a bug in a mutator"),
        "{panicked:?}"
    );
    write("d", put("d")).await.unwrap();
    for (pk, stored) in [("a", true), ("b", false), ("c", true), ("d", true)] {
        let key = Engine::storage_key(&table.meta(), &AttributeValue::S(pk.into()), None);
        assert_eq!(engine.get_item(&key).unwrap().is_some(), stored, "{pk}");
    }
}
