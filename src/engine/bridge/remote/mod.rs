//! Destinations outside sluice: a Kinesis stream on another endpoint (AWS, or another
//! sluice), named in the config file (`[[bridge.remotes]]`).
//!
//! The forwarder sends each partition's changes in commit order with SigV4-signed
//! PutRecords calls (`client`, `sigv4`), retries failed calls and failed entries with a
//! capped, jittered exponential pause (`backoff`, `deliver`), and moves the partition's
//! cursor only after every change up to it is in: at-least-once delivery, nothing lost
//! while the endpoint is down, the change log kept (trimming holds at the cursor) and the
//! lag rising meanwhile (`forward`). The table's writers never wait for any of it.

pub mod backoff;
pub mod client;
pub mod deliver;
pub(super) mod forward;
pub mod sigv4;
