//! The forwarder of one table: reads the change log from the durable cursors and writes
//! one Kinesis record per change to the destination stream. Into a stream of this
//! sluice, the table's writers forward their own changes (`inline`) while the cursor
//! keeps up, and this task forwards what they leave behind: each cursor move is committed
//! in the batch that holds the records it covers, and only from where this task read it
//! (exactly once). To a remote stream (`remote::forward`) it forwards everything, and
//! the cursor moves after the remote accepted the records (at least once). It waits for
//! the table's writers to announce new changes; it never holds them up.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::destination::Destination;
use super::{record, remote};
use crate::engine::catalog::TableMeta;
use crate::engine::kinesis::{CursorMove, NewRecord};
use crate::engine::{Engine, Table};
use crate::storage::{Space, StorageError, keys};

/// Changes forwarded per partition per append (Kinesis PutRecords takes 500).
pub(super) const BATCH: usize = 500;
/// Most change-record bytes read per partition per round.
pub(super) const BATCH_BYTES: usize = 4 * 1024 * 1024;
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
        let result = run(weak.clone(), &name, table_id).await;
        if let Err(e) = &result {
            tracing::error!("bridge of table {name} stopped: {e}");
        }
        if let Some(engine) = weak.upgrade() {
            engine.bridges.lock().unwrap_or_else(|e| e.into_inner()).remove(&table_id);
            // A disable and re-enable while this forwarder was on its way out (say, stuck
            // retrying a remote) found it still registered and started none: hand over.
            if result.is_ok() && wants_forwarder(&engine, &name, table_id) {
                spawn(&engine, &name, table_id);
            }
        }
    });
}

/// Whether table `name` (id `table_id`) has a forwarding destination with its cursors.
fn wants_forwarder(engine: &Engine, name: &str, table_id: u64) -> bool {
    let Some(table) = engine.table(name).filter(|t| t.meta().id == table_id) else {
        return false;
    };
    table.meta().forwarding_destination().is_some()
        && matches!(engine.store.get(Space::Meta, &keys::bridge_cursor(table_id, 0)), Ok(Some(_)))
}

/// What a round of forwarding found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Round {
    /// Nothing was waiting: sleep until the writers announce changes.
    Idle,
    /// Something moved (or the destination changed): go again at once.
    Busy,
    /// The table or its destination is gone: the forwarder ends.
    Stop,
}

async fn run(engine: Weak<Engine>, name: &str, table_id: u64) -> Result<(), StorageError> {
    // A remote destination's connection and retry state outlive a round (keep-alive).
    let mut link: Option<remote::forward::Link> = None;
    // Storage errors (a full disk, an injected fault) pause the forwarder, never end it:
    // a failed round applied nothing (a local append and its cursor move are one batch;
    // a remote's cursor did not move), so the same changes go again once storage takes
    // writes, and nothing waits for a restart.
    let mut storage_backoff: Option<remote::backoff::Backoff> = None;
    // The destination whose series exist (created at 0 when it first forwards).
    let mut touched: Option<String> = None;
    loop {
        let (table, meta, destination) = {
            let Some(e) = engine.upgrade() else { return Ok(()) };
            let Some(table) = e.table(name).filter(|t| t.meta().id == table_id) else {
                return Ok(());
            };
            let meta = table.meta();
            let Some(destination) = meta.forwarding_destination().cloned() else { return Ok(()) };
            if touched.as_deref() != Some(destination.stream_name.as_str()) {
                e.metrics.bridge.touch(name, &destination.stream_name);
                touched = Some(destination.stream_name.clone());
            }
            (table, meta, destination)
        };
        let round = if destination.remote {
            remote::forward::round(&engine, name, &meta, &destination, &mut link).await
        } else {
            let Some(e) = engine.upgrade() else { return Ok(()) };
            local_round(&e, &table, name, &meta, &destination).await
        };
        let round = match round {
            Ok(round) => {
                storage_backoff = None;
                round
            }
            Err(e) => {
                let backoff = match &mut storage_backoff {
                    Some(b) => b,
                    None => {
                        tracing::error!("bridge of table {name}: {e}; retrying until it clears");
                        let Some(engine) = engine.upgrade() else { return Ok(()) };
                        let c = &engine.config.bridge;
                        storage_backoff.insert(remote::backoff::Backoff::new(
                            Duration::from_millis(c.retry_initial_ms),
                            Duration::from_millis(c.retry_max_ms),
                        ))
                    }
                };
                tokio::time::sleep(backoff.next_delay(remote::backoff::jitter())).await;
                continue;
            }
        };
        match round {
            Round::Stop => return Ok(()),
            Round::Idle => wait_for_changes(&table).await,
            Round::Busy => {}
        }
    }
}

/// One round into a stream of this sluice: records and cursor move in one batch.
async fn local_round(
    e: &Engine,
    table: &Table,
    name: &str,
    meta: &TableMeta,
    destination: &Destination,
) -> Result<Round, StorageError> {
    let table_id = meta.id;
    let Some(stream) = e.kinesis.get(&destination.stream_name) else {
        let arn = &destination.stream_arn;
        e.fail_destination(name, format!("Kinesis stream {arn} not found")).await;
        return Ok(Round::Stop);
    };
    let labels = [name, destination.stream_name.as_str()];
    let max_bytes = stream.meta().max_record_bytes();
    let mut forwarded_any = false;
    let mut oldest_pending: Option<i64> = None;
    for partition in 0..meta.partitions {
        // The cursor as committed: the writers forwarding inline keep it at their next
        // sequence number, so nothing is past it unless something was left behind.
        let Some(cell) = table.counters.bridge_cursors.get(partition as usize) else {
            return Ok(Round::Stop);
        };
        let cursor = cell.load(std::sync::atomic::Ordering::Acquire);
        if cursor == super::inline::NO_CURSOR {
            // Disabled meanwhile: its cursors are gone.
            return Ok(Round::Stop);
        }
        // Nothing committed past the cursor: no reads (nor trips to the blocking pool).
        if !has_changes_past(table, partition, cursor) {
            continue;
        }
        let changes = e.read_changes(table_id, partition, cursor, None, BATCH, BATCH_BYTES).await?;
        let Some(last) = changes.last() else { continue };
        let next = last.seq + 1;
        let mut records = Vec::with_capacity(changes.len());
        let mut bytes = 0;
        for change in &changes {
            let change = change.view();
            let data =
                record::data(&change, &meta.key_schema, name, &e.ns.region, destination.precision);
            let new = NewRecord::keyed(record::partition_key(&change, &meta.key_schema), data);
            if new.size() > max_bytes {
                // AWS skips a change whose record is too big and counts it.
                e.metrics.bridge.failed_records_total.with_label_values(&labels).inc();
                continue;
            }
            bytes += new.size();
            records.push(new);
        }
        let count = records.len() as u64;
        let cursor_move = CursorMove {
            cell: cell.clone(),
            key: keys::bridge_cursor(table_id, partition),
            from: cursor,
            to: next,
        };
        match e.kinesis_append_at(&stream, records, Vec::new(), Some(cursor_move)).await {
            Ok(Some(_)) => {}
            // A writer forwarded these itself meanwhile: read again from where it left.
            Ok(None) => {
                forwarded_any = true;
                continue;
            }
            Err(crate::engine::kinesis::StreamError::Storage(s)) => return Err(s),
            Err(_) => {
                let arn = &destination.stream_arn;
                e.fail_destination(name, format!("Kinesis stream {arn} not found")).await;
                return Ok(Round::Stop);
            }
        }
        e.metrics.bridge.forwarded_records_total.with_label_values(&labels).inc_by(count);
        e.metrics.bridge.forwarded_bytes_total.with_label_values(&labels).inc_by(bytes as u64);
        forwarded_any = true;
        // What this round could not take is still waiting.
        if changes.len() == BATCH {
            let pending = e.read_changes(table_id, partition, next, None, 1, usize::MAX).await?;
            if let Some(first) = pending.first() {
                oldest_pending =
                    Some(oldest_pending.map_or(first.created_ms, |t| t.min(first.created_ms)));
            }
        }
    }
    let lag = oldest_pending.map_or(0.0, |t| ((e.clock.now_millis() - t).max(0) as f64) / 1000.0);
    e.metrics.bridge.replication_lag_seconds.with_label_values(&labels).set(lag);
    Ok(if forwarded_any { Round::Busy } else { Round::Idle })
}

/// Whether partition `partition` of `table` has committed changes at or after `cursor`
/// (true when the writers' published sequence numbers do not say).
pub(super) fn has_changes_past(table: &Table, partition: u32, cursor: u64) -> bool {
    table
        .counters
        .next_seqs
        .get(partition as usize)
        .is_none_or(|next| next.load(std::sync::atomic::Ordering::Acquire) > cursor)
}

/// Waits until the table's writers commit new changes (or the idle interval passes).
async fn wait_for_changes(table: &Table) {
    tokio::select! {
        () = table.counters.changes.notified() => {}
        () = tokio::time::sleep(IDLE) => {}
    }
}
