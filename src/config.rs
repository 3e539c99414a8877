//! The one `Config` struct and its loader: defaults < config file < `SLUICE_*` env < CLI flags.
//!
//! Unknown keys are errors everywhere (file and environment), so a typo never silently
//! falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod auth;
mod bootstrap;
mod bridge;
mod bridge_source;
mod faults;
mod lambda;
mod tls;
pub use auth::{AuthConfig, AuthKey};
pub use bootstrap::{
    BootstrapConfig, BootstrapConsumer, BootstrapIndex, BootstrapKey, BootstrapMapping,
    BootstrapStream, BootstrapTable,
};
pub use bridge::{BridgeConfig, RemoteConfig};
pub use bridge_source::SourceConfig;
pub use faults::{FaultSpec, FaultsConfig};
pub use lambda::{FunctionConfig, FunctionKind, LambdaConfig, valid_function_name};
pub use tls::TlsConfig;

/// Everything sluice can be configured with. `config/sluice.toml` documents each key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub storage: StorageConfig,
    pub aws: AwsConfig,
    pub dynamodb: DynamoDbConfig,
    pub streams: StreamsConfig,
    pub kinesis: KinesisConfig,
    pub bridge: BridgeConfig,
    pub lambda: LambdaConfig,
    pub tls: TlsConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub bootstrap: BootstrapConfig,
    pub faults: FaultsConfig,
}

/// The metrics catalog's options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Export per-shard Kinesis series (`sluice_kinesis_shard_*`) as well as per-stream
    /// ones. Off by default: shard labels multiply the series count.
    pub per_shard: bool,
}

/// Kinesis Data Streams.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KinesisConfig {
    /// How long a new stream reports CREATING (data operations answer
    /// ResourceNotFoundException meanwhile, as on AWS).
    pub create_stream_delay_ms: u64,
    /// How long a stream reports UPDATING after resharding, a mode change or an encryption
    /// change (reads and writes go on; other updates are refused meanwhile).
    pub update_stream_delay_ms: u64,
    /// Enforce AWS's per-shard limits (1 MiB/s or 1,000 records/s in; 5 reads/s and
    /// 2 MiB/s out) with ProvisionedThroughputExceededException.
    pub enforce_limits: bool,
    /// How often the retention trimmer runs.
    pub trim_interval_ms: u64,
    /// The account's shard limit (DescribeLimits; CreateStream and resharding past it
    /// answer LimitExceededException). AWS: 500 in the largest regions, 200 elsewhere.
    pub shard_limit: u32,
    /// How long a new fan-out consumer reports CREATING (SubscribeToShard is refused
    /// meanwhile). AWS takes seconds; a short non-zero default keeps clients' wait for
    /// ACTIVE exercised.
    pub consumer_create_delay_ms: u64,
    /// How long a deregistered consumer reports DELETING before it is gone.
    pub consumer_delete_delay_ms: u64,
    /// How long one SubscribeToShard stream lasts before it ends cleanly (AWS: 5 minutes).
    pub subscription_lifetime_ms: u64,
    /// How long an idle subscription waits before sending an empty event (AWS: about 5 s).
    pub subscription_heartbeat_ms: u64,
    /// The same consumer and shard subscribing again within this window is refused with
    /// ResourceInUseException; after it, the new call takes over (AWS: 5 s).
    pub subscription_takeover_ms: u64,
}

impl Default for KinesisConfig {
    fn default() -> Self {
        KinesisConfig {
            create_stream_delay_ms: 0,
            update_stream_delay_ms: 0,
            enforce_limits: false,
            trim_interval_ms: 1000,
            shard_limit: 500,
            consumer_create_delay_ms: 500,
            consumer_delete_delay_ms: 500,
            subscription_lifetime_ms: 300_000,
            subscription_heartbeat_ms: 5000,
            subscription_takeover_ms: 5000,
        }
    }
}

/// DynamoDB Streams.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StreamsConfig {
    /// How long change records stay readable (AWS: 24 hours).
    pub retention_seconds: u64,
    /// How long a shard stays open before it closes and a child takes over (AWS rolls
    /// shards over about every 4 hours).
    pub shard_rollover_seconds: u64,
    /// How often rollover and trimming run.
    pub maintenance_interval_ms: u64,
    /// How long a shard iterator stays usable: GetRecords answers
    /// ExpiredIteratorException after it (AWS: 15 minutes). Shorter lets a test see the
    /// expiry without waiting for it.
    pub iterator_lifetime_seconds: u64,
    /// Refuse a third reader of one shard (GetRecords answers LimitExceededException
    /// while two other iterator chains read it), as AWS throttles more than two readers.
    pub enforce_limits: bool,
    /// How long DescribeStream reports ENABLING after a stream is enabled, and DISABLING
    /// after it is disabled, before ENABLED or DISABLED (AWS passes through both; 0 reports
    /// the end state at once). Records are captured from the enabling either way.
    pub status_delay_ms: u64,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            retention_seconds: 24 * 3600,
            shard_rollover_seconds: 4 * 3600,
            maintenance_interval_ms: 1000,
            iterator_lifetime_seconds: 15 * 60,
            enforce_limits: false,
            status_delay_ms: 0,
        }
    }
}

/// The HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the one listener (HTTP/1.1 and h2c on the same port).
    pub listen: String,
    /// Largest request body accepted; larger ones get 413 as AWS answers.
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    pub shutdown_grace_seconds: u64,
    /// An extra listener serving only `/metrics` and `/health` (e.g. `0.0.0.0:9100`),
    /// for scrapers kept off the API port; empty for none. The API port serves both too.
    pub metrics_listen: String,
    /// PEM certificate chain: when set (with `tls_key`), the listener speaks TLS with
    /// ALPN `h2` and `http/1.1` instead of cleartext. Empty for none.
    pub tls_cert: String,
    /// PEM private key of `tls_cert`.
    pub tls_key: String,
    /// Most connections served at once; beyond it new connections wait in the listen
    /// backlog, unaccepted, until one closes.
    pub max_connections: usize,
    /// How long an HTTP/1.1 client may take to send a request's headers, counted from
    /// the end of its previous request, so it also closes idle keep-alive connections.
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request's body once its headers are in
    /// (HTTP/1.1 and HTTP/2); past it the request is answered 408 and not run.
    pub request_read_timeout_ms: u64,
    /// HTTP/2: a PING every this often on a connection, which is closed when one goes
    /// unanswered for 20 s (dead peers), however long its streams last.
    pub http2_keepalive_interval_ms: u64,
    /// Largest request head (request line and headers; HTTP/2: the header list), in
    /// bytes; larger ones get 431 (at least 8192).
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1.1 request; more get 431 (at most
    /// `max_header_bytes / 3`: hyper reserves room for this many on every request).
    pub max_headers: usize,
    /// Memory, estimated, that the inputs of all requests being decoded and handled at
    /// once may take (see `RequestBody::decode_cost`); a request that does not fit
    /// waits, one larger than all of it runs alone (at least 1 MiB).
    pub max_decode_bytes: usize,
    /// A connection with no request in progress for this long is closed (HTTP/2: GOAWAY,
    /// after which the client opens a new one). Streams in progress, such as a 5-minute
    /// SubscribeToShard, are never cut by it; HTTP/2 PINGs do not count as requests, and
    /// a connection that never sends anything is closed after it too.
    pub idle_timeout_ms: u64,
    /// HTTP/2: most streams a client may have open at once on one connection; streams
    /// beyond it are refused (REFUSED_STREAM, which clients retry).
    pub http2_max_concurrent_streams: u32,
}

/// Where and how durably data is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Keep nothing after exit: a temporary store, no fsync.
    pub in_memory: bool,
    /// `fsync` (reply after the group's fsync), `batch` (fsync every
    /// `batch_interval_ms`), or `none` (leave it to the OS).
    pub durability: Durability,
    /// Interval of the background fsync when `durability = "batch"`.
    pub batch_interval_ms: u64,
    /// Most writes grouped into one storage batch and one fsync.
    pub max_group_writes: usize,
    /// Refuse writes (InternalServerError) while the data directory's filesystem has
    /// less free space than this, before the store itself runs out: a store that fails
    /// a journal write stops taking writes until sluice restarts, a refused write does
    /// not, so writes resume as soon as space returns. 0 turns the check off.
    pub min_free_bytes: u64,
    /// Bytes of the store's block cache (decompressed blocks of on-disk tables).
    pub cache_bytes: u64,
    /// Most bytes of the in-memory write buffers (memtables) of all keyspaces together:
    /// past it the commit thread seals them all and waits for their flushes. With
    /// `cache_bytes` it bounds the store's memory. One keyspace's memtable is sealed at
    /// half of it (fixed when a keyspace is created).
    pub memtable_bytes: u64,
    /// A 256-bit key (32 bytes, or 64 hex digits): every value stored is sealed with it
    /// (AES-256-GCM). Empty: values are stored as they are.
    pub encryption_key_file: String,
    /// Keys values were sealed with before `encryption_key_file` (read, never written
    /// with): a key is rotated by making it previous and naming a new current one.
    pub previous_encryption_key_files: Vec<String>,
}

/// How a write becomes durable before it is acknowledged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Fsync,
    Batch,
    None,
}

/// Identity that ARNs and responses carry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// The default account: requests whose access key maps to no other are this
    /// account's (ARNs carry it).
    pub account_id: String,
    /// Region used when a request carries no SigV4 credential scope.
    pub region: String,
    /// Access key id -> account id: each key's requests are that account's, its
    /// resources invisible to other accounts (`[[auth.keys]]` may also say it, as
    /// `account_id`). Keys not listed are `account_id`'s.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub accounts: std::collections::BTreeMap<String, String>,
}

impl AwsConfig {
    /// The account of requests signed with `access_key_id`.
    pub fn account_of<'a>(&'a self, access_key_id: &str, keys: &'a auth::AuthConfig) -> &'a str {
        keys.keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .and_then(|k| k.account_id.as_deref())
            .or_else(|| self.accounts.get(access_key_id).map(String::as_str))
            .unwrap_or(&self.account_id)
    }
}

/// DynamoDB table behaviour.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoDbConfig {
    /// Writer partitions per table: each owns a hash range of partition keys, its
    /// writes and, later, one stream shard's sequence numbers.
    pub partitions_per_table: u32,
    /// How long a new table stays CREATING before it turns ACTIVE.
    pub create_table_delay_ms: u64,
    /// How often the Time to Live task looks for expired items in tables with TTL on.
    pub ttl_scan_interval_ms: u64,
    /// How long after an UpdateTimeToLive another one is refused (AWS documents an
    /// hour); 0 turns the rule off.
    pub ttl_update_cooldown_ms: u64,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `sluice=debug`; `RUST_LOG` wins when set.
    pub level: String,
    /// `text` (human-readable) or `json` (one JSON object per line, for log shippers).
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8000".into(),
            max_body_bytes: 16 * 1024 * 1024,
            shutdown_grace_seconds: 10,
            metrics_listen: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            max_connections: 10_000,
            header_read_timeout_ms: 30_000,
            request_read_timeout_ms: 60_000,
            http2_keepalive_interval_ms: 30_000,
            max_header_bytes: 65_536,
            max_headers: 100,
            max_decode_bytes: 256 * 1024 * 1024,
            idle_timeout_ms: 60_000,
            http2_max_concurrent_streams: 200,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            in_memory: false,
            durability: Durability::Fsync,
            batch_interval_ms: 10,
            max_group_writes: 1024,
            min_free_bytes: 256 * 1024 * 1024,
            cache_bytes: 32 * 1024 * 1024,
            memtable_bytes: 64 * 1024 * 1024,
            encryption_key_file: String::new(),
            previous_encryption_key_files: Vec::new(),
        }
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            accounts: Default::default(),
        }
    }
}

impl Default for DynamoDbConfig {
    fn default() -> Self {
        DynamoDbConfig {
            partitions_per_table: 4,
            create_table_delay_ms: 0,
            ttl_scan_interval_ms: 1000,
            ttl_update_cooldown_ms: 3_600_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info,fjall=warn,lsm_tree=warn".into(), format: LogFormat::Text }
    }
}

/// Command-line overrides (the highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub port: Option<u16>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub in_memory: bool,
}

/// Why a configuration could not be loaded; each names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The default config file, used when it exists and `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/sluice.toml";

impl Config {
    /// Loads defaults, then `file` (or the default file if present), then `SLUICE_*`
    /// variables from `env`, then `overrides`, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.exists()),
        };
        let file = match path {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(source) => return Err(ConfigError::Read { path, source }),
            },
            None => None,
        };
        Config::load_text(file.as_ref().map(|(p, t)| (p.as_path(), t.as_str())), env, overrides)
    }

    /// [`Config::load`] with the file's text already read: `(path, text)`, the path only
    /// naming it in errors. The config fuzz target drives this.
    pub fn load_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some((path, text)) = file {
            let path = path.to_path_buf();
            let from_file: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                ConfigError::File { path: path.clone(), message: e.to_string() }
            })?;
            // Deserialize the file alone first so unknown keys are reported against it.
            Config::from_table(from_file.clone())
                .map_err(|message| ConfigError::File { path: path.clone(), message })?;
            merge(&mut tree, from_file);
        }
        let mut env: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| k.starts_with("SLUICE_")).collect();
        env.sort();
        for (var, value) in env {
            apply_env(&mut tree, &var, &value)?;
        }
        let mut config = Config::from_table(tree).map_err(ConfigError::Invalid)?;
        if let Some(listen) = &overrides.listen {
            config.server.listen = listen.clone();
        }
        if let Some(port) = overrides.port {
            let addr = config.listen_addr()?;
            config.server.listen = SocketAddr::new(addr.ip(), port).to_string();
        }
        if let Some(dir) = &overrides.data_dir {
            config.storage.data_dir = dir.clone();
        }
        if overrides.in_memory {
            config.storage.in_memory = true;
        }
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> Result<Config, String> {
        Config::deserialize(toml::Value::Table(table)).map_err(|e| e.message().to_string())
    }

    /// The listener address: an IP address and port, or a host name and port
    /// (`localhost:8000`), resolved as every server resolves it (IPv4 first).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        resolve(&self.server.listen).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "server.listen: '{}' is not an address such as 127.0.0.1:8000 or localhost:8000",
                self.server.listen
            ))
        })
    }

    /// The extra metrics listener's address, if one is configured.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.server.metrics_listen.is_empty() {
            return Ok(None);
        }
        resolve(&self.server.metrics_listen).map(Some).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "server.metrics_listen: '{}' is not an address such as 0.0.0.0:9100",
                self.server.metrics_listen
            ))
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.metrics_addr()?;
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        if self.dynamodb.partitions_per_table == 0 || self.dynamodb.partitions_per_table > 256 {
            return bad("dynamodb.partitions_per_table", "must be between 1 and 256");
        }
        if self.dynamodb.ttl_scan_interval_ms == 0 {
            return bad("dynamodb.ttl_scan_interval_ms", "must be at least 1");
        }
        if let Err(e) = crate::faults::Faults::new(&self.faults.rules, None) {
            return bad("faults.rules", &e);
        }
        if self.storage.memtable_bytes < 1024 * 1024 {
            return bad("storage.memtable_bytes", "must be at least 1048576");
        }
        if !self.storage.encryption_key_file.is_empty()
            || !self.storage.previous_encryption_key_files.is_empty()
        {
            if self.storage.encryption_key_file.is_empty() {
                return bad(
                    "storage.previous_encryption_key_files",
                    "needs storage.encryption_key_file (the key new values are sealed with)",
                );
            }
            for path in std::iter::once(&self.storage.encryption_key_file)
                .chain(&self.storage.previous_encryption_key_files)
            {
                if let Err(e) = crate::storage::seal::read_key_file(path) {
                    return bad("storage.encryption_key_file", &e);
                }
            }
        }
        if self.storage.max_group_writes == 0 {
            return bad("storage.max_group_writes", "must be at least 1");
        }
        if self.streams.retention_seconds == 0 || self.streams.shard_rollover_seconds == 0 {
            return bad(
                "streams",
                "retention_seconds and shard_rollover_seconds must be at least 1",
            );
        }
        if self.streams.maintenance_interval_ms == 0 {
            return bad("streams.maintenance_interval_ms", "must be at least 1");
        }
        if self.streams.iterator_lifetime_seconds == 0 {
            return bad("streams.iterator_lifetime_seconds", "must be at least 1");
        }
        if self.kinesis.trim_interval_ms == 0 {
            return bad("kinesis.trim_interval_ms", "must be at least 1");
        }
        if self.kinesis.subscription_lifetime_ms == 0 || self.kinesis.subscription_heartbeat_ms == 0
        {
            return bad(
                "kinesis",
                "subscription_lifetime_ms and subscription_heartbeat_ms must be at least 1",
            );
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            return bad("server.tls_cert", "tls_cert and tls_key must be set together");
        }
        let server = &self.server;
        if server.max_connections == 0
            || server.max_headers == 0
            || server.http2_max_concurrent_streams == 0
        {
            return bad(
                "server",
                "max_connections, max_headers and http2_max_concurrent_streams must be at least 1",
            );
        }
        if server.max_decode_bytes < 1024 * 1024 {
            return bad("server.max_decode_bytes", "must be at least 1048576");
        }
        if server.header_read_timeout_ms == 0
            || server.request_read_timeout_ms == 0
            || server.http2_keepalive_interval_ms == 0
            || server.idle_timeout_ms == 0
        {
            return bad(
                "server",
                "header_read_timeout_ms, request_read_timeout_ms, http2_keepalive_interval_ms and idle_timeout_ms must be at least 1",
            );
        }
        if server.max_header_bytes < 8192 || server.max_header_bytes > u32::MAX as usize {
            return bad("server.max_header_bytes", "must be between 8192 and 4294967295");
        }
        // One permit a connection: tokio's semaphore panics above MAX_PERMITS.
        let most_connections = tokio::sync::Semaphore::MAX_PERMITS;
        if server.max_connections > most_connections {
            return bad("server.max_connections", &format!("must be at most {most_connections}"));
        }
        // hyper sets aside room for `max_headers` fields on every HTTP/1.1 request; a
        // field line takes at least 3 bytes (`a:` and a newline), so more than that many
        // cannot fit in `max_header_bytes` and would only cost memory per request.
        if server.max_headers > server.max_header_bytes / 3 {
            return bad("server.max_headers", "must be at most max_header_bytes / 3");
        }
        if self.storage.batch_interval_ms == 0 {
            return bad("storage.batch_interval_ms", "must be at least 1");
        }
        if self.aws.account_id.len() != 12
            || !self.aws.account_id.bytes().all(|b| b.is_ascii_digit())
        {
            return bad("aws.account_id", "must be 12 digits");
        }
        let twelve_digits = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
        if let Some((key, _)) = self.aws.accounts.iter().find(|(_, a)| !twelve_digits(a)) {
            return bad(&format!("aws.accounts.{key}"), "must be 12 digits");
        }
        if let Some(k) =
            self.auth.keys.iter().find(|k| !k.account_id.as_deref().is_none_or(twelve_digits))
        {
            return bad(
                &format!("auth.keys ({}).account_id", k.access_key_id),
                "must be 12 digits",
            );
        }
        if self.aws.region.is_empty() {
            return bad("aws.region", "must not be empty");
        }
        self.bridge.validate()?;
        self.auth.validate()?;
        self.tls.validate()?;
        self.lambda.validate()
    }
}

/// Overlays `from` onto `into`, table by table.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Applies `SLUICE_<SECTION>_<KEY>=value`, typing the value like the key's default.
fn apply_env(tree: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError::Env { var: var.to_string(), message };
    let rest = var["SLUICE_".len()..].to_ascii_lowercase();
    let (section, key) = tree
        .keys()
        .filter_map(|s| rest.strip_prefix(&format!("{s}_")).map(|k| (s.clone(), k.to_string())))
        .next()
        .ok_or_else(|| {
            err(format!("no config section matches; sections are {}", section_names(tree)))
        })?;
    let Some(toml::Value::Table(table)) = tree.get_mut(&section) else {
        return Err(err(format!("{section} is not a section")));
    };
    let Some(current) = table.get(&key) else {
        let keys: Vec<_> = table.keys().map(|k| format!("{section}.{k}")).collect();
        return Err(err(format!("unknown key {section}.{key}; known keys: {}", keys.join(", "))));
    };
    let typed = match current {
        toml::Value::String(_) => toml::Value::String(value.to_string()),
        toml::Value::Integer(_) => value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| err(format!("{section}.{key} must be an integer, got '{value}'")))?,
        toml::Value::Boolean(_) => value
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| err(format!("{section}.{key} must be true or false, got '{value}'")))?,
        toml::Value::Float(_) => value
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| err(format!("{section}.{key} must be a number, got '{value}'")))?,
        _ => return Err(err(format!("{section}.{key} cannot be set from the environment"))),
    };
    table.insert(key, typed);
    Ok(())
}

fn section_names(tree: &toml::Table) -> String {
    tree.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// `HOST:PORT` as a socket address: a literal address as it is, a name through the
/// system's resolver, its first IPv4 address preferred (what `localhost` means to most
/// clients), else its first address.
fn resolve(listen: &str) -> Option<SocketAddr> {
    if let Ok(addr) = listen.parse() {
        return Some(addr);
    }
    let all: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(listen).ok()?.collect();
    all.iter().find(|a| a.is_ipv4()).or(all.first()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        file: Option<&str>,
        env: &[(&str, &str)],
        o: &Overrides,
    ) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
        Config::load(file.map(|_| path.as_path()), env, o)
    }

    #[test]
    fn defaults_listen_on_8000_with_fsync() {
        let c = load(Some(""), &[], &Overrides::default()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8000");
        assert_eq!(c.storage.durability, Durability::Fsync);
        assert_eq!(c.aws.account_id, "000000000000");
    }

    #[test]
    fn precedence_file_env_flags() {
        let file = "[storage]\ndurability = \"batch\"\n[aws]\nregion = \"eu-west-1\"\n";
        let env = [("SLUICE_AWS_REGION", "ap-south-1"), ("SLUICE_STORAGE_DATA_DIR", "/x")];
        let o = Overrides { port: Some(9000), ..Default::default() };
        let c = load(Some(file), &env, &o).unwrap();
        assert_eq!(c.storage.durability, Durability::Batch);
        assert_eq!(c.aws.region, "ap-south-1");
        assert_eq!(c.storage.data_dir, PathBuf::from("/x"));
        assert_eq!(c.server.listen, "127.0.0.1:9000");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = load(Some("[storage]\ndurabilty = \"none\"\n"), &[], &Overrides::default())
            .unwrap_err();
        assert!(e.to_string().contains("durabilty"), "{e}");
        let e = load(None, &[("SLUICE_STORAGE_NOPE", "1")], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("SLUICE_STORAGE_NOPE"), "{e}");
        let e = load(None, &[("SLUICE_NOPE", "1")], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("SLUICE_NOPE"), "{e}");
    }

    #[test]
    fn every_key_is_documented_in_the_shipped_config_and_settable_by_env() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sluice.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let shipped: toml::Table = text.parse().unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        // The shipped file spells out every key with its default value.
        assert_eq!(shipped, defaults, "config/sluice.toml must list every key at its default");
        // Each key has a comment line right above it.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains(" = ") && !line.starts_with('#') {
                assert!(lines[i - 1].starts_with('#'), "undocumented key: {line}");
            }
        }
        // And each can be set from the environment, typed like its default, except lists
        // of tables (`bridge.remotes`, the bootstrap lists), which only the file can express.
        for (section, keys) in &defaults {
            for (key, value) in keys.as_table().unwrap() {
                if value.is_array() {
                    let var = format!("SLUICE_{}_{}", section.to_uppercase(), key.to_uppercase());
                    let e = load(None, &[(&var, "[]")], &Overrides::default()).unwrap_err();
                    assert!(e.to_string().contains("cannot be set from the environment"), "{e}");
                    continue;
                }
                let var = format!("SLUICE_{}_{}", section.to_uppercase(), key.to_uppercase());
                let v = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                load(None, &[(&var, &v)], &Overrides::default())
                    .unwrap_or_else(|e| panic!("{var}={v}: {e}"));
            }
        }
    }

    #[test]
    fn the_compose_config_loads_and_declares_its_pipeline() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/compose.toml");
        let c = Config::load(Some(Path::new(path)), Vec::new(), &Overrides::default()).unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.bootstrap.kinesis_streams.len(), 1);
        assert_eq!(c.bootstrap.tables.len(), 1);
        assert_eq!(c.bootstrap.consumers.len(), 1);
    }

    #[test]
    fn log_format_and_metrics_listener_are_checked() {
        let c = load(Some("[log]\nformat = \"json\"\n"), &[], &Overrides::default()).unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        let e = load(None, &[("SLUICE_LOG_FORMAT", "xml")], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("xml"), "{e}");
        let e = load(None, &[("SLUICE_SERVER_METRICS_LISTEN", "nope")], &Overrides::default())
            .unwrap_err();
        assert!(e.to_string().contains("server.metrics_listen"), "{e}");
    }

    #[test]
    fn invalid_values_are_named() {
        let e = load(Some("[storage]\ndurability = \"sometimes\"\n"), &[], &Overrides::default())
            .unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
        let e = load(None, &[("SLUICE_DYNAMODB_PARTITIONS_PER_TABLE", "x")], &Overrides::default())
            .unwrap_err();
        assert!(e.to_string().contains("partitions_per_table"), "{e}");
        let e =
            load(Some("[server]\nlisten = \"nope\"\n"), &[], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("server.listen"), "{e}");
    }

    #[test]
    fn ttl_settings_come_from_the_environment_and_are_checked() {
        let c = load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(c.dynamodb.ttl_scan_interval_ms, 1000);
        assert_eq!(c.dynamodb.ttl_update_cooldown_ms, 3_600_000);
        let env = [
            ("SLUICE_DYNAMODB_TTL_SCAN_INTERVAL_MS", "25"),
            ("SLUICE_DYNAMODB_TTL_UPDATE_COOLDOWN_MS", "0"),
        ];
        let c = load(None, &env, &Overrides::default()).unwrap();
        assert_eq!((c.dynamodb.ttl_scan_interval_ms, c.dynamodb.ttl_update_cooldown_ms), (25, 0));
        let env = [("SLUICE_DYNAMODB_TTL_SCAN_INTERVAL_MS", "0")];
        let e = load(None, &env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("ttl_scan_interval_ms"), "{e}");
    }

    #[test]
    fn connection_and_header_limits_that_would_panic_or_cost_memory_are_refused() {
        let too_many = format!("[server]\nmax_connections = {}\n", u64::MAX >> 1);
        let e = load(Some(&too_many), &[], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("server.max_connections"), "{e}");
        let e = load(Some("[server]\nmax_headers = 1000000000\n"), &[], &Overrides::default())
            .unwrap_err();
        assert!(e.to_string().contains("server.max_headers"), "{e}");
        let c = load(
            Some("[server]\nmax_header_bytes = 8192\nmax_headers = 2730\n"),
            &[],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.server.max_headers, 2730);
    }

    #[test]
    fn store_memory_bounds_come_from_the_environment_and_are_checked() {
        let env = [
            ("SLUICE_STORAGE_CACHE_BYTES", "1000000"),
            ("SLUICE_STORAGE_MEMTABLE_BYTES", "2000000"),
        ];
        let c = load(None, &env, &Overrides::default()).unwrap();
        assert_eq!((c.storage.cache_bytes, c.storage.memtable_bytes), (1_000_000, 2_000_000));
        // A memtable that small would flush on nearly every commit: refused at start.
        let env = [("SLUICE_STORAGE_MEMTABLE_BYTES", "1000")];
        let e = load(None, &env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("storage.memtable_bytes"), "{e}");
    }

    #[test]
    fn the_listener_may_be_named_by_host_name() {
        let with = |listen: &str| {
            let overrides = Overrides { listen: Some(listen.into()), ..Overrides::default() };
            load(Some(""), &[], &overrides)
        };
        let c = with("localhost:8123").unwrap();
        assert_eq!(c.listen_addr().unwrap(), "127.0.0.1:8123".parse().unwrap());
        assert_eq!(
            with("[::1]:8123").unwrap().listen_addr().unwrap(),
            "[::1]:8123".parse().unwrap()
        );
        // No port: refused before any name is looked up.
        let err = with("localhost").unwrap_err().to_string();
        assert!(err.contains("is not an address such as 127.0.0.1:8000"), "{err}");
    }

    #[test]
    fn access_keys_map_to_accounts() {
        let text = "[aws.accounts]\nAKIDA = \"111122223333\"\n\
            [[auth.keys]]\naccess_key_id = \"AKIDB\"\nsecret_access_key = \"s\"\naccount_id = \"444455556666\"\n";
        let c = load(Some(text), &[], &Overrides::default()).unwrap();
        assert_eq!(c.aws.account_of("AKIDA", &c.auth), "111122223333");
        assert_eq!(c.aws.account_of("AKIDB", &c.auth), "444455556666");
        assert_eq!(c.aws.account_of("AKIDC", &c.auth), "000000000000");
        let bad = load(Some("[aws.accounts]\nAKIDA = \"12\"\n"), &[], &Overrides::default());
        assert!(bad.unwrap_err().to_string().contains("aws.accounts.AKIDA"));
        let bad =
            "[[auth.keys]]\naccess_key_id = \"K\"\nsecret_access_key = \"s\"\naccount_id = \"x\"\n";
        let err = load(Some(bad), &[], &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("account_id"), "{err}");
    }
}
