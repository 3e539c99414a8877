//! The `[faults]` section: deterministic fault injection for users' own tests. Rules
//! listed here are active from start; the admin endpoint (`/_sluice/faults`) adds, lists
//! and clears them at run time. A rule is the same JSON object on the endpoint and the
//! same table here (`[[faults.rules]]`), so the file cannot drift from the API.

use serde::{Deserialize, Serialize};

/// The fault-injection settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// Serve `/_sluice/faults` (GET lists, POST adds, DELETE clears) on the API port.
    pub admin_endpoint: bool,
    /// Rules active from start. Last, because TOML writes arrays of tables after plain
    /// keys.
    pub rules: Vec<FaultSpec>,
}

impl Default for FaultsConfig {
    fn default() -> Self {
        FaultsConfig { admin_endpoint: true, rules: Vec::new() }
    }
}

/// One fault rule: which calls it matches and what it does to each of the next `count`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `dynamodb`, `dynamodbstreams`, `kinesis`, or `storage` (the group commit: each
    /// matching commit fails as an I/O error would, or is delayed).
    pub service: String,
    /// The operation (`PutItem`, `PutRecords`, ...); any operation when absent. For
    /// `storage` the only operation is `Commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A table name (DynamoDB, DynamoDB Streams) or stream name (Kinesis) the call must
    /// name, by name or ARN; any resource when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The AWS error type to answer with (`ProvisionedThroughputExceededException`,
    /// `InternalServerError`, `ThrottlingException`, ...); none for latency only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's message; AWS's usual message for that error when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status; AWS's status for that error when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How many matching calls the rule affects; every one (until cleared) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Delay added before each affected call runs (or fails).
    #[serde(default)]
    pub latency_ms: u64,
}
