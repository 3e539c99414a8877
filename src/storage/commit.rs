//! Group commit: every writer sends its mutations here; one thread drains whatever is
//! queued, commits it as ONE storage batch with ONE fsync, then acknowledges each sender.
//! Writers reply to clients only after that acknowledgement, so nothing acknowledged can
//! be lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{StorageError, Store};
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
}

/// One put (`Some`) or delete (`None`) of a key.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub space: Space,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

impl Mutation {
    /// A put.
    pub fn put(space: Space, key: Vec<u8>, value: Vec<u8>) -> Self {
        Mutation { space, key, value: Some(value) }
    }

    /// A delete.
    pub fn delete(space: Space, key: Vec<u8>) -> Self {
        Mutation { space, key, value: None }
    }
}

struct Request {
    mutations: Vec<Mutation>,
    writes: usize,
    done: oneshot::Sender<Result<(), StorageError>>,
}

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
        let (done, wait) = oneshot::channel();
        self.tx.send(Request { mutations, writes, done }).map_err(|_| StorageError::Closed)?;
        wait.await.map_err(|_| StorageError::Closed)?
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
        for request in &mut group {
            mutations.append(&mut request.mutations);
        }
        let started = Instant::now();
        let result = match faults() {
            Some((delay, fail)) => {
                std::thread::sleep(delay);
                if fail { Err(StorageError::Injected) } else { store.commit_now(&mutations) }
            }
            None => store.commit_now(&mutations),
        };
        commit_seconds.observe(started.elapsed().as_secs_f64());
        batches.inc();
        group_writes.observe(writes as f64);
        // Every request of the group gets the error: none of its writes is visible, and
        // each writer leaves its state (sequence numbers, counts) as it was.
        if let Err(e) = &result {
            failures.inc();
            tracing::error!("group commit of {writes} writes failed: {e}");
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
