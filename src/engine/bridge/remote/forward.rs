//! One forwarding round of a table whose destination is a remote Kinesis stream: each
//! partition's changes from its cursor, in commit order, cut into PutRecords-sized
//! chunks; each chunk delivered (retried until it is in), then the cursor moved past it
//! with a plain commit. A crash between the two resends the chunk: at least once.
//!
//! No engine handle is held while a chunk waits out a retry pause, so a remote that is
//! down keeps nothing of the engine alive; the pause checks the destination is still
//! this one (not disabled or re-enabled meanwhile) and keeps the lag gauge rising.

use std::sync::Weak;
use std::time::Duration;

use super::backoff::{self, Backoff};
use super::client::KinesisClient;
use super::deliver::{Delivery, Hooks, deliver};
use crate::engine::Engine;
use crate::engine::bridge::destination::Destination;
use crate::engine::bridge::forwarder::{BATCH, BATCH_BYTES, Round};
use crate::engine::bridge::record;
use crate::engine::catalog::TableMeta;
use crate::engine::kinesis::NewRecord;
use crate::storage::{Mutation, Space, StorageError, keys};

/// The record size a remote stream takes (Kinesis's default, data plus partition key);
/// a bigger change is skipped and counted, as AWS does.
const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Most bytes per PutRecords call: AWS's long-standing 5 MiB request limit, which every
/// endpoint accepts (newer ones take 10).
const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// Most records per PutRecords call.
const MAX_REQUEST_RECORDS: usize = 500;

/// A table's remote connection and retry state, kept across rounds (keep-alive).
pub struct Link {
    stream_arn: String,
    client: KinesisClient,
    backoff: Backoff,
}

/// One PutRecords call's worth of a partition's changes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Chunk {
    pub records: Vec<NewRecord>,
    /// The cursor once this chunk is in: past every change it covers, skipped ones too.
    pub next: u64,
    /// Changes too big for the remote's records, skipped.
    pub skipped: u64,
    /// When the chunk's first change was made (for the lag while it is retried).
    pub first_ms: i64,
}

/// Cuts (sequence number, creation time, record) triples, in commit order, into chunks.
pub(super) fn chunks(changes: impl IntoIterator<Item = (u64, i64, NewRecord)>) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut current: Option<(Chunk, usize)> = None;
    for (seq, created_ms, record) in changes {
        let size = record.size();
        let full = current.as_ref().is_some_and(|(c, bytes)| {
            c.records.len() == MAX_REQUEST_RECORDS || bytes + size > MAX_REQUEST_BYTES
        });
        if full && size <= MAX_RECORD_BYTES {
            out.extend(current.take().map(|(c, _)| c));
        }
        let (chunk, bytes) =
            current.get_or_insert_with(|| (Chunk { first_ms: created_ms, ..Chunk::default() }, 0));
        chunk.next = seq + 1;
        if size > MAX_RECORD_BYTES {
            chunk.skipped += 1;
        } else {
            *bytes += size;
            chunk.records.push(record);
        }
    }
    out.extend(current.map(|(c, _)| c));
    out
}

fn cursor_of(e: &Engine, table_id: u64, partition: u32) -> Result<Option<u64>, StorageError> {
    let value = e.store.get(Space::Meta, &keys::bridge_cursor(table_id, partition))?;
    Ok(value.map(|v| v.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX)))
}

/// Whether `destination` is still the table's forwarding destination, cursors and all.
fn still_ours(e: &Engine, table: &str, table_id: u64, destination: &Destination) -> bool {
    let Some(live) = e.table(table).filter(|t| t.meta().id == table_id) else { return false };
    let meta = live.meta();
    let same = meta.forwarding_destination().is_some_and(|d| {
        d.stream_arn == destination.stream_arn && d.enabled_ms == destination.enabled_ms
    });
    same && cursor_of(e, table_id, 0).is_ok_and(|c| c.is_some())
}

fn set_lag(e: &Engine, labels: &[&str; 2], oldest_ms: Option<i64>) {
    let lag = oldest_ms.map_or(0.0, |t| ((e.clock.now_millis() - t).max(0) as f64) / 1000.0);
    e.metrics.bridge.replication_lag_seconds.with_label_values(labels).set(lag);
}

/// Counts and logs what delivery reports; between attempts, refreshes the lag and stops
/// delivery when the destination went away.
struct Watch<'a> {
    engine: &'a Weak<Engine>,
    labels: [&'a str; 2],
    table_id: u64,
    destination: &'a Destination,
    oldest_ms: i64,
    failures: u64,
}

impl Hooks for Watch<'_> {
    fn throttled(&mut self, n: u64) {
        if let Some(e) = self.engine.upgrade() {
            e.metrics.bridge.throttled_puts_total.with_label_values(&self.labels).inc_by(n);
        }
    }

    fn failed(&mut self, n: u64, why: &str) {
        if let Some(e) = self.engine.upgrade() {
            e.metrics.bridge.remote_errors_total.with_label_values(&self.labels).inc_by(n);
        }
        self.failures += 1;
        // The 1st, 2nd, 4th, 8th… failure in a row: an outage is reported without a line
        // per retry.
        if self.failures.is_power_of_two() {
            let [table, stream] = self.labels;
            tracing::warn!(
                table,
                stream,
                failures = self.failures,
                "remote destination: {why}; retrying"
            );
        }
    }

    async fn pause(&mut self, delay: Duration) -> bool {
        {
            let Some(e) = self.engine.upgrade() else { return false };
            if !still_ours(&e, self.labels[0], self.table_id, self.destination) {
                return false;
            }
            set_lag(&e, &self.labels, Some(self.oldest_ms));
        }
        tokio::time::sleep(delay).await;
        true
    }
}

/// Forwards what the table's partitions hold past their cursors to the remote stream.
pub(in crate::engine::bridge) async fn round(
    engine: &Weak<Engine>,
    name: &str,
    meta: &TableMeta,
    destination: &Destination,
    link: &mut Option<Link>,
) -> Result<Round, StorageError> {
    let labels = [name, destination.stream_name.as_str()];
    let mut heads: Vec<(u64, Option<i64>)> = Vec::with_capacity(meta.partitions as usize);
    {
        let Some(e) = engine.upgrade() else { return Ok(Round::Stop) };
        let arn = &destination.stream_arn;
        // The config is fixed for the process's life: the link, once made, stays valid.
        if link.as_ref().is_none_or(|l| l.stream_arn != *arn) {
            let bridge = &e.config.bridge;
            let timeout = Duration::from_millis(bridge.request_timeout_ms);
            let client =
                bridge.remote(arn).and_then(|r| KinesisClient::new(r, timeout, e.clock.clone()));
            let Some(client) = client else {
                // Enabled as remote, but the config no longer names it (changed since).
                let why = format!("No remote endpoint is configured for Kinesis stream {arn}");
                e.fail_destination(name, why).await;
                return Ok(Round::Stop);
            };
            let initial = Duration::from_millis(bridge.retry_initial_ms);
            let backoff = Backoff::new(initial, Duration::from_millis(bridge.retry_max_ms));
            *link = Some(Link { stream_arn: arn.clone(), client, backoff });
        }
        for partition in 0..meta.partitions {
            let Some(cursor) = cursor_of(&e, meta.id, partition)? else { return Ok(Round::Stop) };
            let head = e.read_changes(meta.id, partition, cursor, None, 1, usize::MAX).await?;
            heads.push((cursor, head.first().map(|c| c.created_ms)));
        }
        set_lag(&e, &labels, heads.iter().filter_map(|h| h.1).min());
    }
    let Some(link) = link.as_mut() else { return Ok(Round::Stop) };
    let mut busy = false;
    for (partition, &(cursor, head)) in heads.iter().enumerate() {
        if head.is_none() {
            continue;
        }
        let partition = partition as u32;
        let chunks = {
            let Some(e) = engine.upgrade() else { return Ok(Round::Stop) };
            let changes =
                e.read_changes(meta.id, partition, cursor, None, BATCH, BATCH_BYTES).await?;
            let region = &e.ns.region;
            chunks(changes.iter().map(|c| {
                let c_view = c.view();
                let data =
                    record::data(&c_view, &meta.key_schema, name, region, destination.precision);
                let key = record::partition_key(&c_view, &meta.key_schema);
                (c.seq, c.created_ms, NewRecord::keyed(key, data))
            }))
        };
        // Later partitions' heads still wait while this one is retried.
        let later = heads.get(partition as usize + 1..).unwrap_or_default();
        let others = later.iter().filter_map(|h| h.1).min();
        for chunk in chunks {
            if !chunk.records.is_empty() {
                let oldest_ms = others.map_or(chunk.first_ms, |t| t.min(chunk.first_ms));
                let mut watch = Watch {
                    engine,
                    labels,
                    table_id: meta.id,
                    destination,
                    oldest_ms,
                    failures: 0,
                };
                let delivered = deliver(
                    &chunk.records,
                    &mut link.client,
                    &mut link.backoff,
                    &mut watch,
                    &mut backoff::jitter,
                )
                .await;
                if delivered == Delivery::Abandoned {
                    // The caller re-reads the table and finds what changed.
                    return Ok(Round::Busy);
                }
                if watch.failures > 0 {
                    tracing::info!(
                        table = name,
                        stream = labels[1],
                        "remote destination reachable again"
                    );
                }
            }
            let Some(e) = engine.upgrade() else { return Ok(Round::Stop) };
            if !still_ours(&e, name, meta.id, destination) {
                return Ok(Round::Busy);
            }
            let cursor_key = keys::bridge_cursor(meta.id, partition);
            let cursor_move =
                Mutation::put(Space::Meta, cursor_key, chunk.next.to_be_bytes().to_vec());
            e.committer.commit(vec![cursor_move], 0).await?;
            let bridge = &e.metrics.bridge;
            let bytes: usize = chunk.records.iter().map(NewRecord::size).sum();
            bridge
                .forwarded_records_total
                .with_label_values(&labels)
                .inc_by(chunk.records.len() as u64);
            bridge.forwarded_bytes_total.with_label_values(&labels).inc_by(bytes as u64);
            bridge.failed_records_total.with_label_values(&labels).inc_by(chunk.skipped);
            busy = true;
        }
    }
    Ok(if busy { Round::Busy } else { Round::Idle })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: u64, bytes: usize) -> (u64, i64, NewRecord) {
        (seq, 1000 + seq as i64, NewRecord::keyed(format!("k{seq}"), vec![b'x'; bytes]))
    }

    #[test]
    fn chunks_hold_500_records_and_5_mib_and_skip_oversized_changes() {
        let got = chunks((10..1210).map(|s| change(s, 10)));
        let sizes: Vec<(usize, u64, i64)> =
            got.iter().map(|c| (c.records.len(), c.next, c.first_ms)).collect();
        assert_eq!(sizes, [(500, 510, 1010), (500, 1010, 1510), (200, 1210, 2010)]);

        // Records of 1 MiB less a bit: five fit under 5 MiB. A 2 MiB change (seq 2) is
        // skipped but the cursor still moves past it.
        let big = MAX_RECORD_BYTES - 10;
        let input = (0..7).map(|s| change(s, if s == 2 { 2 * MAX_RECORD_BYTES } else { big }));
        let got = chunks(input);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].records.len(), got[0].skipped, got[0].next), (5, 1, 6));
        assert_eq!((got[1].records.len(), got[1].skipped, got[1].next), (1, 0, 7));
        assert!(got.iter().flat_map(|c| &c.records).all(|r| r.size() <= MAX_RECORD_BYTES));

        // Only oversized changes: nothing to send, the cursor still moves.
        let got = chunks([change(7, 2 * MAX_RECORD_BYTES)]);
        assert_eq!((got[0].records.len(), got[0].skipped, got[0].next), (0, 1, 8));
        assert!(chunks(Vec::new()).is_empty());
    }
}
