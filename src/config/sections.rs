//! The small sections of the config: `[server]`, `[storage]`, `[aws]`, `[dynamodb]`,
//! `[streams]`, `[kinesis]`, `[metrics]` and `[log]`, with their defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::auth;

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
    /// with): a key is rotated by making it previous and naming a new current one. Alone,
    /// they turn encryption off: new values are written in the clear.
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
