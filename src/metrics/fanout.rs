//! Enhanced fan-out series, per stream and consumer: both are bounded (a stream has at
//! most 20 consumers) and removed when the consumer is deregistered or the stream deleted.
//! A subscription resolves its series once ([`FanoutSeries`]), so delivery does no label
//! lookups, and a subscription that outlives its consumer's removal cannot bring the
//! removed series back.

use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter};
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts};

/// Delivery latency buckets in seconds: 50 µs to 10 s (the budget is a 5 ms p99).
const DELIVERY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0,
];

/// The fan-out metrics.
pub struct FanoutMetrics {
    /// Open SubscribeToShard streams.
    pub subscriptions: IntGaugeVec,
    /// SubscribeToShardEvent messages sent (heartbeats included).
    pub events_total: IntCounterVec,
    /// Records delivered.
    pub records_total: IntCounterVec,
    /// Bytes delivered (data plus partition key, as Kinesis counts them).
    pub bytes_total: IntCounterVec,
    /// From the commit of an event's newest record to the event being handed to the
    /// connection.
    pub delivery_latency_seconds: HistogramVec,
    /// MillisBehindLatest of the consumer's latest event, in seconds.
    pub behind_latest_seconds: GaugeVec,
}

/// One consumer's series, resolved.
#[derive(Clone)]
pub struct FanoutSeries {
    pub subscriptions: IntGauge,
    pub events: IntCounter,
    pub records: IntCounter,
    pub bytes: IntCounter,
    pub delivery_latency: Histogram,
    pub behind_latest_seconds: Gauge,
}

impl FanoutMetrics {
    pub(super) fn new() -> FanoutMetrics {
        let labels = &["stream", "consumer"];
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let gauge = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        FanoutMetrics {
            subscriptions: gauge(
                "sluice_kinesis_fanout_subscriptions",
                "Open SubscribeToShard streams, per stream and consumer.",
            ),
            events_total: counter(
                "sluice_kinesis_fanout_events_total",
                "SubscribeToShardEvent messages sent (heartbeats included), per stream and consumer.",
            ),
            records_total: counter(
                "sluice_kinesis_fanout_records_total",
                "Records delivered by SubscribeToShard, per stream and consumer.",
            ),
            bytes_total: counter(
                "sluice_kinesis_fanout_bytes_total",
                "Bytes (data plus partition key) delivered by SubscribeToShard, per stream and consumer.",
            ),
            delivery_latency_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "sluice_kinesis_fanout_delivery_latency_seconds",
                    "Time from the commit of an event's newest record to the event being written, per stream and consumer.",
                )
                .buckets(DELIVERY_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid metric"),
            behind_latest_seconds: GaugeVec::new(
                Opts::new(
                    "sluice_kinesis_fanout_behind_latest_seconds",
                    "MillisBehindLatest of the latest SubscribeToShard event, in seconds, per stream and consumer.",
                ),
                labels,
            )
            .expect("valid metric"),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.subscriptions.clone()),
            Box::new(self.events_total.clone()),
            Box::new(self.records_total.clone()),
            Box::new(self.bytes_total.clone()),
            Box::new(self.delivery_latency_seconds.clone()),
            Box::new(self.behind_latest_seconds.clone()),
        ]
    }

    /// A consumer's series.
    pub fn series(&self, stream: &str, consumer: &str) -> FanoutSeries {
        let l = &[stream, consumer];
        FanoutSeries {
            subscriptions: self.subscriptions.with_label_values(l),
            events: self.events_total.with_label_values(l),
            records: self.records_total.with_label_values(l),
            bytes: self.bytes_total.with_label_values(l),
            delivery_latency: self.delivery_latency_seconds.with_label_values(l),
            behind_latest_seconds: self.behind_latest_seconds.with_label_values(l),
        }
    }

    /// Removes a deregistered consumer's series (or those of a deleted stream's consumers).
    pub fn forget_consumer(&self, stream: &str, consumer: &str) {
        let l = &[stream, consumer];
        let _ = self.subscriptions.remove_label_values(l);
        let _ = self.events_total.remove_label_values(l);
        let _ = self.records_total.remove_label_values(l);
        let _ = self.bytes_total.remove_label_values(l);
        let _ = self.delivery_latency_seconds.remove_label_values(l);
        let _ = self.behind_latest_seconds.remove_label_values(l);
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::Metrics;

    #[test]
    fn series_are_exported_and_forgotten() {
        let m = Metrics::new();
        let s = m.fanout.series("orders", "app");
        s.subscriptions.inc();
        s.records.inc_by(3);
        s.delivery_latency.observe(0.001);
        let text = m.render();
        assert!(
            text.contains(
                "sluice_kinesis_fanout_subscriptions{consumer=\"app\",stream=\"orders\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "sluice_kinesis_fanout_records_total{consumer=\"app\",stream=\"orders\"} 3"
            )
        );
        m.fanout.forget_consumer("orders", "app");
        // A subscription still holding its handles cannot bring the series back.
        s.subscriptions.dec();
        assert!(!m.render().contains("consumer=\"app\""));
    }
}
