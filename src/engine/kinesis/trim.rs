//! The retention trimmer: deletes each shard's records older than its stream's retention
//! period, oldest first, in bounded batches committed by the stream's writer (which owns
//! the shard counters). It only ever removes a prefix of a shard, so the trim horizon is
//! the shard's first retained sequence number and TRIM_HORIZON readers move with it.
//! After a restart it simply starts again from each shard's first key. A stream stored by
//! group is trimmed a whole group at a time, every shard at once (`trim_groups`).

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::LiveStream;
use super::read::stored_runs;
use super::writer::{TrimRequest, TrimShard, WriterMsg};
use crate::engine::Engine;
use crate::engine::read::prefix_end;
use crate::storage::keys::kinesis as kkeys;
use crate::storage::keys::kinesis_groups::{self as gkeys, LOCATE_EVERY_GROUPS};
use crate::storage::{Space, StorageError};

/// Records trimmed per batch (whole runs: a batch may pass it by one run).
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
            if stream.shared.grouped {
                self.trim_groups(&stream, cutoff).await?;
                continue;
            }
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
            // Runs wholly older than the cutoff are deleted. A run sluice writes has one
            // arrival time (one group's clock reading), so it goes whole; should the cutoff
            // fall inside a run all the same, only the trim horizon moves (readers start
            // there), and the run goes once its last record is trimmed.
            let view = self.store.read_view();
            let (mut keys, mut bytes, mut read, mut upto) = (Vec::new(), 0i64, 0usize, tip.first);
            let mut full = false;
            'runs: for stored in stored_runs(&view, false, stream.id(), shard, tip.first) {
                let (first, value) = stored?;
                read += value.len();
                let run = kkeys::Run::new(first, &value)?;
                let end = run.end();
                for record in run {
                    let record = record?;
                    if record.seq < upto {
                        continue;
                    }
                    if record.seq >= tip.next || record.arrival_ms >= cutoff_ms {
                        break 'runs;
                    }
                    upto = record.seq + 1;
                    bytes += record.size() as i64;
                }
                if upto >= end {
                    keys.push((Space::Kinesis, kkeys::record_key(stream.id(), shard, first)));
                }
                if upto - tip.first >= TRIM_BATCH as u64 || read >= TRIM_BATCH_BYTES {
                    full = true;
                    break;
                }
            }
            if upto == tip.first {
                return Ok(());
            }
            let shards = vec![TrimShard { shard, upto, bytes }];
            if !send(stream, shards, keys).await? || !full {
                return Ok(());
            }
        }
    }

    /// Deletes a grouped stream's groups whose records all arrived before `cutoff_ms`,
    /// oldest first, with their headers and the locators whose every group went. The
    /// groups follow arrival order, so the first one still young ends the pass.
    async fn trim_groups(&self, stream: &LiveStream, cutoff_ms: i64) -> Result<(), StorageError> {
        let id = stream.id();
        loop {
            let view = self.store.read_view();
            let prefix = gkeys::groups_prefix(id);
            let headers = view.range(
                Space::KinesisIndex,
                Bound::Included(prefix.clone()),
                prefix_end(&prefix),
            );
            let (mut keys, mut shards) = (Vec::new(), HashMap::<u32, TrimShard>::new());
            let (mut records, mut kept_from, mut full) = (0usize, None, false);
            for entry in headers {
                let (key, header) = entry?;
                let header = gkeys::decode_header(&header)?;
                if header.newest_ms >= cutoff_ms {
                    break;
                }
                let group = gkeys::group_of(&key)?;
                for (section, bytes) in header.sections {
                    let s = shards.entry(section.shard).or_default();
                    (s.shard, s.upto) = (section.shard, s.upto.max(section.end()));
                    s.bytes += i64::from(bytes);
                    records += section.count as usize;
                }
                keys.push((Space::Kinesis, gkeys::group_key(id, group)));
                keys.push((Space::KinesisIndex, key));
                kept_from = Some(group + 1);
                if records >= TRIM_BATCH {
                    full = true;
                    break;
                }
            }
            let Some(kept_from) = kept_from else { return Ok(()) };
            for shard in &stream.meta().shards {
                let prefix = kkeys::shard_prefix(id, shard.index);
                let locators = view.range(
                    Space::KinesisIndex,
                    Bound::Included(prefix.clone()),
                    prefix_end(&prefix),
                );
                for entry in locators {
                    let (key, value) = entry?;
                    let group = gkeys::decode_locator(&value)?;
                    // Locators follow their groups' order within a shard.
                    if group.saturating_add(LOCATE_EVERY_GROUPS) > kept_from {
                        break;
                    }
                    keys.push((Space::KinesisIndex, key));
                }
            }
            if !send(stream, shards.into_values().collect(), keys).await? || !full {
                return Ok(());
            }
        }
    }
}

/// Hands a trim to the stream's writer and waits for it; `false` when the stream was
/// deleted meanwhile.
async fn send(
    stream: &LiveStream,
    shards: Vec<TrimShard>,
    keys: Vec<(Space, Vec<u8>)>,
) -> Result<bool, StorageError> {
    let (reply, wait) = oneshot::channel();
    let trim = TrimRequest { shards, keys, reply };
    if stream.writer.send(WriterMsg::Trim(trim)).await.is_err() {
        return Ok(false);
    }
    match wait.await {
        Ok(result) => result.map(|()| true),
        Err(_) => Ok(false),
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
