//! Source bridge series (`[[bridge.sources]]`), per source (`source`, its configured name:
//! bounded by the config) and, for the lag gauges, per shard this instance holds (removed
//! when its lease goes).

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts};

/// The source bridge metrics.
pub struct SourceMetrics {
    /// Stream records read from the source (GetRecords).
    pub records_read_total: IntCounterVec,
    /// Records the destination accepted.
    pub records_forwarded_total: IntCounterVec,
    /// Leases this instance holds.
    pub leases_held: IntGaugeVec,
    /// Leases this instance took over from an instance that stopped renewing them (dead,
    /// or cut off from the lease table).
    pub lease_steals_total: IntCounterVec,
    /// Source calls answered with a throttle (LimitExceededException and kin), retried.
    pub read_throttles_total: IntCounterVec,
    /// Times a shard's checkpoint had fallen behind the stream's trim horizon: the
    /// records between them were lost to trimming before anyone forwarded them.
    pub trimmed_gaps_total: IntCounterVec,
    /// Failed calls to the source, the lease table or a remote destination, retried.
    pub errors_total: IntCounterVec,
    /// Age of the oldest change read but not yet accepted by the destination
    /// (AgeOfOldestUnreplicatedRecord), per shard; 0 when caught up.
    pub age_of_oldest_unreplicated_seconds: GaugeVec,
    /// How far behind the newest change forwarded was when it went out, per shard; 0 once a
    /// read finds nothing new.
    pub behind_latest_seconds: GaugeVec,
}

impl SourceMetrics {
    pub(super) fn new() -> SourceMetrics {
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["source"]).expect("valid metric")
        };
        SourceMetrics {
            records_read_total: counter(
                "sluice_source_records_read_total",
                "DynamoDB Streams records read from an external source table.",
            ),
            records_forwarded_total: counter(
                "sluice_source_records_forwarded_total",
                "Records of an external source the Kinesis destination accepted.",
            ),
            leases_held: IntGaugeVec::new(
                Opts::new("sluice_source_leases_held", "Shard leases this instance holds."),
                &["source"],
            )
            .expect("valid metric"),
            lease_steals_total: counter(
                "sluice_source_lease_steals_total",
                "Leases this instance took over from an instance that stopped renewing them (dead, or cut off from the lease table).",
            ),
            read_throttles_total: counter(
                "sluice_source_read_throttles_total",
                "Calls to an external source answered with a throttle, retried after a pause.",
            ),
            trimmed_gaps_total: counter(
                "sluice_source_trimmed_gaps_total",
                "Times a shard's checkpoint was behind the stream's trim horizon: changes lost to trimming before they were forwarded.",
            ),
            errors_total: counter(
                "sluice_source_errors_total",
                "Failed calls to an external source, its lease table or a remote destination; all retried.",
            ),
            age_of_oldest_unreplicated_seconds: GaugeVec::new(
                Opts::new(
                    "sluice_source_age_of_oldest_unreplicated_record_seconds",
                    "Age of the oldest change read from a source shard and not yet accepted by the destination; 0 when caught up.",
                ),
                &["source", "shard"],
            )
            .expect("valid metric"),
            behind_latest_seconds: GaugeVec::new(
                Opts::new(
                    "sluice_source_behind_latest_seconds",
                    "How old (in seconds) the newest change forwarded from a source shard was when it went out; 0 once a read finds nothing new.",
                ),
                &["source", "shard"],
            )
            .expect("valid metric"),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.records_read_total.clone()),
            Box::new(self.records_forwarded_total.clone()),
            Box::new(self.leases_held.clone()),
            Box::new(self.lease_steals_total.clone()),
            Box::new(self.read_throttles_total.clone()),
            Box::new(self.trimmed_gaps_total.clone()),
            Box::new(self.errors_total.clone()),
            Box::new(self.age_of_oldest_unreplicated_seconds.clone()),
            Box::new(self.behind_latest_seconds.clone()),
        ]
    }

    /// Creates a source's series at 0 when it starts, so a dashboard shows 0, not "No
    /// data", until its first record, steal, throttle or error.
    pub fn touch(&self, source: &str) {
        for counter in [
            &self.records_read_total,
            &self.records_forwarded_total,
            &self.lease_steals_total,
            &self.read_throttles_total,
            &self.trimmed_gaps_total,
            &self.errors_total,
        ] {
            let _ = counter.with_label_values(&[source]);
        }
        let _ = self.leases_held.with_label_values(&[source]);
    }

    /// Removes a shard's series (its lease went elsewhere).
    pub fn forget_shard(&self, source: &str, shard: &str) {
        let _ = self.age_of_oldest_unreplicated_seconds.remove_label_values(&[source, shard]);
        let _ = self.behind_latest_seconds.remove_label_values(&[source, shard]);
    }
}
