//! The `[tls]` section: how sluice trusts the https:// servers it calls (remote Kinesis
//! destinations, Lambda endpoints and Invoke URLs, SQS/SNS on-failure endpoints).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The TLS client section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// A PEM file of the certificate authorities https:// remotes are verified against;
    /// empty: the system's.
    pub ca_file: String,
}

impl TlsConfig {
    /// A CA file that cannot be read or holds no certificate stops sluice at start.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.ca_file.is_empty() {
            return Ok(());
        }
        crate::engine::remote_tls::client_config(&self.ca_file)
            .map(|_| ())
            .map_err(ConfigError::Invalid)
    }
}
