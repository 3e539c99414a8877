//! Writes that span partition writers: TransactWriteItems (all or nothing, one atomic
//! commit) and BatchWriteItem (independent writes queued together).
//!
//! A transaction borrows every partition it touches. It sends each writer a `Txn`
//! message, one writer at a time in the global order (table id, partition index), and
//! waits for the writer to answer with the old items before asking the next one. A
//! writer answers only after committing what was queued before the message, then waits
//! for the transaction's plan and takes no other write meanwhile. Because every
//! transaction takes its partitions in the same order and holds nothing while it waits
//! for a lower one, two transactions can never wait on each other in a cycle.
//!
//! With every partition held, the transaction runs each action's mutator against the
//! old item, in action order. If any fails, it drops its plans and the writers resume
//! untouched. Otherwise each writer turns its part into storage mutations (the same
//! `stage` single writes use, with its own statistics), the transaction commits all of
//! them as ONE batch, tells every writer the result, and only then replies. The whole
//! exchange runs in a spawned task, so a client that disconnects cannot leave a writer
//! resumed before the commit it is part of.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use super::bridge::inline::{Batch, Inline};
use super::writer::{Mutator, Partition, WriteError, WriteOutcome, WriterMsg, check_new_item};
use super::{Engine, Table};
use crate::model::{AttributeValue, Item};
use crate::storage::{CommitHandle, Mutation, StorageError};

/// One item write of a transaction or a batch.
pub struct ItemWrite {
    pub table: Arc<Table>,
    pub hash: AttributeValue,
    pub storage_key: Vec<u8>,
    pub mutate: Mutator,
}

/// Why a transaction did not commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TxnError {
    /// Some action's mutator failed: one entry per action, in order; `None` passed.
    #[error("transaction cancelled")]
    Cancelled(Vec<Option<WriteError>>),
    /// A table went away, two actions named one item, or storage failed.
    #[error(transparent)]
    Failed(#[from] WriteError),
}

/// The message that lends a partition writer to a transaction.
pub struct TxnJoin {
    keys: Vec<Vec<u8>>,
    held: oneshot::Sender<Result<Vec<Option<Item>>, StorageError>>,
    plan: oneshot::Receiver<TxnPlan>,
}

/// What a partition staged for a transaction: its mutations and, when its table forwards
/// to a local stream and its cursor keeps up, its changes' destination records with the
/// cursor's new place (the transaction commits them in its own batch).
struct Staged {
    mutations: Vec<Mutation>,
    forward: Option<(Batch, u64)>,
}

/// What a partition must store for a transaction that goes ahead.
struct TxnPlan {
    /// One per key of the join, in the same order.
    outcomes: Vec<WriteOutcome>,
    staged: oneshot::Sender<Staged>,
    committed: oneshot::Receiver<Committed>,
}

/// The transaction's commit result, and where the partition says it has published its
/// new state (counts, the sequence number readers follow): the transaction is answered
/// only then, so a client reading right after it (DescribeTable's counts, GetRecords on
/// the table's stream) sees it, as after a single write.
struct Committed {
    result: Result<(), StorageError>,
    published: oneshot::Sender<()>,
}

impl Partition {
    /// Serves one transaction: old items out, then (unless it gives up) its mutations,
    /// then waits for the commit result before taking any other write.
    pub(super) async fn join_txn(&mut self, join: TxnJoin) {
        let olds = join.keys.iter().map(|k| self.read(k)).collect();
        if join.held.send(olds).is_err() {
            return;
        }
        // A transaction that gives up drops its plan: the partition is free again.
        let Ok(plan) = join.plan.await else { return };
        let meta = self.current_meta();
        let mut counts = self.start_counts();
        let mut mutations = Vec::new();
        let mut forward = self
            .counters
            .bridge_cursors
            .get(self.index as usize)
            .and_then(|cursor| self.inline.begin(&meta, self.index, cursor, counts.next_seq));
        for (key, outcome) in join.keys.iter().zip(&plan.outcomes) {
            if outcome.changed() {
                self.stage(
                    &meta,
                    key,
                    outcome,
                    super::WriteOrigin::Client,
                    &mut counts,
                    &mut mutations,
                    forward.as_mut(),
                );
            }
        }
        if !mutations.is_empty() {
            mutations.extend(self.stats_mutations(&counts));
        }
        let forward = forward.filter(|_| counts.records > 0).map(|b| (b, counts.next_seq));
        if plan.staged.send(Staged { mutations, forward }).is_err() {
            return;
        }
        if let Ok(Committed { result: Ok(()), published }) = plan.committed.await {
            self.committed(counts);
            let _ = published.send(());
        }
    }
}

/// The partitions of one transaction, keyed in lock order.
type PartitionKey = (u64, usize);

struct Participant {
    writer: mpsc::Sender<WriterMsg>,
    keys: Vec<Vec<u8>>,
}

impl Engine {
    /// Runs `writes` as one transaction: every mutator sees the current item, and either
    /// all changes commit in one atomic batch or none does. Each item at most once.
    pub async fn transact(&self, writes: Vec<ItemWrite>) -> Result<Vec<WriteOutcome>, TxnError> {
        let tables: Vec<Arc<Table>> = writes.iter().map(|w| w.table.clone()).collect();
        let task = tokio::spawn(run(self.committer.clone(), self.inline.clone(), writes));
        let result = task.await.unwrap_or_else(|e| {
            tracing::error!("transaction task failed: {e}");
            Err(TxnError::Failed(WriteError::Storage(StorageError::Closed)))
        });
        let result = result.map_err(|e| match e {
            TxnError::Failed(e) => TxnError::Failed(self.settle(e)),
            other => other,
        });
        if result.is_ok() {
            refresh_gauges(&tables);
        }
        result
    }

    /// Runs independent writes (BatchWriteItem): all are queued before any reply is
    /// awaited, so they share group commits. Results come back in `writes` order.
    pub async fn write_many(
        &self,
        writes: Vec<ItemWrite>,
    ) -> Vec<Result<WriteOutcome, WriteError>> {
        let mut waits = Vec::with_capacity(writes.len());
        let mut tables = Vec::with_capacity(writes.len());
        for w in writes {
            let (reply, wait) = oneshot::channel();
            let request = super::writer::WriteRequest {
                storage_key: w.storage_key,
                mutate: w.mutate,
                origin: super::WriteOrigin::Client,
                reply,
            };
            let sent = w.table.writer_for(&w.hash).send(WriterMsg::Write(request)).await;
            waits.push(sent.ok().map(|_| wait));
            tables.push(w.table);
        }
        let mut results = Vec::with_capacity(waits.len());
        for wait in waits {
            let result = match wait {
                Some(wait) => wait.await.unwrap_or(Err(WriteError::Storage(StorageError::Closed))),
                None => Err(WriteError::TableGone),
            };
            results.push(result.map_err(|e| self.settle(e)));
        }
        refresh_gauges(&tables);
        results
    }
}

fn refresh_gauges(tables: &[Arc<Table>]) {
    for table in tables {
        table.items_gauge.set(table.counters.items.load(Ordering::Relaxed));
        table.bytes_gauge.set(table.counters.bytes.load(Ordering::Relaxed));
    }
}

fn gone() -> TxnError {
    TxnError::Failed(WriteError::TableGone)
}

async fn run(
    committer: CommitHandle,
    inline: Arc<Inline>,
    writes: Vec<ItemWrite>,
) -> Result<Vec<WriteOutcome>, TxnError> {
    let mut parts: BTreeMap<PartitionKey, Participant> = BTreeMap::new();
    let mut slots = Vec::with_capacity(writes.len());
    let mut mutators = Vec::with_capacity(writes.len());
    let mut seen = HashSet::new();
    let mut metas = Vec::with_capacity(writes.len());
    for w in writes {
        let meta = w.table.meta();
        let id = meta.id;
        metas.push(meta);
        if !seen.insert((id, w.storage_key.clone())) {
            return Err(TxnError::Failed(WriteError::Validation(
                "Transaction request cannot include multiple operations on one item".into(),
            )));
        }
        let index = w.table.partition_of(&w.hash);
        let part = parts.entry((id, index)).or_insert_with(|| Participant {
            writer: w.table.writers[index].clone(),
            keys: vec![],
        });
        slots.push(((id, index), part.keys.len()));
        part.keys.push(w.storage_key);
        mutators.push(w.mutate);
    }

    // Lock in global order, one partition at a time. Returning early drops the plans
    // taken so far, which releases those partitions.
    let mut held: BTreeMap<PartitionKey, (Vec<Option<Item>>, oneshot::Sender<TxnPlan>)> =
        BTreeMap::new();
    for (key, part) in parts {
        let (held_tx, held_rx) = oneshot::channel();
        let (plan_tx, plan_rx) = oneshot::channel();
        let join = TxnJoin { keys: part.keys, held: held_tx, plan: plan_rx };
        part.writer.send(WriterMsg::Txn(join)).await.map_err(|_| gone())?;
        let olds = held_rx.await.map_err(|_| gone())?.map_err(WriteError::Storage)?;
        held.insert(key, (olds, plan_tx));
    }

    // Every action sees the item as the transaction found it; all are evaluated so the
    // cancellation reasons cover each one.
    let mut outcomes = Vec::with_capacity(mutators.len());
    let mut reasons = Vec::with_capacity(mutators.len());
    for ((mutate, (key, slot)), meta) in mutators.into_iter().zip(&slots).zip(&metas) {
        let old = held.get(key).and_then(|(olds, _)| olds.get(*slot).cloned()).flatten();
        let result =
            mutate(old.as_ref()).and_then(|new| check_new_item(meta, new.as_ref()).map(|()| new));
        match result {
            Ok(new) => {
                outcomes.push(WriteOutcome { old, new });
                reasons.push(None);
            }
            Err(e) => {
                outcomes.push(WriteOutcome { old: old.clone(), new: old });
                reasons.push(Some(e));
            }
        }
    }
    if reasons.iter().any(Option::is_some) {
        return Err(TxnError::Cancelled(reasons));
    }

    let mut per_part: BTreeMap<PartitionKey, Vec<WriteOutcome>> = BTreeMap::new();
    for (outcome, (key, _)) in outcomes.iter().zip(&slots) {
        // Slots were numbered in action order, so pushing in action order lines them up.
        per_part.entry(*key).or_default().push(outcome.clone());
    }
    let mut staged = Vec::with_capacity(held.len());
    let mut committed = Vec::with_capacity(held.len());
    for (key, (_, plan)) in held {
        let (staged_tx, staged_rx) = oneshot::channel();
        let (committed_tx, committed_rx) = oneshot::channel();
        let outcomes = per_part.remove(&key).unwrap_or_default();
        plan.send(TxnPlan { outcomes, staged: staged_tx, committed: committed_rx })
            .map_err(|_| gone())?;
        staged.push(staged_rx);
        committed.push(committed_tx);
    }
    let mut mutations = Vec::new();
    let mut forward = Vec::new();
    for rx in staged {
        let part = rx.await.map_err(|_| gone())?;
        mutations.extend(part.mutations);
        forward.extend(part.forward);
    }
    let writes = outcomes.iter().filter(|o| o.changed()).count();
    // One batch: the changes, and their destination records where they forward inline.
    let result = match (mutations.is_empty(), forward.is_empty()) {
        (true, _) => Ok(()),
        (false, true) => committer.commit(mutations, writes).await,
        (false, false) => inline.commit(forward, mutations, writes, &committer, None).await,
    };
    let mut published = Vec::with_capacity(committed.len());
    for tx in committed {
        let (published_tx, published_rx) = oneshot::channel();
        let _ = tx.send(Committed { result: result.clone(), published: published_tx });
        published.push(published_rx);
    }
    result.map_err(WriteError::Storage)?;
    for rx in published {
        // A partition gone meanwhile (its table deleted) has nothing left to publish.
        let _ = rx.await;
    }
    Ok(outcomes)
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;
