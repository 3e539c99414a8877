//! The bridge: every change of a table with a Kinesis streaming destination, forwarded
//! from the change log into that Kinesis stream in AWS's record format.
//!
//! Each partition of a table with a forwarding destination has a durable cursor (in the
//! meta keyspace): the next change the destination has not received. Into a stream of
//! this sluice, the partition's writer forwards its own changes (`inline`): their records
//! and the cursor move ride in the table write's own batch, through the stream's writer,
//! so a change is durable in ONE commit and delivered exactly once across crashes and
//! restarts. The forwarder task (`forwarder`) reads the change log from the cursor for
//! whatever that path leaves behind (a cursor that fell behind, a transaction over two
//! destinations); both move the cursor only from where they read it, so neither forwards
//! a change the other did.
//! A slow destination builds lag, measured as `sluice_bridge_replication_lag_seconds`.
//!
//! A destination outside sluice (`remote`) cannot share a batch with the cursor: its
//! records go out in signed PutRecords calls, and the cursor moves once they are in, so
//! delivery there is at least once.

pub mod control;
pub mod destination;
pub mod forwarder;
pub mod inline;
#[cfg(test)]
mod inline_tests;
pub mod record;
pub mod remote;

pub use destination::{Destination, DestinationStatus};
pub use record::Precision;
