//! The bridge: every change of a table with a Kinesis streaming destination, forwarded
//! from the change log into that Kinesis stream in AWS's record format.
//!
//! Each table with a forwarding destination has one forwarder task. It reads the table's
//! change log from a durable cursor (one per partition, in the meta keyspace) and appends
//! one Kinesis record per change; the cursor move is committed in the SAME storage batch
//! as the records (`Engine::kinesis_append`'s extra mutations), so every change is
//! delivered exactly once across crashes and restarts. Forwarding never slows the table's
//! writers: they only wake the forwarder after their commit; a slow destination builds
//! lag, measured as `sluice_bridge_replication_lag_seconds`.
//!
//! A destination outside sluice (`remote`) cannot share a batch with the cursor: its
//! records go out in signed PutRecords calls, and the cursor moves once they are in, so
//! delivery there is at least once.

pub mod control;
pub mod destination;
pub mod forwarder;
pub mod record;
pub mod remote;

pub use destination::{Destination, DestinationStatus};
pub use record::Precision;
