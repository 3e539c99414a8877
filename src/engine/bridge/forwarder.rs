//! The forwarder of one table: reads the change log from the durable cursors and appends
//! one Kinesis record per change to the destination stream, committing each cursor move
//! in the batch that holds the records it covers (exactly once). It waits for the
//! table's writers to announce new changes; it never holds them up.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::record;
use crate::engine::kinesis::NewRecord;
use crate::engine::{Engine, Table};
use crate::storage::{Mutation, Space, StorageError, keys};

/// Changes forwarded per partition per append (Kinesis PutRecords takes 500).
const BATCH: usize = 500;
/// Most change-record bytes read per partition per round.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// How long the forwarder sleeps when nothing announced new changes (a safety net: the
/// writers' notification normally wakes it at once).
const IDLE: Duration = Duration::from_millis(500);

/// Starts the forwarder of table `name` (id `table_id`) unless one is running.
pub(super) fn spawn(engine: &Arc<Engine>, name: &str, table_id: u64) {
    if !engine.bridges.lock().unwrap_or_else(|e| e.into_inner()).insert(table_id) {
        return;
    }
    let weak = Arc::downgrade(engine);
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = run(weak.clone(), &name, table_id).await {
            tracing::error!("bridge of table {name} stopped: {e}");
        }
        if let Some(engine) = weak.upgrade() {
            engine.bridges.lock().unwrap_or_else(|e| e.into_inner()).remove(&table_id);
        }
    });
}

async fn run(engine: Weak<Engine>, name: &str, table_id: u64) -> Result<(), StorageError> {
    loop {
        let Some(e) = engine.upgrade() else { return Ok(()) };
        let Some(table) = e.table(name).filter(|t| t.meta().id == table_id) else { return Ok(()) };
        let meta = table.meta();
        let Some(destination) = meta.forwarding_destination().cloned() else { return Ok(()) };
        let Some(stream) = e.kinesis.get(&destination.stream_name) else {
            let arn = &destination.stream_arn;
            e.fail_destination(name, format!("Kinesis stream {arn} not found")).await;
            return Ok(());
        };
        let labels = [name, destination.stream_name.as_str()];
        let max_bytes = stream.meta().max_record_bytes();
        let mut forwarded_any = false;
        let mut oldest_pending: Option<i64> = None;
        for partition in 0..meta.partitions {
            let cursor_key = keys::bridge_cursor(table_id, partition);
            let cursor = match e.store.get(Space::Meta, &cursor_key)? {
                Some(v) => v.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX),
                // Disabled meanwhile: its cursors are gone.
                None => return Ok(()),
            };
            let changes =
                e.read_changes(table_id, partition, cursor, None, BATCH, BATCH_BYTES).await?;
            let Some(last) = changes.last() else { continue };
            let next = last.seq + 1;
            let mut records = Vec::with_capacity(changes.len());
            let mut bytes = 0;
            for change in &changes {
                let data = record::data(
                    change,
                    &meta.key_schema,
                    name,
                    &e.config.aws.region,
                    destination.precision,
                );
                let new = NewRecord::keyed(record::partition_key(change, &meta.key_schema), data);
                if new.size() > max_bytes {
                    // AWS skips a change whose record is too big and counts it.
                    e.metrics.bridge.failed_records_total.with_label_values(&labels).inc();
                    continue;
                }
                bytes += new.size();
                records.push(new);
            }
            let count = records.len() as u64;
            let cursor_move =
                vec![Mutation::put(Space::Meta, cursor_key, next.to_be_bytes().to_vec())];
            match e.kinesis_append(&stream, records, cursor_move).await {
                Ok(_) => {}
                Err(crate::engine::kinesis::StreamError::Storage(s)) => return Err(s),
                Err(_) => {
                    let arn = &destination.stream_arn;
                    e.fail_destination(name, format!("Kinesis stream {arn} not found")).await;
                    return Ok(());
                }
            }
            e.metrics.bridge.forwarded_records_total.with_label_values(&labels).inc_by(count);
            e.metrics.bridge.forwarded_bytes_total.with_label_values(&labels).inc_by(bytes as u64);
            forwarded_any = true;
            // What this round could not take is still waiting.
            if changes.len() == BATCH {
                let pending =
                    e.read_changes(table_id, partition, next, None, 1, usize::MAX).await?;
                if let Some(first) = pending.first() {
                    oldest_pending =
                        Some(oldest_pending.map_or(first.created_ms, |t| t.min(first.created_ms)));
                }
            }
        }
        let lag =
            oldest_pending.map_or(0.0, |t| ((e.clock.now_millis() - t).max(0) as f64) / 1000.0);
        e.metrics.bridge.replication_lag_seconds.with_label_values(&labels).set(lag);
        drop(e);
        if !forwarded_any {
            wait_for_changes(&table).await;
        }
    }
}

/// Waits until the table's writers commit new changes (or the idle interval passes).
async fn wait_for_changes(table: &Table) {
    tokio::select! {
        () = table.counters.changes.notified() => {}
        () = tokio::time::sleep(IDLE) => {}
    }
}
