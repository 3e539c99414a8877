//! The shard read path, shared by GetRecords and (later) SubscribeToShard: read a run of
//! records from a position out of one storage snapshot, find where a timestamp falls,
//! and say where a shard ends. Readers never block the writer; to wait for new records
//! they use `StreamShared::subscribe`.

use std::ops::Bound;

use super::ring::SharedBatch;
use super::{LiveStream, ShardTip};
use crate::engine::Engine;
use crate::engine::read::prefix_end;
use crate::engine::stream_ops::INLINE_READ;
use crate::storage::keys::kinesis::{self as kkeys, StoredRecord};
use crate::storage::{ReadView, Space, StorageError};

/// One record read back, with its shard sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub seq: u64,
    pub record: StoredRecord,
}

/// A run of records and what follows it.
#[derive(Debug, Clone, Default)]
pub struct ReadBatch {
    pub records: Vec<ReadRecord>,
    /// The position after the run: the next sequence number to read.
    pub next: u64,
    /// Bytes (data plus partition key) of the run.
    pub bytes: usize,
    /// Arrival time of the first record after the run, if one was already committed
    /// (MillisBehindLatest measures from it; `None` means the reader is caught up).
    pub next_arrival_ms: Option<i64>,
}

impl Engine {
    /// Reads up to `limit` records of shard `shard` of stream `stream_id` from sequence
    /// number `from`, stopping before `max_bytes` would be passed (but always returning at
    /// least one record when there is one), from one snapshot: on the caller's thread when
    /// the reader is near the shard's tip, else on the blocking pool.
    pub async fn kinesis_read(
        &self,
        stream_id: u64,
        shard: u32,
        from: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, StorageError> {
        let Some(stream) = self.kinesis.by_id(stream_id) else {
            return Ok(ReadBatch { next: from, ..ReadBatch::default() });
        };
        let tip = stream.shared.tip(shard);
        self.read_near(&stream, shard, from, limit, max_bytes, tip).await
    }

    /// [`Engine::kinesis_read`] for a caller that already holds the shard's tip. Reads
    /// start at the trim horizon at the earliest: a trimmed run's younger records stay
    /// stored until the whole run is trimmed, but are no longer the shard's.
    async fn read_near(
        &self,
        stream: &LiveStream,
        shard: u32,
        from: u64,
        limit: usize,
        max_bytes: usize,
        tip: Option<ShardTip>,
    ) -> Result<ReadBatch, StorageError> {
        let from = tip.map_or(from, |t| from.max(t.first));
        if tip.is_some_and(|t| from >= t.next) {
            // Nothing acknowledged lies there yet (writers publish the tip before they
            // answer): no seek for a reader polling at the tip.
            return Ok(ReadBatch { next: from, ..ReadBatch::default() });
        }
        let view = self.store.read_view();
        let (grouped, stream_id) = (stream.shared.grouped, stream.id());
        let read = move || read_run(&view, grouped, stream_id, shard, from, limit, max_bytes);
        if tip.is_some_and(|t| t.next.saturating_sub(from) <= INLINE_READ) {
            return read();
        }
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| StorageError::Fjall(format!("read task: {e}")))?
    }

    /// [`Engine::kinesis_read`] for a reader at the shard's tip that shares what it reads
    /// (SubscribeToShard): from the shard's ring when it holds everything from `from` to
    /// the tip, else from storage, and a run that reached the tip goes into the ring for
    /// the readers behind.
    pub async fn kinesis_read_shared(
        &self,
        stream: &LiveStream,
        shard: u32,
        from: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<SharedBatch, StorageError> {
        let ring = stream.shared.ring(shard);
        let tip = stream.shared.tip(shard).unwrap_or_default();
        let from = from.max(tip.first);
        let batch = match ring.take(from, tip.next, limit, max_bytes) {
            Some(batch) => batch,
            None => {
                let batch =
                    self.read_near(stream, shard, from, limit, max_bytes, Some(tip)).await?;
                let batch = SharedBatch::from(batch);
                if batch.next_arrival_ms.is_none() {
                    ring.offer(from, &batch.records);
                }
                batch
            }
        };
        // A closed shard read to its end takes no more records: its ring goes.
        if tip.closed && batch.next >= tip.next {
            stream.shared.drop_ring(shard);
        }
        Ok(batch)
    }

    /// The sequence number of the first record of a shard that arrived at or after
    /// `at_ms`, searching the retained interval `[first, next)` (sequence numbers are dense
    /// there and arrival times never go back, so a binary search of point reads finds
    /// it); `next` when every record is older.
    pub async fn kinesis_seq_at(
        &self,
        stream_id: u64,
        shard: u32,
        at_ms: i64,
        first: u64,
        next: u64,
    ) -> Result<u64, StorageError> {
        let view = self.store.read_view();
        let Some(stream) = self.kinesis.by_id(stream_id) else { return Ok(next) };
        let grouped = stream.shared.grouped;
        let search = move || {
            let (mut lo, mut hi) = (first, next);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                // Trimmed since `first` was read: older than anything kept.
                let arrival =
                    arrival_of(&view, grouped, stream_id, shard, mid)?.unwrap_or(i64::MIN);
                if arrival >= at_ms {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            Ok(lo)
        };
        tokio::task::spawn_blocking(search)
            .await
            .map_err(|e| StorageError::Fjall(format!("search task: {e}")))?
    }
}

/// Whether a run of `count` records and `bytes` bytes takes no record of `size` more:
/// at most `limit` records, and past `max_bytes` only for a first record. Storage reads
/// and the shard's ring (`ring.rs`) both cut runs by it.
pub(super) fn run_is_full(
    count: usize,
    bytes: usize,
    size: usize,
    limit: usize,
    max_bytes: usize,
) -> bool {
    count >= limit || (count > 0 && bytes + size > max_bytes)
}

/// The run [`Engine::kinesis_read`] returns, read from `view`.
fn read_run(
    view: &ReadView,
    grouped: bool,
    stream_id: u64,
    shard: u32,
    from: u64,
    limit: usize,
    max_bytes: usize,
) -> Result<ReadBatch, StorageError> {
    let mut batch = ReadBatch { next: from, ..ReadBatch::default() };
    for stored in stored_runs(view, grouped, stream_id, shard, from) {
        let (first, value) = stored?;
        for record in kkeys::Run::new(first, &value)? {
            let record = record?;
            if record.seq < from {
                continue;
            }
            let size = record.size();
            if run_is_full(batch.records.len(), batch.bytes, size, limit, max_bytes) {
                batch.next_arrival_ms = Some(record.arrival_ms);
                return Ok(batch);
            }
            batch.bytes += size;
            batch.next = record.seq + 1;
            batch.records.push(ReadRecord { seq: record.seq, record: record.to_stored()? });
        }
    }
    Ok(batch)
}

/// A shard's stored runs: each its first sequence number and its value, decompressed.
pub(super) type StoredRuns<'v> =
    Box<dyn Iterator<Item = Result<(u64, Vec<u8>), StorageError>> + 'v>;

/// The stored runs of a shard (first sequence number, value as [`kkeys::Run`] reads it,
/// decompressed) from the one that holds `from` (or the first after it), in order: a
/// grouped stream's sections (`groups.rs`), or a stream's runs of its own.
pub(super) fn stored_runs<'v>(
    view: &'v ReadView,
    grouped: bool,
    stream_id: u64,
    shard: u32,
    from: u64,
) -> StoredRuns<'v> {
    match grouped {
        true => Box::new(super::groups::Sections::new(view, stream_id, shard, from)),
        false => Box::new(shard_runs(view, stream_id, shard, from)),
    }
}

/// [`stored_runs`] of a stream that keeps a run per shard. A reader that stopped at a
/// run's end starts exactly at the next run's key: one forward seek. Only a position
/// inside a run (a read cut by its limit, an iterator at a given sequence number) takes a
/// backward seek too.
fn shard_runs(
    view: &ReadView,
    stream_id: u64,
    shard: u32,
    from: u64,
) -> impl Iterator<Item = Result<(u64, Vec<u8>), StorageError>> + use<> {
    let at = kkeys::record_key(stream_id, shard, from);
    let prefix = kkeys::shard_prefix(stream_id, shard);
    let mut after = view.range(Space::Kinesis, Bound::Included(at.clone()), prefix_end(&prefix));
    let first = after.next();
    let starts_at_from = matches!(&first, Some(Ok((key, _))) if *key == at);
    let before = match starts_at_from {
        true => None,
        false => {
            view.range(Space::Kinesis, Bound::Included(prefix), Bound::Excluded(at)).next_back()
        }
    };
    before.into_iter().chain(first).chain(after).map(|entry| {
        let (key, value) = entry?;
        Ok((kkeys::seq_of(&key)?, kkeys::plain(value)?))
    })
}

/// The arrival time of record `seq` of a shard, if it is stored.
fn arrival_of(
    view: &ReadView,
    grouped: bool,
    stream_id: u64,
    shard: u32,
    seq: u64,
) -> Result<Option<i64>, StorageError> {
    let Some(stored) = stored_runs(view, grouped, stream_id, shard, seq).next() else {
        return Ok(None);
    };
    let (first, value) = stored?;
    for record in kkeys::Run::new(first, &value)? {
        let record = record?;
        if record.seq >= seq {
            return Ok((record.seq == seq).then_some(record.arrival_ms));
        }
    }
    Ok(None)
}
