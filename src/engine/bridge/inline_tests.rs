//! Forwarding in the table write's own commit: a cursor moves only from where its mover
//! read it, a write's destination record is readable the moment the write is answered,
//! and a disable racing queued writes leaves no cursor behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::inline::NO_CURSOR;
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType, TableMeta};
use crate::engine::kinesis::append_tests::{NOW_MS, open, record, stream};
use crate::engine::kinesis::{CursorMove, LiveStream};
use crate::model::{AttributeValue, Item};
use crate::storage::{Mutation, Space, keys};

fn cursor_at(key: &[u8], cell: &Arc<AtomicU64>, from: u64, to: u64) -> Option<CursorMove> {
    Some(CursorMove { cell: cell.clone(), key: key.to_vec(), from, to })
}

fn appended(s: &LiveStream) -> u64 {
    (0..s.meta().shards.len() as u32).map(|i| s.shared.tip(i).unwrap().next).sum()
}

#[tokio::test]
async fn a_cursor_moves_only_from_where_it_stands() {
    let engine = open(ManualClock::new(NOW_MS));
    let s = stream(&engine, "s", 2).await;
    let key = keys::bridge_cursor(99, 0);
    let cell = Arc::new(AtomicU64::new(5));
    let stale =
        engine.kinesis_append_at(&s, vec![record(1, "a")], vec![], cursor_at(&key, &cell, 4, 6));
    assert_eq!(stale.await.unwrap(), None, "a cursor that moved on refuses the append");
    assert_eq!((appended(&s), engine.store.get(Space::Meta, &key).unwrap()), (0, None));
    let moved =
        engine.kinesis_append_at(&s, vec![record(1, "a")], vec![], cursor_at(&key, &cell, 5, 6));
    assert_eq!(moved.await.unwrap().unwrap().len(), 1);
    assert_eq!(cell.load(Ordering::SeqCst), 6);
    assert_eq!(engine.store.get(Space::Meta, &key).unwrap(), Some(6u64.to_be_bytes().to_vec()));
    // A table write forwarding inline lands even when its cursor moved on: only its
    // records and the cursor move are left out.
    let item = Mutation::put(Space::Items, b"table-write".to_vec(), b"v".to_vec());
    let stale = cursor_at(&key, &cell, 5, 7).into_iter().collect();
    let landed = s.append(vec![record(1, "b")], vec![item], stale, true, None);
    assert!(landed.await.unwrap().is_none());
    assert!(engine.store.get(Space::Items, b"table-write").unwrap().is_some());
    assert_eq!((appended(&s), cell.load(Ordering::SeqCst)), (1, 6));
    // Two moves of one cursor in one group: the second starts where the first ended.
    let (a, b) = tokio::join!(
        engine.kinesis_append_at(&s, vec![record(2, "c")], vec![], cursor_at(&key, &cell, 6, 7)),
        engine.kinesis_append_at(&s, vec![record(2, "d")], vec![], cursor_at(&key, &cell, 7, 8)),
    );
    assert!(a.unwrap().is_some() && b.unwrap().is_some());
    assert_eq!((appended(&s), cell.load(Ordering::SeqCst)), (3, 8));
    // Moving to NO_CURSOR deletes it.
    let gone = engine.kinesis_append_at(&s, vec![], vec![], cursor_at(&key, &cell, 8, NO_CURSOR));
    assert!(gone.await.unwrap().is_some());
    assert_eq!(engine.store.get(Space::Meta, &key).unwrap(), None);
    assert_eq!(cell.load(Ordering::SeqCst), NO_CURSOR);
}

async fn put(engine: &Arc<Engine>, table: &str, pk: String) {
    let live = engine.table(table).unwrap();
    let hash = AttributeValue::S(pk.clone());
    let key = Engine::storage_key(&live.meta(), &hash, None);
    let item = Item::from([("pk".to_string(), hash.clone())]);
    engine.write(&live, &hash, key, Box::new(move |_| Ok(Some(item)))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_forward_in_their_own_commit_and_a_disable_leaves_no_cursor() {
    let engine = open(ManualClock::new(NOW_MS));
    let sink = stream(&engine, "sink", 2).await;
    let pk = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let meta = TableMeta::new("t", KeySchema::new(pk, None), 3);
    let table_id = engine.create_table(meta).await.unwrap().id;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/sink";
    let mut expected = 0;
    for round in 0..10 {
        engine.enable_destination("t", arn, "sink", false, None).await.unwrap();
        // Each answered write's record is already in the stream: nothing waits for the
        // forwarder.
        for i in 0..10 {
            put(&engine, "t", format!("r{round}-{i}")).await;
            expected += 1;
            assert_eq!(appended(&sink), expected, "round {round}, write {i}");
        }
        // Writes still queued at the stream's writer when the disable comes must not
        // bring a deleted cursor back (it would pin the change log forever).
        let done = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..400)
            .map(|i| {
                let (engine, done) = (engine.clone(), done.clone());
                tokio::spawn(async move {
                    put(&engine, "t", format!("c{round}-{i}")).await;
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        while done.load(Ordering::SeqCst) < 100 {
            tokio::task::yield_now().await;
        }
        engine.disable_destination("t", arn).await.unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let left: Vec<_> =
            engine.store.scan_prefix(Space::Meta, &keys::bridge_cursor_prefix(table_id)).collect();
        assert!(left.is_empty(), "round {round}: cursors left behind: {}", left.len());
        let live = engine.table("t").unwrap();
        assert!(live.counters.bridge_cursors.iter().all(|c| c.load(Ordering::SeqCst) == NO_CURSOR));
        // Whatever of the 64 was forwarded before the disable counts; no record twice.
        expected = appended(&sink);
    }
}
