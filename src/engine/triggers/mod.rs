//! Triggers: Lambda event source mappings on DynamoDB streams and Kinesis streams, and
//! their pollers. A mapping is one more follower of a table's change log or of a Kinesis
//! shard, beside the bridge: it wakes on commit, builds Lambda's exact event from the
//! records, invokes the function through `engine.lambda`, and checkpoints durably once
//! the batch is done.
//!
//! - `record`: the persisted mapping and its state machine;
//! - `control`: create, update, delete, recover at start (`Engine` methods);
//! - `poller`: one task per mapping, which runs a `shard` worker per shard it may read,
//!   parents before children (rollover and resharding lineage);
//! - `shard`: one batch in flight per shard, gathered within BatchSize, the batching
//!   window and 6 MiB (`batch`), passed through FilterCriteria (`filter`), delivered by
//!   AWS's rules (`deliver`: retries in `retry`, partial failures in `report`, bisection),
//!   then checkpointed (`checkpoints`): at least once, nothing skipped, across kill -9;
//! - `source*`: reading and waking per source; `event`: Lambda's entries byte for byte;
//!   `filter`: FilterCriteria, compiled at create/update and tested on each entry;
//! - `window`: tumbling windows (their state goes with the checkpoint);
//! - `on_failure`: the on-failure record of a discarded batch, which `destination`
//!   delivers to the mapping's OnFailure destination (SQS, SNS, Kinesis, DynamoDB).
//!
//! Memory per mapping is bounded by configuration: each shard worker holds at most one
//! batch and what one read adds to it, whatever the backlog.

pub mod batch;
pub mod checkpoints;
pub mod control;
mod deliver;
pub mod destination;
pub mod event;
pub mod filter;
pub mod on_failure;
mod poller;
pub mod record;
mod rendered;
pub mod report;
pub mod retry;
mod runtime;
mod shard;
pub mod source;
pub mod source_ddb;
pub mod source_kinesis;
pub mod window;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use control::{MappingError, MappingSpec, MappingUpdate, SourceRef};
pub use record::{MappingRecord, Settings, Source, StartingPosition, State};

/// `LastProcessingResult` of a mapping that has invoked nothing yet.
pub const NO_RECORDS: &str = "No records processed";
/// ... after a batch the function processed.
pub const OK: &str = "OK";
/// ... after a failed invocation.
pub const PROBLEM: &str = "PROBLEM: Function call failed";

/// One mapping sluice knows: its record, which its pollers watch, and what they report.
pub struct Mapping {
    record: watch::Sender<Arc<MappingRecord>>,
    last_result: Mutex<&'static str>,
    /// Its poller, while one runs.
    poller: Mutex<Option<JoinHandle<()>>>,
}

impl Mapping {
    fn new(record: MappingRecord) -> Arc<Mapping> {
        Arc::new(Mapping {
            record: watch::Sender::new(Arc::new(record)),
            last_result: Mutex::new(NO_RECORDS),
            poller: Mutex::new(None),
        })
    }

    /// The current record.
    pub fn record(&self) -> Arc<MappingRecord> {
        self.record.borrow().clone()
    }

    /// `LastProcessingResult` (kept in memory: a restart shows "No records processed"
    /// until the next batch).
    pub fn last_processing_result(&self) -> &'static str {
        *self.last_result.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_result(&self, result: &'static str) {
        *self.last_result.lock().unwrap_or_else(|e| e.into_inner()) = result;
    }

    /// Replaces the record (already committed), waking its pollers.
    fn publish(&self, record: MappingRecord) -> Arc<MappingRecord> {
        let record = Arc::new(record);
        self.record.send_replace(record.clone());
        record
    }
}

/// Every mapping, by UUID.
#[derive(Default)]
pub struct Triggers {
    mappings: RwLock<BTreeMap<String, Arc<Mapping>>>,
    /// Serializes creations, updates and deletions (the duplicate check needs it).
    control: tokio::sync::Mutex<()>,
    /// Set once `Engine::start_triggers` ran: pollers start only after the functions
    /// they invoke (a Runtime API must be listening before its first invocation).
    started: AtomicBool,
    shutdown: watch::Sender<bool>,
    /// Where the pollers run.
    runtime: runtime::PollerRuntime,
    /// Records rendered once for every mapping on a source.
    rendered: rendered::Rendered,
}

impl Triggers {
    /// A mapping by UUID.
    pub fn get(&self, uuid: &str) -> Option<Arc<Mapping>> {
        self.mappings.read().unwrap_or_else(|e| e.into_inner()).get(uuid).cloned()
    }

    /// Every mapping, by UUID.
    pub fn all(&self) -> Vec<Arc<Mapping>> {
        self.mappings.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    fn insert(&self, mapping: Arc<Mapping>) {
        let uuid = mapping.record().uuid.clone();
        self.mappings.write().unwrap_or_else(|e| e.into_inner()).insert(uuid, mapping);
    }

    fn remove(&self, uuid: &str) -> Option<Arc<Mapping>> {
        self.mappings.write().unwrap_or_else(|e| e.into_inner()).remove(uuid)
    }

    fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Stops every poller: in-flight invocations are abandoned, their batches not
    /// checkpointed, so they go again after the restart (at least once).
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let pollers: Vec<JoinHandle<()>> = self
            .all()
            .iter()
            .filter_map(|m| m.poller.lock().unwrap_or_else(|e| e.into_inner()).take())
            .collect();
        let all = futures_util::future::join_all(pollers);
        if tokio::time::timeout(Duration::from_secs(5), all).await.is_err() {
            tracing::warn!("event source mapping pollers still stopping after 5s");
        }
    }
}
