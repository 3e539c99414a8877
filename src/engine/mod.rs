//! The engine: tables, their partition writers and reads. It owns storage access; the api
//! layer above it speaks DynamoDB, the storage layer below it speaks bytes.

pub mod backups;
pub mod bridge;
pub mod catalog;
pub mod changelog;
pub mod collections;
pub mod http_client;
pub mod index;
pub mod indexes;
pub mod kinesis;
pub mod namespace;
pub mod purge;
pub mod read;
pub mod remote_tls;
pub mod source;
pub mod stream_ops;
pub mod stream_readers;
#[cfg(test)]
mod stream_tests;
pub mod streams;
pub mod tokens;
pub mod triggers;
pub mod ttl;
#[cfg(test)]
mod ttl_tests;
pub mod txn;
pub mod writer;
#[cfg(test)]
mod writer_tests;

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{AttributeValue, Item, value};
use crate::storage::{CommitHandle, Mutation, Space, StorageError, Store, keys};

pub use catalog::{KeyAttribute, KeySchema, ScalarType, TableMeta};
pub use tokens::TokenCache;
pub use txn::{ItemWrite, TxnError};
pub use writer::{Mutator, SharedMeta, TableCounters, WriteError, WriteOrigin, WriteOutcome};

use writer::{Partition, WriteRequest, WriterMsg};

/// Control-plane failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("table already exists")]
    TableExists,
    #[error("table not found")]
    TableNotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A live table: its metadata, its writers and its counters.
pub struct Table {
    meta: SharedMeta,
    writers: Vec<mpsc::Sender<WriterMsg>>,
    pub counters: Arc<TableCounters>,
    /// This table's series of `sluice_table_items` / `sluice_table_size_bytes`, resolved
    /// once so the write path does no label lookups.
    items_gauge: prometheus::IntGauge,
    bytes_gauge: prometheus::IntGauge,
}

impl Table {
    /// The current metadata.
    pub fn meta(&self) -> Arc<TableMeta> {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The partition that owns items with this partition key.
    fn partition_of(&self, hash: &AttributeValue) -> usize {
        route(&keys::hash_component(hash), self.writers.len())
    }

    fn writer_for(&self, hash: &AttributeValue) -> &mpsc::Sender<WriterMsg> {
        &self.writers[self.partition_of(hash)]
    }
}

/// FNV-1a: stable across builds and restarts, so an item never changes partition.
fn route(hash_component: &[u8], partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in hash_component {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % partitions as u64) as usize
}

/// The engine of one namespace (an account in a region: `namespace`). The default
/// namespace's engine opens the store and holds the others'.
pub struct Engine {
    /// The account and region this engine serves.
    pub ns: namespace::Namespace,
    /// Its key prefix for name-keyed records (empty for the default namespace).
    pub(crate) ns_key: Vec<u8>,
    /// The other namespaces' engines (on the default engine only): opened at start for
    /// those the store holds, and as requests name new ones.
    namespaces: DashMap<namespace::Namespace, Arc<Engine>>,
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    committer: CommitHandle,
    tables: DashMap<String, Arc<Table>>,
    /// Serializes control-plane changes (create, update, delete) with each other.
    control: tokio::sync::Mutex<()>,
    /// TransactWriteItems ClientRequestTokens of the last 10 minutes, with the tables
    /// and item counts each one wrote (a replay reports reading them).
    pub transaction_tokens: Arc<TokenCache<Vec<(String, usize)>>>,
    /// Every DynamoDB stream, enabled or kept for its retention period.
    streams: stream_ops::StreamRegistry,
    /// The readers of each stream shard (`streams.enforce_limits`).
    pub stream_readers: stream_readers::StreamReaders,
    /// Ids of the tables whose bridge forwarder is running.
    pub(crate) bridges: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Every Kinesis stream.
    pub kinesis: Arc<kinesis::Registry>,
    /// What the table writers need to forward their changes in their own commit.
    inline: Arc<bridge::inline::Inline>,
    /// Fault-injection rules (the server and the group commit consult them).
    pub faults: Arc<crate::faults::Faults>,
    /// The Lambda functions sluice knows (started by `main` once the store is open).
    pub lambda: Arc<crate::lambda::Functions>,
    /// Lambda event source mappings and their pollers (started by `main` after the
    /// functions).
    pub triggers: triggers::Triggers,
    /// The source bridge's coordinators (`[[bridge.sources]]`), stopped at shutdown.
    pub sources: source::Sources,
    /// Set when shutdown starts stopping the writers: from then on a write a stopped
    /// writer turns away is answered with a retryable error, never "not found".
    closing: std::sync::atomic::AtomicBool,
}

/// What every namespace's engine shares: the store, its commit thread, the fault rules
/// and the Lambda functions.
struct Shared {
    store: Arc<Store>,
    committer: CommitHandle,
    faults: Arc<crate::faults::Faults>,
    lambda: Arc<crate::lambda::Functions>,
}

/// Most namespaces served at once (each has its own background tasks).
pub const MAX_NAMESPACES: usize = 256;

impl Engine {
    /// Opens the store and the default namespace: recovers every table and starts its
    /// writers. The other namespaces the store holds are opened by `start_triggers`.
    pub fn open(
        config: Arc<Config>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Engine>, StorageError> {
        remote_tls::init(&config.tls.ca_file);
        let store = Store::open(&config.storage)?;
        let faults = crate::faults::Faults::new(
            &config.faults.rules,
            Some(metrics.faults_injected_total.clone()),
        )
        .map(Arc::new)
        .map_err(StorageError::Fjall)?;
        let hook = faults.clone();
        let committer = CommitHandle::start(
            store.clone(),
            metrics.clone(),
            config.storage.max_group_writes,
            Duration::from_millis(config.storage.batch_interval_ms),
            Box::new(move || hook.for_commit().map(|i| (i.latency, i.error.is_some()))),
        );
        let lambda = Arc::new(crate::lambda::Functions::new(&config, clock.clone()));
        let shared = Shared { store, committer, faults, lambda };
        let default = namespace::Namespace::new(&config.aws.account_id, &config.aws.region);
        Engine::open_in(config, clock, metrics, shared, default)
    }

    /// Whether this is the default namespace's engine.
    pub fn is_default(&self) -> bool {
        self.ns_key.is_empty()
    }

    /// The engine of `account` in `region` (called on the default namespace's engine):
    /// itself for the default namespace, else that namespace's, opened on first use with
    /// its event source mappings started. `None` when the two cannot name a namespace
    /// or [`MAX_NAMESPACES`] are open.
    pub async fn in_namespace(
        self: &Arc<Self>,
        account: &str,
        region: &str,
    ) -> Result<Option<Arc<Engine>>, StorageError> {
        if account == self.ns.account && region == self.ns.region {
            return Ok(Some(self.clone()));
        }
        let ns = namespace::Namespace::new(account, region);
        if let Some(engine) = self.namespaces.get(&ns) {
            return Ok(Some(engine.clone()));
        }
        if !namespace::Namespace::valid(account, region)
            || self.namespaces.len() >= MAX_NAMESPACES
            || self.closing.load(Ordering::Acquire)
        {
            return Ok(None);
        }
        // One opening at a time: two first requests of a namespace get the same engine.
        let _guard = self.control.lock().await;
        if let Some(engine) = self.namespaces.get(&ns) {
            return Ok(Some(engine.clone()));
        }
        let engine = self.open_namespace(ns.clone())?;
        engine.start_triggers().await?;
        tracing::info!(account = %ns.account, region = %ns.region, "namespace opened");
        self.namespaces.insert(ns, engine.clone());
        Ok(Some(engine))
    }

    fn open_namespace(&self, ns: namespace::Namespace) -> Result<Arc<Engine>, StorageError> {
        let shared = Shared {
            store: self.store.clone(),
            committer: self.committer.clone(),
            faults: self.faults.clone(),
            lambda: self.lambda.clone(),
        };
        // Its series carry its account and region (the default namespace's carry neither).
        let metrics = self.metrics.for_namespace(&ns.account, &ns.region);
        Engine::open_in(self.config.clone(), self.clock.clone(), metrics, shared, ns)
    }

    /// Opens every other namespace the store holds (called once at start, before the
    /// mappings start: their checkpoints are told from orphans by every namespace's).
    fn open_stored_namespaces(&self) -> Result<(), StorageError> {
        for ns in namespace::stored(&self.store)? {
            if !self.namespaces.contains_key(&ns) {
                let engine = self.open_namespace(ns.clone())?;
                self.namespaces.insert(ns, engine);
            }
        }
        Ok(())
    }

    /// The engines of the other namespaces open now.
    pub fn other_namespaces(&self) -> Vec<Arc<Engine>> {
        self.namespaces.iter().map(|e| e.value().clone()).collect()
    }

    fn open_in(
        config: Arc<Config>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        shared: Shared,
        ns: namespace::Namespace,
    ) -> Result<Arc<Engine>, StorageError> {
        let Shared { store, committer, faults, lambda } = shared;
        let ns_key =
            ns.key_prefix(&namespace::Namespace::new(&config.aws.account_id, &config.aws.region));
        let kinesis = Arc::new(kinesis::Registry::default());
        let inline = Arc::new(bridge::inline::Inline {
            streams: kinesis.clone(),
            metrics: metrics.clone(),
            region: ns.region.clone(),
        });
        let engine = Arc::new(Engine {
            ns,
            ns_key,
            namespaces: DashMap::new(),
            config,
            store,
            clock,
            metrics,
            committer,
            tables: DashMap::new(),
            control: tokio::sync::Mutex::new(()),
            transaction_tokens: Arc::default(),
            streams: Default::default(),
            stream_readers: Default::default(),
            kinesis,
            inline,
            bridges: Default::default(),
            faults,
            lambda,
            triggers: Default::default(),
            sources: Default::default(),
            closing: Default::default(),
        });
        engine.load_streams()?;
        let prefix = keys::table_record_prefix(&engine.ns_key);
        let records: Vec<_> = engine.store.scan_prefix(Space::Meta, &prefix).collect();
        for record in records {
            let (_, bytes) = record?;
            let meta: TableMeta = serde_json::from_slice(&bytes)
                .map_err(|e| StorageError::Corrupt(format!("table record: {e}")))?;
            engine.start_table(meta)?;
        }
        engine.resume_index_work()?;
        ttl::spawn(
            Arc::downgrade(&engine),
            Duration::from_millis(engine.config.dynamodb.ttl_scan_interval_ms),
        );
        engine.spawn_stream_maintenance();
        engine.open_kinesis()?;
        // After the Kinesis streams are open: the forwarders append to them.
        engine.resume_bridges();
        engine.load_mappings()?;
        if !engine.is_default() {
            return Ok(engine);
        }
        // Purges are global (by id): the default namespace's engine resumes them all.
        let pending: Vec<_> =
            engine.store.scan_prefix(Space::Meta, keys::DELETED_TABLE_PREFIX).collect();
        for marker in pending {
            let (key, _) = marker?;
            if let Some(id) = key.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
            {
                purge::table(engine.store.clone(), engine.committer.clone(), id);
            }
        }
        Ok(engine)
    }

    fn start_table(&self, meta: TableMeta) -> Result<Arc<Table>, StorageError> {
        let mut stats = Vec::new();
        for index in 0..meta.partitions {
            stats.push(
                match self.store.get(Space::Meta, &keys::partition_stats(meta.id, index))? {
                    // Sequence numbers start at 1 and are never reused.
                    Some(v) => (keys::decode_stats(&v)?, keys::decode_last_seq(&v).max(1)),
                    None => ((0, 0), 1),
                },
            );
        }
        let mut bridge_cursors = Vec::new();
        for index in 0..meta.partitions {
            let cursor = match self.store.get(Space::Meta, &keys::bridge_cursor(meta.id, index))? {
                Some(v) => {
                    v.try_into().map(u64::from_be_bytes).unwrap_or(bridge::inline::NO_CURSOR)
                }
                None => bridge::inline::NO_CURSOR,
            };
            bridge_cursors.push(Arc::new(std::sync::atomic::AtomicU64::new(cursor)));
        }
        let counters = Arc::new(TableCounters {
            next_seqs: stats
                .iter()
                .map(|(_, seq)| std::sync::atomic::AtomicU64::new(*seq))
                .collect(),
            bridge_cursors,
            ..TableCounters::default()
        });
        let shared: SharedMeta = Arc::new(RwLock::new(Arc::new(meta.clone())));
        let mut writers = Vec::new();
        for (index, ((items, bytes), next_seq)) in (0..meta.partitions).zip(stats) {
            let mut index_stats = std::collections::HashMap::new();
            for idx in &meta.indexes {
                let key = keys::index_stats(meta.id, idx.id, index);
                if let Some(v) = self.store.get(Space::Meta, &key)? {
                    index_stats.insert(idx.id, keys::decode_stats(&v)?);
                }
            }
            {
                let mut totals = counters.indexes.lock().unwrap_or_else(|e| e.into_inner());
                for (id, (n, b)) in &index_stats {
                    let total = totals.entry(*id).or_default();
                    (total.0, total.1) = (total.0 + n, total.1 + b);
                }
            }
            counters.items.fetch_add(items, Ordering::Relaxed);
            counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel(4096);
            let partition = Partition {
                table_id: meta.id,
                index,
                meta: shared.clone(),
                clock: self.clock.clone(),
                index_stats,
                next_seq,
                records_written: self
                    .metrics
                    .stream_records_written_total
                    .with_label_values(&[&meta.name]),
                record_bytes_written: self
                    .metrics
                    .stream_written_bytes_total
                    .with_label_values(&[&meta.name]),
                store: self.store.clone(),
                committer: self.committer.clone(),
                counters: counters.clone(),
                inline: self.inline.clone(),
                items,
                bytes,
                max_group: self.config.storage.max_group_writes,
            };
            tokio::spawn(partition.run(rx));
            writers.push(tx);
        }
        let name = meta.name.clone();
        self.metrics.touch_table(&name);
        let items_gauge = self.metrics.table_items.with_label_values(&[&name]);
        let bytes_gauge = self.metrics.table_size_bytes.with_label_values(&[&name]);
        items_gauge.set(counters.items.load(Ordering::Relaxed));
        bytes_gauge.set(counters.bytes.load(Ordering::Relaxed));
        let table = Arc::new(Table { meta: shared, writers, counters, items_gauge, bytes_gauge });
        self.tables.insert(name, table.clone());
        Ok(table)
    }

    /// A live table by name.
    pub fn table(&self, name: &str) -> Option<Arc<Table>> {
        self.tables.get(name).map(|t| t.clone())
    }

    /// Every table name, sorted as ListTables pages them.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.iter().map(|t| t.key().clone()).collect();
        names.sort();
        names
    }

    /// Whether a table created at `created_ms` still reports CREATING.
    pub fn is_creating(&self, meta: &TableMeta) -> bool {
        let ready = meta.created_ms + self.config.dynamodb.create_table_delay_ms as i64;
        self.clock.now_millis() < ready
    }

    /// Creates a table from `meta` (its `id` is assigned here).
    pub async fn create_table(&self, mut meta: TableMeta) -> Result<Arc<TableMeta>, EngineError> {
        let _guard = self.control.lock().await;
        if self.tables.contains_key(&meta.name) {
            return Err(EngineError::TableExists);
        }
        let next = match self.store.get(Space::Meta, keys::NEXT_TABLE_ID)? {
            Some(v) => v
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StorageError::Corrupt("table id counter".into()))?,
            None => 1,
        };
        meta.id = next;
        let record = serde_json::to_vec(&meta).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        self.committer
            .commit(
                vec![
                    Mutation::put(
                        Space::Meta,
                        keys::NEXT_TABLE_ID.to_vec(),
                        (next + 1).to_be_bytes().to_vec(),
                    ),
                    Mutation::put(
                        Space::Meta,
                        keys::table_record(&self.ns_key, &meta.name),
                        record,
                    ),
                ],
                1,
            )
            .await?;
        let table = self.start_table(meta)?;
        Ok(table.meta())
    }

    /// Changes a table's metadata with `change`, persisting the result.
    pub async fn update_table<E: From<EngineError>>(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableMeta) -> Result<(), E>,
    ) -> Result<Arc<TableMeta>, E> {
        let _guard = self.control.lock().await;
        let table = self.table(name).ok_or(EngineError::TableNotFound)?;
        let mut meta = (*table.meta()).clone();
        change(&mut meta)?;
        let record = serde_json::to_vec(&meta)
            .map_err(|e| EngineError::Storage(StorageError::Corrupt(e.to_string())))?;
        self.committer
            .commit(
                vec![Mutation::put(Space::Meta, keys::table_record(&self.ns_key, name), record)],
                1,
            )
            .await
            .map_err(EngineError::from)?;
        let meta = Arc::new(meta);
        *table.meta.write().unwrap_or_else(|e| e.into_inner()) = meta.clone();
        Ok(meta)
    }

    /// Deletes a table: stops its writers, drops its record and purges its items in the
    /// background.
    pub async fn delete_table(
        &self,
        name: &str,
    ) -> Result<(Arc<TableMeta>, Arc<TableCounters>), EngineError> {
        let _guard = self.control.lock().await;
        let (_, table) = self.tables.remove(name).ok_or(EngineError::TableNotFound)?;
        for writer in &table.writers {
            let (done, wait) = oneshot::channel();
            if writer.send(WriterMsg::Stop(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
        let meta = table.meta();
        // Deleting a table disables its stream, which stays readable for the retention
        // period; every write is committed now, so the counters hold the last sequence.
        let next: Vec<u64> =
            table.counters.next_seqs.iter().map(|s| s.load(Ordering::Acquire)).collect();
        self.close_stream(name, &meta, &next).await?;
        self.committer
            .commit(
                vec![
                    Mutation::delete(Space::Meta, keys::table_record(&self.ns_key, name)),
                    Mutation::put(Space::Meta, keys::deleted_table(meta.id), Vec::new()),
                ],
                1,
            )
            .await?;
        self.metrics.forget_table(name);
        purge::table(self.store.clone(), self.committer.clone(), meta.id);
        Ok((meta, table.counters.clone()))
    }

    /// Reads an item by its storage key (see `storage::keys::item_key`).
    pub fn get_item(&self, storage_key: &[u8]) -> Result<Option<Item>, StorageError> {
        match self.store.get(Space::Items, storage_key)? {
            Some(bytes) => value::decode_item(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    /// Reads several items from one storage snapshot, so they are consistent with each
    /// other: a transaction's changes are either all visible or none is.
    pub fn get_items_consistent(
        &self,
        storage_keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Item>>, StorageError> {
        let snapshot = self.store.read_view();
        storage_keys
            .iter()
            .map(|key| match snapshot.get(Space::Items, key)? {
                Some(bytes) => value::decode_item(&bytes)
                    .map(Some)
                    .map_err(|e| StorageError::Corrupt(e.to_string())),
                None => Ok(None),
            })
            .collect()
    }

    /// The storage key of the item with these key attribute values in `meta`'s table.
    pub fn storage_key(
        meta: &TableMeta,
        hash: &AttributeValue,
        range: Option<&AttributeValue>,
    ) -> Vec<u8> {
        keys::item_key(meta.id, hash, range)
    }

    /// Runs one client write on the partition writer that owns `hash`.
    pub async fn write(
        &self,
        table: &Table,
        hash: &AttributeValue,
        storage_key: Vec<u8>,
        mutate: Mutator,
    ) -> Result<WriteOutcome, WriteError> {
        self.write_as(table, hash, storage_key, mutate, WriteOrigin::Client).await
    }

    /// Runs one write made by `origin` on the partition writer that owns `hash`.
    pub async fn write_as(
        &self,
        table: &Table,
        hash: &AttributeValue,
        storage_key: Vec<u8>,
        mutate: Mutator,
        origin: WriteOrigin,
    ) -> Result<WriteOutcome, WriteError> {
        let (reply, wait) = oneshot::channel();
        let request = WriteRequest { storage_key, mutate, origin, reply };
        table
            .writer_for(hash)
            .send(WriterMsg::Write(request))
            .await
            .map_err(|_| self.settle(WriteError::TableGone))?;
        let outcome = match wait.await {
            Ok(outcome) => outcome.map_err(|e| self.settle(e)),
            // The writer dropped the write unanswered: it did not happen.
            Err(_) => Err(self.settle(WriteError::Storage(StorageError::Closed))),
        };
        if outcome.as_ref().is_ok_and(WriteOutcome::changed) {
            table.items_gauge.set(table.counters.items.load(Ordering::Relaxed));
            table.bytes_gauge.set(table.counters.bytes.load(Ordering::Relaxed));
        }
        outcome
    }

    /// Whether shutdown has started stopping the writers.
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// How a write a writer turned away (or never answered) is answered: during shutdown
    /// the table still exists, so a retryable internal error, never "table not found"
    /// (SDKs do not retry that, and callers would think the table deleted).
    pub(crate) fn settle(&self, e: WriteError) -> WriteError {
        match e {
            WriteError::TableGone | WriteError::Storage(StorageError::Closed) if self.closing() => {
                WriteError::Storage(StorageError::ShuttingDown)
            }
            e => e,
        }
    }

    /// [`Engine::settle`] for control-plane errors.
    pub(crate) fn settle_engine(&self, e: EngineError) -> EngineError {
        match e {
            EngineError::TableNotFound if self.closing() => StorageError::ShuttingDown.into(),
            e => e,
        }
    }

    /// Stops every writer, tables' and streams' (so queued writes finish), and syncs the
    /// store.
    pub async fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        // The other namespaces first; the default one then stops what they share (the
        // functions) and syncs the store once.
        for other in self.other_namespaces() {
            Box::pin(other.shutdown()).await;
        }
        // Pollers first: a batch whose invocation shutdown cuts is not checkpointed.
        self.triggers.shutdown().await;
        if self.is_default() {
            self.lambda.shutdown().await;
        }
        let tables: Vec<Arc<Table>> = self.tables.iter().map(|t| t.value().clone()).collect();
        for table in tables {
            for writer in &table.writers {
                let (done, wait) = oneshot::channel();
                if writer.send(WriterMsg::Stop(done)).await.is_ok() {
                    let _ = wait.await;
                }
            }
        }
        self.stop_kinesis().await;
        if self.is_default()
            && let Err(e) = self.store.sync()
        {
            tracing::error!("final sync failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn routing_is_stable_and_in_range() {
        // Pinned: changing the routing function would move stored items between partitions.
        assert_eq!(route(b"\x01abc", 4), route(b"\x01abc", 4));
        for n in 1..16 {
            assert!(route(b"\x01key", n) < n);
        }
        assert_eq!(route(b"", 7), (0xcbf2_9ce4_8422_2325u64 % 7) as usize);
    }
}
