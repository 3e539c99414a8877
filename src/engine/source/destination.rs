//! Where a source's changes go: a Kinesis stream of this sluice (appended with one commit
//! per batch), or a `[[bridge.remotes]]` stream (signed PutRecords, each entry retried
//! until it is in, through the built-in bridge's own delivery policy).

use std::sync::Weak;
use std::time::Duration;

use crate::engine::Engine;
use crate::engine::bridge::remote::backoff::{self, Backoff};
use crate::engine::bridge::remote::client::KinesisClient;
use crate::engine::bridge::remote::deliver::{Delivery, Hooks, deliver};
use crate::engine::kinesis::NewRecord;

/// The record size a Kinesis stream takes (data plus partition key).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Most records, and bytes, per PutRecords call to a remote.
const MAX_CALL_RECORDS: usize = 500;
const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

/// A source's destination.
pub enum Target {
    /// A stream of this sluice, by name.
    Local {
        engine: Weak<Engine>,
        stream: String,
    },
    Remote {
        client: Box<KinesisClient>,
        backoff: Backoff,
    },
}

/// What a put reports while it retries, and whether it may go on.
pub trait Watch {
    fn throttled(&mut self, n: u64);
    fn failed(&mut self, why: &str);
    /// Whether the shard is still this instance's to forward.
    fn alive(&self) -> bool;
}

struct Adapter<'a, W: Watch>(&'a mut W);

impl<W: Watch> Hooks for Adapter<'_, W> {
    fn throttled(&mut self, n: u64) {
        self.0.throttled(n);
    }

    fn failed(&mut self, _n: u64, why: &str) {
        self.0.failed(why);
    }

    async fn pause(&mut self, delay: Duration) -> bool {
        tokio::time::sleep(delay).await;
        self.0.alive()
    }
}

impl Target {
    /// Puts `records` (in order): `Ok` once every one is in, `Err` when the put was given
    /// up (the shard is no longer this instance's, or a local stream is missing); then
    /// nothing may be checkpointed.
    pub async fn put(
        &mut self,
        records: Vec<NewRecord>,
        watch: &mut impl Watch,
    ) -> Result<(), String> {
        match self {
            Target::Local { engine, stream } => {
                let e = engine.upgrade().ok_or("sluice is shutting down")?;
                let live = e.kinesis.get(stream).ok_or_else(|| {
                    format!("the destination Kinesis stream {stream} does not exist")
                })?;
                e.kinesis_append(&live, records, Vec::new()).await.map(|_| ()).map_err(|e| {
                    format!("appending to the destination Kinesis stream {stream}: {e}")
                })
            }
            Target::Remote { client, backoff } => {
                for call in calls(records) {
                    let mut hooks = Adapter(watch);
                    let mut jitter = backoff::jitter;
                    let done = deliver(&call, client.as_mut(), backoff, &mut hooks, &mut jitter);
                    if done.await == Delivery::Abandoned {
                        return Err("the shard's lease ended during delivery".into());
                    }
                }
                Ok(())
            }
        }
    }
}

/// `records` cut into PutRecords calls (in order).
fn calls(records: Vec<NewRecord>) -> Vec<Vec<NewRecord>> {
    let mut out: Vec<Vec<NewRecord>> = Vec::new();
    let mut bytes = 0;
    for r in records {
        let full = out
            .last()
            .is_none_or(|c| c.len() == MAX_CALL_RECORDS || bytes + r.size() > MAX_CALL_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += r.size();
        if let Some(call) = out.last_mut() {
            call.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_hold_at_most_500_records_and_4_mib() {
        let small = |n| (0..n).map(|i| NewRecord::keyed(format!("k{i}"), vec![0; 10])).collect();
        let sizes: Vec<usize> = calls(small(1201)).iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 201]);
        let big = (0..9).map(|i| NewRecord::keyed(format!("k{i}"), vec![0; 1000 * 1000])).collect();
        let sizes: Vec<usize> = calls(big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4, 1]);
        assert!(calls(Vec::new()).is_empty());
    }
}
