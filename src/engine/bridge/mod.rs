//! The bridge: every change of a table with a Kinesis streaming destination, forwarded
//! from the change log into that Kinesis stream in AWS's record format.

pub mod record;
