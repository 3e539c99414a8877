//! The single writer of one table partition. It owns every write to its key range: reads
//! the old item, lets the caller's mutator decide the new one, and sends the group's
//! mutations to the group committer. Replies go out only after the commit, so an
//! acknowledged write is durable. No locks on this path: one task, one owner.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::txn::TxnJoin;
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

/// One queued write.
pub struct WriteRequest {
    pub storage_key: Vec<u8>,
    pub mutate: Mutator,
    pub reply: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// Messages a partition writer takes.
pub enum WriterMsg {
    Write(WriteRequest),
    /// Finish what is queued before this, then lend the partition to a transaction until
    /// it commits or gives up (see `txn.rs`).
    Txn(TxnJoin),
    /// Finish what is queued before this, then stop (table deletion).
    Stop(oneshot::Sender<()>),
}

/// A message that ends a group: the writer applies what it gathered first.
enum Control {
    Txn(TxnJoin),
    Stop(oneshot::Sender<()>),
}

impl WriterMsg {
    fn split(self) -> Result<WriteRequest, Control> {
        match self {
            WriterMsg::Write(w) => Ok(w),
            WriterMsg::Txn(join) => Err(Control::Txn(join)),
            WriterMsg::Stop(done) => Err(Control::Stop(done)),
        }
    }
}

/// Item count and bytes of a whole table, summed over its partitions' writers.
#[derive(Debug, Default)]
pub struct TableCounters {
    pub items: AtomicI64,
    pub bytes: AtomicI64,
}

/// A partition's item count and bytes while a batch is being built.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub items: i64,
    pub bytes: i64,
}

/// Everything a partition writer needs.
pub struct Partition {
    pub table_id: u64,
    pub index: u32,
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
            let mut control = first.split().map(|w| group.push(w)).err();
            while control.is_none() && group.len() < self.max_group {
                match rx.try_recv() {
                    Ok(msg) => control = msg.split().map(|w| group.push(w)).err(),
                    Err(_) => break,
                }
            }
            if !group.is_empty() {
                self.apply_group(std::mem::take(&mut group)).await;
            }
            match control {
                None => {}
                // Everything queued before the transaction is committed by now, so it
                // reads what every earlier write left.
                Some(Control::Txn(join)) => self.join_txn(join).await,
                Some(Control::Stop(done)) => {
                    rx.close();
                    while let Ok(msg) = rx.try_recv() {
                        // A transaction dropped here sees its partition gone.
                        if let WriterMsg::Write(w) = msg {
                            let _ = w.reply.send(Err(WriteError::TableGone));
                        }
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    async fn apply_group(&mut self, group: Vec<WriteRequest>) {
        // Writes earlier in the group are not committed yet; later ones must see them.
        let mut overlay: HashMap<Vec<u8>, Option<Item>> = HashMap::new();
        let mut mutations = Vec::new();
        let mut replies = Vec::with_capacity(group.len());
        let mut counts = Counts { items: self.items, bytes: self.bytes };
        for w in group {
            let old = match overlay.get(&w.storage_key) {
                Some(item) => Ok(item.clone()),
                None => self.read(&w.storage_key),
            };
            let result = old.map_err(WriteError::from).and_then(|old| {
                let new = (w.mutate)(old.as_ref())?;
                Ok(WriteOutcome { old, new })
            });
            if let Ok(outcome) = &result
                && outcome.changed()
            {
                self.stage(&w.storage_key, outcome, &mut counts, &mut mutations);
                overlay.insert(w.storage_key, outcome.new.clone());
            }
            replies.push((w.reply, result));
        }
        if !mutations.is_empty() {
            let writes = mutations.len();
            mutations.push(self.stats_mutation(counts));
            if let Err(e) = self.committer.commit(mutations, writes).await {
                for (reply, result) in replies {
                    let _ = reply.send(result.and(Err(WriteError::Storage(e.clone()))));
                }
                return;
            }
            self.committed(counts);
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
    }

    /// Adds the storage mutations of one changed item to `mutations` and its effect to
    /// `counts`. Single writes and transactions both store a change through here.
    pub(super) fn stage(
        &self,
        key: &[u8],
        outcome: &WriteOutcome,
        counts: &mut Counts,
        mutations: &mut Vec<Mutation>,
    ) {
        let size = |i: &Option<Item>| i.as_ref().map_or(0, |i| value::item_size(i) as i64);
        counts.items += i64::from(outcome.new.is_some()) - i64::from(outcome.old.is_some());
        counts.bytes += size(&outcome.new) - size(&outcome.old);
        mutations.push(match &outcome.new {
            Some(item) => Mutation::put(Space::Items, key.to_vec(), value::encode_item(item)),
            None => Mutation::delete(Space::Items, key.to_vec()),
        });
    }

    /// The mutation persisting this partition's counts, committed with the changes.
    pub(super) fn stats_mutation(&self, counts: Counts) -> Mutation {
        Mutation::put(
            Space::Meta,
            keys::partition_stats(self.table_id, self.index),
            keys::encode_stats(counts.items, counts.bytes),
        )
    }

    /// Makes `counts` this partition's own once the batch carrying them is durable.
    pub(super) fn committed(&mut self, counts: Counts) {
        self.counters.items.fetch_add(counts.items - self.items, Ordering::Relaxed);
        self.counters.bytes.fetch_add(counts.bytes - self.bytes, Ordering::Relaxed);
        (self.items, self.bytes) = (counts.items, counts.bytes);
    }

    pub(super) fn read(&self, key: &[u8]) -> Result<Option<Item>, StorageError> {
        match self.store.get(Space::Items, key)? {
            Some(bytes) => value::decode_item(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }
}
