//! The engine's Kinesis side: streams, their writer, reads, resharding and retention.
//!
//! One writer task per stream (not per shard) assigns sequence numbers and appends. One
//! owner per stream makes three things exact and simple at once:
//! - an append that spans shards (PutRecords, or the bridge's batch plus its cursor) is
//!   ONE storage batch: the bridge's exactly-once delivery needs exactly that;
//! - resharding is a message in the writer's queue: everything queued before it is
//!   committed to the parents, everything after goes to the children, with no retry or
//!   re-routing dance between separate shard owners;
//! - the retained-records counters have a single writer (the trimmer asks it to commit).
//!
//! Throughput stays high because the writer only encodes keys (hashing happens in the
//! request task) and its batches ride the shared group committer: many requests, one
//! batch, one fsync. After each commit the writer bumps the committed tip of every shard it
//! touched; readers (GetRecords, SubscribeToShard) wait on those `watch`es.

pub mod append;
pub mod consumers;
pub mod control;
pub mod fanout;
mod groups;
pub mod iterator;
pub mod limits;
pub mod meta;
pub mod read;
pub mod reshard;
pub mod ring;
mod routes;
pub mod seqno;
pub mod subscription;
pub mod trim;
mod writer;

#[cfg(test)]
pub(crate) mod append_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod subscription_tests;
#[cfg(test)]
mod trim_tests;

use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use tokio::sync::{mpsc, watch};

use crate::storage::StorageError;

pub use append::{AppendFailure, Appended, CursorMove, NewRecord, OnSettle};
pub use limits::ShardLimits;
pub use meta::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
pub use read::{ReadBatch, ReadRecord};

use writer::WriterMsg;

/// Control-plane and data-plane failures the api layer words for the wire.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StreamError {
    #[error("stream not found")]
    NotFound,
    #[error("stream already exists")]
    Exists,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A shard's committed extent, published after every commit that changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShardTip {
    /// The oldest sequence number still kept (the trim horizon).
    pub first: u64,
    /// The sequence number the next record will take: everything before it is durable.
    pub next: u64,
    /// Set once the shard is closed: `next` will never move again.
    pub closed: bool,
    /// When the commit that last moved `next` finished (monotonic), so fan-out can
    /// measure delivery latency from commit to frame; `None` until this process appends.
    pub committed_at: Option<std::time::Instant>,
}

/// What a stream's writer and its readers share.
pub struct StreamShared {
    pub id: u64,
    pub name: String,
    /// Whether its records are stored by group (`StreamMeta::grouped`; fixed for life).
    pub grouped: bool,
    meta: watch::Sender<Arc<StreamMeta>>,
    /// One tip per shard, indexed by shard index (indexes are dense).
    tips: RwLock<Vec<watch::Sender<ShardTip>>>,
    /// The latest records of the shards read at their tip, shared by those readers.
    rings: DashMap<u32, Arc<ring::Ring>>,
}

impl StreamShared {
    /// The current metadata.
    pub fn meta(&self) -> Arc<StreamMeta> {
        self.meta.borrow().clone()
    }

    /// Replaces the metadata (its record is already committed).
    fn publish(&self, meta: StreamMeta) -> Arc<StreamMeta> {
        let meta = Arc::new(meta);
        self.meta.send_replace(meta.clone());
        meta
    }

    /// A shard's committed tip.
    pub fn tip(&self, shard: u32) -> Option<ShardTip> {
        let tips = self.tips.read().unwrap_or_else(|e| e.into_inner());
        tips.get(shard as usize).map(|t| *t.borrow())
    }

    /// The ring of a shard's latest records (made on first use).
    pub fn ring(&self, shard: u32) -> Arc<ring::Ring> {
        if let Some(ring) = self.rings.get(&shard) {
            return ring.clone();
        }
        self.rings.entry(shard).or_default().clone()
    }

    /// Forgets a shard's ring (its shard is closed and read to its end).
    pub fn drop_ring(&self, shard: u32) {
        self.rings.remove(&shard);
    }

    /// Whether a shard has a ring (tests).
    #[cfg(test)]
    pub fn has_ring(&self, shard: u32) -> bool {
        self.rings.contains_key(&shard)
    }

    /// A receiver woken after every commit that appends to (or trims, or closes) `shard`.
    /// SubscribeToShard waits on this instead of polling.
    pub fn subscribe(&self, shard: u32) -> Option<watch::Receiver<ShardTip>> {
        let tips = self.tips.read().unwrap_or_else(|e| e.into_inner());
        tips.get(shard as usize).map(watch::Sender::subscribe)
    }

    /// Changes one shard's tip, waking its readers; adds tips up to `shard` if needed.
    fn update_tip(&self, shard: u32, change: impl FnOnce(&mut ShardTip)) {
        self.set_tip(shard, change);
        self.wake_tip(shard);
    }

    /// Changes one shard's tip without waking its readers yet (a reader that looks sees
    /// it); adds tips up to `shard` if needed. The writer calls this for every shard a
    /// commit touched, so the list is only locked for writing when it has to grow.
    fn set_tip(&self, shard: u32, change: impl FnOnce(&mut ShardTip)) {
        let quiet = |tip: &watch::Sender<ShardTip>| {
            tip.send_if_modified(|tip| {
                change(tip);
                false
            })
        };
        {
            let tips = self.tips.read().unwrap_or_else(|e| e.into_inner());
            if let Some(tip) = tips.get(shard as usize) {
                quiet(tip);
                return;
            }
        }
        let mut tips = self.tips.write().unwrap_or_else(|e| e.into_inner());
        while tips.len() <= shard as usize {
            tips.push(watch::Sender::new(ShardTip::default()));
        }
        quiet(&tips[shard as usize]);
    }

    /// Wakes the readers waiting on one shard's tip. With no receiver there is no one to
    /// wake (waking costs a lock in each of the channel's eight wait lists, per shard per
    /// commit), and a reader subscribing later reads the tip as `set_tip` left it.
    fn wake_tip(&self, shard: u32) {
        let tips = self.tips.read().unwrap_or_else(|e| e.into_inner());
        if let Some(tip) = tips.get(shard as usize).filter(|t| t.receiver_count() > 0) {
            tip.send_modify(|_| {});
        }
    }
}

/// A live stream: its shared state, its writer and its limits.
pub struct LiveStream {
    pub shared: Arc<StreamShared>,
    writer: mpsc::Sender<WriterMsg>,
    /// Serializes this stream's control-plane changes with each other.
    control: tokio::sync::Mutex<()>,
    /// Per-shard rate limiters, when `kinesis.enforce_limits` is on.
    pub limits: Option<limits::StreamLimits>,
}

impl LiveStream {
    /// The current metadata.
    pub fn meta(&self) -> Arc<StreamMeta> {
        self.shared.meta()
    }

    pub fn id(&self) -> u64 {
        self.shared.id
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }
}

/// Every live Kinesis stream, by name and by id.
#[derive(Default)]
pub struct Registry {
    by_name: DashMap<String, Arc<LiveStream>>,
    by_id: DashMap<u64, Arc<LiveStream>>,
    /// Serializes stream creation and deletion.
    control: tokio::sync::Mutex<()>,
    /// Keys shard iterator checksums; persisted so iterators survive restarts.
    secret: std::sync::OnceLock<[u8; 16]>,
    /// Enhanced fan-out subscriptions: who holds each consumer's shard, and how to end them.
    pub fanout: fanout::Hub,
}

impl Registry {
    /// A stream by name.
    pub fn get(&self, name: &str) -> Option<Arc<LiveStream>> {
        self.by_name.get(name).map(|s| s.clone())
    }

    /// A stream by id (iterators carry ids, so a recreated stream never reads the old one).
    pub fn by_id(&self, id: u64) -> Option<Arc<LiveStream>> {
        self.by_id.get(&id).map(|s| s.clone())
    }

    /// Every stream, sorted by name.
    pub fn all(&self) -> Vec<Arc<LiveStream>> {
        let mut all: Vec<Arc<LiveStream>> = self.by_name.iter().map(|s| s.clone()).collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The iterator secret.
    pub fn secret(&self) -> &[u8; 16] {
        self.secret.get_or_init(|| [0; 16])
    }

    fn insert(&self, stream: Arc<LiveStream>) {
        self.by_id.insert(stream.id(), stream.clone());
        self.by_name.insert(stream.name().to_string(), stream);
    }

    fn remove(&self, name: &str) -> Option<Arc<LiveStream>> {
        let (_, stream) = self.by_name.remove(name)?;
        self.by_id.remove(&stream.id());
        Some(stream)
    }
}
