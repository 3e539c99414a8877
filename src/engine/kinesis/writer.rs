//! The single writer of one stream (see `mod.rs` for why one per stream). It gathers
//! queued appends into a group, assigns each record the next sequence number of the open
//! shard whose hash range holds it, commits the group (records, any extra mutations the
//! callers brought, now and then a shard's counters) as one batch through the group committer,
//! publishes the new tips, then replies. Resharding and trimming are messages in the same
//! queue, so they take effect at an exact point between appends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};

use super::append::{Appended, CursorMove, NewRecord, OnSettle};
use super::meta::StreamMeta;
use super::routes::Routes;
use super::{ShardTip, StreamShared};
use crate::clock::SharedClock;
use crate::engine::bridge::inline::NO_CURSOR;
use crate::metrics::Metrics;
use crate::storage::keys::kinesis::{self as kkeys, Attempts, Counters, RunBuilder};
use crate::storage::keys::kinesis_groups::GroupBuilder;
use crate::storage::{Chain, CommitHandle, Mutation, Pending, Space, StorageError};

/// One append: records in caller order, plus mutations to commit in the same batch, and
/// cursors to move with them if each still stands where the caller read it (`None` in
/// the reply when one did not: see `LiveStream::append`).
pub(super) struct AppendRequest {
    pub records: Vec<NewRecord>,
    pub extra: Vec<Mutation>,
    pub cursors: Vec<CursorMove>,
    pub extra_when_stale: bool,
    pub on_settle: Option<OnSettle>,
    pub reply: oneshot::Sender<Result<Option<Vec<Appended>>, StorageError>>,
}

/// Closes shards and opens others: `meta` is the stream's next metadata, whose shards in
/// `close` are marked closed; the writer records where each one ends.
pub(super) struct ReshardRequest {
    pub meta: StreamMeta,
    pub close: Vec<u32>,
    pub reply: oneshot::Sender<Result<Arc<StreamMeta>, StorageError>>,
}

/// Deletes the oldest records of shards: each shard's up to (not including) its `upto`,
/// which take `bytes`, by deleting `keys`.
pub(super) struct TrimRequest {
    pub shards: Vec<TrimShard>,
    pub keys: Vec<(Space, Vec<u8>)>,
    pub reply: oneshot::Sender<Result<(), StorageError>>,
}

/// What a trim takes off one shard.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TrimShard {
    pub shard: u32,
    pub upto: u64,
    pub bytes: i64,
}

pub(super) enum WriterMsg {
    Append(AppendRequest),
    Reshard(ReshardRequest),
    Trim(TrimRequest),
    /// Finish what is queued before this, then stop (stream deletion, shutdown).
    Stop(oneshot::Sender<()>),
}

pub(super) struct Writer {
    pub shared: Arc<StreamShared>,
    pub committer: CommitHandle,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub per_shard_metrics: bool,
    pub max_group: usize,
    /// The namespace's key prefix (its stream records are under it).
    pub ns_key: Vec<u8>,
    /// Every shard's counters, as committed.
    pub counters: HashMap<u32, Counters>,
    /// Records and bytes appended to each shard since its counters were last sent to be
    /// written (see [`COUNTERS_EVERY_RECORDS`]).
    pub unpersisted: HashMap<u32, (u64, u64)>,
    /// A grouped stream's next group number (numbers only grow; one a failed commit
    /// took is simply never stored).
    pub next_group: u64,
    /// A grouped stream's shards' last locators (their group numbers), as committed.
    pub locators: HashMap<u32, u64>,
}

/// A shard's counters go into a group once this many records, or
/// [`COUNTERS_EVERY_BYTES`], were appended to it since they last did (and with every
/// trim and reshard). Written with every group, they were one key per shard per commit,
/// as many as the records' own runs: on 64 shards a quarter of the commit thread's CPU.
/// At start, the records after the written `next` are read back (`control.rs`), so
/// these bound that read: a lost counters write (its group failed) only lengthens it.
const COUNTERS_EVERY_RECORDS: u64 = 4096;
/// See [`COUNTERS_EVERY_RECORDS`].
const COUNTERS_EVERY_BYTES: u64 = 1 << 20;

/// Most groups committing at once. The next group is built and sent while earlier ones
/// sync, so the commit thread never waits for this task to turn around, and finds
/// everything that arrived meanwhile queued, for one commit. With two, the group sent
/// right behind a commit was small and took an fsync of its own: 8 writers got 9,300
/// writes/s (three runs) against 11,400 with sixteen (BENCHMARKS.md).
const IN_FLIGHT: usize = 16;

/// A group sent to the commit thread and not yet answered.
struct InFlight {
    pending: Pending,
    /// Its shards' counters after it, its cursor moves, its records' shards and sizes.
    touched: FxHashMap<u32, Counters>,
    moved: Vec<(Arc<std::sync::atomic::AtomicU64>, u64)>,
    incoming: Vec<(u32, i64)>,
    /// The locators it writes (shard, group).
    located: Vec<(u32, u64)>,
    replies: Vec<Reply>,
}

/// The groups in flight, oldest first, and what the next group builds on.
#[derive(Default)]
struct Pipeline {
    in_flight: std::collections::VecDeque<InFlight>,
    /// Counters of the shards the groups in flight touched, as they leave them.
    ahead: FxHashMap<u32, Counters>,
    /// The last locators the groups in flight write, by shard.
    located_ahead: HashMap<u32, u64>,
    /// Broken by the commit thread when a group fails: the later ones fail unwritten.
    chain: Chain,
}

/// One caller's answer, and what to run before it is sent.
struct Reply {
    to: oneshot::Sender<Result<Option<Vec<Appended>>, StorageError>>,
    outcome: Result<Option<Vec<Appended>>, StorageError>,
    on_settle: Option<OnSettle>,
}

impl Reply {
    /// Runs `on_settle` with the batch's result (`failed`, or success) and answers.
    fn send(self, failed: Option<&StorageError>) {
        let outcome = match failed {
            Some(e) => self.outcome.and(Err(e.clone())),
            None => self.outcome,
        };
        if let Some(run) = self.on_settle {
            run(outcome.as_ref().map(|_| ()));
        }
        let _ = self.to.send(outcome);
    }
}

impl Writer {
    pub async fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        let mut routes = Routes::new(&self.shared.meta());
        let mut line = Pipeline::default();
        let mut group = Vec::new();
        loop {
            // Settle the oldest group as soon as its commit answers; take new messages
            // while fewer than IN_FLIGHT groups are committing.
            let first = if line.in_flight.len() >= IN_FLIGHT {
                self.settle_oldest(&mut line).await;
                continue;
            } else if let Some(oldest) = line.in_flight.front_mut() {
                let next = tokio::select! {
                    biased;
                    answer = &mut oldest.pending => Err(answer),
                    msg = rx.recv() => Ok(msg),
                };
                match next {
                    Err(answer) => {
                        let answer = answer.unwrap_or(Err(StorageError::Closed));
                        self.settle(&mut line, answer).await;
                        continue;
                    }
                    Ok(Some(msg)) => msg,
                    Ok(None) => return self.settle_all(&mut line).await,
                }
            } else {
                match rx.recv().await {
                    Some(msg) => msg,
                    None => return,
                }
            };
            let mut records = 0;
            let mut control = None;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    WriterMsg::Append(a) => {
                        records += a.records.len().max(1);
                        group.push(a);
                    }
                    other => {
                        control = Some(other);
                        break;
                    }
                }
                if records < self.max_group {
                    next = rx.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.send_group(std::mem::take(&mut group), &routes, &mut line);
            }
            let Some(control) = control else { continue };
            // Control messages act on committed state: everything before them settles.
            self.settle_all(&mut line).await;
            match control {
                WriterMsg::Append(_) => {}
                WriterMsg::Reshard(r) => {
                    let result = self.reshard(r.meta, &r.close).await;
                    if let Ok(meta) = &result {
                        routes = Routes::new(meta);
                    }
                    let _ = r.reply.send(result);
                }
                WriterMsg::Trim(t) => {
                    let result = self.trim(&t).await;
                    let _ = t.reply.send(result);
                }
                WriterMsg::Stop(done) => {
                    rx.close();
                    // A table write forwarding inline lands without its records (the
                    // forwarder finds the stream gone); other appends did not happen.
                    let mut landing = Vec::new();
                    let mut mutations = Vec::new();
                    while let Ok(msg) = rx.try_recv() {
                        if let WriterMsg::Append(a) = msg {
                            if a.extra_when_stale {
                                mutations.extend(a.extra);
                                let on_settle = a.on_settle;
                                landing.push(Reply { to: a.reply, outcome: Ok(None), on_settle });
                            } else {
                                let _ = a.reply.send(Err(StorageError::Closed));
                            }
                        }
                    }
                    let result = match mutations.is_empty() {
                        true => Ok(()),
                        false => self.committer.commit(mutations, landing.len()).await,
                    };
                    for reply in landing {
                        reply.send(result.as_ref().err());
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    /// Builds one group on the counters as the groups in flight leave them, and sends it
    /// to the commit thread without waiting (its answers go out when it settles).
    fn send_group(&mut self, group: Vec<AppendRequest>, routes: &Routes, line: &mut Pipeline) {
        let now = self.clock.now_millis();
        let id = self.shared.id;
        // Sized for the shards a group usually touches (all of them, up to a few dozen),
        // so it does not grow step by step while the records come in.
        let mut touched: FxHashMap<u32, Counters> =
            FxHashMap::with_capacity_and_hasher(routes.len().min(64), Default::default());
        // Each shard's records in this group, as runs (one key per shard, mostly), or for
        // a grouped stream as one group value (a few when they fill).
        let mut runs: FxHashMap<u32, RunBuilder> = FxHashMap::default();
        let grouped = self.shared.grouped;
        let mut building = GroupBuilder::default();
        let mut located = Vec::new();
        let mut attempts = Attempts::default();
        let mut mutations = Vec::new();
        let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
        let mut written = 0usize;
        // Counted once the commit is in: a failed commit appended nothing.
        let mut incoming: Vec<(u32, i64)> = Vec::new();
        // The cursors this group moves, each with where it ends up (in group order).
        let mut moved: Vec<(Arc<std::sync::atomic::AtomicU64>, u64)> = Vec::new();
        for request in group {
            // Where a cursor stands once this group's earlier moves, and those of the
            // groups still committing, are in.
            let stands = |c: &CursorMove| {
                let in_flight = line.in_flight.iter().rev().flat_map(|g| g.moved.iter().rev());
                let at = moved
                    .iter()
                    .rev()
                    .chain(in_flight)
                    .find(|(cell, _)| Arc::ptr_eq(cell, &c.cell))
                    .map_or_else(|| c.cell.load(Ordering::Acquire), |(_, to)| *to);
                at == c.from
            };
            let (to, on_settle) = (request.reply, request.on_settle);
            if !request.cursors.iter().all(stands) {
                if request.extra_when_stale {
                    mutations.extend(request.extra);
                }
                replies.push(Reply { to, outcome: Ok(None), on_settle });
                continue;
            }
            let shards: Option<Vec<u32>> =
                request.records.iter().map(|r| routes.route(r.hash)).collect();
            let Some(shards) = shards else {
                let e = StorageError::Corrupt("no open shard holds the hash key".into());
                replies.push(Reply { to, outcome: Err(e), on_settle });
                continue;
            };
            for c in request.cursors {
                mutations.push(match c.to {
                    NO_CURSOR => Mutation::delete(Space::Meta, c.key),
                    to => Mutation::put(Space::Meta, c.key, to.to_be_bytes().to_vec()),
                });
                moved.push((c.cell, c.to));
            }
            let mut out = Vec::with_capacity(shards.len());
            for (record, shard) in request.records.into_iter().zip(shards) {
                let c = touched.entry(shard).or_insert_with(|| {
                    let ahead = line.ahead.get(&shard).or_else(|| self.counters.get(&shard));
                    ahead.copied().unwrap_or_default()
                });
                let arrival_ms = now.max(c.last_arrival_ms);
                let seq = c.next;
                let size = record.size() as i64;
                (c.next, c.last_arrival_ms) = (seq + 1, arrival_ms);
                (c.records, c.bytes) = (c.records + 1, c.bytes + size);
                if grouped {
                    let (key, data) = (&record.partition_key, &record.data);
                    if !building.push(shard, seq, arrival_ms, key, data) {
                        let full = std::mem::take(&mut building);
                        self.put_group(full, line, &mut located, &mut attempts, &mut mutations);
                        let first = building.push(shard, seq, arrival_ms, key, data);
                        debug_assert!(first, "an empty group takes any record");
                    }
                } else {
                    let run = runs.entry(shard).or_insert_with(|| RunBuilder::new(seq));
                    if !run.takes(record.size()) {
                        let full = std::mem::replace(run, RunBuilder::new(seq));
                        mutations.push(run_put(id, shard, full, &mut attempts));
                    }
                    run.push(arrival_ms, &record.partition_key, &record.data);
                }
                incoming.push((shard, size));
                out.push(Appended { shard, seq, arrival_ms });
            }
            written += out.len();
            mutations.extend(request.extra);
            replies.push(Reply { to, outcome: Ok(Some(out)), on_settle });
        }
        mutations
            .extend(runs.into_iter().map(|(shard, run)| run_put(id, shard, run, &mut attempts)));
        if !building.is_empty() {
            self.put_group(building, line, &mut located, &mut attempts, &mut mutations);
        }
        for (shard, c) in &touched {
            let since = self.unpersisted.entry(*shard).or_default();
            // What this group added: its counters against those it was built on.
            let base = line.ahead.get(shard).or_else(|| self.counters.get(shard));
            let base = base.copied().unwrap_or_default();
            let (records, bytes) =
                (c.next.saturating_sub(base.next), (c.bytes - base.bytes).max(0) as u64);
            *since = (since.0 + records, since.1 + bytes);
            if since.0 >= COUNTERS_EVERY_RECORDS || since.1 >= COUNTERS_EVERY_BYTES {
                mutations.push(Mutation::put(
                    Space::Meta,
                    kkeys::shard_counters(id, *shard),
                    c.encode(),
                ));
                *since = (0, 0);
            }
        }
        if mutations.is_empty() {
            // Nothing to write (every request's cursor had moved on, or none routed).
            for reply in replies {
                reply.send(None);
            }
            return;
        }
        match self.committer.submit(mutations, written, &line.chain) {
            Ok(pending) => {
                line.ahead.extend(touched.iter().map(|(shard, c)| (*shard, *c)));
                line.located_ahead.extend(located.iter().copied());
                line.in_flight.push_back(InFlight {
                    pending,
                    touched,
                    moved,
                    incoming,
                    located,
                    replies,
                });
            }
            Err(e) => {
                for reply in replies {
                    reply.send(Some(&e));
                }
            }
        }
    }

    /// Stores `group` as the stream's next group (see `groups::put_group`), its
    /// locators placed on those the groups in flight leave.
    fn put_group(
        &mut self,
        group: GroupBuilder,
        line: &Pipeline,
        located: &mut Vec<(u32, u64)>,
        attempts: &mut Attempts,
        mutations: &mut Vec<Mutation>,
    ) {
        let number = self.next_group;
        self.next_group += 1;
        let last = |shard: u32| {
            let mine = located.iter().rev().find(|(s, _)| *s == shard).map(|(_, g)| *g);
            mine.or_else(|| line.located_ahead.get(&shard).or(self.locators.get(&shard)).copied())
        };
        let id = self.shared.id;
        let added = super::groups::put_group(id, number, group, last, attempts, mutations);
        located.extend(added);
    }

    /// Waits for the oldest group in flight and settles it.
    async fn settle_oldest(&mut self, line: &mut Pipeline) {
        let Some(oldest) = line.in_flight.front_mut() else { return };
        let answer = (&mut oldest.pending).await.unwrap_or(Err(StorageError::Closed));
        self.settle(line, answer).await;
    }

    /// Settles every group in flight, oldest first.
    async fn settle_all(&mut self, line: &mut Pipeline) {
        while !line.in_flight.is_empty() {
            self.settle_oldest(line).await;
        }
    }

    /// Settles the oldest group in flight with its commit's `answer`: on success its
    /// counters, tips and cursors become the committed ones and its callers get their
    /// sequence numbers. A failure fails it and every later group in flight (the commit
    /// thread refuses those unwritten: they were built on it), and the line starts over
    /// from the committed state.
    async fn settle(&mut self, line: &mut Pipeline, answer: Result<(), StorageError>) {
        let Some(group) = line.in_flight.pop_front() else { return };
        if let Err(e) = answer {
            let mut failed = vec![group];
            while let Some(mut later) = line.in_flight.pop_front() {
                // Answered (refused) at once by the commit thread; waited for so that
                // nothing of it can still land.
                let _ = (&mut later.pending).await;
                failed.push(later);
            }
            for group in failed {
                for reply in group.replies {
                    reply.send(Some(&e));
                }
            }
            line.ahead.clear();
            line.located_ahead.clear();
            line.chain = Chain::default();
            return;
        }
        self.locators.extend(group.located.iter().copied());
        for (cell, to) in group.moved {
            cell.store(to, Ordering::Release);
        }
        // The new tips are visible before any caller is answered (a read right after
        // the answer finds its records), but the readers waiting on them (fan-out
        // subscribers, pollers) are woken after the answers, so that a burst of
        // deliveries does not queue ahead of the writes' replies.
        let committed_at = Some(std::time::Instant::now());
        let shards: Vec<u32> = group.touched.keys().copied().collect();
        for (shard, c) in group.touched {
            self.counters.insert(shard, c);
            self.shared.set_tip(shard, |t| (t.next, t.committed_at) = (c.next, committed_at));
        }
        if line.in_flight.is_empty() {
            line.ahead.clear();
            line.located_ahead.clear();
        }
        for reply in group.replies {
            reply.send(None);
        }
        for shard in shards {
            self.shared.wake_tip(shard);
        }
        self.publish_retained();
        self.count_incoming(&group.incoming);
    }

    /// Counts a group's records (shard, size): once per group and series, as a label
    /// lookup per record was 5 % of PutRecords' instructions.
    fn count_incoming(&self, incoming: &[(u32, i64)]) {
        if incoming.is_empty() {
            return;
        }
        let k = &self.metrics.kinesis;
        let name = self.shared.name.as_str();
        let bytes: i64 = incoming.iter().map(|(_, size)| size).sum();
        k.incoming_records_total.with_label_values(&[name]).inc_by(incoming.len() as u64);
        k.incoming_bytes_total.with_label_values(&[name]).inc_by(bytes as u64);
        if self.per_shard_metrics {
            let mut by_shard: HashMap<u32, (u64, u64)> = HashMap::new();
            for (shard, size) in incoming {
                let entry = by_shard.entry(*shard).or_default();
                (entry.0, entry.1) = (entry.0 + 1, entry.1 + *size as u64);
            }
            for (shard, (records, bytes)) in by_shard {
                let shard = super::meta::shard_id(shard);
                k.shard_incoming_records_total.with_label_values(&[name, &shard]).inc_by(records);
                k.shard_incoming_bytes_total.with_label_values(&[name, &shard]).inc_by(bytes);
            }
        }
    }

    fn publish_retained(&self) {
        let (records, bytes) =
            self.counters.values().fold((0, 0), |(r, b), c| (r + c.records, b + c.bytes));
        let name = self.shared.name.as_str();
        self.metrics.kinesis.retained_records.with_label_values(&[name]).set(records);
        self.metrics.kinesis.retained_bytes.with_label_values(&[name]).set(bytes);
    }

    /// Closes `close` at their current ends and commits `meta` (with any new shards).
    async fn reshard(
        &mut self,
        mut meta: StreamMeta,
        close: &[u32],
    ) -> Result<Arc<StreamMeta>, StorageError> {
        let id = self.shared.id;
        for shard in meta.shards.iter_mut().filter(|s| close.contains(&s.index)) {
            shard.end_next = Some(self.counters.get(&shard.index).map_or(0, |c| c.next));
        }
        let mut mutations = Vec::new();
        let mut fresh = Vec::new();
        for shard in &meta.shards {
            if !self.counters.contains_key(&shard.index) {
                let c = Counters::default();
                mutations.push(Mutation::put(
                    Space::Meta,
                    kkeys::shard_counters(id, shard.index),
                    c.encode(),
                ));
                fresh.push((shard.index, c));
            }
        }
        let record = serde_json::to_vec(&meta).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        mutations.push(Mutation::put(
            Space::Meta,
            kkeys::stream_record(&self.ns_key, &meta.name),
            record,
        ));
        self.committer.commit(mutations, 1).await?;
        for (index, c) in fresh {
            self.counters.insert(index, c);
            self.shared.update_tip(index, |t| *t = ShardTip::default());
        }
        let meta = self.shared.publish(meta);
        for index in close {
            self.shared.update_tip(*index, |t| t.closed = true);
        }
        Ok(meta)
    }

    async fn trim(&mut self, t: &TrimRequest) -> Result<(), StorageError> {
        let mut moved = Vec::new();
        for s in &t.shards {
            let Some(mut c) = self.counters.get(&s.shard).copied() else { continue };
            if s.upto <= c.first {
                continue;
            }
            let removed = (s.upto.min(c.next) - c.first) as i64;
            c.first = s.upto.min(c.next);
            c.records = (c.records - removed).max(0);
            c.bytes = (c.bytes - s.bytes).max(0);
            moved.push((s.shard, c));
        }
        if moved.is_empty() && t.keys.is_empty() {
            return Ok(());
        }
        let mut mutations: Vec<Mutation> =
            t.keys.iter().map(|(space, k)| Mutation::delete(*space, k.clone())).collect();
        for (shard, c) in &moved {
            let key = kkeys::shard_counters(self.shared.id, *shard);
            mutations.push(Mutation::put(Space::Meta, key, c.encode()));
        }
        self.committer.commit(mutations, 0).await?;
        for (shard, c) in moved {
            self.counters.insert(shard, c);
            self.shared.update_tip(shard, |tip| tip.first = c.first);
        }
        self.publish_retained();
        Ok(())
    }
}

/// The write of a shard's run, keyed by its first record.
fn run_put(stream_id: u64, shard: u32, run: RunBuilder, attempts: &mut Attempts) -> Mutation {
    let key = kkeys::record_key(stream_id, shard, run.first());
    Mutation::put(Space::Kinesis, key, run.finish_in(attempts))
}
