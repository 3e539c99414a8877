//! Every metric sluice exports, defined in one place on one explicit registry.
//!
//! Names follow Prometheus conventions (`sluice_` prefix, base units, `_total` counters).
//! Labels are bounded: service, operation (a closed set) and status class; tables and
//! streams (series removed when they are deleted); Kinesis shards only when
//! `metrics.per_shard` is on.

pub mod esm;
pub mod fanout;
pub mod source;

use std::sync::Arc;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Latency buckets in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// Every metric, registered on `registry`.
pub struct Metrics {
    pub registry: Registry,
    /// The other namespaces' metrics (`for_namespace`), rendered with these.
    namespaces: std::sync::RwLock<Vec<Arc<Metrics>>>,
    /// Every family registered (name, help), including those with no series yet.
    catalog: Vec<(String, String)>,
    /// Requests by service, operation and status (HTTP status code).
    pub requests_total: IntCounterVec,
    /// Request latency by service and operation.
    pub request_duration_seconds: HistogramVec,
    /// Requests refused for their signature (`auth.enforce`), by service, operation and
    /// reason.
    pub auth_denied_total: IntCounterVec,
    /// Storage write batches committed (one per group commit).
    pub storage_write_batches_total: IntCounterVec,
    /// Writes per committed group.
    pub storage_group_writes: HistogramVec,
    /// Time spent committing and syncing one group.
    pub storage_commit_duration_seconds: HistogramVec,
    /// Bytes the embedded store occupies on disk (journal and tables).
    pub storage_size_bytes: prometheus::IntGauge,
    /// Bytes in the store's unflushed write buffers (what `storage.memtable_bytes` bounds).
    pub storage_write_buffer_bytes: prometheus::IntGauge,
    /// Group commits that failed (every write in them was answered with an error).
    pub storage_commit_failures_total: prometheus::IntCounter,
    /// Group commits failed by a panic caught before the store was touched (a bug: the
    /// daemon goes on, the log and `/health` say what it was).
    pub storage_commit_panics_total: prometheus::IntCounter,
    /// Group commits that asked for no sync (checkpoints alone): in the OS's buffers only.
    pub storage_unsynced_batches_total: prometheus::IntCounter,
    /// Calls a fault-injection rule failed or delayed, by service, operation and kind.
    pub faults_injected_total: IntCounterVec,
    /// Items per table (exact, maintained by the writers).
    pub table_items: IntGaugeVec,
    /// Item bytes per table, as DynamoDB counts item size.
    pub table_size_bytes: IntGaugeVec,
    /// Items deleted by Time to Live expiry, per table.
    pub ttl_deleted_items_total: IntCounterVec,
    /// Change records written to the change log, per table.
    pub stream_records_written_total: IntCounterVec,
    /// Bytes of change records written, per table.
    pub stream_written_bytes_total: IntCounterVec,
    /// DynamoDB Streams records returned by GetRecords, per table.
    pub stream_records_read_total: IntCounterVec,
    /// Their bytes, as the records' `SizeBytes` count them, per table.
    pub stream_read_bytes_total: IntCounterVec,
    /// Age of the oldest unread record the latest GetRecords on a table returned; 0 when
    /// that reader was caught up.
    pub stream_iterator_age_seconds: GaugeVec,
    /// Kinesis: the stream-level and shard-level series (see `KinesisMetrics`).
    pub kinesis: KinesisMetrics,
    /// The bridge: table changes forwarded to Kinesis destinations.
    pub bridge: BridgeMetrics,
    /// Enhanced fan-out, per stream and consumer (see `fanout::FanoutMetrics`).
    pub fanout: fanout::FanoutMetrics,
    /// Lambda event source mappings, per mapping and function (see `esm::EsmMetrics`).
    pub esm: esm::EsmMetrics,
    /// The source bridge: external tables followed (`[[bridge.sources]]`).
    pub source: source::SourceMetrics,
}

/// Bridge series, per table and destination stream (one destination per table at a time).
pub struct BridgeMetrics {
    /// Changes forwarded, and their record bytes (data plus partition key).
    pub forwarded_records_total: IntCounterVec,
    pub forwarded_bytes_total: IntCounterVec,
    /// Age of the oldest change not yet forwarded (AWS's AgeOfOldestUnreplicatedRecord).
    pub replication_lag_seconds: GaugeVec,
    /// Changes skipped because their record exceeds the destination's record size
    /// (AWS's FailedToReplicateRecordCount).
    pub failed_records_total: IntCounterVec,
    /// Records the destination throttled, retried (AWS's ThrottledPutRecordCount): every
    /// record of a throttled call, or each throttled PutRecords entry.
    pub throttled_puts_total: IntCounterVec,
    /// Failed calls to a remote destination (connection errors, timeouts, error answers
    /// other than throttling), plus entries it failed otherwise (InternalFailure); all
    /// retried.
    pub remote_errors_total: IntCounterVec,
}

impl BridgeMetrics {
    fn new() -> BridgeMetrics {
        let labels = &["table", "stream"][..];
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        BridgeMetrics {
            forwarded_records_total: counter(
                "sluice_bridge_forwarded_records_total",
                "Table changes forwarded to the table's Kinesis destination.",
            ),
            forwarded_bytes_total: counter(
                "sluice_bridge_forwarded_bytes_total",
                "Bytes of the Kinesis records the bridge wrote (data plus partition key).",
            ),
            replication_lag_seconds: GaugeVec::new(
                Opts::new(
                    "sluice_bridge_replication_lag_seconds",
                    "Age of the oldest table change not yet forwarded (AgeOfOldestUnreplicatedRecord); 0 when caught up.",
                ),
                labels,
            )
            .expect("valid metric"),
            failed_records_total: counter(
                "sluice_bridge_failed_records_total",
                "Changes skipped because their record exceeds the destination's record size (FailedToReplicateRecordCount).",
            ),
            throttled_puts_total: counter(
                "sluice_bridge_throttled_puts_total",
                "Records the destination throttled, then retried (ThrottledPutRecordCount).",
            ),
            remote_errors_total: counter(
                "sluice_bridge_remote_errors_total",
                "Failed PutRecords calls to a remote Kinesis destination, plus entries it failed other than by throttling; all retried.",
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.forwarded_records_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(self.forwarded_bytes_total.clone()),
            Box::new(self.replication_lag_seconds.clone()),
            Box::new(self.failed_records_total.clone()),
            Box::new(self.throttled_puts_total.clone()),
            Box::new(self.remote_errors_total.clone()),
        ]
    }

    /// Creates a destination's series at 0 (see `KinesisMetrics::touch_stream`).
    pub fn touch(&self, table: &str, stream: &str) {
        let labels = [table, stream];
        let _ = self.forwarded_records_total.with_label_values(&labels);
        let _ = self.forwarded_bytes_total.with_label_values(&labels);
        let _ = self.replication_lag_seconds.with_label_values(&labels);
        let _ = self.failed_records_total.with_label_values(&labels);
        let _ = self.throttled_puts_total.with_label_values(&labels);
        let _ = self.remote_errors_total.with_label_values(&labels);
    }

    /// Removes one table's series (its destination was disabled or the table deleted).
    pub fn forget(&self, table: &str, stream: &str) {
        let labels = [table, stream];
        let _ = self.forwarded_records_total.remove_label_values(&labels);
        let _ = self.forwarded_bytes_total.remove_label_values(&labels);
        let _ = self.replication_lag_seconds.remove_label_values(&labels);
        let _ = self.failed_records_total.remove_label_values(&labels);
        let _ = self.throttled_puts_total.remove_label_values(&labels);
        let _ = self.remote_errors_total.remove_label_values(&labels);
    }
}

/// Kinesis series, per stream and, where configured, per shard.
pub struct KinesisMetrics {
    /// Records and bytes (data plus partition key) appended, per stream.
    pub incoming_records_total: IntCounterVec,
    pub incoming_bytes_total: IntCounterVec,
    /// Records and bytes read, per stream and reader kind (`polling` for GetRecords,
    /// `fanout` for SubscribeToShard).
    pub outgoing_records_total: IntCounterVec,
    pub outgoing_bytes_total: IntCounterVec,
    /// MillisBehindLatest of the last read, per stream, in seconds (Prometheus's base unit).
    pub iterator_age_seconds: GaugeVec,
    /// Requests refused with ProvisionedThroughputExceededException, per stream and
    /// operation (PutRecords counts each refused entry).
    pub throttled_total: IntCounterVec,
    /// Records and bytes kept on disk (within retention), per stream.
    pub retained_records: IntGaugeVec,
    pub retained_bytes: IntGaugeVec,
    /// The same per shard (`metrics.per_shard`).
    pub shard_incoming_records_total: IntCounterVec,
    pub shard_incoming_bytes_total: IntCounterVec,
    pub shard_outgoing_records_total: IntCounterVec,
    pub shard_outgoing_bytes_total: IntCounterVec,
    pub shard_iterator_age_seconds: GaugeVec,
}

/// Reader kinds of the outgoing series.
pub const KINESIS_READERS: [&str; 2] = ["polling", "fanout"];
/// Operations of the throttled series.
pub const KINESIS_THROTTLED_OPERATIONS: [&str; 3] = ["PutRecord", "PutRecords", "GetRecords"];

impl KinesisMetrics {
    fn new() -> KinesisMetrics {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let float_gauge = |name: &str, help: &str, labels: &[&str]| {
            GaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let (s, ss, sr, ssr) = (
            &["stream"][..],
            &["stream", "shard"][..],
            &["stream", "reader"][..],
            &["stream", "shard", "reader"][..],
        );
        KinesisMetrics {
            incoming_records_total: counter(
                "sluice_kinesis_incoming_records_total",
                "Kinesis records appended, per stream.",
                s,
            ),
            incoming_bytes_total: counter(
                "sluice_kinesis_incoming_bytes_total",
                "Kinesis bytes appended (data plus partition key), per stream.",
                s,
            ),
            outgoing_records_total: counter(
                "sluice_kinesis_outgoing_records_total",
                "Kinesis records read, per stream and reader kind.",
                sr,
            ),
            outgoing_bytes_total: counter(
                "sluice_kinesis_outgoing_bytes_total",
                "Kinesis bytes read (data plus partition key), per stream and reader kind.",
                sr,
            ),
            iterator_age_seconds: float_gauge(
                "sluice_kinesis_iterator_age_seconds",
                "MillisBehindLatest of the last read, in seconds, per stream.",
                s,
            ),
            throttled_total: counter(
                "sluice_kinesis_throttled_requests_total",
                "Kinesis requests (or PutRecords entries) refused with ProvisionedThroughputExceededException, per stream and operation.",
                &["stream", "operation"],
            ),
            retained_records: gauge(
                "sluice_kinesis_retained_records",
                "Kinesis records kept within retention, per stream.",
                s,
            ),
            retained_bytes: gauge(
                "sluice_kinesis_retained_bytes",
                "Kinesis bytes kept within retention (data plus partition key), per stream.",
                s,
            ),
            shard_incoming_records_total: counter(
                "sluice_kinesis_shard_incoming_records_total",
                "Kinesis records appended, per shard (metrics.per_shard).",
                ss,
            ),
            shard_incoming_bytes_total: counter(
                "sluice_kinesis_shard_incoming_bytes_total",
                "Kinesis bytes appended, per shard (metrics.per_shard).",
                ss,
            ),
            shard_outgoing_records_total: counter(
                "sluice_kinesis_shard_outgoing_records_total",
                "Kinesis records read, per shard and reader kind (metrics.per_shard).",
                ssr,
            ),
            shard_outgoing_bytes_total: counter(
                "sluice_kinesis_shard_outgoing_bytes_total",
                "Kinesis bytes read, per shard and reader kind (metrics.per_shard).",
                ssr,
            ),
            shard_iterator_age_seconds: float_gauge(
                "sluice_kinesis_shard_iterator_age_seconds",
                "MillisBehindLatest of the last read, in seconds, per shard (metrics.per_shard).",
                ss,
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.incoming_records_total.clone()),
            Box::new(self.incoming_bytes_total.clone()),
            Box::new(self.outgoing_records_total.clone()),
            Box::new(self.outgoing_bytes_total.clone()),
            Box::new(self.iterator_age_seconds.clone()),
            Box::new(self.throttled_total.clone()),
            Box::new(self.retained_records.clone()),
            Box::new(self.retained_bytes.clone()),
            Box::new(self.shard_incoming_records_total.clone()),
            Box::new(self.shard_incoming_bytes_total.clone()),
            Box::new(self.shard_outgoing_records_total.clone()),
            Box::new(self.shard_outgoing_bytes_total.clone()),
            Box::new(self.shard_iterator_age_seconds.clone()),
        ]
    }

    /// Creates a stream's series at 0 (its counters of rare events, its traffic, how far
    /// its readers are behind), so a dashboard shows 0 for them, not "No data", until the
    /// first record.
    pub fn touch_stream(&self, stream: &str) {
        for op in KINESIS_THROTTLED_OPERATIONS {
            let _ = self.throttled_total.with_label_values(&[stream, op]);
        }
        let _ = self.incoming_records_total.with_label_values(&[stream]);
        let _ = self.incoming_bytes_total.with_label_values(&[stream]);
        let _ = self.iterator_age_seconds.with_label_values(&[stream]);
        for reader in KINESIS_READERS {
            let _ = self.outgoing_records_total.with_label_values(&[stream, reader]);
            let _ = self.outgoing_bytes_total.with_label_values(&[stream, reader]);
        }
    }

    /// Removes a deleted stream's series (and its shards' `shard_ids`).
    pub fn forget_stream(&self, stream: &str, shard_ids: &[String]) {
        for v in [&self.incoming_records_total, &self.incoming_bytes_total] {
            let _ = v.remove_label_values(&[stream]);
        }
        for v in [&self.retained_records, &self.retained_bytes] {
            let _ = v.remove_label_values(&[stream]);
        }
        let _ = self.iterator_age_seconds.remove_label_values(&[stream]);
        for reader in KINESIS_READERS {
            let _ = self.outgoing_records_total.remove_label_values(&[stream, reader]);
            let _ = self.outgoing_bytes_total.remove_label_values(&[stream, reader]);
        }
        for op in KINESIS_THROTTLED_OPERATIONS {
            let _ = self.throttled_total.remove_label_values(&[stream, op]);
        }
        for shard in shard_ids {
            let _ = self.shard_incoming_records_total.remove_label_values(&[stream, shard]);
            let _ = self.shard_incoming_bytes_total.remove_label_values(&[stream, shard]);
            let _ = self.shard_iterator_age_seconds.remove_label_values(&[stream, shard]);
            for reader in KINESIS_READERS {
                let _ =
                    self.shard_outgoing_records_total.remove_label_values(&[stream, shard, reader]);
                let _ =
                    self.shard_outgoing_bytes_total.remove_label_values(&[stream, shard, reader]);
            }
        }
    }
}

impl Metrics {
    /// Builds and registers every metric.
    pub fn new() -> Metrics {
        Metrics::build(Registry::new(), true)
    }

    /// The metrics of the engine of `account` in `region` (not the default namespace):
    /// every series it makes carries `account` and `region` labels, so same-named
    /// resources of different namespaces stay apart; `render` includes them.
    pub fn for_namespace(&self, account: &str, region: &str) -> Arc<Metrics> {
        let labels = std::collections::HashMap::from([
            ("account".to_string(), account.to_string()),
            ("region".to_string(), region.to_string()),
        ]);
        let registry = Registry::new_custom(None, Some(labels)).expect("valid labels");
        let metrics = Arc::new(Metrics::build(registry, false));
        self.namespaces.write().unwrap_or_else(|e| e.into_inner()).push(metrics.clone());
        metrics
    }

    fn build(registry: Registry, process: bool) -> Metrics {
        let mut catalog = Vec::new();
        let requests_total = IntCounterVec::new(
            Opts::new(
                "sluice_requests_total",
                "API requests by service, operation and HTTP status.",
            ),
            &["service", "operation", "status"],
        )
        .expect("valid metric");
        let request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "sluice_request_duration_seconds",
                "API request latency in seconds.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["service", "operation"],
        )
        .expect("valid metric");
        let storage_write_batches_total = IntCounterVec::new(
            Opts::new("sluice_storage_write_batches_total", "Storage write batches committed."),
            &["durability"],
        )
        .expect("valid metric");
        let storage_group_writes = HistogramVec::new(
            HistogramOpts::new(
                "sluice_storage_group_writes",
                "Writes grouped into one storage batch.",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]),
            &["durability"],
        )
        .expect("valid metric");
        let storage_commit_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "sluice_storage_commit_duration_seconds",
                "Time to commit one storage batch, including its fsync when durability is fsync.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["durability"],
        )
        .expect("valid metric");
        let table_items =
            IntGaugeVec::new(Opts::new("sluice_table_items", "Items in each table."), &["table"])
                .expect("valid metric");
        let table_size_bytes = IntGaugeVec::new(
            Opts::new(
                "sluice_table_size_bytes",
                "Size of each table's items in bytes, as DynamoDB counts it.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let ttl_deleted_items_total = IntCounterVec::new(
            Opts::new(
                "sluice_ttl_deleted_items_total",
                "Items deleted because their Time to Live attribute had passed, per table.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let stream_records_written_total = IntCounterVec::new(
            Opts::new(
                "sluice_stream_records_written_total",
                "Change records written (one per data-changing write while a stream is enabled), per table.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let stream_written_bytes_total = IntCounterVec::new(
            Opts::new(
                "sluice_stream_written_bytes_total",
                "Bytes of change records written (stored form, full images), per table.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let stream_records_read_total = IntCounterVec::new(
            Opts::new(
                "sluice_stream_records_read_total",
                "DynamoDB Streams records returned by GetRecords, per table.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let stream_read_bytes_total = IntCounterVec::new(
            Opts::new(
                "sluice_stream_read_bytes_total",
                "Bytes of DynamoDB Streams records returned by GetRecords (their SizeBytes), per table.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let stream_iterator_age_seconds = GaugeVec::new(
            Opts::new(
                "sluice_stream_iterator_age_seconds",
                "Age of the oldest unread record seen by the latest GetRecords on a table (0 when caught up).",
            ),
            &["table"],
        )
        .expect("valid metric");
        let auth_denied_total = IntCounterVec::new(
            Opts::new(
                "sluice_auth_denied_total",
                "Requests refused for their signature or permissions (auth.enforce), by service, operation and reason.",
            ),
            &["service", "operation", "reason"],
        )
        .expect("valid metric");
        let faults_injected_total = IntCounterVec::new(
            Opts::new(
                "sluice_faults_injected_total",
                "Calls a fault-injection rule failed (kind error) or only delayed (kind latency), by service (or storage) and operation.",
            ),
            &["service", "operation", "kind"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(auth_denied_total.clone()),
            Box::new(faults_injected_total.clone()),
            Box::new(stream_records_written_total.clone()),
            Box::new(stream_written_bytes_total.clone()),
            Box::new(request_duration_seconds.clone()),
            Box::new(storage_write_batches_total.clone()),
            Box::new(storage_group_writes.clone()),
            Box::new(storage_commit_duration_seconds.clone()),
            Box::new(table_items.clone()),
            Box::new(table_size_bytes.clone()),
            Box::new(ttl_deleted_items_total.clone()),
            Box::new(stream_records_read_total.clone()),
            Box::new(stream_read_bytes_total.clone()),
            Box::new(stream_iterator_age_seconds.clone()),
        ] {
            register(&registry, &mut catalog, c);
        }
        let storage_size_bytes = prometheus::IntGauge::new(
            "sluice_storage_size_bytes",
            "Bytes the embedded store occupies on disk (journal and tables).",
        )
        .expect("valid metric");
        register(&registry, &mut catalog, Box::new(storage_size_bytes.clone()));
        let storage_write_buffer_bytes = prometheus::IntGauge::new(
            "sluice_storage_write_buffer_bytes",
            "Bytes in the embedded store's unflushed write buffers (every keyspace's memtables), as the store counts their keys and values; kept within storage.memtable_bytes.",
        )
        .expect("valid metric");
        register(&registry, &mut catalog, Box::new(storage_write_buffer_bytes.clone()));
        let storage_commit_failures_total = prometheus::IntCounter::new(
            "sluice_storage_commit_failures_total",
            "Group commits that failed; each of their writes was answered with an internal error.",
        )
        .expect("valid metric");
        register(&registry, &mut catalog, Box::new(storage_commit_failures_total.clone()));
        let storage_commit_panics_total = prometheus::IntCounter::new(
            "sluice_storage_commit_panics_total",
            "Group commits failed by a panic caught before anything was written; writes go on.",
        )
        .expect("valid metric");
        register(&registry, &mut catalog, Box::new(storage_commit_panics_total.clone()));
        let storage_unsynced_batches_total = prometheus::IntCounter::new(
            "sluice_storage_unsynced_batches_total",
            "Group commits that held only writes needing no sync of their own (mapping checkpoints): written to the OS's buffers, synced with a later group.",
        )
        .expect("valid metric");
        register(&registry, &mut catalog, Box::new(storage_unsynced_batches_total.clone()));
        let kinesis = KinesisMetrics::new();
        let fanout = fanout::FanoutMetrics::new();
        let bridge = BridgeMetrics::new();
        let esm = esm::EsmMetrics::new();
        let source = source::SourceMetrics::new();
        for c in kinesis
            .collectors()
            .into_iter()
            .chain(fanout.collectors())
            .chain(bridge.collectors())
            .chain(esm.collectors())
            .chain(source.collectors())
        {
            register(&registry, &mut catalog, c);
        }
        #[cfg(target_os = "linux")]
        if process {
            registry
                // Conventional unprefixed `process_*` names, as every Prometheus exporter uses.
                .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
                .expect("process collector registered once");
        }
        #[cfg(not(target_os = "linux"))]
        let _ = process;
        Metrics {
            registry,
            namespaces: Default::default(),
            catalog,
            requests_total,
            auth_denied_total,
            request_duration_seconds,
            storage_write_batches_total,
            storage_group_writes,
            storage_commit_duration_seconds,
            storage_size_bytes,
            storage_write_buffer_bytes,
            storage_commit_failures_total,
            storage_commit_panics_total,
            storage_unsynced_batches_total,
            faults_injected_total,
            table_items,
            table_size_bytes,
            ttl_deleted_items_total,
            stream_records_written_total,
            stream_written_bytes_total,
            stream_records_read_total,
            stream_read_bytes_total,
            stream_iterator_age_seconds,
            kinesis,
            bridge,
            fanout,
            esm,
            source,
        }
    }

    /// Creates a table's counters of rare events at 0 (see `KinesisMetrics::touch_stream`).
    /// Its stream's series too: 0 records written or read, 0 behind, until it has some.
    pub fn touch_table(&self, table: &str) {
        let _ = self.ttl_deleted_items_total.with_label_values(&[table]);
        let _ = self.stream_records_written_total.with_label_values(&[table]);
        let _ = self.stream_written_bytes_total.with_label_values(&[table]);
        let _ = self.stream_records_read_total.with_label_values(&[table]);
        let _ = self.stream_read_bytes_total.with_label_values(&[table]);
        let _ = self.stream_iterator_age_seconds.with_label_values(&[table]);
    }

    /// Removes a deleted table's series so cardinality follows the live tables.
    pub fn forget_table(&self, table: &str) {
        let _ = self.table_items.remove_label_values(&[table]);
        let _ = self.table_size_bytes.remove_label_values(&[table]);
        let _ = self.ttl_deleted_items_total.remove_label_values(&[table]);
        let _ = self.stream_records_written_total.remove_label_values(&[table]);
        let _ = self.stream_written_bytes_total.remove_label_values(&[table]);
        let _ = self.stream_records_read_total.remove_label_values(&[table]);
        let _ = self.stream_read_bytes_total.remove_label_values(&[table]);
        let _ = self.stream_iterator_age_seconds.remove_label_values(&[table]);
    }

    /// The Prometheus text exposition of every metric. Families with no series yet (no
    /// table, stream or consumer has touched them) still get their HELP line, so the
    /// catalog is visible, and dashboards can be checked against it, from the start.
    pub fn render(&self) -> String {
        let mut families = self.registry.gather();
        // The other namespaces' series join their families. Those carrying nothing but
        // the namespace's labels (process-wide gauges every registry has) are left out.
        for ns in self.namespaces.read().unwrap_or_else(|e| e.into_inner()).iter() {
            for mut family in ns.registry.gather() {
                family.mut_metric().retain(|m| m.get_label().len() > 2);
                if family.get_metric().is_empty() {
                    continue;
                }
                match families.iter_mut().find(|f| f.name() == family.name()) {
                    Some(own) => own.mut_metric().extend(family.take_metric()),
                    None => families.push(family),
                }
            }
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut out);
        let mut text = String::from_utf8(out).unwrap_or_default();
        for (name, help) in &self.catalog {
            if !text.contains(&format!("# HELP {name} ")) {
                text.push_str(&format!("# HELP {name} {help}\n"));
            }
        }
        text
    }

    /// Every registered family's name.
    pub fn family_names(&self) -> impl Iterator<Item = &str> {
        self.catalog.iter().map(|(name, _)| name.as_str())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers `collector` and records its families in the catalog.
fn register(
    registry: &Registry,
    catalog: &mut Vec<(String, String)>,
    collector: Box<dyn prometheus::core::Collector>,
) {
    for desc in collector.desc() {
        catalog.push((desc.fq_name.clone(), desc.help.clone()));
    }
    registry.register(collector).expect("metric registered once");
}
