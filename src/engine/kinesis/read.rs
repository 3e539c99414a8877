//! The shard read path, shared by GetRecords and (later) SubscribeToShard: read a run of
//! records from a position out of one storage snapshot, find where a timestamp falls,
//! and say where a shard ends. Readers never block the writer; to wait for new records
//! they use `StreamShared::subscribe`.

use std::ops::Bound;

use super::LiveStream;
use super::ring::SharedBatch;
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
        let tip = self.kinesis.by_id(stream_id).and_then(|s| s.shared.tip(shard));
        self.read_near(stream_id, shard, from, limit, max_bytes, tip.map(|t| t.next)).await
    }

    /// [`Engine::kinesis_read`] for a caller that already holds the shard's tip (`next`).
    async fn read_near(
        &self,
        stream_id: u64,
        shard: u32,
        from: u64,
        limit: usize,
        max_bytes: usize,
        tip_next: Option<u64>,
    ) -> Result<ReadBatch, StorageError> {
        let view = self.store.read_view();
        let read = move || read_run(&view, stream_id, shard, from, limit, max_bytes);
        if tip_next.is_some_and(|next| next.saturating_sub(from) <= INLINE_READ) {
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
        let batch = match ring.take(from, tip.next, limit, max_bytes) {
            Some(batch) => batch,
            None => {
                let batch = self
                    .read_near(stream.id(), shard, from, limit, max_bytes, Some(tip.next))
                    .await?;
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
        let search = move || {
            let (mut lo, mut hi) = (first, next);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let arrival =
                    match view.get(Space::Kinesis, &kkeys::record_key(stream_id, shard, mid))? {
                        Some(v) => kkeys::record_arrival(&v)?,
                        // Trimmed since `first` was read: older than anything kept.
                        None => i64::MIN,
                    };
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
    stream_id: u64,
    shard: u32,
    from: u64,
    limit: usize,
    max_bytes: usize,
) -> Result<ReadBatch, StorageError> {
    let lower = Bound::Included(kkeys::record_key(stream_id, shard, from));
    let upper = prefix_end(&kkeys::shard_prefix(stream_id, shard));
    let mut batch = ReadBatch { next: from, ..ReadBatch::default() };
    for entry in view.range(Space::Kinesis, lower, upper) {
        let (key, value) = entry?;
        let size = kkeys::record_size(&value);
        if run_is_full(batch.records.len(), batch.bytes, size, limit, max_bytes) {
            batch.next_arrival_ms = Some(kkeys::record_arrival(&value)?);
            break;
        }
        let seq = kkeys::seq_of(&key)?;
        batch.bytes += size;
        batch.next = seq + 1;
        batch.records.push(ReadRecord { seq, record: kkeys::decode_record(&value)? });
    }
    Ok(batch)
}
