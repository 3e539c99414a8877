//! Every metric sluice exports, defined in one place on one explicit registry.
//!
//! Names follow Prometheus conventions (`sluice_` prefix, base units, `_total` counters).
//! Labels are bounded: service, operation (a closed set) and status class.

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
    /// Requests by service, operation and status (HTTP status code).
    pub requests_total: IntCounterVec,
    /// Request latency by service and operation.
    pub request_duration_seconds: HistogramVec,
    /// Storage write batches committed (one per group commit).
    pub storage_write_batches_total: IntCounterVec,
    /// Writes per committed group.
    pub storage_group_writes: HistogramVec,
    /// Time spent committing and syncing one group.
    pub storage_commit_duration_seconds: HistogramVec,
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
}

impl Metrics {
    /// Builds and registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
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
        for c in [
            Box::new(requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration_seconds.clone()),
            Box::new(storage_write_batches_total.clone()),
            Box::new(storage_group_writes.clone()),
            Box::new(storage_commit_duration_seconds.clone()),
            Box::new(table_items.clone()),
            Box::new(table_size_bytes.clone()),
            Box::new(ttl_deleted_items_total.clone()),
            Box::new(stream_records_written_total.clone()),
            Box::new(stream_written_bytes_total.clone()),
            Box::new(stream_records_read_total.clone()),
            Box::new(stream_read_bytes_total.clone()),
            Box::new(stream_iterator_age_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        #[cfg(target_os = "linux")]
        registry
            // Conventional unprefixed `process_*` names, as every Prometheus exporter uses.
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
            .expect("process collector registered once");
        Metrics {
            registry,
            requests_total,
            request_duration_seconds,
            storage_write_batches_total,
            storage_group_writes,
            storage_commit_duration_seconds,
            table_items,
            table_size_bytes,
            ttl_deleted_items_total,
            stream_records_written_total,
            stream_written_bytes_total,
            stream_records_read_total,
            stream_read_bytes_total,
            stream_iterator_age_seconds,
        }
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

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
