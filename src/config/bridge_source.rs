//! `[[bridge.sources]]`: tables on a DynamoDB endpoint outside sluice (AWS, ScyllaDB
//! Alternator, DynamoDB Local, another sluice) whose stream sluice follows and forwards,
//! in AWS's Kinesis record format, into a Kinesis stream here or at a remote; the work
//! shared by every sluice naming the same lease table (`engine::source`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One external table to follow.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// The label in metrics and logs; also the prefix of this source's leases.
    pub name: String,
    /// The DynamoDB and DynamoDB Streams API: `http://` or `https://`, no path.
    pub endpoint: String,
    /// The SigV4 signing region.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The source table; its current stream is followed, also after a re-enable.
    pub table: String,
    /// A Kinesis stream ARN: a stream of this sluice, or a `[[bridge.remotes]]` entry.
    pub destination: String,
    /// The DynamoDB table of leases and checkpoints (created when missing).
    pub lease_table: String,
    /// Where the lease table lives (same credentials); empty: this sluice.
    pub lease_endpoint: String,
    /// Where a shard no lease has read yet starts: `TRIM_HORIZON` (every change the
    /// stream still holds) or `LATEST` (changes from now on).
    pub starting_position: String,
    /// The pause before asking a caught-up shard again.
    pub poll_interval_ms: u64,
}

// The secret must never reach a log line through `{:?}` of the whole config.
impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("table", &self.table)
            .field("destination", &self.destination)
            .field("lease_table", &self.lease_table)
            .field("lease_endpoint", &self.lease_endpoint)
            .field("starting_position", &self.starting_position)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

/// A URL sluice can call: `http://` or `https://`, host, optional port, no path.
fn is_endpoint(url: &str) -> bool {
    crate::engine::remote_tls::split_url(url).is_some_and(|u| u.path == "/" && !u.host.is_empty())
}

/// A DynamoDB table name: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl SourceConfig {
    /// Why this source (the `i`th) cannot run, naming the key; `earlier` are the sources
    /// before it.
    pub(super) fn problem(&self, i: usize, earlier: &[SourceConfig]) -> Option<(String, String)> {
        let key = |field: &str| format!("bridge.sources[{i}].{field}");
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !name_ok {
            return Some((key("name"), "must be 1 to 64 letters, digits, '_' or '-'".into()));
        }
        if earlier.iter().any(|s| s.name == self.name) {
            return Some((key("name"), "is the name of an earlier source".into()));
        }
        if !is_endpoint(&self.endpoint) {
            return Some((
                key("endpoint"),
                "must be a URL such as https://dynamodb.eu-west-1.amazonaws.com or http://127.0.0.1:8000 (no path)".into(),
            ));
        }
        if !self.lease_endpoint.is_empty() && !is_endpoint(&self.lease_endpoint) {
            return Some((key("lease_endpoint"), "must be empty (this sluice) or a URL".into()));
        }
        if self.region.is_empty() {
            return Some((key("region"), "must name the region requests are signed for".into()));
        }
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Some((
                key("access_key_id"),
                "access_key_id and secret_access_key must not be empty".into(),
            ));
        }
        if !is_table_name(&self.table) {
            return Some((key("table"), "must be a DynamoDB table name".into()));
        }
        if !is_table_name(&self.lease_table) {
            return Some((key("lease_table"), "must be a DynamoDB table name".into()));
        }
        if !super::bridge::is_stream_arn(&self.destination) {
            return Some((
                key("destination"),
                "must be a Kinesis stream ARN such as arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes".into(),
            ));
        }
        if !matches!(self.starting_position.as_str(), "TRIM_HORIZON" | "LATEST") {
            return Some((key("starting_position"), "must be TRIM_HORIZON or LATEST".into()));
        }
        if self.poll_interval_ms == 0 || self.poll_interval_ms > 60_000 {
            return Some((key("poll_interval_ms"), "must be 1 to 60000".into()));
        }
        None
    }
}

/// What a `[[bridge.sources]]` table starts from.
impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            name: String::new(),
            endpoint: String::new(),
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            table: String::new(),
            destination: String::new(),
            lease_table: String::new(),
            lease_endpoint: String::new(),
            starting_position: "TRIM_HORIZON".into(),
            poll_interval_ms: 250,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn source() -> SourceConfig {
        SourceConfig {
            name: "orders".into(),
            endpoint: "https://dynamodb.eu-west-1.amazonaws.com".into(),
            region: "eu-west-1".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            table: "orders".into(),
            destination: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes".into(),
            lease_table: "sluice-leases".into(),
            ..SourceConfig::default()
        }
    }

    #[test]
    fn sources_are_checked_key_by_key() {
        assert_eq!(source().problem(0, &[]), None);
        let bad = |s: SourceConfig| s.problem(3, &[]).map(|(k, _)| k).unwrap_or_default();
        assert_eq!(bad(SourceConfig { name: "a b".into(), ..source() }), "bridge.sources[3].name");
        let e = source().problem(1, &[source()]).unwrap();
        assert_eq!(e.0, "bridge.sources[1].name");
        let s = SourceConfig { endpoint: "dynamodb.local:8000".into(), ..source() };
        assert_eq!(bad(s), "bridge.sources[3].endpoint");
        let s = SourceConfig { lease_endpoint: "http://h:1/x".into(), ..source() };
        assert_eq!(bad(s), "bridge.sources[3].lease_endpoint");
        assert_eq!(bad(SourceConfig { table: "ab".into(), ..source() }), "bridge.sources[3].table");
        let s = SourceConfig { destination: "orders-changes".into(), ..source() };
        assert_eq!(bad(s), "bridge.sources[3].destination");
        let s = SourceConfig { starting_position: "AT_TIMESTAMP".into(), ..source() };
        assert_eq!(bad(s), "bridge.sources[3].starting_position");
        let s = SourceConfig { secret_access_key: String::new(), ..source() };
        assert_eq!(bad(s), "bridge.sources[3].access_key_id");
        assert!(!format!("{:?}", source()).contains("\"secret\""));
    }
}
