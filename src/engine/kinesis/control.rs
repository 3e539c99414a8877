//! The control plane: loading streams at start, creating, updating, resharding and
//! deleting them. Each stream's changes are serialized by its own lock; resharding runs
//! through its writer so it lands at an exact point between appends.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::meta::StreamMeta;
use super::read::stored_runs;
use super::writer::{ReshardRequest, Writer, WriterMsg};
use super::{LiveStream, ShardTip, StreamError, StreamShared, limits};
use crate::engine::{Engine, purge};
use crate::storage::keys::kinesis::{self as kkeys, Counters};
use crate::storage::{Mutation, ReadView, Space, StorageError};

impl Engine {
    /// Loads every stream, resumes purges of deleted ones and starts the trimmer (at open).
    pub(crate) fn open_kinesis(self: &Arc<Self>) -> Result<(), StorageError> {
        let secret = match self.store.get(Space::Meta, kkeys::ITERATOR_SECRET)? {
            Some(v) if v.len() == 16 => v.try_into().unwrap_or([0; 16]),
            _ => {
                let fresh = *uuid::Uuid::new_v4().as_bytes();
                let put =
                    Mutation::put(Space::Meta, kkeys::ITERATOR_SECRET.to_vec(), fresh.to_vec());
                self.store.commit_now(vec![put])?;
                fresh
            }
        };
        let _ = self.kinesis.secret.set(secret);
        let prefix = kkeys::stream_record_prefix(&self.ns_key);
        let records: Vec<_> = self.store.scan_prefix(Space::Meta, &prefix).collect();
        for record in records {
            let (_, bytes) = record?;
            let meta: StreamMeta = serde_json::from_slice(&bytes)
                .map_err(|e| StorageError::Corrupt(format!("kinesis stream record: {e}")))?;
            self.start_stream(meta)?;
        }
        // Purges are global (by id): the default namespace's engine resumes them all.
        let deleted: Vec<_> = match self.is_default() {
            true => self.store.scan_prefix(Space::Meta, kkeys::DELETED_STREAM_PREFIX).collect(),
            false => Vec::new(),
        };
        for marker in deleted {
            let (key, _) = marker?;
            if let Some(id) = key.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
            {
                purge::kinesis_stream(self.store.clone(), self.committer.clone(), id);
            }
        }
        let interval = Duration::from_millis(self.config.kinesis.trim_interval_ms);
        super::trim::spawn(Arc::downgrade(self) as Weak<Engine>, interval);
        Ok(())
    }

    /// Starts a stream's writer from its persisted record and counters.
    fn start_stream(&self, meta: StreamMeta) -> Result<Arc<LiveStream>, StorageError> {
        let mut counters = HashMap::new();
        let mut unpersisted = HashMap::new();
        let mut tips = Vec::with_capacity(meta.shards.len());
        let view = self.store.read_view();
        let grouped = meta.grouped;
        let (next_group, locators) = match grouped {
            true => super::groups::recover(&view, meta.id, meta.shards.iter().map(|s| s.index))?,
            false => (0, HashMap::new()),
        };
        for shard in &meta.shards {
            let key = kkeys::shard_counters(meta.id, shard.index);
            let written = match self.store.get(Space::Meta, &key)? {
                Some(v) => Counters::decode(&v)?,
                None => Counters::default(),
            };
            let (c, since) = recover_counters(&view, grouped, meta.id, shard.index, written)?;
            counters.insert(shard.index, c);
            unpersisted.insert(shard.index, since);
            let tip = ShardTip {
                first: c.first,
                next: c.next,
                closed: !shard.is_open(),
                committed_at: None,
            };
            tips.push(watch::Sender::new(tip));
        }
        let (id, name) = (meta.id, meta.name.clone());
        // Its consumers' series exist at 0 from the start, as at registration.
        for consumer in meta.consumers.iter().filter(|c| c.deleting_since_ms.is_none()) {
            let _ = self.metrics.fanout.series(&name, &consumer.name);
        }
        let shared = Arc::new(StreamShared {
            id,
            name: name.clone(),
            grouped,
            meta: watch::Sender::new(Arc::new(meta)),
            tips: RwLock::new(tips),
            rings: Default::default(),
        });
        let (tx, rx) = mpsc::channel(4096);
        let writer = Writer {
            shared: shared.clone(),
            committer: self.committer.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            per_shard_metrics: self.config.metrics.per_shard,
            max_group: self.config.storage.max_group_writes,
            ns_key: self.ns_key.clone(),
            counters,
            unpersisted,
            next_group,
            locators,
        };
        let (records, bytes) =
            writer.counters.values().fold((0, 0), |(r, b), c| (r + c.records, b + c.bytes));
        self.metrics.kinesis.retained_records.with_label_values(&[&name]).set(records);
        self.metrics.kinesis.retained_bytes.with_label_values(&[&name]).set(bytes);
        self.metrics.kinesis.touch_stream(&name);
        tokio::spawn(writer.run(rx));
        let limits = self
            .config
            .kinesis
            .enforce_limits
            .then(|| limits::StreamLimits::new(self.clock.clone()));
        let live = Arc::new(LiveStream {
            shared,
            writer: tx,
            control: tokio::sync::Mutex::new(()),
            limits,
        });
        self.kinesis.insert(live.clone());
        Ok(live)
    }

    /// Open shards across every stream (the account's shard count for limits).
    pub fn kinesis_open_shards(&self) -> usize {
        self.kinesis.all().iter().map(|s| s.meta().open_shards().count()).sum()
    }

    /// Creates a stream from `meta` (its `id` is assigned here), with `check` run under
    /// the creation lock (limits that depend on other streams).
    pub async fn create_kinesis_stream<E: From<StreamError>>(
        &self,
        mut meta: StreamMeta,
        check: impl FnOnce(&Engine) -> Result<(), E>,
    ) -> Result<Arc<LiveStream>, E> {
        let _guard = self.kinesis.control.lock().await;
        if self.kinesis.get(&meta.name).is_some() {
            return Err(StreamError::Exists.into());
        }
        check(self)?;
        let next =
            match self.store.get(Space::Meta, kkeys::NEXT_STREAM_ID).map_err(StreamError::from)? {
                Some(v) => v.try_into().map(u64::from_be_bytes).map_err(|_| {
                    StreamError::from(StorageError::Corrupt("stream id counter".into()))
                })?,
                None => 1,
            };
        meta.id = next;
        let mut mutations = vec![
            Mutation::put(
                Space::Meta,
                kkeys::NEXT_STREAM_ID.to_vec(),
                (next + 1).to_be_bytes().to_vec(),
            ),
            Mutation::put(
                Space::Meta,
                kkeys::stream_record(&self.ns_key, &meta.name),
                encode(&meta)?,
            ),
        ];
        for shard in &meta.shards {
            let key = kkeys::shard_counters(meta.id, shard.index);
            mutations.push(Mutation::put(Space::Meta, key, Counters::default().encode()));
        }
        self.committer.commit(mutations, 1).await.map_err(StreamError::from)?;
        Ok(self.start_stream(meta).map_err(StreamError::from)?)
    }

    /// Changes a stream's metadata with `change` and persists it. Shards are not changed
    /// here (see `reshard_kinesis_stream`).
    pub async fn update_kinesis_stream<E: From<StreamError>>(
        &self,
        stream: &LiveStream,
        change: impl FnOnce(&mut StreamMeta) -> Result<(), E>,
    ) -> Result<Arc<StreamMeta>, E> {
        let _guard = stream.control.lock().await;
        if self.kinesis.by_id(stream.id()).is_none() {
            return Err(StreamError::NotFound.into());
        }
        let mut meta = (*stream.meta()).clone();
        change(&mut meta)?;
        let record = Mutation::put(
            Space::Meta,
            kkeys::stream_record(&self.ns_key, &meta.name),
            encode(&meta)?,
        );
        self.committer.commit(vec![record], 1).await.map_err(StreamError::from)?;
        Ok(stream.shared.publish(meta))
    }

    /// Reshards: `plan` turns the current metadata into the next one and names the shards
    /// it closes. The writer closes them after committing everything queued before, and
    /// routes everything after to the open shards of the new metadata.
    pub async fn reshard_kinesis_stream<E: From<StreamError>>(
        &self,
        stream: &LiveStream,
        plan: impl FnOnce(&StreamMeta) -> Result<(StreamMeta, Vec<u32>), E>,
    ) -> Result<Arc<StreamMeta>, E> {
        let _guard = stream.control.lock().await;
        if self.kinesis.by_id(stream.id()).is_none() {
            return Err(StreamError::NotFound.into());
        }
        let (meta, close) = plan(&stream.meta())?;
        let (reply, wait) = oneshot::channel();
        let msg = WriterMsg::Reshard(ReshardRequest { meta, close, reply });
        let gone = || match self.closing() {
            true => StreamError::Storage(StorageError::ShuttingDown),
            false => StreamError::NotFound,
        };
        stream.writer.send(msg).await.map_err(|_| gone())?;
        let meta = wait.await.map_err(|_| gone())?.map_err(StreamError::from)?;
        Ok(meta)
    }

    /// Deletes a stream: stops its writer (queued appends finish first), drops its record
    /// and purges its records in the background.
    pub async fn delete_kinesis_stream(&self, name: &str) -> Result<Arc<StreamMeta>, StreamError> {
        let _guard = self.kinesis.control.lock().await;
        let stream = self.kinesis.get(name).ok_or(StreamError::NotFound)?;
        let _stream_guard = stream.control.lock().await;
        stop(&stream).await;
        self.kinesis.remove(name);
        let meta = stream.meta();
        self.committer
            .commit(
                vec![
                    Mutation::delete(Space::Meta, kkeys::stream_record(&self.ns_key, name)),
                    Mutation::put(Space::Meta, kkeys::deleted_stream(meta.id), Vec::new()),
                ],
                1,
            )
            .await?;
        let shard_ids: Vec<String> = meta.shards.iter().map(|s| s.id()).collect();
        self.metrics.kinesis.forget_stream(name, &shard_ids);
        // Its subscriptions end with ResourceNotFoundException, its consumers with it.
        self.kinesis.fanout.end_stream(meta.id, super::fanout::EndReason::StreamDeleted);
        for consumer in &meta.consumers {
            self.metrics.fanout.forget_consumer(name, &consumer.name);
        }
        purge::kinesis_stream(self.store.clone(), self.committer.clone(), meta.id);
        Ok(meta)
    }

    /// Stops every stream writer (queued appends finish first).
    pub(crate) async fn stop_kinesis(&self) {
        for stream in self.kinesis.all() {
            stop(&stream).await;
        }
    }
}

async fn stop(stream: &LiveStream) {
    let (done, wait) = oneshot::channel();
    if stream.writer.send(WriterMsg::Stop(done)).await.is_ok() {
        let _ = wait.await;
    }
}

fn encode(meta: &StreamMeta) -> Result<Vec<u8>, StreamError> {
    serde_json::to_vec(meta).map_err(|e| StreamError::Storage(StorageError::Corrupt(e.to_string())))
}

/// A shard's counters as last written, brought up to date with the records stored after
/// their `next` (the writer writes counters only now and then: `writer.rs`,
/// `COUNTERS_EVERY_RECORDS`), and the records and bytes that took.
fn recover_counters(
    view: &ReadView,
    grouped: bool,
    stream_id: u64,
    shard: u32,
    mut c: Counters,
) -> Result<(Counters, (u64, u64)), StorageError> {
    let mut since = (0u64, 0u64);
    for stored in stored_runs(view, grouped, stream_id, shard, c.next) {
        let (first, value) = stored?;
        for record in kkeys::Run::new(first, &value)? {
            let record = record?;
            if record.seq < c.next {
                continue;
            }
            let size = record.size();
            c.next = record.seq + 1;
            c.last_arrival_ms = c.last_arrival_ms.max(record.arrival_ms);
            (c.records, c.bytes) = (c.records + 1, c.bytes + size as i64);
            since = (since.0 + 1, since.1 + size as u64);
        }
    }
    Ok((c, since))
}
