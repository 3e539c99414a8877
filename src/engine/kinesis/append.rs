//! Appending records: the engine API every writer of a stream uses (PutRecord,
//! PutRecords, and the bridge that forwards table changes).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::oneshot;

use super::writer::{AppendRequest, WriterMsg};
use super::{LiveStream, StreamError};
use crate::engine::Engine;
use crate::storage::{Mutation, StorageError};

/// A record to append. The caller computes `hash` (the partition key's MD5, or an
/// ExplicitHashKey), so hashing happens off the writer task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub hash: u128,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl NewRecord {
    /// A record routed by its partition key's MD5, as PutRecord does without an
    /// ExplicitHashKey (the bridge uses this).
    pub fn keyed(partition_key: String, data: Vec<u8>) -> NewRecord {
        NewRecord { hash: super::meta::hash_of(&partition_key), partition_key, data }
    }

    /// Bytes the record counts for: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// Where one appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The shard index (`meta::shard_id` gives its wire id).
    pub shard: u32,
    /// The shard's sequence number (`seqno::encode` gives its wire form).
    pub seq: u64,
    /// Arrival time in epoch milliseconds (never earlier than the shard's previous one).
    pub arrival_ms: i64,
}

/// A durable cursor (a bridge's, one per table partition) that an append moves in its
/// own batch, and only if it still stands where the caller read it. A stream's appends
/// are serialized by its writer, so two movers of one cursor (a table writer forwarding
/// its own commit, the forwarder catching up after it) can never both forward a change.
#[derive(Debug, Clone)]
pub struct CursorMove {
    /// The cursor as committed: checked against `from`, set to `to` once the batch is in
    /// (`to` = `bridge::inline::NO_CURSOR` deletes it: the destination was disabled).
    pub cell: Arc<AtomicU64>,
    /// Its key in the meta keyspace (the value is `to`, big-endian).
    pub key: Vec<u8>,
    pub from: u64,
    pub to: u64,
}

/// Run by the stream's writer when an append's batch is settled (with the commit's
/// result), before its reply is sent: a table writer forwarding inline answers its
/// clients from here, one task hop sooner than through its own wake-up.
pub type OnSettle = Box<dyn FnOnce(Result<(), &StorageError>) + Send>;

/// Why an append did not happen.
pub enum AppendFailure {
    /// The stream's writer is gone (deleted, or shutting down) and committed nothing:
    /// the `extra` and `on_settle` of an append with `extra_when_stale` come back here,
    /// uncommitted and not run, when the writer could not even take it (it commits and
    /// runs them itself if it was queued).
    Stopped(Vec<Mutation>, Option<OnSettle>),
    /// The batch failed (or the writer vanished while it was committing).
    Storage(StorageError),
}

impl std::fmt::Debug for AppendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendFailure::Stopped(extra, _) => write!(f, "Stopped({} mutations)", extra.len()),
            AppendFailure::Storage(e) => write!(f, "Storage({e:?})"),
        }
    }
}

impl LiveStream {
    /// Appends `records` with `extra` in one batch, and moves `cursors`, but only if each
    /// stands at its `from`. When one does not, neither the records nor any cursor move
    /// are written and the answer is `None`; `extra` is then committed alone if
    /// `extra_when_stale` (a table write forwarding inline lands either way), else dropped.
    pub async fn append(
        &self,
        records: Vec<NewRecord>,
        extra: Vec<Mutation>,
        cursors: Vec<CursorMove>,
        extra_when_stale: bool,
        on_settle: Option<OnSettle>,
    ) -> Result<Option<Vec<Appended>>, AppendFailure> {
        let (reply, wait) = oneshot::channel();
        let request = AppendRequest { records, extra, cursors, extra_when_stale, on_settle, reply };
        if let Err(refused) = self.writer.send(WriterMsg::Append(request)).await {
            return Err(match refused.0 {
                WriterMsg::Append(r) => AppendFailure::Stopped(r.extra, r.on_settle),
                _ => AppendFailure::Stopped(Vec::new(), None),
            });
        }
        match wait.await {
            Ok(Ok(appended)) => Ok(appended),
            // The writer stopped before committing it.
            Ok(Err(StorageError::Closed)) => Err(AppendFailure::Stopped(Vec::new(), None)),
            Ok(Err(e)) => Err(AppendFailure::Storage(e)),
            // Dropped unanswered, perhaps mid-commit: whether it happened is unknown.
            Err(_) => Err(AppendFailure::Storage(StorageError::Closed)),
        }
    }
}

impl Engine {
    /// Appends `records` to `stream` and commits `extra` in the SAME storage batch.
    ///
    /// Each record goes to the open shard whose hash range holds its hash, in the order
    /// given (records of one partition key keep their order). The answer, per record in
    /// order, comes only after the batch is durable; by then every shard it touched has
    /// its tip moved, waking `StreamShared::subscribe` receivers.
    ///
    /// The writer may fold other callers' appends into the same batch; that only makes
    /// the batch bigger, never splits one caller's records from its `extra`. An empty
    /// `records` with non-empty `extra` is allowed (it commits `extra` in stream order).
    ///
    /// Limits, record sizes and stream status are the caller's checks (the api layer
    /// words them for the wire); this call only fails when the stream is gone or storage
    /// fails.
    pub async fn kinesis_append(
        &self,
        stream: &LiveStream,
        records: Vec<NewRecord>,
        extra: Vec<Mutation>,
    ) -> Result<Vec<Appended>, StreamError> {
        self.kinesis_append_at(stream, records, extra, None).await.map(Option::unwrap_or_default)
    }

    /// [`Engine::kinesis_append`] that also moves a bridge cursor in the batch (see
    /// [`LiveStream::append`]); `None` when the cursor had moved on (nothing written).
    pub async fn kinesis_append_at(
        &self,
        stream: &LiveStream,
        records: Vec<NewRecord>,
        extra: Vec<Mutation>,
        cursor: Option<CursorMove>,
    ) -> Result<Option<Vec<Appended>>, StreamError> {
        match stream.append(records, extra, cursor.into_iter().collect(), false, None).await {
            Ok(appended) => Ok(appended),
            // A writer stops when its stream is deleted, or when sluice shuts down: then
            // the stream still exists and the caller gets a retryable InternalFailure.
            Err(AppendFailure::Stopped(..)) if self.closing() => {
                Err(StreamError::Storage(StorageError::ShuttingDown))
            }
            Err(AppendFailure::Stopped(..)) => Err(StreamError::NotFound),
            Err(AppendFailure::Storage(StorageError::Closed)) if self.closing() => {
                Err(StreamError::Storage(StorageError::ShuttingDown))
            }
            Err(AppendFailure::Storage(e)) => Err(StreamError::Storage(e)),
        }
    }
}
