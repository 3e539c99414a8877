//! Lambda event source mapping series, per mapping (`uuid`) and the function it invokes
//! (`function`, its name): both bounded by the mappings that exist, and removed when a
//! mapping is deleted. A poller resolves its series once per batch ([`EsmSeries`]).

use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter};
use prometheus::{IntCounterVec, Opts};

/// Records per invocation: 1 to the 10,000 a batch may hold.
const BATCH_BUCKETS: &[f64] =
    &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];

/// The mapping metrics.
pub struct EsmMetrics {
    /// Invocations of the function with a batch (each retry counts).
    pub invocations_total: IntCounterVec,
    /// Invocations that reached the function and failed (errors, timeouts).
    pub function_errors_total: IntCounterVec,
    /// Invocations that did not reach the function (throttled, unreachable, unknown).
    pub invoke_failures_total: IntCounterVec,
    /// Records in batches the function processed successfully.
    pub records_delivered_total: IntCounterVec,
    /// Records FilterCriteria dropped (never delivered).
    pub records_filtered_total: IntCounterVec,
    /// Records per invocation.
    pub batch_size: HistogramVec,
    /// Age of the last record of the last completed batch when it completed (Lambda's
    /// IteratorAge).
    pub iterator_age_seconds: GaugeVec,
    /// Invocations that were retries of a failed one.
    pub retries_total: IntCounterVec,
    /// Batches given up on (retries exhausted, records too old or expired, too large),
    /// and their records.
    pub dropped_batches_total: IntCounterVec,
    pub dropped_records_total: IntCounterVec,
    /// On-failure records delivered to the mapping's destination.
    pub on_failure_records_total: IntCounterVec,
    /// On-failure records that could not be delivered (AWS's DestinationDeliveryFailures).
    pub on_failure_delivery_failures_total: IntCounterVec,
}

/// One mapping's series.
#[derive(Clone)]
pub struct EsmSeries {
    pub invocations: IntCounter,
    pub function_errors: IntCounter,
    pub invoke_failures: IntCounter,
    pub records_delivered: IntCounter,
    pub records_filtered: IntCounter,
    pub batch_size: Histogram,
    pub iterator_age: Gauge,
    pub retries: IntCounter,
    pub dropped_batches: IntCounter,
    pub dropped_records: IntCounter,
    pub on_failure_records: IntCounter,
    pub on_failure_delivery_failures: IntCounter,
}

impl EsmMetrics {
    pub(super) fn new() -> EsmMetrics {
        let labels = &["uuid", "function"];
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        EsmMetrics {
            invocations_total: counter(
                "sluice_lambda_esm_invocations_total",
                "Invocations of the function with a batch, retries included, per event source mapping.",
            ),
            function_errors_total: counter(
                "sluice_lambda_esm_function_errors_total",
                "Invocations that reached the function and failed (an error or a timeout), per event source mapping.",
            ),
            invoke_failures_total: counter(
                "sluice_lambda_esm_invoke_failures_total",
                "Invocations that did not reach the function (throttled, unreachable, not found), retried without counting against MaximumRetryAttempts.",
            ),
            records_delivered_total: counter(
                "sluice_lambda_esm_records_delivered_total",
                "Records of batches the function processed successfully, per event source mapping.",
            ),
            records_filtered_total: counter(
                "sluice_lambda_esm_records_filtered_total",
                "Records that matched none of the mapping's FilterCriteria, dropped and checkpointed without an invocation.",
            ),
            batch_size: HistogramVec::new(
                HistogramOpts::new(
                    "sluice_lambda_esm_batch_size",
                    "Records per invocation, per event source mapping.",
                )
                .buckets(BATCH_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid metric"),
            iterator_age_seconds: GaugeVec::new(
                Opts::new(
                    "sluice_lambda_esm_iterator_age_seconds",
                    "Age of the last record of the last completed batch when it completed (IteratorAge), per event source mapping.",
                ),
                labels,
            )
            .expect("valid metric"),
            retries_total: counter(
                "sluice_lambda_esm_retries_total",
                "Invocations that retried a batch after a failed one, per event source mapping.",
            ),
            dropped_batches_total: counter(
                "sluice_lambda_esm_dropped_batches_total",
                "Batches discarded without a successful invocation (retries exhausted, records too old or expired, a record too large), per event source mapping.",
            ),
            dropped_records_total: counter(
                "sluice_lambda_esm_dropped_records_total",
                "Records of the discarded batches, per event source mapping.",
            ),
            on_failure_records_total: counter(
                "sluice_lambda_esm_on_failure_records_total",
                "On-failure records (one per discarded batch) delivered to the mapping's OnFailure destination.",
            ),
            on_failure_delivery_failures_total: counter(
                "sluice_lambda_esm_on_failure_delivery_failures_total",
                "On-failure records that could not be delivered to the mapping's OnFailure destination (DestinationDeliveryFailures): no endpoint configured, an S3 bucket, or unreachable after retries.",
            ),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.invocations_total.clone()),
            Box::new(self.function_errors_total.clone()),
            Box::new(self.invoke_failures_total.clone()),
            Box::new(self.records_delivered_total.clone()),
            Box::new(self.records_filtered_total.clone()),
            Box::new(self.batch_size.clone()),
            Box::new(self.iterator_age_seconds.clone()),
            Box::new(self.retries_total.clone()),
            Box::new(self.dropped_batches_total.clone()),
            Box::new(self.dropped_records_total.clone()),
            Box::new(self.on_failure_records_total.clone()),
            Box::new(self.on_failure_delivery_failures_total.clone()),
        ]
    }

    /// A mapping's series.
    pub fn series(&self, uuid: &str, function: &str) -> EsmSeries {
        let l = &[uuid, function];
        EsmSeries {
            invocations: self.invocations_total.with_label_values(l),
            function_errors: self.function_errors_total.with_label_values(l),
            invoke_failures: self.invoke_failures_total.with_label_values(l),
            records_delivered: self.records_delivered_total.with_label_values(l),
            records_filtered: self.records_filtered_total.with_label_values(l),
            batch_size: self.batch_size.with_label_values(l),
            iterator_age: self.iterator_age_seconds.with_label_values(l),
            retries: self.retries_total.with_label_values(l),
            dropped_batches: self.dropped_batches_total.with_label_values(l),
            dropped_records: self.dropped_records_total.with_label_values(l),
            on_failure_records: self.on_failure_records_total.with_label_values(l),
            on_failure_delivery_failures: self
                .on_failure_delivery_failures_total
                .with_label_values(l),
        }
    }

    /// Removes a deleted mapping's series (under every function it invoked).
    pub fn forget(&self, uuid: &str, functions: &[&str]) {
        for function in functions {
            let l = &[uuid, *function];
            let _ = self.invocations_total.remove_label_values(l);
            let _ = self.function_errors_total.remove_label_values(l);
            let _ = self.invoke_failures_total.remove_label_values(l);
            let _ = self.records_delivered_total.remove_label_values(l);
            let _ = self.records_filtered_total.remove_label_values(l);
            let _ = self.batch_size.remove_label_values(l);
            let _ = self.iterator_age_seconds.remove_label_values(l);
            let _ = self.retries_total.remove_label_values(l);
            let _ = self.dropped_batches_total.remove_label_values(l);
            let _ = self.dropped_records_total.remove_label_values(l);
            let _ = self.on_failure_records_total.remove_label_values(l);
            let _ = self.on_failure_delivery_failures_total.remove_label_values(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::Metrics;

    #[test]
    fn series_are_exported_and_forgotten() {
        let m = Metrics::new();
        let s = m.esm.series("u-1", "f");
        s.invocations.inc();
        s.batch_size.observe(3.0);
        s.iterator_age.set(1.5);
        let text = m.render();
        assert!(
            text.contains("sluice_lambda_esm_invocations_total{function=\"f\",uuid=\"u-1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "sluice_lambda_esm_iterator_age_seconds{function=\"f\",uuid=\"u-1\"} 1.5"
            )
        );
        m.esm.forget("u-1", &["f"]);
        assert!(!m.render().contains("uuid=\"u-1\""));
    }
}
