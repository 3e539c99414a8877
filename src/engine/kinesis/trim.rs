//! The retention trimmer: deletes each shard's records older than its stream's retention
//! period, oldest first, in bounded batches committed by the stream's writer (which owns
//! the shard counters). It only ever removes a prefix of a shard, so the trim horizon is
//! the shard's first retained sequence number and TRIM_HORIZON readers move with it.
//! After a restart it simply starts again from each shard's first key.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::LiveStream;
use super::writer::{TrimRequest, WriterMsg};
use crate::engine::Engine;
use crate::storage::keys::kinesis as kkeys;
use crate::storage::{Space, StorageError};

/// Records deleted per batch.
const TRIM_BATCH: usize = 1000;
/// Bytes read per batch (records can be 10 MiB each).
const TRIM_BATCH_BYTES: usize = 32 * 1024 * 1024;

impl Engine {
    /// One trimming pass over every stream.
    pub async fn trim_kinesis(&self) -> Result<(), StorageError> {
        let now = self.clock.now_millis();
        for stream in self.kinesis.all() {
            let meta = stream.meta();
            let cutoff = now - meta.retention_ms();
            for shard in &meta.shards {
                self.trim_shard(&stream, shard.index, cutoff).await?;
            }
        }
        Ok(())
    }

    /// Deletes shard `shard`'s records that arrived before `cutoff_ms`.
    async fn trim_shard(
        &self,
        stream: &LiveStream,
        shard: u32,
        cutoff_ms: i64,
    ) -> Result<(), StorageError> {
        loop {
            let Some(tip) = stream.shared.tip(shard) else { return Ok(()) };
            if tip.first >= tip.next {
                return Ok(());
            }
            let start = kkeys::record_key(stream.id(), shard, tip.first);
            let end = kkeys::record_key(stream.id(), shard, tip.next);
            let (mut keys, mut bytes, mut read, mut upto) = (Vec::new(), 0i64, 0usize, tip.first);
            for entry in self.store.scan_range(Space::Kinesis, start, end) {
                let (key, value) = entry?;
                if kkeys::record_arrival(&value)? >= cutoff_ms {
                    break;
                }
                upto = kkeys::seq_of(&key)? + 1;
                bytes += kkeys::record_size(&value) as i64;
                read += value.len();
                keys.push(key);
                if keys.len() >= TRIM_BATCH || read >= TRIM_BATCH_BYTES {
                    break;
                }
            }
            if keys.is_empty() {
                return Ok(());
            }
            let full = keys.len() >= TRIM_BATCH || read >= TRIM_BATCH_BYTES;
            let (reply, wait) = oneshot::channel();
            let trim = TrimRequest { shard, upto, keys, bytes, reply };
            if stream.writer.send(WriterMsg::Trim(trim)).await.is_err() {
                return Ok(()); // the stream was deleted meanwhile
            }
            match wait.await {
                Ok(result) => result?,
                Err(_) => return Ok(()),
            }
            if !full {
                return Ok(());
            }
        }
    }
}

/// Starts the trimmer; it stops once the engine is dropped.
pub(super) fn spawn(engine: Weak<Engine>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(engine): Option<Arc<Engine>> = engine.upgrade() else { return };
            if let Err(e) = engine.trim_kinesis().await {
                tracing::warn!("kinesis retention trimming: {e}");
            }
        }
    });
}
