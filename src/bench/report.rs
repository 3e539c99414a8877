//! What a run reports: one `Measurement` per driven phase, deliveries for `e2e`, the
//! ratio to the in-process ceiling, the target's RSS; printed for people or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::histogram::Percentiles;

/// One driven phase (a workload, or the ceiling).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Measurement {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_type: BTreeMap<String, u64>,
    pub seconds: f64,
    pub requests_per_s: f64,
    /// Records written, for batch operations (PutRecords entries accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_per_s: Option<f64>,
    pub latency: Percentiles,
}

/// One `e2e` delivery path: a fan-out consumer, a GetRecords poller of the Kinesis
/// destination, or a poller of the table's DynamoDB stream.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Delivery {
    pub path: String,
    /// Records the path saw of those written.
    pub delivered: u64,
    pub written: u64,
    /// Delivered records per second, from the first write to the path's last delivery.
    pub records_per_s: f64,
    /// Write (the item's send time) to delivery.
    pub latency: Percentiles,
    pub errors_by_type: BTreeMap<String, u64>,
    /// Why the path could not run at all (a peer without the feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The target's `process_resident_memory_bytes`, when it serves /metrics.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq)]
pub struct Rss {
    pub start: Option<u64>,
    pub end: Option<u64>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub workload: String,
    pub endpoint: String,
    pub settings: Value,
    pub measurements: Vec<Measurement>,
    /// The workload's request rate over the ceiling's, when both ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_ceiling: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
    /// Fan-out: delivered records/s summed over every consumer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_total_records_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rss_bytes: Option<Rss>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn errors_line(errors: &BTreeMap<String, u64>) -> String {
    errors.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

impl Report {
    /// Sets `ratio_to_ceiling` when a `ceiling` phase and another phase both ran.
    pub fn compute_ratio(&mut self) {
        let ceiling = self.measurements.iter().find(|m| m.name == "ceiling");
        let other = self.measurements.iter().find(|m| m.name != "ceiling");
        if let (Some(c), Some(o)) = (ceiling, other)
            && c.requests_per_s > 0.0
        {
            self.ratio_to_ceiling = Some(o.requests_per_s / c.requests_per_s);
        }
    }

    /// The summary people read.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "sluice bench {} -> {}", self.workload, self.endpoint);
        for m in &self.measurements {
            let _ = writeln!(
                out,
                "  {:<12} {:>10.0} req/s  {}  ({} requests, {} errors, {:.1} s)",
                m.name,
                m.requests_per_s,
                m.latency.line(),
                m.requests,
                m.errors,
                m.seconds
            );
            if let (Some(r), Some(rate)) = (m.records, m.records_per_s) {
                let _ = writeln!(out, "  {:<12} {rate:>10.0} records/s  ({r} records)", "");
            }
            if !m.errors_by_type.is_empty() {
                let _ = writeln!(out, "  {:<12} errors: {}", "", errors_line(&m.errors_by_type));
            }
        }
        if let Some(r) = self.ratio_to_ceiling {
            let _ = writeln!(out, "  ratio to ceiling: {r:.3}");
        }
        if !self.deliveries.is_empty() {
            let _ = writeln!(out, "  write -> delivery:");
        }
        for d in &self.deliveries {
            if let Some(why) = &d.unavailable {
                let _ = writeln!(out, "    {:<28} unavailable: {why}", d.path);
                continue;
            }
            let _ = writeln!(
                out,
                "    {:<28} {}/{} delivered  {:>9.0} records/s  {}",
                d.path,
                d.delivered,
                d.written,
                d.records_per_s,
                d.latency.line()
            );
            if !d.errors_by_type.is_empty() {
                let _ = writeln!(out, "    {:<28} errors: {}", "", errors_line(&d.errors_by_type));
            }
        }
        if let Some(total) = self.fanout_total_records_per_s {
            let _ = writeln!(out, "  fan-out total: {total:.0} records/s");
        }
        if let Some(rss) = self.target_rss_bytes {
            let _ = writeln!(out, "  target RSS: start {}, end {}", mib(rss.start), mib(rss.end));
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &str, rate: f64) -> Measurement {
        Measurement {
            name: name.into(),
            requests: 100,
            seconds: 1.0,
            requests_per_s: rate,
            ..Default::default()
        }
    }

    #[test]
    fn ratio_needs_both_phases() {
        let mut r = Report { measurements: vec![phase("put-item", 50.0)], ..Default::default() };
        r.compute_ratio();
        assert_eq!(r.ratio_to_ceiling, None);
        r.measurements.insert(0, phase("ceiling", 200.0));
        r.compute_ratio();
        assert_eq!(r.ratio_to_ceiling, Some(0.25));
    }

    #[test]
    fn human_and_json_shapes() {
        let mut m = phase("put-item", 1234.4);
        m.errors = 2;
        m.errors_by_type.insert("ValidationException".into(), 2);
        let r = Report {
            workload: "put-item".into(),
            endpoint: "http://127.0.0.1:8000".into(),
            measurements: vec![m],
            deliveries: vec![Delivery {
                path: "kinesis-getrecords".into(),
                unavailable: Some("UnknownOperationException".into()),
                ..Default::default()
            }],
            target_rss_bytes: Some(Rss { start: Some(1048576), end: None }),
            ..Default::default()
        };
        let text = r.human();
        assert!(text.starts_with("sluice bench put-item -> http://127.0.0.1:8000\n"), "{text}");
        assert!(text.contains("put-item           1234 req/s  p50 0.000"), "{text}");
        assert!(text.contains("errors: ValidationException 2"), "{text}");
        assert!(
            text.contains("kinesis-getrecords           unavailable: UnknownOperationException"),
            "{text}"
        );
        assert!(text.contains("target RSS: start 1.0 MiB, end n/a"), "{text}");
        let v: Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["measurements"][0]["errors_by_type"]["ValidationException"], 2);
        assert_eq!(v["measurements"][0]["latency"]["p99_9_ms"], 0.0);
        assert!(v.get("ratio_to_ceiling").is_none());
        assert!(v["measurements"][0].get("records").is_none());
        assert_eq!(v["target_rss_bytes"]["end"], Value::Null);
    }
}
