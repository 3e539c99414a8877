//! The `[bridge]` section: how the bridge retries a Kinesis destination outside sluice,
//! and the remote destinations themselves (`[[bridge.remotes]]`).
//!
//! A destination whose StreamArn matches a remote's `stream_arn` is forwarded to that
//! remote's endpoint with signed PutRecords calls instead of into a local stream. The
//! remotes are a list of tables, so they live in the config file only: the environment
//! cannot express them (the loader says so when `SLUICE_BRIDGE_REMOTES` is set).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::bridge_source::SourceConfig;

/// The bridge's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// First pause before retrying a failed put to a remote destination; each further
    /// failure doubles it (with jitter) up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest pause between retries. Retries never stop: giving up would lose changes.
    pub retry_max_ms: u64,
    /// How long one PutRecords call (connect, send, answer) may take before it counts as
    /// failed and is retried.
    pub request_timeout_ms: u64,
    /// This instance's name in lease tables (`leaseOwner`); empty: host name and pid.
    pub worker_id: String,
    /// How long a lease lives without renewal: another instance takes a shard over once
    /// its lease went this long unrenewed, and the holder stops before then.
    pub lease_duration_ms: u64,
    /// Kinesis streams outside sluice that destinations forward to. Last, because TOML
    /// writes arrays of tables after plain keys.
    pub remotes: Vec<RemoteConfig>,
    /// External tables whose streams this sluice follows (`[[bridge.sources]]`).
    pub sources: Vec<SourceConfig>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            retry_initial_ms: 50,
            retry_max_ms: 5000,
            request_timeout_ms: 10_000,
            worker_id: String::new(),
            lease_duration_ms: 10_000,
            remotes: Vec::new(),
            sources: Vec::new(),
        }
    }
}

/// One Kinesis stream outside sluice.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// The stream's ARN, exactly as EnableKinesisStreamingDestination will name it.
    pub stream_arn: String,
    /// `http://host:port` of the Kinesis endpoint (no path).
    pub endpoint: String,
    /// The SigV4 signing region; empty means the ARN's region.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

// The secret must never reach a log line through `{:?}` of the whole config.
impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("stream_arn", &self.stream_arn)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl RemoteConfig {
    /// The region requests are signed for.
    pub fn signing_region(&self) -> &str {
        if !self.region.is_empty() {
            return &self.region;
        }
        arn_parts(&self.stream_arn).map_or("", |(region, _)| region)
    }

    /// The stream's name (from the ARN).
    pub fn stream_name(&self) -> &str {
        arn_parts(&self.stream_arn).map_or("", |(_, name)| name)
    }

    /// (https, host, port) of the endpoint; port 80 or 443 when the URL names none.
    pub fn host_port(&self) -> Option<(bool, &str, u16)> {
        let url = crate::engine::remote_tls::split_url(&self.endpoint)?;
        (url.path == "/" && !url.host.ends_with(':')).then_some((url.tls, url.host, url.port))
    }
}

/// Whether `arn` is a Kinesis stream ARN.
pub(super) fn is_stream_arn(arn: &str) -> bool {
    arn_parts(arn).is_some()
}

/// (region, stream name) of a Kinesis stream ARN.
fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (_, rest) = rest.split_once(":kinesis:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("stream/")?;
    let valid = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (valid && !region.is_empty() && !name.is_empty()).then_some((region, name))
}

impl BridgeConfig {
    /// The remote configured for `stream_arn`, if any.
    pub fn remote(&self, stream_arn: &str) -> Option<&RemoteConfig> {
        self.remotes.iter().find(|r| r.stream_arn == stream_arn)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            return bad(
                "bridge.retry_initial_ms".into(),
                "must be at least 1 and at most bridge.retry_max_ms",
            );
        }
        if self.request_timeout_ms == 0 {
            return bad("bridge.request_timeout_ms".into(), "must be at least 1");
        }
        if !(100..=3_600_000).contains(&self.lease_duration_ms) {
            return bad("bridge.lease_duration_ms".into(), "must be 100 to 3600000");
        }
        if self.worker_id.len() > 256 {
            return bad("bridge.worker_id".into(), "must be at most 256 characters");
        }
        for (i, s) in self.sources.iter().enumerate() {
            if let Some((key, why)) = s.problem(i, &self.sources[..i]) {
                return bad(key, &why);
            }
        }
        for (i, r) in self.remotes.iter().enumerate() {
            let key = |field: &str| format!("bridge.remotes[{i}].{field}");
            if arn_parts(&r.stream_arn).is_none() {
                return bad(
                    key("stream_arn"),
                    "must be a Kinesis stream ARN such as arn:aws:kinesis:us-east-1:123456789012:stream/name",
                );
            }
            if self.remotes[..i].iter().any(|o| o.stream_arn == r.stream_arn) {
                return bad(key("stream_arn"), "names the same stream as an earlier remote");
            }
            if r.host_port().is_none() {
                return bad(
                    key("endpoint"),
                    "must be a URL such as http://127.0.0.1:4567 or https://kinesis.us-east-1.amazonaws.com (no path)",
                );
            }
            if r.access_key_id.is_empty() || r.secret_access_key.is_empty() {
                return bad(
                    key("access_key_id"),
                    "access_key_id and secret_access_key must not be empty",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(arn: &str, endpoint: &str) -> RemoteConfig {
        RemoteConfig {
            stream_arn: arn.into(),
            endpoint: endpoint.into(),
            region: String::new(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
        }
    }

    const ARN: &str = "arn:aws:kinesis:eu-west-1:123456789012:stream/feed";

    #[test]
    fn endpoints_and_regions_are_read_from_the_url_and_arn() {
        let r = remote(ARN, "http://kinesis.local:4567/");
        assert_eq!(r.host_port(), Some((false, "kinesis.local", 4567)));
        assert_eq!((r.signing_region(), r.stream_name()), ("eu-west-1", "feed"));
        assert_eq!(remote(ARN, "http://h").host_port(), Some((false, "h", 80)));
        assert_eq!(remote(ARN, "http://[::1]:9").host_port(), Some((false, "[::1]", 9)));
        assert_eq!(remote(ARN, "http://[::1]").host_port(), Some((false, "[::1]", 80)));
        assert_eq!(remote(ARN, "https://k.example").host_port(), Some((true, "k.example", 443)));
        assert_eq!(remote(ARN, "http://h:1/path").host_port(), None);
        assert_eq!(remote(ARN, "h:1").host_port(), None);
        let r = RemoteConfig { region: "us-west-2".into(), ..r };
        assert_eq!(r.signing_region(), "us-west-2");
        assert!(!format!("{r:?}").contains("secret\""), "{r:?}");
    }

    #[test]
    fn bad_remotes_are_named() {
        let check = |r: RemoteConfig| {
            BridgeConfig { remotes: vec![r], ..BridgeConfig::default() }
                .validate()
                .map_err(|e| e.to_string())
        };
        assert!(check(remote(ARN, "http://127.0.0.1:4567")).is_ok());
        let e = check(remote("arn:aws:s3:::bucket", "http://h:1")).unwrap_err();
        assert!(e.contains("bridge.remotes[0].stream_arn"), "{e}");
        assert!(check(remote(ARN, "https://kinesis.eu-west-1.amazonaws.com")).is_ok());
        let e = check(remote(ARN, "https://h:1/path")).unwrap_err();
        assert!(e.contains("bridge.remotes[0].endpoint"), "{e}");
        let e = check(remote(ARN, "ftp://h")).unwrap_err();
        assert!(e.contains("bridge.remotes[0].endpoint"), "{e}");
        let e = check(RemoteConfig { access_key_id: String::new(), ..remote(ARN, "http://h") })
            .unwrap_err();
        assert!(e.contains("access_key_id"), "{e}");
        let twice = BridgeConfig {
            remotes: vec![remote(ARN, "http://a"), remote(ARN, "http://b")],
            ..BridgeConfig::default()
        };
        let e = twice.validate().unwrap_err().to_string();
        assert!(e.contains("bridge.remotes[1].stream_arn"), "{e}");
        let slow = BridgeConfig { retry_initial_ms: 10, retry_max_ms: 5, ..Default::default() };
        assert!(slow.validate().is_err());
    }

    #[test]
    fn remotes_come_from_the_file_only() {
        let load = |text: &str, env: &[(&str, &str)]| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.toml");
            std::fs::write(&path, text).unwrap();
            let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
            super::super::Config::load(Some(&path), env, &Default::default())
        };
        let file = format!(
            "[bridge]\nretry_max_ms = 100\n[[bridge.remotes]]\nstream_arn = \"{ARN}\"\nendpoint = \"http://127.0.0.1:9\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\n"
        );
        let c = load(&file, &[("SLUICE_BRIDGE_RETRY_INITIAL_MS", "7")]).unwrap();
        assert_eq!((c.bridge.retry_initial_ms, c.bridge.retry_max_ms), (7, 100));
        assert_eq!(c.bridge.remote(ARN).map(|r| r.endpoint.as_str()), Some("http://127.0.0.1:9"));
        assert!(c.bridge.remote("arn:aws:kinesis:eu-west-1:123456789012:stream/x").is_none());
        let e = load(&file.replace("endpoint", "endpont"), &[]).unwrap_err().to_string();
        assert!(e.contains("endpont"), "{e}");
        let e = load("", &[("SLUICE_BRIDGE_REMOTES", "[]")]).unwrap_err().to_string();
        assert!(e.contains("cannot be set from the environment"), "{e}");
    }
}
