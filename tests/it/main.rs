//! The integration test binary: the real `sluice` daemon, started per test on a free port
//! with its own data directory, driven by the official AWS SDK for Rust and by raw HTTP.

mod batch;
mod bench;
mod bootstrap;
mod bridge;
mod bridge_remote;
mod cbor;
mod errors;
mod expressions;
mod fanout;
mod fanout_subscribe;
mod fanout_tls;
mod fanout_transport;
mod faults;
mod harness;
mod hostile;
mod hostile_h2;
mod indexes;
mod items;
mod kinesis;
mod kinesis_durability;
mod kinesis_records;
mod kinesis_reshard;
mod kinesis_settings;
mod observability;
mod query;
mod query_errors;
mod restart;
mod scan;
mod storage_eio;
mod storage_faults;
mod streams;
mod tables;
mod torture;
mod transactions;
mod ttl;
