//! The `[bootstrap]` section: what sluice creates at start when it is missing.

use serde::{Deserialize, Serialize};

/// What sluice creates at start when it is missing (and leaves alone when it exists), so
/// a config file can bring up a whole pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// Kinesis streams, created before the tables that forward to them.
    pub kinesis_streams: Vec<BootstrapStream>,
    /// DynamoDB tables, with their indexes, stream and Kinesis destination.
    pub tables: Vec<BootstrapTable>,
    /// Enhanced fan-out consumers of the Kinesis streams.
    pub consumers: Vec<BootstrapConsumer>,
    /// Lambda event source mappings, created after the streams they read.
    pub event_source_mappings: Vec<BootstrapMapping>,
}

/// A stream consumer (enhanced fan-out) to register at start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConsumer {
    /// The Kinesis stream's name.
    pub stream: String,
    pub name: String,
}

/// A Kinesis stream to create at start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapStream {
    pub name: String,
    /// Provisioned shards (ignored for on-demand streams).
    #[serde(default = "one")]
    pub shards: u32,
    /// Retention in hours (24 to 8760).
    #[serde(default = "day")]
    pub retention_hours: u32,
    /// `PROVISIONED` or `ON_DEMAND`.
    #[serde(default = "provisioned")]
    pub mode: String,
}

fn one() -> u32 {
    1
}

fn day() -> u32 {
    24
}

fn provisioned() -> String {
    "PROVISIONED".into()
}

/// A key attribute: its name and scalar type (S, N or B).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapKey {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// A secondary index to create with its table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapIndex {
    pub name: String,
    /// A GSI (true, the default) or an LSI.
    #[serde(default = "yes")]
    pub global: bool,
    pub hash_key: BootstrapKey,
    pub range_key: Option<BootstrapKey>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    #[serde(default = "all")]
    pub projection: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

fn yes() -> bool {
    true
}

fn all() -> String {
    "ALL".into()
}

/// A DynamoDB table to create at start (on-demand billing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapTable {
    pub name: String,
    pub hash_key: BootstrapKey,
    pub range_key: Option<BootstrapKey>,
    /// A DynamoDB stream view type to enable (`NEW_AND_OLD_IMAGES`, ...).
    pub stream: Option<String>,
    /// A Kinesis stream (by name, in this sluice) to forward every change to.
    pub kinesis_destination: Option<String>,
    #[serde(default)]
    pub indexes: Vec<BootstrapIndex>,
}

/// An event source mapping to create at start, unless the function already has one on
/// the same source. The source is exactly one of `table` (its current DynamoDB stream),
/// `kinesis_stream`, or `event_source_arn` (any source ARN, e.g. a fan-out consumer's).
/// The other keys are CreateEventSourceMapping's members in snake case; absent ones take
/// AWS's defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct BootstrapMapping {
    /// FunctionName: a name, a partial ARN or a full ARN.
    pub function: String,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub kinesis_stream: Option<String>,
    #[serde(default)]
    pub event_source_arn: Option<String>,
    /// TRIM_HORIZON (the default here: nothing written before the mapping is missed),
    /// LATEST or AT_TIMESTAMP.
    #[serde(default = "trim_horizon")]
    pub starting_position: String,
    #[serde(default)]
    pub starting_position_timestamp: Option<f64>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub batch_size: Option<u32>,
    #[serde(default)]
    pub maximum_batching_window_in_seconds: Option<u32>,
    #[serde(default)]
    pub parallelization_factor: Option<u32>,
    #[serde(default)]
    pub maximum_record_age_in_seconds: Option<i64>,
    #[serde(default)]
    pub maximum_retry_attempts: Option<i64>,
    #[serde(default)]
    pub bisect_batch_on_function_error: Option<bool>,
    #[serde(default)]
    pub tumbling_window_in_seconds: Option<u32>,
    #[serde(default)]
    pub function_response_types: Vec<String>,
    /// FilterCriteria patterns, each a JSON string as the API takes it.
    #[serde(default)]
    pub filter_patterns: Vec<String>,
    /// DestinationConfig.OnFailure.Destination.
    #[serde(default)]
    pub on_failure_destination: Option<String>,
}

fn trim_horizon() -> String {
    "TRIM_HORIZON".into()
}
