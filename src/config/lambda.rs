//! The `[lambda]` section: where the Lambda functions sluice invokes run.
//!
//! `lambda.endpoint` names any server speaking Lambda's Invoke API (AWS Lambda, LocalStack,
//! another sluice, a test double); a function sluice does not declare itself is looked up
//! and invoked there. `[[lambda.functions]]` declares functions by name, each run in
//! exactly one way: an Invoke-API URL (`invoke_url`), a Lambda Runtime API that sluice
//! serves on an address for a runtime started by someone else (`runtime_api_listen`), or
//! a command sluice starts and supervises with a Runtime API of its own (`command`).
//!
//! Functions are configuration, read at every start, not resources created through an
//! API and stored: so they live here and not in `[bootstrap]` (which creates stored
//! resources through the API once). A list of tables, they come from the file only.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::engine::remote_tls::split_url;

/// The longest timeout Lambda allows, in seconds (15 minutes).
pub const MAX_TIMEOUT_SECONDS: u32 = 900;

/// The Lambda section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LambdaConfig {
    /// Base URL (`http://host:port`) of a server speaking Lambda's Invoke API, where
    /// functions not declared below are looked up and invoked; empty for none.
    pub endpoint: String,
    /// Access key id the requests to `endpoint` are signed with (SigV4, service
    /// `lambda`); empty signs with a placeholder that emulators accept.
    pub access_key_id: String,
    /// Secret key of `access_key_id`.
    pub secret_access_key: String,
    /// How long an event source mapping reports a transitional state (Creating,
    /// Enabling, Disabling, Updating, Deleting) after a change, during which Update and
    /// Delete answer ResourceInUseException, as on AWS (which takes seconds).
    pub mapping_transition_ms: u64,
    /// The first pause before a failed batch is invoked again; it doubles (with jitter)
    /// after each failure up to `mapping_retry_max_ms`.
    pub mapping_retry_initial_ms: u64,
    /// The longest pause between two invocations of a failing batch.
    pub mapping_retry_max_ms: u64,
    /// Base URL of an SQS endpoint (AWS query protocol) where on-failure records of event
    /// source mappings whose destination is an SQS queue ARN are sent; empty for none.
    pub on_failure_sqs_endpoint: String,
    /// Base URL of an SNS endpoint (AWS query protocol) where on-failure records whose
    /// destination is an SNS topic ARN are published; empty for none.
    pub on_failure_sns_endpoint: String,
    /// The functions sluice knows itself. Last, because TOML writes arrays of tables
    /// after plain keys.
    pub functions: Vec<FunctionConfig>,
}

/// One function: its name and where it runs (exactly one of `invoke_url`,
/// `runtime_api_listen`, `command`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// 1 to 64 characters of letters, digits, `-` and `_`.
    pub name: String,
    /// An Invoke-API URL invoked with the payload as its body, such as a Lambda Runtime
    /// Interface Emulator's `http://host:9000/2015-03-31/functions/function/invocations`.
    pub invoke_url: Option<String>,
    /// An address (`127.0.0.1:9001`) on which sluice serves the Lambda Runtime API for a
    /// runtime started with `AWS_LAMBDA_RUNTIME_API` set to it.
    pub runtime_api_listen: Option<String>,
    /// An argv that sluice starts, restarts when it dies and stops on shutdown, with
    /// `AWS_LAMBDA_RUNTIME_API` pointing at a Runtime API sluice serves for it.
    pub command: Option<Vec<String>>,
    /// How long one invocation may run (1 to 900; AWS's default is 3).
    #[serde(default = "three")]
    pub timeout_seconds: u32,
    /// Invocations run at once; more wait in turn (at most 100 waiting). With `command`,
    /// this many processes are started.
    #[serde(default = "one")]
    pub concurrency: u32,
    /// The memory GetFunction reports and `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` tells the
    /// runtime, in MB (128 to 10240, as AWS). sluice does not limit the process to it.
    #[serde(default = "memory")]
    pub memory_size: u32,
    /// The handler (`module.function`): `_HANDLER` for `command`, and GetFunction's.
    pub handler: Option<String>,
    /// Extra environment variables of a `command`, shown by GetFunction too.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            endpoint: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            mapping_transition_ms: 500,
            mapping_retry_initial_ms: 500,
            mapping_retry_max_ms: 30_000,
            on_failure_sqs_endpoint: String::new(),
            on_failure_sns_endpoint: String::new(),
            functions: Vec::new(),
        }
    }
}

fn three() -> u32 {
    3
}

fn one() -> u32 {
    1
}

fn memory() -> u32 {
    128
}

/// Where a declared function runs.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind<'a> {
    InvokeUrl(&'a str),
    RuntimeApi(SocketAddr),
    Command(&'a [String]),
}

impl FunctionConfig {
    /// Where it runs; `None` unless exactly one kind is set (the loader refuses that).
    pub fn kind(&self) -> Option<FunctionKind<'_>> {
        match (&self.invoke_url, &self.runtime_api_listen, &self.command) {
            (Some(url), None, None) => Some(FunctionKind::InvokeUrl(url)),
            (None, Some(addr), None) => addr.parse().ok().map(FunctionKind::RuntimeApi),
            (None, None, Some(argv)) => Some(FunctionKind::Command(argv)),
            _ => None,
        }
    }
}

/// Whether `name` is a function name Lambda accepts: 1 to 64 of `[a-zA-Z0-9-_]`.
pub fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl LambdaConfig {
    /// The declared function `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionConfig> {
        self.functions.iter().find(|f| f.name == name)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        for (key, url) in [
            ("lambda.endpoint", &self.endpoint),
            ("lambda.on_failure_sqs_endpoint", &self.on_failure_sqs_endpoint),
            ("lambda.on_failure_sns_endpoint", &self.on_failure_sns_endpoint),
        ] {
            if url.is_empty() {
                continue;
            }
            if split_url(url).is_none_or(|u| u.path != "/") {
                return bad(
                    key.into(),
                    "must be a base URL such as http://127.0.0.1:4566 or https://lambda.us-east-1.amazonaws.com (no path)",
                );
            }
        }
        if self.mapping_retry_initial_ms == 0 || self.mapping_retry_max_ms == 0 {
            return bad(
                "lambda.mapping_retry_initial_ms".into(),
                "mapping_retry_initial_ms and mapping_retry_max_ms must be at least 1",
            );
        }
        if self.access_key_id.is_empty() != self.secret_access_key.is_empty() {
            return bad(
                "lambda.access_key_id".into(),
                "access_key_id and secret_access_key must be set together",
            );
        }
        let mut listens = Vec::new();
        for (i, f) in self.functions.iter().enumerate() {
            let key = |field: &str| format!("lambda.functions[{i}].{field}");
            if !valid_function_name(&f.name) {
                return bad(key("name"), "must be 1 to 64 letters, digits, '-' or '_'");
            }
            if self.functions[..i].iter().any(|o| o.name == f.name) {
                return bad(key("name"), &format!("'{}' is declared twice", f.name));
            }
            let kinds =
                [f.invoke_url.is_some(), f.runtime_api_listen.is_some(), f.command.is_some()];
            if kinds.iter().filter(|k| **k).count() != 1 {
                return bad(
                    format!("lambda.functions[{i}] ({})", f.name),
                    "set exactly one of invoke_url, runtime_api_listen and command",
                );
            }
            if let Some(url) = &f.invoke_url
                && split_url(url).is_none()
            {
                return bad(
                    key("invoke_url"),
                    "must be an http:// or https:// URL such as http://127.0.0.1:9000/2015-03-31/functions/function/invocations",
                );
            }
            if let Some(listen) = &f.runtime_api_listen {
                let Ok(addr) = listen.parse::<SocketAddr>() else {
                    return bad(
                        key("runtime_api_listen"),
                        "must be an address such as 127.0.0.1:9001",
                    );
                };
                if addr.port() == 0 {
                    return bad(
                        key("runtime_api_listen"),
                        "must name a port: the runtime is told it",
                    );
                }
                if listens.contains(&addr) {
                    return bad(key("runtime_api_listen"), "is used by an earlier function");
                }
                listens.push(addr);
            }
            if f.command.as_ref().is_some_and(|argv| argv.is_empty() || argv[0].is_empty()) {
                return bad(key("command"), "must name a program: [\"python3\", \"-m\", ...]");
            }
            if !(1..=MAX_TIMEOUT_SECONDS).contains(&f.timeout_seconds) {
                return bad(key("timeout_seconds"), "must be between 1 and 900");
            }
            if !(1..=1000).contains(&f.concurrency) {
                return bad(key("concurrency"), "must be between 1 and 1000");
            }
            if !(128..=10_240).contains(&f.memory_size) {
                return bad(key("memory_size"), "must be between 128 and 10240");
            }
            if f.handler.as_ref().is_some_and(|h| {
                h.is_empty() || h.len() > 128 || h.chars().any(char::is_whitespace)
            }) {
                return bad(key("handler"), "must be 1 to 128 characters without spaces");
            }
            for name in f.environment.keys() {
                let mut chars = name.chars();
                let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return bad(
                        key("environment"),
                        &format!("'{name}' is not a variable name ([a-zA-Z][a-zA-Z0-9_]*)"),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "lambda_tests.rs"]
mod tests;
