//! The source bridge: tables on a DynamoDB endpoint outside sluice (`[[bridge.sources]]`:
//! AWS, ScyllaDB Alternator, DynamoDB Local, another sluice) whose DynamoDB stream sluice
//! follows, forwarding every change in AWS's Kinesis record format to a Kinesis stream
//! here or at a remote. Several sluice instances naming one lease table share the work
//! with no cluster of their own: the lease table is the only shared state, as the Kinesis
//! Client Library keeps it (`leases`).
//!
//! Each instance runs one coordinator per source. Every round (a third of the lease
//! duration, at most a second) it renews the leases it holds and its heartbeat, reads
//! the lease table, counts the live instances (heartbeats that moved within a lease
//! duration), and evens the load: an instance over its share hands leases back (each
//! shard's reader stops after its last checkpoint, then the lease is released) and one
//! under its share takes free leases, or leases that have gone a whole lease duration
//! unrenewed (their holder is dead or cut off); now and then it lists the source's
//! shards and creates the missing leases. A held shard is read by its own
//! task (`reader`); a child shard only once its parents are read to their end, and a
//! re-enabled stream's shards only once the older stream's are, so each item's changes
//! arrive in order. Checkpoints move only after the destination accepted the records:
//! at least once, nothing lost when an instance dies.

pub mod client;
pub mod convert;
mod coordinator;
pub mod destination;
pub mod leases;
pub mod reader;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use self::coordinator::Coordinator;
use crate::engine::Engine;

/// The running coordinators, and the signal that stops them.
#[derive(Default)]
pub struct Sources {
    stopping: AtomicBool,
    stop: Notify,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// How long a clean shutdown waits for the readers' last checkpoints and the releases.
pub(crate) const STOP_WITHIN: Duration = Duration::from_secs(5);

/// This instance's name in lease tables: `bridge.worker_id`, or host name and pid.
pub fn worker_id(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "sluice".into());
    format!("{host}-{}", std::process::id())
}

impl Engine {
    /// Hands every held lease back (each reader stops after its last checkpoint, then the
    /// lease is released), so other instances take the shards at once rather than after
    /// a lease duration. Called at a clean shutdown while the API still serves (a lease
    /// table may live in this sluice); bounded by a few seconds.
    pub async fn stop_sources(&self) {
        self.sources.stopping.store(true, Ordering::Release);
        self.sources.stop.notify_waiters();
        let tasks =
            std::mem::take(&mut *self.sources.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(STOP_WITHIN, all).await.is_err() {
            tracing::warn!(
                "sources: leases not all handed back within {STOP_WITHIN:?}; they expire"
            );
        }
    }

    /// Starts a coordinator for each `[[bridge.sources]]`; `own_endpoint` is this sluice's
    /// API (where a lease table without `lease_endpoint` lives).
    pub fn start_sources(self: &Arc<Self>, own_endpoint: &str) {
        let me = worker_id(&self.config.bridge.worker_id);
        for source in &self.config.bridge.sources {
            self.metrics.source.touch(&source.name);
            let coordinator = Coordinator::new(self, source, &me, own_endpoint);
            match coordinator {
                Some(c) => {
                    tracing::info!(source = %source.name, worker = %me, "following table {} at {}", source.table, source.endpoint);
                    let task = tokio::spawn(c.run());
                    self.sources.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(task);
                }
                None => tracing::error!(source = %source.name, "not started: bad endpoint"),
            }
        }
    }
}
