//! Time to Live: the background task that deletes expired items.
//!
//! One task per process, started by `Engine::open`, runs a pass every
//! `dynamodb.ttl_scan_interval_ms` (measured from the end of the previous pass, so passes
//! never overlap). A pass reads each TTL-enabled table from storage in pages, never
//! through a writer, so it does not hold up client writes. Each expired item is deleted
//! through the table's partition writer like a client DeleteItem, marked
//! `WriteOrigin::TtlExpiry` so its change record can say the service made it. The writer
//! runs a mutator that re-checks expiry against the item it holds at that moment: an item
//! overwritten since the scan (with a later TTL, or none) is kept.
//!
//! What "expired" means follows AWS's developer guide: the TTL attribute is a top-level
//! Number of epoch seconds, strictly less than the current time, and not more than five
//! years in the past (older values are ignored, as are other types). Reads never filter
//! expired items: AWS returns them until its background process deletes them.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinSet;

use super::{Engine, Table, TableMeta, WriteOrigin};
use crate::model::{AttributeValue, Item, Number, value};
use crate::storage::{Space, keys};

/// Items read from storage per page of a pass (bounded memory, short snapshots).
pub const PAGE: usize = 1000;

/// AWS ignores TTL values more than five years in the past; 5 × 365 days.
pub const MAX_AGE_SECS: i64 = 5 * 365 * 24 * 3600;

/// Whether `item` has expired at `now_ms` for TTL attribute `attribute`.
pub fn expired(item: &Item, attribute: &str, now_ms: i64) -> bool {
    let Some(AttributeValue::N(ttl)) = item.get(attribute) else { return false };
    // Exact decimal comparison: a fractional TTL such as 1700000000.5 expires at .5 s.
    let now_ms = now_ms.max(0);
    let Ok(now) = Number::parse(&format!("{}.{:03}", now_ms / 1000, now_ms % 1000)) else {
        return false;
    };
    let oldest = Number::from(now_ms / 1000 - MAX_AGE_SECS);
    *ttl < now && *ttl >= oldest
}

/// Starts the expiry task. It stops once the engine is dropped.
pub fn spawn(engine: Weak<Engine>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(engine) = engine.upgrade() else { return };
            run_pass(&engine).await;
        }
    });
}

/// One pass over every table with TTL enabled; returns how many items it deleted.
pub async fn run_pass(engine: &Arc<Engine>) -> u64 {
    let now = engine.clock.now_millis();
    let mut deleted = 0;
    for name in engine.table_names() {
        let Some(table) = engine.table(&name) else { continue };
        let meta = table.meta();
        let Some(attribute) = meta.ttl.attribute.clone() else { continue };
        deleted += expire_table(engine, &table, &meta, &attribute, now).await;
    }
    deleted
}

/// An item the scan found expired: its storage key and partition key value (for routing).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub storage_key: Vec<u8>,
    pub hash: AttributeValue,
}

async fn expire_table(
    engine: &Arc<Engine>,
    table: &Arc<Table>,
    meta: &TableMeta,
    attribute: &str,
    now_ms: i64,
) -> u64 {
    let mut start = keys::table_items_prefix(meta.id);
    let mut deleted = 0;
    loop {
        let Some((candidates, next)) = scan_page(engine, meta, attribute, now_ms, start) else {
            return deleted;
        };
        deleted += delete_expired(engine, table, candidates, attribute, now_ms).await;
        match next {
            Some(key) => start = key,
            None => return deleted,
        }
        // Between pages, let client requests run on this worker thread.
        tokio::task::yield_now().await;
    }
}

/// Reads one page of `meta`'s items from `start`: the expired ones, and where the next
/// page starts (`None` after the last page). `None` when storage fails (logged; the next
/// pass retries).
pub fn scan_page(
    engine: &Engine,
    meta: &TableMeta,
    attribute: &str,
    now_ms: i64,
    start: Vec<u8>,
) -> Option<(Vec<Candidate>, Option<Vec<u8>>)> {
    let end = keys::table_items_prefix(meta.id + 1);
    let mut candidates = Vec::new();
    let mut seen = 0;
    let mut last = None;
    for entry in engine.store.scan_range(Space::Items, start, end).take(PAGE) {
        let (key, bytes) = match entry {
            Ok(kv) => kv,
            Err(e) => {
                tracing::warn!("ttl scan of table {} failed: {e}", meta.name);
                return None;
            }
        };
        seen += 1;
        // Anything that is not a readable item with its partition key is not ours to expire.
        if let Ok(item) = value::decode_item(&bytes)
            && expired(&item, attribute, now_ms)
            && let Some(hash) = item.get(&meta.key_schema.hash.name)
        {
            candidates.push(Candidate { storage_key: key.clone(), hash: hash.clone() });
        }
        last = Some(key);
    }
    let next = last.filter(|_| seen == PAGE).map(|mut key| {
        key.push(0);
        key
    });
    Some((candidates, next))
}

/// Deletes `candidates` through their partition writers, all in flight at once so group
/// commit puts them in few batches. Each delete happens only if the item the writer holds
/// is still expired at `now_ms`. Returns how many items were deleted.
pub async fn delete_expired(
    engine: &Arc<Engine>,
    table: &Arc<Table>,
    candidates: Vec<Candidate>,
    attribute: &str,
    now_ms: i64,
) -> u64 {
    if candidates.is_empty() {
        return 0;
    }
    let mut writes = JoinSet::new();
    for c in candidates {
        let (engine, table, attribute) = (engine.clone(), table.clone(), attribute.to_string());
        writes.spawn(async move {
            let mutate = Box::new(move |old: Option<&Item>| {
                Ok(old.filter(|item| !expired(item, &attribute, now_ms)).cloned())
            });
            engine.write_as(&table, &c.hash, c.storage_key, mutate, WriteOrigin::TtlExpiry).await
        });
    }
    let mut deleted = 0;
    while let Some(joined) = writes.join_next().await {
        match joined {
            Ok(Ok(outcome)) if outcome.old.is_some() && outcome.new.is_none() => deleted += 1,
            Ok(Ok(_)) => {}
            // A table deleted meanwhile: nothing left to expire.
            Ok(Err(super::WriteError::TableGone)) => {}
            Ok(Err(e)) => tracing::warn!("ttl delete failed: {e}"),
            Err(e) => tracing::warn!("ttl delete task failed: {e}"),
        }
    }
    let name = &table.meta().name;
    // Only while the table is live: a deleted table's series is gone for good.
    if deleted > 0 && engine.table(name).is_some_and(|live| Arc::ptr_eq(&live, table)) {
        engine.metrics.ttl_deleted_items_total.with_label_values(&[name]).inc_by(deleted);
        tracing::debug!("ttl deleted {deleted} expired items from {name}");
    }
    deleted
}
