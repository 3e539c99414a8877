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
mod sections;
#[cfg(test)]
mod tests;
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
pub use sections::{
    AwsConfig, Durability, DynamoDbConfig, KinesisConfig, LogConfig, LogFormat, MetricsConfig,
    ServerConfig, StorageConfig, StreamsConfig,
};
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
        {
            // Previous keys alone are allowed: values sealed with them are read, new
            // ones written in the clear (`sluice rekey` then turns encryption off).
            let current = &self.storage.encryption_key_file;
            let current = (!current.is_empty()).then_some(current);
            for path in current.into_iter().chain(&self.storage.previous_encryption_key_files) {
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
