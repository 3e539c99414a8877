//! A shard's latest records, read from storage once and shared by every reader at its
//! tip. A commit wakes every SubscribeToShard reader of the shard at once (20 fan-out
//! consumers are 20 readers of the same few records): without this each of them read the
//! run from storage, decoded it and encoded it for the wire itself. Now the first reader
//! puts the run here, and the others take the same records, with the wire form the api
//! layer caches on each (`SharedRecord::wire`), so a record is encoded once per shard,
//! not once per subscriber.
//!
//! Only runs that reached the tip when they were read enter the ring (a reader catching
//! up reads storage as before and churns nothing), and a reader is served from it only
//! when the ring holds everything from its position to the tip it saw, so a record is
//! never skipped. Records are immutable once committed, so a cached one is always exact;
//! trimmed ones are never asked for (readers start at the trim horizon or later).
//!
//! Bounded per shard: at most [`MAX_RECORDS`] records and about [`MAX_BYTES`] (a run
//! larger than that is kept alone until the next one), only for shards someone reads at
//! the tip, and dropped once its shard is closed and read to its end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::read::{ReadBatch, ReadRecord, run_is_full};
use crate::storage::keys::kinesis::StoredRecord;

/// Most records a shard's ring keeps.
pub const MAX_RECORDS: usize = 512;
/// About the most record bytes (data plus partition key) a shard's ring keeps.
pub const MAX_BYTES: usize = 256 * 1024;

/// One committed record, shared by the readers that take it.
#[derive(Debug)]
pub struct SharedRecord {
    pub seq: u64,
    pub record: StoredRecord,
    /// The record's wire form, written by the first reader that needs it (the api layer
    /// decides what it holds; every reader of this shard wants the same form).
    pub wire: OnceLock<Bytes>,
}

impl From<ReadRecord> for SharedRecord {
    fn from(r: ReadRecord) -> Self {
        SharedRecord { seq: r.seq, record: r.record, wire: OnceLock::new() }
    }
}

/// A run of shared records and what follows it (as [`ReadBatch`]).
#[derive(Debug, Default)]
pub struct SharedBatch {
    pub records: Vec<Arc<SharedRecord>>,
    pub next: u64,
    pub bytes: usize,
    pub next_arrival_ms: Option<i64>,
}

impl From<ReadBatch> for SharedBatch {
    fn from(b: ReadBatch) -> Self {
        SharedBatch {
            records: b.records.into_iter().map(|r| Arc::new(r.into())).collect(),
            next: b.next,
            bytes: b.bytes,
            next_arrival_ms: b.next_arrival_ms,
        }
    }
}

/// One shard's ring.
#[derive(Default)]
pub struct Ring {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Consecutive sequence numbers, oldest first.
    records: VecDeque<Arc<SharedRecord>>,
    bytes: usize,
}

impl Held {
    fn end(&self) -> Option<u64> {
        self.records.back().map(|r| r.seq + 1)
    }
}

impl Ring {
    /// The run from `from` (at most `limit` records; past `max_bytes` only for a first
    /// record), when the ring holds every record from `from` up to `tip` (the shard's
    /// committed tip the reader saw); `None` sends the reader to storage.
    pub fn take(&self, from: u64, tip: u64, limit: usize, max_bytes: usize) -> Option<SharedBatch> {
        let held = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let start = held.records.front()?.seq;
        let end = held.end()?;
        if from < start || from >= end || end < tip {
            return None;
        }
        let mut batch = SharedBatch { next: from, ..SharedBatch::default() };
        for r in held.records.iter().skip((from - start) as usize) {
            let size = r.record.size();
            if run_is_full(batch.records.len(), batch.bytes, size, limit, max_bytes) {
                batch.next_arrival_ms = Some(r.record.arrival_ms);
                break;
            }
            batch.bytes += size;
            batch.next = r.seq + 1;
            batch.records.push(r.clone());
        }
        Some(batch)
    }

    /// Keeps a run read from storage from `from` that reached the tip: what it holds past
    /// the ring's end is appended; after a gap the ring starts over with it.
    pub fn offer(&self, from: u64, records: &[Arc<SharedRecord>]) {
        if records.is_empty() {
            return;
        }
        let mut held = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match held.end() {
            // A run is consecutive from `from`, so one that starts at or before the
            // ring's end continues it with whatever it holds past that end (an older
            // reader's run may add nothing).
            Some(end) if from <= end => {
                for r in records.iter().filter(|r| r.seq >= end) {
                    held.bytes += r.record.size();
                    held.records.push_back(r.clone());
                }
            }
            // Empty, or a gap: start over with this run.
            _ => {
                held.records = records.iter().cloned().collect();
                held.bytes = records.iter().map(|r| r.record.size()).sum();
            }
        }
        while held.records.len() > 1 && (held.records.len() > MAX_RECORDS || held.bytes > MAX_BYTES)
        {
            if let Some(r) = held.records.pop_front() {
                held.bytes -= r.record.size();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: std::ops::Range<u64>, size: usize) -> Vec<Arc<SharedRecord>> {
        seqs.map(|seq| {
            Arc::new(SharedRecord {
                seq,
                record: StoredRecord {
                    arrival_ms: seq as i64,
                    partition_key: "k".into(),
                    data: vec![0; size - 1],
                },
                wire: OnceLock::new(),
            })
        })
        .collect()
    }

    fn seqs(b: &SharedBatch) -> Vec<u64> {
        b.records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn serves_only_what_reaches_the_tip() {
        let ring = Ring::default();
        assert!(ring.take(0, 1, 10, 1000).is_none());
        ring.offer(5, &run(5..8, 10));
        let b = ring.take(5, 8, 10, 1000).unwrap();
        assert_eq!((seqs(&b), b.next, b.bytes, b.next_arrival_ms), (vec![5, 6, 7], 8, 30, None));
        assert_eq!(seqs(&ring.take(6, 8, 10, 1000).unwrap()), [6, 7]);
        // Before the ring, at its end, or a tip past it: storage.
        assert!(ring.take(4, 8, 10, 1000).is_none());
        assert!(ring.take(8, 8, 10, 1000).is_none());
        assert!(ring.take(6, 9, 10, 1000).is_none());
        // Limits, as a storage read applies them.
        let b = ring.take(5, 8, 2, 1000).unwrap();
        assert_eq!((seqs(&b), b.next, b.next_arrival_ms), (vec![5, 6], 7, Some(7)));
        let b = ring.take(5, 8, 10, 15).unwrap();
        assert_eq!((seqs(&b), b.next, b.next_arrival_ms), (vec![5], 6, Some(6)));
    }

    #[test]
    fn runs_extend_restart_or_are_ignored() {
        let ring = Ring::default();
        ring.offer(5, &run(5..8, 10));
        // Overlapping its end: only the new records are added, once.
        ring.offer(6, &run(6..10, 10));
        assert_eq!(seqs(&ring.take(5, 10, 100, 10_000).unwrap()), [5, 6, 7, 8, 9]);
        // An older reader's run adds what it holds past the end, nothing before the start.
        ring.offer(2, &run(2..6, 10));
        assert!(ring.take(2, 10, 100, 10_000).is_none());
        ring.offer(3, &run(3..12, 10));
        assert_eq!(seqs(&ring.take(5, 12, 100, 10_000).unwrap()), [5, 6, 7, 8, 9, 10, 11]);
        // A gap: the ring starts over.
        ring.offer(20, &run(20..22, 10));
        assert!(ring.take(5, 12, 100, 10_000).is_none());
        assert_eq!(seqs(&ring.take(20, 22, 100, 10_000).unwrap()), [20, 21]);
    }

    #[test]
    fn bounded_in_records_and_bytes() {
        let ring = Ring::default();
        ring.offer(0, &run(0..MAX_RECORDS as u64 + 10, 10));
        let b = ring.take(10, MAX_RECORDS as u64 + 10, usize::MAX, usize::MAX).unwrap();
        assert_eq!(b.records.len(), MAX_RECORDS);
        assert!(ring.take(9, 0, usize::MAX, usize::MAX).is_none());
        // One record larger than the whole budget is still kept alone.
        ring.offer(
            MAX_RECORDS as u64 + 10,
            &run(MAX_RECORDS as u64 + 10..MAX_RECORDS as u64 + 11, MAX_BYTES * 2),
        );
        let held = ring.inner.lock().unwrap();
        assert_eq!((held.records.len(), held.bytes), (1, MAX_BYTES * 2));
    }
}
