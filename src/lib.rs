//! sluice: DynamoDB tables with native Streams whose every change is forwarded into a
//! long-retention Kinesis stream, served on one port.
//!
//! Layers, dependencies pointing down only: `server` (accept loop, shutdown) →
//! `protocol` (routing, awsJson, auth, wire errors) → `api` (typed operations) →
//! `engine` (tables, partition writers) → `storage` (fjall, group commit). `model` holds
//! the DynamoDB data model and expression language used by `api` and `engine`.

pub mod api;
pub mod auth;
pub mod bench;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod engine;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod hex;
pub mod ids;
pub mod lambda;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod server;
pub mod storage;
pub mod torture;
