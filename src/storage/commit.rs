//! Group commit: every writer sends its mutations here; one thread drains whatever is
//! queued, commits it as ONE storage batch with ONE fsync, then acknowledges each sender.
//! Writers reply to clients only after that acknowledgement, so nothing acknowledged can
//! be lost.
//!
//! A writer may send its next batch before the previous one is acknowledged (a stream's
//! writer does, so the commit thread never waits for it to turn around): such batches
//! share a [`Chain`], and once one of them fails, every later one is refused unwritten
//! until the writer starts a new chain. Batches are committed in the order they are sent,
//! so a later one never lands without the earlier ones it was built on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{StorageError, Store, check_mutations, panic_message};
use crate::config::Durability;
use crate::metrics::Metrics;

/// Which keyspace a mutation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Meta,
    Items,
    Indexes,
    Changes,
    /// Records of every Kinesis stream.
    Kinesis,
    /// Kinesis groups' headers and shards' locators.
    KinesisIndex,
}

impl Space {
    /// Every keyspace, in the order they were added.
    pub const ALL: [Space; 6] = [
        Space::Meta,
        Space::Items,
        Space::Indexes,
        Space::Changes,
        Space::Kinesis,
        Space::KinesisIndex,
    ];
}

/// One put (`Some`) or delete (`None`) of a key.
///
/// Key and value are held as the store's own byte type, made when the mutation is: the
/// copy into it (an allocation and a memcpy per key and value) then happens on the
/// writer's thread, not on the commit thread, the one serial step of every write. Made
/// there, it was 28 % of that thread's CPU under PutRecords on 64 shards (BENCHMARKS.md,
/// "Keys and values copied by their writers").
#[derive(Debug, Clone)]
pub struct Mutation {
    pub space: Space,
    pub key: fjall::Slice,
    pub value: Option<fjall::Slice>,
    /// The lengths of the value's parts, in order, for a value written in parts (else
    /// empty): see [`Mutation::put_parts`].
    pub parts: Vec<u32>,
}

impl Mutation {
    /// A put.
    pub fn put(space: Space, key: Vec<u8>, value: Vec<u8>) -> Self {
        Mutation { space, key: key.into(), value: Some(value.into()), parts: Vec::new() }
    }

    /// A put of a value made of parts of `parts` bytes each, in order, that its readers
    /// read one at a time (`ReadView::get_parts`). With encryption at rest each part is
    /// sealed on its own, so a reader opens only the parts it reads; without, the value
    /// is stored as it is.
    pub fn put_parts(
        space: Space,
        key: Vec<u8>,
        value: impl Into<fjall::Slice>,
        parts: Vec<u32>,
    ) -> Self {
        Mutation { space, key: key.into(), value: Some(value.into()), parts }
    }

    /// A delete.
    pub fn delete(space: Space, key: Vec<u8>) -> Self {
        Mutation { space, key: key.into(), value: None, parts: Vec::new() }
    }
}

struct Request {
    mutations: Vec<Mutation>,
    writes: usize,
    chain: Option<Chain>,
    /// Whether the group must be synced for this request (see [`CommitHandle::commit_buffered`]).
    sync: bool,
    done: oneshot::Sender<Result<(), StorageError>>,
}

/// Batches of one writer that build on each other (see the module docs): broken by the
/// first of them that fails.
#[derive(Debug, Clone, Default)]
pub struct Chain(Arc<AtomicBool>);

impl Chain {
    /// Whether a batch of this chain failed.
    pub fn broken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The answer to a batch sent with [`CommitHandle::submit`].
pub type Pending = oneshot::Receiver<Result<(), StorageError>>;

/// Consulted before each group commit (fault injection, see `crate::faults`): a delay
/// to add, and whether the commit fails as an I/O error would, writing nothing.
pub type CommitFaultHook = Box<dyn Fn() -> Option<(Duration, bool)> + Send>;

/// A handle to the commit thread.
#[derive(Clone)]
pub struct CommitHandle {
    tx: mpsc::UnboundedSender<Request>,
}

impl CommitHandle {
    /// Starts the commit thread (and, for `durability = "batch"`, the periodic syncer).
    pub fn start(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        max_group: usize,
        batch_interval: Duration,
        faults: CommitFaultHook,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let durability = store.durability();
        if durability == Durability::Batch {
            let syncer = Arc::downgrade(&store);
            std::thread::Builder::new()
                .name("sluice-sync".into())
                .spawn(move || {
                    while let Some(store) = syncer.upgrade() {
                        // A failed store refuses syncs too; it said why once already.
                        if store.failure().is_none()
                            && let Err(e) = store.sync()
                        {
                            tracing::error!("periodic sync failed: {e}");
                        }
                        drop(store);
                        std::thread::sleep(batch_interval);
                    }
                })
                .expect("spawn the sync thread");
        }
        std::thread::Builder::new()
            .name("sluice-commit".into())
            .spawn(move || run(store, metrics, rx, max_group, faults))
            .expect("spawn the commit thread");
        CommitHandle { tx }
    }

    /// Commits `mutations` (which carry `writes` client writes) in the next group and
    /// waits until they are durable as configured.
    pub async fn commit(
        &self,
        mutations: Vec<Mutation>,
        writes: usize,
    ) -> Result<(), StorageError> {
        self.commit_as(mutations, writes, true).await
    }

    /// Commits `mutations` in the next group without asking for a sync of their own: a
    /// group of such requests alone reaches the OS's buffers only (it survives a killed
    /// process; a power cut may take it back, with anything after it that was not
    /// synced either), one that also holds a client's write is synced as usual. For a
    /// mapping's checkpoint: with ten mappings, checkpoints committed alone were a
    /// tenth of the fsyncs, each one holding up the writes queued behind it.
    pub async fn commit_buffered(&self, mutations: Vec<Mutation>) -> Result<(), StorageError> {
        self.commit_as(mutations, 0, false).await
    }

    async fn commit_as(
        &self,
        mutations: Vec<Mutation>,
        writes: usize,
        sync: bool,
    ) -> Result<(), StorageError> {
        let (done, wait) = oneshot::channel();
        let request = Request { mutations, writes, chain: None, sync, done };
        self.tx.send(request).map_err(|_| StorageError::Closed)?;
        wait.await.map_err(|_| StorageError::Closed)?
    }

    /// Sends `mutations` as the next batch of `chain` without waiting: the answer comes
    /// on the returned receiver (a dropped one means the thread is gone: `Closed`). It is
    /// refused unwritten (`Aborted`) if an earlier batch of the chain failed.
    pub fn submit(
        &self,
        mutations: Vec<Mutation>,
        writes: usize,
        chain: &Chain,
    ) -> Result<Pending, StorageError> {
        let (done, wait) = oneshot::channel();
        let request = Request { mutations, writes, chain: Some(chain.clone()), sync: true, done };
        self.tx.send(request).map_err(|_| StorageError::Closed)?;
        Ok(wait)
    }
}

fn run(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::UnboundedReceiver<Request>,
    max_group: usize,
    faults: CommitFaultHook,
) {
    let label = match store.durability() {
        Durability::Fsync => "fsync",
        Durability::Batch => "batch",
        Durability::None => "none",
    };
    let batches = metrics.storage_write_batches_total.with_label_values(&[label]);
    let group_writes = metrics.storage_group_writes.with_label_values(&[label]);
    let commit_seconds = metrics.storage_commit_duration_seconds.with_label_values(&[label]);
    let failures = metrics.storage_commit_failures_total.clone();
    let panics = metrics.storage_commit_panics_total.clone();
    let unsynced = metrics.storage_unsynced_batches_total.clone();
    let mut group: Vec<Request> = Vec::new();
    let mut mutations: Vec<Mutation> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut writes = first.writes;
        group.push(first);
        while writes < max_group {
            match rx.try_recv() {
                Ok(next) => {
                    writes += next.writes;
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        // A request the store could not hold is refused alone; the rest of the group
        // commits without it (and without the later requests of its chain).
        group.retain_mut(|request| {
            let checked = match &request.chain {
                Some(chain) if chain.broken() => Err(StorageError::Aborted),
                _ => check_mutations(&request.mutations),
            };
            match checked {
                Ok(()) => true,
                Err(e) => {
                    if let Some(chain) = &request.chain {
                        chain.break_off();
                    }
                    if !matches!(e, StorageError::Aborted) {
                        failures.inc();
                        let n = request.mutations.len();
                        tracing::error!("refused a write of {n} mutations: {e}");
                    }
                    let done = std::mem::replace(&mut request.done, oneshot::channel().0);
                    let _ = done.send(Err(e));
                    false
                }
            }
        });
        if group.is_empty() {
            continue;
        }
        let sync = group.iter().any(|r| r.sync);
        if !sync {
            unsynced.inc();
        }
        for request in &mut group {
            mutations.append(&mut request.mutations);
        }
        let started = Instant::now();
        // Nothing that panics here may end this thread: every later write would fail.
        let result = catch_unwind(AssertUnwindSafe(|| match faults() {
            Some((delay, fail)) => {
                std::thread::sleep(delay);
                if fail {
                    Err(StorageError::Injected)
                } else {
                    store.commit_as(std::mem::take(&mut mutations), sync)
                }
            }
            None => store.commit_as(std::mem::take(&mut mutations), sync),
        }))
        .unwrap_or_else(|panic| Err(StorageError::Panicked(panic_message(panic.as_ref()))));
        if let Err(StorageError::Panicked(message)) = &result {
            panics.inc();
            store.record_panic(message);
        }
        commit_seconds.observe(started.elapsed().as_secs_f64());
        batches.inc();
        group_writes.observe(writes as f64);
        // Every request of the group gets the error: none of its writes is visible, and
        // each writer leaves its state (sequence numbers, counts) as it was.
        if let Err(e) = &result {
            failures.inc();
            tracing::error!("group commit of {writes} writes failed: {e}");
            for chain in group.iter().filter_map(|r| r.chain.as_ref()) {
                chain.break_off();
            }
        }
        for request in group.drain(..) {
            let _ = request.done.send(result.clone());
        }
        mutations.clear();
    }
    // Every sender is gone: flush what we have before the process exits.
    if let Err(e) = store.sync() {
        tracing::error!("final sync failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::config::StorageConfig;

    fn put(key: Vec<u8>) -> Vec<Mutation> {
        vec![Mutation::put(Space::Items, key, b"v".to_vec())]
    }

    /// A commit thread whose fault hook runs `hook` with the number of its call.
    fn start(
        hook: impl Fn(usize) -> Option<(Duration, bool)> + Send + 'static,
    ) -> (Arc<Store>, CommitHandle) {
        let (store, handle, _) = start_measured(hook);
        (store, handle)
    }

    /// [`start`], with the commit thread's metrics.
    fn start_measured(
        hook: impl Fn(usize) -> Option<(Duration, bool)> + Send + 'static,
    ) -> (Arc<Store>, CommitHandle, Arc<Metrics>) {
        let store = Store::open(&StorageConfig { in_memory: true, ..StorageConfig::default() })
            .expect("store");
        let calls = AtomicUsize::new(0);
        let hook: CommitFaultHook = Box::new(move || hook(calls.fetch_add(1, Ordering::SeqCst)));
        let metrics = Arc::new(Metrics::new());
        let handle =
            CommitHandle::start(store.clone(), metrics.clone(), 64, Duration::from_millis(5), hook);
        (store, handle, metrics)
    }

    /// A commit thread whose first group (one write of "first") stalls 200 ms, so the
    /// requests sent meanwhile queue into one group; returns that first write's task.
    async fn stalled()
    -> (Arc<Store>, CommitHandle, tokio::task::JoinHandle<Result<(), StorageError>>) {
        let (store, commits) =
            start(|call| (call == 0).then_some((Duration::from_millis(200), false)));
        let first = tokio::spawn({
            let c = commits.clone();
            async move { c.commit(put(b"first".to_vec()), 1).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        (store, commits, first)
    }

    #[tokio::test]
    async fn a_write_the_store_cannot_hold_is_refused_alone_and_its_group_commits() {
        // The first group stalls, so the next three requests queue into one group.
        let (store, commits, first) = stalled().await;
        let (a, bad, b) = tokio::join!(
            commits.commit(put(b"a".to_vec()), 1),
            commits.commit(put(vec![7; 65_536]), 1),
            commits.commit(put(b"b".to_vec()), 1),
        );
        first.await.unwrap().unwrap();
        assert!(matches!(bad, Err(StorageError::Refused(_))), "{bad:?}");
        assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        let empty = commits.commit(put(Vec::new()), 1).await;
        assert!(matches!(empty, Err(StorageError::Refused(_))), "{empty:?}");
        for key in [&b"first"[..], b"a", b"b"] {
            assert!(store.get(Space::Items, key).unwrap().is_some());
        }
        assert_eq!(store.failure(), None);
        commits.commit(put(b"later".to_vec()), 1).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_batch_of_a_chain_fails_the_later_ones_unwritten() {
        // The first group stalls, so the chain's batches queue behind it into one group.
        let (store, commits, first) = stalled().await;
        let chain = Chain::default();
        let a = commits.submit(put(b"a".to_vec()), 1, &chain).unwrap();
        let bad = commits.submit(put(Vec::new()), 1, &chain).unwrap();
        let after = commits.submit(put(b"after".to_vec()), 1, &chain).unwrap();
        let other = commits.commit(put(b"other".to_vec()), 1);
        let (a, bad, after, other) = tokio::join!(a, bad, after, other);
        first.await.unwrap().unwrap();
        assert!(a.unwrap().is_ok() && other.is_ok(), "before it, and other writers, commit");
        assert!(matches!(bad.unwrap(), Err(StorageError::Refused(_))));
        assert!(matches!(after.unwrap(), Err(StorageError::Aborted)), "built on the failed one");
        assert_eq!(store.get(Space::Items, b"after").unwrap(), None);
        assert!(chain.broken());
        // In a later group too, until the writer starts a new chain.
        let later = commits.submit(put(b"later".to_vec()), 1, &chain).unwrap();
        assert!(matches!(later.await.unwrap(), Err(StorageError::Aborted)));
        let fresh = commits.submit(put(b"later".to_vec()), 1, &Chain::default()).unwrap();
        fresh.await.unwrap().unwrap();
        assert!(store.get(Space::Items, b"later").unwrap().is_some());
    }

    #[tokio::test]
    async fn a_panicking_group_fails_alone_and_later_groups_commit() {
        let (store, commits) = start(|call| match call {
            0 => panic!("injected panic in group {call}"),
            _ => None,
        });
        let failed = commits.commit(put(b"a".to_vec()), 1).await;
        assert!(matches!(failed, Err(StorageError::Panicked(_))), "{failed:?}");
        assert_eq!(store.get(Space::Items, b"a").unwrap(), None, "nothing of it was written");
        // The thread is alive and the store takes writes.
        commits.commit(put(b"b".to_vec()), 1).await.unwrap();
        commits.commit(put(b"a".to_vec()), 1).await.unwrap();
        assert!(store.get(Space::Items, b"a").unwrap().is_some());
        assert_eq!(store.failure(), None);
        let (count, last) = store.caught_panics().expect("recorded");
        assert_eq!((count, last.as_str()), (1, "injected panic in group 0"));
    }

    #[tokio::test]
    async fn buffered_requests_alone_are_not_synced_and_ride_with_a_write_that_is() {
        let (store, commits, metrics) =
            start_measured(|call| (call == 1).then_some((Duration::from_millis(200), false)));
        let unsynced = || metrics.storage_unsynced_batches_total.get();
        // Alone: a group of its own, not synced.
        commits.commit_buffered(put(b"checkpoint 1".to_vec())).await.unwrap();
        assert_eq!(unsynced(), 1);
        // Queued behind a stalled write (the second group) with another write: that group
        // is synced.
        let first = tokio::spawn({
            let c = commits.clone();
            async move { c.commit(put(b"first".to_vec()), 1).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (checkpoint, write) = tokio::join!(
            commits.commit_buffered(put(b"checkpoint 2".to_vec())),
            commits.commit(put(b"write".to_vec()), 1),
        );
        first.await.unwrap().unwrap();
        checkpoint.unwrap();
        write.unwrap();
        assert_eq!(unsynced(), 1, "the group with a client write was synced");
        for key in [&b"checkpoint 1"[..], b"checkpoint 2", b"write"] {
            assert!(store.get(Space::Items, key).unwrap().is_some());
        }
    }
}
