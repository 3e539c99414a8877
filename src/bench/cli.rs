//! `sluice bench <workload> [flags]`: the command line, parsed by clap from main.rs.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::pace::parse_duration;

/// A workload and its flags.
#[derive(Debug, Clone, Subcommand)]
pub enum Workload {
    /// PutItem of fresh items on random keys of the key space.
    PutItem(TableArgs),
    /// UpdateItem (SET a payload, ADD a counter) on random keys.
    UpdateItem(TableArgs),
    /// GetItem of random keys, after loading the key space.
    GetItem(TableArgs),
    /// Query of one random partition (`--items-per-key` items each), after loading.
    Query(QueryArgs),
    /// GetItem and PutItem on random keys, `--read-ratio` of them reads, after loading.
    Mixed(MixedArgs),
    /// Kinesis PutRecords batches to a fresh stream.
    PutRecords(PutRecordsArgs),
    /// PutItem to a table with a DynamoDB stream and a Kinesis destination, read back
    /// by fan-out subscribers, a destination GetRecords poller and a DynamoDB Streams
    /// poller: write-to-delivery latency per path.
    E2e(E2eArgs),
    /// PutItem to a table with a DynamoDB stream read by Lambda event source mappings
    /// that invoke a no-op Invoke-API server this process runs: write-to-handler latency
    /// and delivered records/s per mapping.
    Triggers(TriggersArgs),
    /// The source bridge: a table with a stream at `--endpoint` forwarded by
    /// `--instances` sluice bridge instances this process starts into a stream at
    /// `--destination`: the drain rate of a backlog, and write-to-destination latency.
    SourceBridge(SourceArgs),
    /// Creates `--count` tables and reports the target's RSS before and after: what an
    /// idle table costs.
    Tables(TablesArgs),
    /// Opens `--count` keep-alive connections (one ListTables each) and holds them idle:
    /// the target's RSS before and after, what an idle connection costs.
    Connections(ConnectionsArgs),
    /// Opens `--count` SubscribeToShard streams over a large backlog and never reads
    /// them: the target's RSS before and after, what an unread subscription costs.
    Subscriptions(SubscriptionsArgs),
    /// No endpoint: appends and fdatasyncs a file in `--dir`, one after another, for the
    /// latency of one durable commit on that disk (the bound of group-committed writes).
    Fsync(FsyncArgs),
    /// Only the in-process HTTP+JSON ceiling server, driven with PutItem bodies.
    Ceiling(Common),
}

/// Flags every workload takes.
#[derive(Debug, Clone, Args, Serialize)]
pub struct Common {
    /// The endpoint under test: http://host:port (sluice, DynamoDB Local, LocalStack...).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub endpoint: String,
    /// Region in the signature's credential scope.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Access key id requests are signed with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "test")]
    pub access_key: String,
    /// Secret key requests are signed with.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "test", hide_env_values = true)]
    #[serde(skip)]
    pub secret_key: String,
    /// Connections, each with one request in flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// How long to drive (10, 10s, 500ms, 2m); ignored when --requests is given.
    #[arg(long, short = 'd', default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Send exactly this many requests instead of running for --duration.
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,
    /// Approximate item size in bytes, as DynamoDB counts it (names plus values).
    #[arg(long, default_value_t = 200)]
    pub item_size: usize,
    /// Distinct partition keys written and read.
    #[arg(long, default_value_t = 10_000)]
    pub key_space: u64,
    /// Cap on requests per second over all connections (writes, for e2e); 0 = none.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Also drive the in-process ceiling server first and report the ratio.
    #[arg(long)]
    pub with_ceiling: bool,
    /// Print the summary as JSON on stdout (the progress line stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Leave the created tables and streams in place.
    #[arg(long)]
    pub keep: bool,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Table workloads: what the table has switched on.
#[derive(Debug, Clone, Args, Serialize)]
pub struct TableArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Enable a NEW_AND_OLD_IMAGES DynamoDB stream on the table.
    #[arg(long)]
    pub stream: bool,
    /// Add a Kinesis streaming destination (a fresh stream of --shards shards).
    #[arg(long)]
    pub destination: bool,
    /// Shards of the destination stream.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct QueryArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub table: TableArgs,
    /// Items under each partition key; each Query returns all of them.
    #[arg(long, default_value_t = 10)]
    pub items_per_key: u64,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct MixedArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub table: TableArgs,
    /// Fraction of requests that are GetItem (the rest PutItem), 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    pub read_ratio: f64,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct PutRecordsArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Records per PutRecords call (1 to 500).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 200)]
    pub record_size: usize,
    /// Shards of the stream.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Records of random bytes (drawn from a pool of distinct ones) instead of one
    /// repeated byte: data that compression cannot shrink, as most real payloads are
    /// less compressible than `xxxx...`.
    #[arg(long)]
    pub random_data: bool,
    /// Prometheus text to read process_resident_memory_bytes from at start and end
    /// (default: the endpoint's /metrics; skipped when it serves none).
    #[arg(long)]
    pub metrics_url: Option<String>,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct E2eArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Enhanced fan-out consumers, each subscribed to every shard.
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// Shards of the destination stream.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Pause of a GetRecords poller after an empty answer.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    #[serde(serialize_with = "secs")]
    pub poll_interval: Duration,
    /// How long to wait after the last write for every path to catch up.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "secs")]
    pub drain: Duration,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct TablesArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Tables to create.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Give each table a NEW_AND_OLD_IMAGES DynamoDB stream.
    #[arg(long)]
    pub stream: bool,
    /// Prometheus text to read process_resident_memory_bytes from before and after
    /// (default: the endpoint's /metrics).
    #[arg(long)]
    pub metrics_url: Option<String>,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Prometheus text to read process_resident_memory_bytes from before and after
    /// (default: the endpoint's /metrics).
    #[arg(long)]
    pub metrics_url: Option<String>,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct SubscriptionsArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// SubscribeToShard streams to open and never read (20 consumers a stream, so
    /// count / 20 shards).
    #[arg(long, default_value_t = 80)]
    pub count: usize,
    /// MiB of 1,000-byte records put in each shard first, so no reader can catch up.
    #[arg(long, default_value_t = 16)]
    pub backlog_mib: usize,
    /// Seconds to wait after the last subscription opened before reading the RSS.
    #[arg(long, default_value_t = 5)]
    pub settle_seconds: u64,
    /// Prometheus text to read process_resident_memory_bytes from before and after
    /// (default: the endpoint's /metrics).
    #[arg(long)]
    pub metrics_url: Option<String>,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct FsyncArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// The directory whose disk is probed (sluice's data directory, say).
    #[arg(long, default_value = ".")]
    pub dir: String,
    /// Bytes appended before each sync.
    #[arg(long, default_value_t = 4096)]
    pub write_size: usize,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct SourceArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// The Kinesis endpoint the bridges forward into (http://host:port).
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub destination: String,
    /// Bridge instances sharing the source's shards (this binary, on unsynced stores).
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Shards of the destination stream.
    #[arg(long, default_value_t = 6)]
    pub shards: u32,
    /// Items written before the bridges start: their drain rate is the throughput.
    #[arg(long, default_value_t = 0)]
    pub backlog: u64,
    /// bridge.lease_duration_ms of the instances.
    #[arg(long, default_value_t = 10_000)]
    pub lease_duration_ms: u64,
    /// poll_interval_ms of the source.
    #[arg(long, default_value_t = 250)]
    pub poll_interval_ms: u64,
    /// How long to wait for the bridges to catch up (the backlog, then the writes).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    #[serde(serialize_with = "secs")]
    pub drain: Duration,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct TriggersArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Event source mappings on the table's stream, each invoking its own function.
    #[arg(long, default_value_t = 1)]
    pub mappings: usize,
    /// BatchSize of every mapping (1 to 10000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: u32,
    /// MaximumBatchingWindowInSeconds of every mapping (0 to 300).
    #[arg(long, default_value_t = 0)]
    pub batching_window: u32,
    /// Items written before the mappings exist (they start at TRIM_HORIZON): their
    /// delivery rate is the mappings' throughput.
    #[arg(long, default_value_t = 0)]
    pub backlog: u64,
    /// Where this process serves the Invoke API the endpoint must call (start sluice
    /// with SLUICE_LAMBDA_ENDPOINT=http://<this address>).
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub handler_listen: String,
    /// How long to wait after the last write for every mapping to catch up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    #[serde(serialize_with = "secs")]
    pub drain: Duration,
}

impl Workload {
    pub fn name(&self) -> &'static str {
        match self {
            Workload::PutItem(_) => "put-item",
            Workload::UpdateItem(_) => "update-item",
            Workload::GetItem(_) => "get-item",
            Workload::Query(_) => "query",
            Workload::Mixed(_) => "mixed",
            Workload::PutRecords(_) => "put-records",
            Workload::E2e(_) => "e2e",
            Workload::Triggers(_) => "triggers",
            Workload::SourceBridge(_) => "source-bridge",
            Workload::Fsync(_) => "fsync",
            Workload::Tables(_) => "tables",
            Workload::Connections(_) => "connections",
            Workload::Subscriptions(_) => "subscriptions",
            Workload::Ceiling(_) => "ceiling",
        }
    }

    pub fn common(&self) -> &Common {
        match self {
            Workload::PutItem(t) | Workload::UpdateItem(t) | Workload::GetItem(t) => &t.common,
            Workload::Query(q) => &q.table.common,
            Workload::Mixed(m) => &m.table.common,
            Workload::PutRecords(p) => &p.common,
            Workload::E2e(e) => &e.common,
            Workload::Triggers(t) => &t.common,
            Workload::SourceBridge(s) => &s.common,
            Workload::Fsync(f) => &f.common,
            Workload::Tables(t) => &t.common,
            Workload::Connections(c) => &c.common,
            Workload::Subscriptions(s) => &s.common,
            Workload::Ceiling(c) => c,
        }
    }

    /// The flags as the JSON summary records them (no secret key).
    pub fn settings(&self) -> serde_json::Value {
        let v = match self {
            Workload::PutItem(t) | Workload::UpdateItem(t) | Workload::GetItem(t) => {
                serde_json::to_value(t)
            }
            Workload::Query(q) => serde_json::to_value(q),
            Workload::Mixed(m) => serde_json::to_value(m),
            Workload::PutRecords(p) => serde_json::to_value(p),
            Workload::E2e(e) => serde_json::to_value(e),
            Workload::Triggers(t) => serde_json::to_value(t),
            Workload::SourceBridge(s) => serde_json::to_value(s),
            Workload::Fsync(f) => serde_json::to_value(f),
            Workload::Tables(t) => serde_json::to_value(t),
            Workload::Connections(c) => serde_json::to_value(c),
            Workload::Subscriptions(s) => serde_json::to_value(s),
            Workload::Ceiling(c) => serde_json::to_value(c),
        };
        v.unwrap_or_default()
    }
}
