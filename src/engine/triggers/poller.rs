//! The poller of one mapping: runs one `shard::Worker` per shard it may read now, and
//! starts a shard's children once the shard is finished, so a child's records never
//! reach the function before its parents' (DynamoDB stream rollover, Kinesis splits and
//! merges). It looks at the shards again whenever a worker ends: a shard only ends
//! when it was closed, which is when children appear.
//!
//! Workers stop by themselves on a disable, a delete or shutdown; the poller waits for
//! them, so a shard never has two workers (a re-enable while an invocation is still in
//! flight starts the new worker after it, from its checkpoint).

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::Mapping;
use super::checkpoints::lookup;
use super::shard::{Exit, Worker};
use super::source::{Opened, eligible};
use crate::engine::Engine;
use crate::storage::StorageError;

/// The pause before a shard whose worker failed (a storage error) is read again.
const FAILED_PAUSE: Duration = Duration::from_secs(1);

/// Starts the poller of `mapping`.
pub(super) fn spawn(engine: &Arc<Engine>, mapping: &Arc<Mapping>) {
    let shutdown = engine.triggers.shutdown.subscribe();
    let task =
        engine.triggers.runtime.spawn(run(Arc::downgrade(engine), mapping.clone(), shutdown));
    let previous = mapping.poller.lock().unwrap_or_else(|e| e.into_inner()).replace(task);
    if let Some(previous) = previous {
        previous.abort();
    }
}

type Joined = (String, Result<Exit, StorageError>);

async fn run(engine: Weak<Engine>, mapping: Arc<Mapping>, mut shutdown: watch::Receiver<bool>) {
    let mut records = mapping.record.subscribe();
    let mut workers: JoinSet<Joined> = JoinSet::new();
    let mut running: HashSet<String> = HashSet::new();
    let mut paused_until: Option<Instant> = None;
    // The mapping's series exist at 0 from the start, enabled or not (no "No data").
    if let Some(engine) = engine.upgrade() {
        let record = records.borrow().clone();
        if let Some(function) = crate::lambda::name::parse(&record.settings.function_name) {
            let _ = engine.metrics.esm.series(&record.uuid, &function.name);
        }
    }
    loop {
        if *shutdown.borrow() || records.has_changed().is_err() {
            break;
        }
        let record = records.borrow_and_update().clone();
        if record.deleting() {
            break;
        }
        if paused_until.is_some_and(|t| Instant::now() >= t) {
            paused_until = None;
        }
        if record.active() && paused_until.is_none() {
            let Some(engine) = engine.upgrade() else { break };
            if let Some(source) = Opened::open(&engine, &record) {
                match engine.mapping_checkpoints(&record.uuid) {
                    Ok(checkpoints) => {
                        for shard in eligible(&source.shards(), lookup(&checkpoints)) {
                            if !running.insert(shard.id.clone()) {
                                continue;
                            }
                            let worker = Worker::new(
                                engine.clone(),
                                mapping.clone(),
                                shutdown.clone(),
                                source.reader(shard),
                                shard.clone(),
                                checkpoints.get(&shard.id).copied(),
                            );
                            let id = shard.id.clone();
                            workers.spawn(async move { (id, worker.run().await) });
                        }
                    }
                    Err(e) => {
                        tracing::error!(mapping = %record.uuid, "cannot read the checkpoints: {e}");
                        paused_until = Some(Instant::now() + FAILED_PAUSE);
                    }
                }
            }
        }
        let pause = async {
            match paused_until {
                Some(t) => sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(joined) = workers.join_next() => match joined {
                Ok((shard, Ok(_))) => {
                    running.remove(&shard);
                }
                Ok((shard, Err(e))) => {
                    tracing::error!(mapping = %record.uuid, shard = %shard, "event source mapping poller: {e}; reading it again shortly");
                    running.remove(&shard);
                    paused_until = Some(Instant::now() + FAILED_PAUSE);
                }
                Err(e) => {
                    // A worker that panicked: its shard id is lost with it, so start over.
                    tracing::error!(mapping = %record.uuid, "event source mapping worker failed: {e}");
                    workers.abort_all();
                    while workers.join_next().await.is_some() {}
                    running.clear();
                    paused_until = Some(Instant::now() + FAILED_PAUSE);
                }
            },
            _ = records.changed() => {}
            _ = shutdown.changed() => {}
            () = pause => {}
        }
    }
    // Disabled, deleted or shutting down: the workers stop by themselves.
    while workers.join_next().await.is_some() {}
}
