//! The single writer of one table partition. It owns every write to its key range: reads
//! the old item, lets the caller's mutator decide the new one, and sends the group's
//! mutations (item, index entries, statistics) to the group committer. Replies go out
//! only after the commit, so an acknowledged write is durable. No locks on this path:
//! one task, one owner.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot};

use super::bridge::inline::{Batch, Inline};
use super::bridge::record::ChangeView;
use super::catalog::TableMeta;
use super::changelog::{EventName, RecordHead, new_event_id};
use super::index::{self, IndexDeltas};
use super::kinesis::OnSettle;
use super::txn::TxnJoin;
use crate::clock::SharedClock;
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
    /// Finish what is queued before this, then lend the partition to a transaction until
    /// it commits or gives up (see `txn.rs`).
    Txn(TxnJoin),
    /// Finish what is queued before this, then answer with the next sequence number:
    /// every record after the answer takes it or a later one (stream boundaries).
    Boundary(oneshot::Sender<u64>),
    /// Finish what is queued before this, then stop (table deletion).
    Stop(oneshot::Sender<()>),
}

/// One unit of a write group.
enum Job {
    Write(WriteRequest),
    Backfill(BackfillRequest),
}

/// A message that ends a group: the writer applies what it gathered first.
enum Control {
    Txn(TxnJoin),
    Boundary(oneshot::Sender<u64>),
    Stop(oneshot::Sender<()>),
}

impl WriterMsg {
    fn split(self) -> Result<Job, Control> {
        match self {
            WriterMsg::Write(w) => Ok(Job::Write(w)),
            WriterMsg::Backfill(b) => Ok(Job::Backfill(b)),
            WriterMsg::Txn(join) => Err(Control::Txn(join)),
            WriterMsg::Boundary(tx) => Err(Control::Boundary(tx)),
            WriterMsg::Stop(done) => Err(Control::Stop(done)),
        }
    }
}

/// Item count and bytes of a whole table, summed over its partitions' writers.
#[derive(Debug, Default)]
pub struct TableCounters {
    pub items: AtomicI64,
    pub bytes: AtomicI64,
    /// Entries and bytes per index id.
    pub indexes: Mutex<HashMap<u32, (i64, i64)>>,
    /// Each partition's next change-log sequence number, as committed.
    pub next_seqs: Vec<AtomicU64>,
    /// Each partition's bridge cursor, as committed (`bridge::inline::NO_CURSOR` when the
    /// table forwards nowhere): moved only through the destination stream's writer, which
    /// checks it, so the partition writer and the forwarder never forward a change twice.
    pub bridge_cursors: Vec<Arc<AtomicU64>>,
    /// Woken after every commit that wrote change records (the bridge waits on it).
    pub changes: tokio::sync::Notify,
    /// Bumped after every commit that wrote change records. Unlike `changes` (one
    /// waiter, the bridge), any number of followers (the Lambda pollers of every mapping
    /// on the table's streams) each see every bump: a bump made while one is busy is
    /// still pending when it next waits, so none misses a commit.
    pub commits: tokio::sync::watch::Sender<u64>,
}

impl TableCounters {
    /// Entries and bytes of one index.
    pub fn index(&self, index_id: u32) -> (i64, i64) {
        let all = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        all.get(&index_id).copied().unwrap_or_default()
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

/// A partition's item count and bytes, and each index's entries and bytes in it, while
/// a batch is being built.
#[derive(Debug, Clone)]
pub struct Counts {
    pub items: i64,
    pub bytes: i64,
    /// Changes to the partition's index statistics made by this batch.
    pub index_deltas: IndexDeltas,
    /// The sequence number the next change record takes.
    pub next_seq: u64,
    /// Change records, and their bytes, this batch writes.
    pub records: u64,
    pub record_bytes: u64,
}

/// Everything a partition writer needs.
pub struct Partition {
    pub table_id: u64,
    pub index: u32,
    pub meta: SharedMeta,
    pub clock: SharedClock,
    pub store: Arc<Store>,
    pub committer: CommitHandle,
    pub counters: Arc<TableCounters>,
    /// Forwards the partition's changes to a local destination in the write's own commit.
    pub inline: Arc<Inline>,
    /// This partition's own share of the counters, as persisted.
    pub items: i64,
    pub bytes: i64,
    /// This partition's share of each index's entries and bytes, as persisted.
    pub index_stats: HashMap<u32, (i64, i64)>,
    /// The sequence number the next change record takes (never reused).
    pub next_seq: u64,
    pub max_group: usize,
    /// This table's `sluice_stream_records_written_total` and `_written_bytes_total`.
    pub records_written: prometheus::IntCounter,
    pub record_bytes_written: prometheus::IntCounter,
}

/// What a durable batch changes in the table's shared state: its counts, the sequence
/// number readers follow, and the wake-ups of the bridge and the triggers. Published
/// before the batch's writes are answered, so a client that reads after its write sees it.
struct Publish {
    counters: Arc<TableCounters>,
    index: u32,
    items: i64,
    bytes: i64,
    index_deltas: IndexDeltas,
    next_seq: u64,
    records: u64,
    record_bytes: u64,
    records_written: prometheus::IntCounter,
    record_bytes_written: prometheus::IntCounter,
}

impl Publish {
    fn run(self) {
        self.store();
        self.wake();
    }

    /// What readers look at: before the writes are answered.
    fn store(&self) {
        let c = &self.counters;
        c.items.fetch_add(self.items, Ordering::Relaxed);
        c.bytes.fetch_add(self.bytes, Ordering::Relaxed);
        c.add_index(&self.index_deltas);
        self.records_written.inc_by(self.records);
        self.record_bytes_written.inc_by(self.record_bytes);
        if let Some(seq) = c.next_seqs.get(self.index as usize) {
            seq.store(self.next_seq, Ordering::Release);
        }
    }

    /// Wakes the followers of the change log (the bridge, the triggers' pollers): after
    /// the answers, so their work does not queue ahead of them.
    /// The forwarder only when the bridge's cursor stands before the batch's end (a
    /// write forwarded in its own commit left it there already; its idle round still
    /// runs on its timer).
    fn wake(&self) {
        if self.records > 0 {
            let cursor = self.counters.bridge_cursors.get(self.index as usize);
            if cursor.is_none_or(|c| c.load(Ordering::Acquire) < self.next_seq) {
                self.counters.changes.notify_one();
            }
            self.counters.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// Sends a result; if the group's commit failed, a success becomes that failure.
fn reply<T>(
    tx: oneshot::Sender<Result<T, WriteError>>,
    result: Result<T, WriteError>,
    failed: Option<&StorageError>,
) {
    let _ = tx.send(match failed {
        Some(e) => result.and(Err(WriteError::Storage(e.clone()))),
        None => result,
    });
}

enum Reply {
    Write(oneshot::Sender<Result<WriteOutcome, WriteError>>, Result<WriteOutcome, WriteError>),
    Backfill(oneshot::Sender<Result<(), WriteError>>, Result<(), WriteError>),
}

impl Reply {
    fn send(self, failed: Option<&StorageError>) {
        match self {
            Reply::Write(tx, r) => reply(tx, r, failed),
            Reply::Backfill(tx, r) => reply(tx, r, failed),
        }
    }
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
                Some(Control::Boundary(tx)) => {
                    let _ = tx.send(self.next_seq);
                }
                Some(Control::Stop(done)) => {
                    rx.close();
                    while let Ok(msg) = rx.try_recv() {
                        // A transaction dropped here sees its partition gone.
                        match msg {
                            WriterMsg::Write(w) => {
                                let _ = w.reply.send(Err(WriteError::TableGone));
                            }
                            WriterMsg::Backfill(b) => {
                                let _ = b.reply.send(Err(WriteError::TableGone));
                            }
                            WriterMsg::Txn(_) | WriterMsg::Boundary(_) | WriterMsg::Stop(_) => {}
                        }
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    /// The table's metadata as of now (index definitions may change between groups).
    pub(super) fn current_meta(&self) -> Arc<TableMeta> {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts to build a batch on, starting from this partition's persisted ones.
    pub(super) fn start_counts(&self) -> Counts {
        Counts {
            items: self.items,
            bytes: self.bytes,
            index_deltas: IndexDeltas::new(),
            next_seq: self.next_seq,
            records: 0,
            record_bytes: 0,
        }
    }

    async fn apply_group(&mut self, group: Vec<Job>) {
        let meta = self.current_meta();
        // Writes earlier in the group are not committed yet; later ones must see them.
        // Only a key written again in this group needs its new item kept (a clone per
        // write otherwise); backfills only ask whether a key was written.
        let mut overlay: HashMap<Vec<u8>, Option<Item>> = HashMap::new();
        let rewritten = rewritten_keys(&group);
        let mut mutations = Vec::new();
        let mut replies = Vec::with_capacity(group.len());
        let mut counts = self.start_counts();
        let mut forward = self
            .counters
            .bridge_cursors
            .get(self.index as usize)
            .and_then(|cursor| self.inline.begin(&meta, self.index, cursor, counts.next_seq));
        for job in group {
            let w = match job {
                Job::Write(w) => w,
                Job::Backfill(b) => {
                    let result = self.backfill(&meta, &b, &overlay, &mut mutations, &mut counts);
                    replies.push(Reply::Backfill(b.reply, result));
                    continue;
                }
            };
            let old = match overlay.get(&w.storage_key) {
                Some(item) => Ok(item.clone()),
                None => self.read(&w.storage_key),
            };
            let mutate = w.mutate;
            let result = old.map_err(WriteError::from).and_then(|old| {
                // A panicking mutator (a bug) fails its own write, not the writer task:
                // were the task gone, every later write of the partition would fail.
                let new = guarded(|| mutate(old.as_ref()))??;
                check_new_item(&meta, new.as_ref())?;
                Ok(WriteOutcome { old, new })
            });
            let result = match result {
                Ok(outcome) if outcome.changed() => {
                    let (mark, before) = (mutations.len(), counts.clone());
                    let forward_mark = forward.as_ref().map(Batch::mark);
                    let staged = guarded(|| {
                        let origin = w.origin;
                        self.stage(
                            &meta,
                            &w.storage_key,
                            &outcome,
                            origin,
                            &mut counts,
                            &mut mutations,
                            forward.as_mut(),
                        );
                    });
                    match staged {
                        Ok(()) => Ok(outcome),
                        Err(e) => {
                            mutations.truncate(mark);
                            counts = before;
                            if let (Some(batch), Some(at)) = (forward.as_mut(), forward_mark) {
                                batch.rewind(at);
                            }
                            Err(e)
                        }
                    }
                }
                other => other,
            };
            if let Ok(outcome) = &result
                && outcome.changed()
            {
                let kept = if rewritten.contains(w.storage_key.as_slice()) {
                    outcome.new.clone()
                } else {
                    None // never read: no later write in this group has this key
                };
                overlay.insert(w.storage_key, kept);
            }
            replies.push(Reply::Write(w.reply, result));
        }
        if !mutations.is_empty() {
            let writes = replies.len();
            mutations.extend(self.stats_mutations(&counts));
            if let Some(batch) = forward.filter(|_| counts.records > 0) {
                // The group's changes, their destination records and the cursor: one
                // batch. The stream's writer publishes the table's new state and answers
                // the writes as soon as it is settled; this task then takes its counts.
                let batches = vec![(batch, counts.next_seq)];
                let publish = self.publish_of(&counts);
                let on_settle: OnSettle = Box::new(move |result| {
                    if result.is_ok() {
                        publish.store();
                    }
                    for r in replies {
                        r.send(result.err());
                    }
                    if result.is_ok() {
                        publish.wake();
                    }
                });
                let inline = self.inline.clone();
                let committed =
                    inline.commit(batches, mutations, writes, &self.committer, Some(on_settle));
                if committed.await.is_ok() {
                    self.take_counts(counts);
                }
                return;
            }
            let committed = self.committer.commit(mutations, writes).await;
            if let Err(e) = committed {
                for r in replies {
                    r.send(Some(&e));
                }
                return;
            }
            // Readers see the batch before its writes are answered; the change log's
            // followers are woken after the answers.
            let publish = self.publish_of(&counts);
            publish.store();
            self.take_counts(counts);
            for r in replies {
                r.send(None);
            }
            publish.wake();
            return;
        }
        for r in replies {
            r.send(None);
        }
    }

    /// Adds the storage mutations of one changed item (the item, its index entries and,
    /// when the table logs changes, its change record) to `mutations` and its effect to
    /// `counts`; with `forward`, the change's destination record to it. Single writes and
    /// transactions both store a change through here.
    #[allow(clippy::too_many_arguments)] // one change's whole effect, staged in one place
    pub(super) fn stage(
        &self,
        meta: &TableMeta,
        key: &[u8],
        outcome: &WriteOutcome,
        origin: super::WriteOrigin,
        counts: &mut Counts,
        mutations: &mut Vec<Mutation>,
        forward: Option<&mut Batch>,
    ) {
        // The new image's stored form serves the item and the change record alike.
        let new_bytes = outcome.new.as_ref().map(value::encode_item);
        if meta.logs_changes()
            && let Some(event) = EventName::of(outcome.old.as_ref(), outcome.new.as_ref())
        {
            let head = RecordHead {
                seq: counts.next_seq,
                created_ms: self.clock.now_millis(),
                event,
                origin,
                event_id: new_event_id(),
            };
            let old_bytes = outcome.old.as_ref().map(value::encode_item);
            let encoded = head.encode(old_bytes.as_deref(), new_bytes.as_deref());
            if let Some(batch) = forward {
                let change = ChangeView {
                    created_ms: head.created_ms,
                    event: head.event,
                    origin: head.origin,
                    event_id: head.event_id,
                    old: outcome.old.as_ref(),
                    new: outcome.new.as_ref(),
                };
                batch.push(meta, &self.inline.region, &change);
            }
            counts.records += 1;
            counts.record_bytes += encoded.len() as u64;
            mutations.push(Mutation::put(
                Space::Changes,
                keys::change_key(self.table_id, self.index, head.seq),
                encoded,
            ));
            counts.next_seq += 1;
        }
        let size = |i: &Option<Item>| i.as_ref().map_or(0, |i| value::item_size(i) as i64);
        counts.items += i64::from(outcome.new.is_some()) - i64::from(outcome.old.is_some());
        counts.bytes += size(&outcome.new) - size(&outcome.old);
        mutations.push(match new_bytes {
            Some(bytes) => Mutation::put(Space::Items, key.to_vec(), bytes),
            None => Mutation::delete(Space::Items, key.to_vec()),
        });
        index::maintain(
            meta,
            key,
            outcome.old.as_ref(),
            outcome.new.as_ref(),
            mutations,
            &mut counts.index_deltas,
        );
    }

    /// The mutations persisting this partition's counts, committed with the changes.
    pub(super) fn stats_mutations(&self, counts: &Counts) -> Vec<Mutation> {
        let mut out = vec![Mutation::put(
            Space::Meta,
            keys::partition_stats(self.table_id, self.index),
            keys::encode_partition_stats(counts.items, counts.bytes, counts.next_seq),
        )];
        for (id, (n, b)) in &counts.index_deltas {
            let (items, bytes) = self.index_stats.get(id).copied().unwrap_or_default();
            out.push(Mutation::put(
                Space::Meta,
                keys::index_stats(self.table_id, *id, self.index),
                keys::encode_stats(items + n, bytes + b),
            ));
        }
        out
    }

    /// Makes `counts` this partition's own once the batch carrying them is durable.
    pub(super) fn committed(&mut self, counts: Counts) {
        self.publish_of(&counts).run();
        self.take_counts(counts);
    }

    /// What the batch carrying `counts` changes in the table's shared state.
    fn publish_of(&self, counts: &Counts) -> Publish {
        Publish {
            counters: self.counters.clone(),
            index: self.index,
            items: counts.items - self.items,
            bytes: counts.bytes - self.bytes,
            index_deltas: counts.index_deltas.clone(),
            next_seq: counts.next_seq,
            records: counts.records,
            record_bytes: counts.record_bytes,
            records_written: self.records_written.clone(),
            record_bytes_written: self.record_bytes_written.clone(),
        }
    }

    /// This task's own share of the committed `counts` (its next batch builds on them).
    fn take_counts(&mut self, counts: Counts) {
        for (id, (n, b)) in &counts.index_deltas {
            let stat = self.index_stats.entry(*id).or_default();
            (stat.0, stat.1) = (stat.0 + n, stat.1 + b);
        }
        (self.items, self.bytes, self.next_seq) = (counts.items, counts.bytes, counts.next_seq);
    }

    /// Writes one item's entry into an index being filled, unless it is already there
    /// (a write since the index was created put it, or an earlier backfill did).
    fn backfill(
        &self,
        meta: &TableMeta,
        b: &BackfillRequest,
        overlay: &HashMap<Vec<u8>, Option<Item>>,
        mutations: &mut Vec<Mutation>,
        counts: &mut Counts,
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
        if self.store.get(Space::Indexes, &key)?.is_some()
            || mutations.iter().any(|m| *m.key == *key)
        {
            return Ok(());
        }
        let delta = counts.index_deltas.entry(index.id).or_default();
        delta.0 += 1;
        delta.1 += value::item_size(&projected) as i64;
        mutations.push(Mutation::put(Space::Indexes, key, value::encode_item(&projected)));
        Ok(())
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

/// Runs `f`, turning a panic into an internal error of this one write.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, WriteError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let message = crate::storage::panic_message(panic.as_ref());
        tracing::error!("a write panicked and was refused: {message}");
        WriteError::Storage(StorageError::Panicked(message))
    })
}

/// The keys more than one write of `group` has (none for a group of one).
fn rewritten_keys(group: &[Job]) -> HashSet<Vec<u8>> {
    let mut rewritten = HashSet::new();
    if group.len() < 2 {
        return rewritten;
    }
    let mut seen = HashSet::with_capacity(group.len());
    for job in group {
        if let Job::Write(w) = job
            && !seen.insert(w.storage_key.as_slice())
        {
            rewritten.insert(w.storage_key.clone());
        }
    }
    rewritten
}

/// Refuses a new item whose index key attributes break an index's schema (AWS refuses
/// the write; it does not just leave the item out of the index).
pub(super) fn check_new_item(meta: &TableMeta, new: Option<&Item>) -> Result<(), WriteError> {
    match new {
        Some(item) => index::check_index_keys(meta, item).map_err(WriteError::Validation),
        None => Ok(()),
    }
}
