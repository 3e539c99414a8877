//! Appending records: the engine API every writer of a stream uses (PutRecord,
//! PutRecords, and the bridge that forwards table changes).

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

impl Engine {
    /// Appends `records` to `stream` and commits `extra` in the SAME storage batch.
    ///
    /// Each record goes to the open shard whose hash range holds its hash, in the order
    /// given (records of one partition key keep their order). The answer, per record in
    /// order, comes only after the batch is durable; by then every shard it touched has
    /// its tip moved, waking `StreamShared::subscribe` receivers.
    ///
    /// `extra` exists for the bridge: its cursor move rides in the batch that holds the
    /// records it forwards, so a crash keeps both or neither (exactly-once delivery).
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
        let (reply, wait) = oneshot::channel();
        let request = AppendRequest { records, extra, reply };
        // A writer stops when its stream is deleted, or when sluice shuts down: then the
        // stream still exists and the caller gets a retryable InternalFailure.
        let gone = || match self.closing() {
            true => StreamError::Storage(StorageError::ShuttingDown),
            false => StreamError::NotFound,
        };
        stream.writer.send(WriterMsg::Append(request)).await.map_err(|_| gone())?;
        match wait.await {
            Ok(Ok(appended)) => Ok(appended),
            // The writer stopped before committing it.
            Ok(Err(StorageError::Closed)) => Err(gone()),
            Ok(Err(e)) => Err(StreamError::Storage(e)),
            // Dropped unanswered: it did not happen.
            Err(_) if self.closing() => Err(StreamError::Storage(StorageError::ShuttingDown)),
            Err(_) => Err(StreamError::Storage(StorageError::Closed)),
        }
    }
}
