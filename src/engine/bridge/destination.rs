//! A table's Kinesis streaming destinations, as persisted in its record: every
//! destination it has had (AWS lists disabled ones too), at most one of them not
//! DISABLED/ENABLE_FAILED at a time.

use serde::{Deserialize, Serialize};

use super::record::Precision;

/// AWS's DestinationStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationStatus {
    Enabling,
    Active,
    Disabling,
    Disabled,
    EnableFailed,
    Updating,
}

impl DestinationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Enabling => "ENABLING",
            DestinationStatus::Active => "ACTIVE",
            DestinationStatus::Disabling => "DISABLING",
            DestinationStatus::Disabled => "DISABLED",
            DestinationStatus::EnableFailed => "ENABLE_FAILED",
            DestinationStatus::Updating => "UPDATING",
        }
    }

    /// Whether changes are being forwarded (or about to be).
    pub fn forwarding(self) -> bool {
        matches!(
            self,
            DestinationStatus::Enabling | DestinationStatus::Active | DestinationStatus::Updating
        )
    }
}

/// One destination of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The Kinesis stream ARN, as given.
    pub stream_arn: String,
    /// The stream's name (from the ARN).
    pub stream_name: String,
    pub status: DestinationStatus,
    pub description: Option<String>,
    /// Set when the enable or a later update named one.
    pub precision: Option<Precision>,
    pub enabled_ms: i64,
    /// Forwarded to a Kinesis endpoint outside sluice (`[[bridge.remotes]]` names it by
    /// this ARN), not into a local stream.
    #[serde(default)]
    pub remote: bool,
}
