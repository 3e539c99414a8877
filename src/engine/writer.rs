//! The single writer of one table partition. It owns every write to its key range: reads
//! the old item, lets the caller's mutator decide the new one, and sends the group's
//! mutations to the group committer. Replies go out only after the commit, so an
//! acknowledged write is durable. No locks on this path: one task, one owner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot};

use super::catalog::TableMeta;
use super::index::{self, IndexDeltas};
use crate::model::{Item, value};
use crate::storage::{CommitHandle, Mutation, Space, StorageError, Store, keys};

/// Decides the new item from the old one: `Some` puts it, `None` deletes it.
pub type Mutator = Box<dyn FnOnce(Option<&Item>) -> Result<Option<Item>, WriteError> + Send>;

/// Why a write did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The condition was false; `item` is the current item, for
    /// ReturnValuesOnConditionCheckFailure.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<Box<Item>> },
    /// The request is invalid against the current item (AWS's message).
    #[error("{0}")]
    Validation(String),
    /// The table was deleted while the write waited.
    #[error("table deleted")]
    TableGone,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a write did: the item before and after (both `None`-able).
#[derive(Debug, Clone, Default)]
pub struct WriteOutcome {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

impl WriteOutcome {
    /// Whether the write changed the stored item.
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

/// Who made a write. Change records (the Streams issue) read it: AWS marks the deletes
/// its Time to Live process makes with `userIdentity` `{"PrincipalId":
/// "dynamodb.amazonaws.com", "Type": "Service"}` and client writes with none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteOrigin {
    /// A client request (PutItem, UpdateItem, DeleteItem, ...).
    #[default]
    Client,
    /// The Time to Live task deleting an expired item.
    TtlExpiry,
}

/// One queued write.
pub struct WriteRequest {
    pub storage_key: Vec<u8>,
    pub mutate: Mutator,
    pub origin: WriteOrigin,
    pub reply: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// Puts one item's entry into an index being backfilled (a GSI added by UpdateTable).
/// It goes through the writer so it is ordered with the item's own writes.
pub struct BackfillRequest {
    pub storage_key: Vec<u8>,
    pub index_id: u32,
    pub reply: oneshot::Sender<Result<(), WriteError>>,
}

/// Messages a partition writer takes.
pub enum WriterMsg {
    Write(WriteRequest),
    Backfill(BackfillRequest),
    /// Finish what is queued before this, then stop (table deletion).
    Stop(oneshot::Sender<()>),
}

/// Item count and bytes of a whole table, summed over its partitions' writers.
#[derive(Debug, Default)]
pub struct TableCounters {
    pub items: AtomicI64,
    pub bytes: AtomicI64,
    /// Entries and bytes per index id.
    pub indexes: Mutex<HashMap<u32, (i64, i64)>>,
}

impl TableCounters {
    /// Entries and bytes of one index.
    pub fn index(&self, index_id: u32) -> (i64, i64) {
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&index_id)
            .copied()
            .unwrap_or_default()
    }

    fn add_index(&self, deltas: &IndexDeltas) {
        let mut all = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        for (id, (items, bytes)) in deltas {
            let entry = all.entry(*id).or_default();
            entry.0 += items;
            entry.1 += bytes;
        }
    }
}

/// The table's metadata, shared with the writers so they see index changes.
pub type SharedMeta = Arc<RwLock<Arc<TableMeta>>>;

enum Job {
    Write(WriteRequest),
    Backfill(BackfillRequest),
}

enum Reply {
    Write(oneshot::Sender<Result<WriteOutcome, WriteError>>, Result<WriteOutcome, WriteError>),
    Backfill(oneshot::Sender<Result<(), WriteError>>, Result<(), WriteError>),
}

impl Reply {
    /// Sends the result; if the group's commit failed, a success becomes that failure.
    fn send(self, failed: Option<&StorageError>) {
        fn with<T>(
            r: Result<T, WriteError>,
            failed: Option<&StorageError>,
        ) -> Result<T, WriteError> {
            match failed {
                Some(e) => r.and(Err(WriteError::Storage(e.clone()))),
                None => r,
            }
        }
        match self {
            Reply::Write(tx, r) => {
                let _ = tx.send(with(r, failed));
            }
            Reply::Backfill(tx, r) => {
                let _ = tx.send(with(r, failed));
            }
        }
    }
}

/// Everything a partition writer needs.
pub struct Partition {
    pub table_id: u64,
    pub index: u32,
    pub meta: SharedMeta,
    /// This partition's share of each index's entries and bytes, as persisted.
    pub index_stats: HashMap<u32, (i64, i64)>,
    pub store: Arc<Store>,
    pub committer: CommitHandle,
    pub counters: Arc<TableCounters>,
    /// This partition's own share of the counters, as persisted.
    pub items: i64,
    pub bytes: i64,
    pub max_group: usize,
}

impl Partition {
    /// Runs the writer until it is stopped or every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        let mut group = Vec::new();
        loop {
            let Some(first) = rx.recv().await else { return };
            let mut stop = None;
            match first {
                WriterMsg::Write(w) => group.push(Job::Write(w)),
                WriterMsg::Backfill(b) => group.push(Job::Backfill(b)),
                WriterMsg::Stop(done) => stop = Some(done),
            }
            while stop.is_none() && group.len() < self.max_group {
                match rx.try_recv() {
                    Ok(WriterMsg::Write(w)) => group.push(Job::Write(w)),
                    Ok(WriterMsg::Backfill(b)) => group.push(Job::Backfill(b)),
                    Ok(WriterMsg::Stop(done)) => stop = Some(done),
                    Err(_) => break,
                }
            }
            if !group.is_empty() {
                self.apply_group(std::mem::take(&mut group)).await;
            }
            if let Some(done) = stop {
                rx.close();
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        WriterMsg::Write(w) => {
                            let _ = w.reply.send(Err(WriteError::TableGone));
                        }
                        WriterMsg::Backfill(b) => {
                            let _ = b.reply.send(Err(WriteError::TableGone));
                        }
                        WriterMsg::Stop(_) => {}
                    }
                }
                let _ = done.send(());
                return;
            }
        }
    }

    async fn apply_group(&mut self, group: Vec<Job>) {
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner()).clone();
        // Writes earlier in the group are not committed yet; later ones must see them.
        let mut overlay: HashMap<Vec<u8>, Option<Item>> = HashMap::new();
        let mut mutations = Vec::new();
        let mut replies = Vec::with_capacity(group.len());
        let (mut items, mut bytes) = (self.items, self.bytes);
        let mut deltas = IndexDeltas::new();
        for job in group {
            let w = match job {
                Job::Write(w) => w,
                Job::Backfill(b) => {
                    let result = self.backfill(&meta, &b, &overlay, &mut mutations, &mut deltas);
                    replies.push(Reply::Backfill(b.reply, result));
                    continue;
                }
            };
            let old = match overlay.get(&w.storage_key) {
                Some(item) => Ok(item.clone()),
                None => self.read(&w.storage_key),
            };
            let result = old.map_err(WriteError::from).and_then(|old| {
                let new = (w.mutate)(old.as_ref())?;
                if let Some(new) = &new {
                    index::check_index_keys(&meta, new).map_err(WriteError::Validation)?;
                }
                Ok(WriteOutcome { old, new })
            });
            if let Ok(outcome) = &result
                && outcome.changed()
            {
                let size = |i: &Option<Item>| i.as_ref().map_or(0, |i| value::item_size(i) as i64);
                items += i64::from(outcome.new.is_some()) - i64::from(outcome.old.is_some());
                bytes += size(&outcome.new) - size(&outcome.old);
                mutations.push(match &outcome.new {
                    Some(item) => {
                        Mutation::put(Space::Items, w.storage_key.clone(), value::encode_item(item))
                    }
                    None => Mutation::delete(Space::Items, w.storage_key.clone()),
                });
                index::maintain(
                    &meta,
                    &w.storage_key,
                    outcome.old.as_ref(),
                    outcome.new.as_ref(),
                    &mut mutations,
                    &mut deltas,
                );
                overlay.insert(w.storage_key, outcome.new.clone());
            }
            replies.push(Reply::Write(w.reply, result));
        }
        if !mutations.is_empty() {
            let writes = replies.len();
            mutations.push(Mutation::put(
                Space::Meta,
                keys::partition_stats(self.table_id, self.index),
                keys::encode_stats(items, bytes),
            ));
            let mut index_stats = self.index_stats.clone();
            for (id, (n, b)) in &deltas {
                let stat = index_stats.entry(*id).or_default();
                (stat.0, stat.1) = (stat.0 + n, stat.1 + b);
                mutations.push(Mutation::put(
                    Space::Meta,
                    keys::index_stats(self.table_id, *id, self.index),
                    keys::encode_stats(stat.0, stat.1),
                ));
            }
            if let Err(e) = self.committer.commit(mutations, writes).await {
                for reply in replies {
                    reply.send(Some(&e));
                }
                return;
            }
            self.counters.items.fetch_add(items - self.items, Ordering::Relaxed);
            self.counters.bytes.fetch_add(bytes - self.bytes, Ordering::Relaxed);
            self.counters.add_index(&deltas);
            (self.items, self.bytes, self.index_stats) = (items, bytes, index_stats);
        }
        for reply in replies {
            reply.send(None);
        }
    }

    /// Writes one item's entry into an index being filled, unless it is already there
    /// (a write since the index was created put it, or an earlier backfill did).
    fn backfill(
        &self,
        meta: &TableMeta,
        b: &BackfillRequest,
        overlay: &HashMap<Vec<u8>, Option<Item>>,
        mutations: &mut Vec<Mutation>,
        deltas: &mut IndexDeltas,
    ) -> Result<(), WriteError> {
        // Writes in this group already maintained the index for their items.
        if overlay.contains_key(&b.storage_key) {
            return Ok(());
        }
        let Some(index) = meta.indexes.iter().find(|i| i.id == b.index_id) else {
            return Ok(());
        };
        let Some(item) = self.read(&b.storage_key)? else { return Ok(()) };
        let Some((key, projected)) = index::entry(meta, index, &item, &b.storage_key) else {
            return Ok(());
        };
        if self.store.get(Space::Indexes, &key)?.is_some() || mutations.iter().any(|m| m.key == key)
        {
            return Ok(());
        }
        let delta = deltas.entry(index.id).or_default();
        delta.0 += 1;
        delta.1 += value::item_size(&projected) as i64;
        mutations.push(Mutation::put(Space::Indexes, key, value::encode_item(&projected)));
        Ok(())
    }

    fn read(&self, key: &[u8]) -> Result<Option<Item>, StorageError> {
        match self.store.get(Space::Items, key)? {
            Some(bytes) => value::decode_item(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }
}
