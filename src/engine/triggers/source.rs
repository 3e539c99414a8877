//! A mapping's source as its pollers see it: shards with their lineage and extent, and per
//! shard a reader that reads records from a position (rendered as event entries) and
//! waits for the next commit.
//!
//! The readers follow the same signals as every other reader in sluice, never a timer:
//! a DynamoDB shard waits on its table's `TableCounters::commits`, bumped by the partition
//! writers after each commit that wrote change records; a Kinesis shard waits on its
//! committed tip (`StreamShared::subscribe`), bumped after each append, trim or close.

use std::sync::Arc;

use tokio::sync::watch;

use super::batch::EventRecord;
use super::event::EventContext;
use super::record::{MappingRecord, Source};
use super::{source_ddb, source_kinesis};
use crate::engine::Engine;
use crate::engine::kinesis::ShardTip;
use crate::storage::StorageError;

/// Most stored bytes read from a shard at once. With `BatchSize` records it bounds what a
/// shard's poller holds: about one 6 MiB event.
pub const MAX_READ_BYTES: usize = 6 * 1024 * 1024;

/// One shard of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The wire shard id (also the checkpoint's key).
    pub id: String,
    /// The shards it was split from or merged from, or rolled over from (still listed
    /// or not: a parent no longer listed has nothing left to read).
    pub parents: Vec<String>,
    /// The first sequence number the shard may hold.
    pub start: u64,
    /// Once closed: the sequence number after its last record.
    pub end: Option<u64>,
}

impl ShardInfo {
    /// Whether a mapping at `checkpoint` has read all of it.
    pub fn finished(&self, checkpoint: Option<u64>) -> bool {
        self.end.is_some_and(|end| checkpoint.unwrap_or(self.start) >= end)
    }
}

/// A run of records read from a shard.
#[derive(Debug, Default)]
pub struct Read {
    pub records: Vec<EventRecord>,
    /// Where the next read starts.
    pub next: u64,
    /// The shard is closed and everything up to its end was read.
    pub finished: bool,
}

/// What wakes a shard's reader.
pub enum Wake {
    /// A table's commit generation.
    Commits(watch::Receiver<u64>),
    /// A Kinesis shard's tip, or the time to try again to subscribe (a fan-out
    /// consumer's slot held by another subscriber), whichever comes first.
    Tip(watch::Receiver<ShardTip>, Option<tokio::time::Instant>),
    /// Nothing can arrive any more (the table or stream is gone).
    Never,
}

impl Wake {
    /// Marks everything so far as seen: call before reading, so a commit made during the
    /// read still wakes the next `changed`.
    pub fn mark(&mut self) {
        match self {
            Wake::Commits(rx) => {
                rx.borrow_and_update();
            }
            Wake::Tip(rx, _) => {
                rx.borrow_and_update();
            }
            Wake::Never => {}
        }
    }

    /// Resolves after the next commit since `mark`; never when nothing can come.
    pub async fn changed(&mut self) {
        let gone = match self {
            Wake::Commits(rx) => rx.changed().await.is_err(),
            Wake::Tip(rx, None) => rx.changed().await.is_err(),
            Wake::Tip(rx, retry @ Some(_)) => {
                let at = retry.unwrap_or_else(tokio::time::Instant::now);
                tokio::select! {
                    changed = rx.changed() => changed.is_err(),
                    () = tokio::time::sleep_until(at) => {
                        // Fired once: the reader sets it again if it must wait more.
                        *retry = None;
                        false
                    }
                }
            }
            Wake::Never => return std::future::pending().await,
        };
        if gone {
            // The sender went with its table or stream: nothing will come.
            *self = Wake::Never;
        }
    }
}

/// A mapping's source, opened.
pub enum Opened {
    DynamoDb(source_ddb::DynamoDbSource),
    Kinesis(source_kinesis::KinesisSource),
}

/// One shard's reader.
pub enum ShardReader {
    DynamoDb(source_ddb::DynamoDbShard),
    Kinesis(source_kinesis::KinesisShard),
}

impl Opened {
    /// The source of `record`; `None` when it is gone (a DynamoDB stream past its
    /// retention, a deleted Kinesis stream).
    pub fn open(engine: &Arc<Engine>, record: &MappingRecord) -> Option<Opened> {
        let cx = event_context(engine, record);
        match &record.source {
            Source::DynamoDb { table, label } => {
                source_ddb::DynamoDbSource::open(engine, table, label, cx).map(Opened::DynamoDb)
            }
            Source::Kinesis { stream_id, consumer, .. } => {
                // A consumer ARN names one registration (its second), as AWS's does.
                let consumer = consumer.as_ref().map(|name| {
                    let secs = crate::engine::kinesis::consumers::parse_consumer_arn(
                        &record.event_source_arn,
                    )
                    .map_or(-1, |arn| arn.created_secs);
                    (name.clone(), secs)
                });
                source_kinesis::KinesisSource::open(engine, *stream_id, consumer, cx)
                    .map(Opened::Kinesis)
            }
        }
    }

    /// Every shard still listed, parents before children.
    pub fn shards(&self) -> Vec<ShardInfo> {
        match self {
            Opened::DynamoDb(s) => s.shards(),
            Opened::Kinesis(s) => s.shards(),
        }
    }

    /// A reader of `shard`.
    pub fn reader(&self, shard: &ShardInfo) -> ShardReader {
        match self {
            Opened::DynamoDb(s) => ShardReader::DynamoDb(s.reader(shard)),
            Opened::Kinesis(s) => ShardReader::Kinesis(s.reader(shard)),
        }
    }
}

impl ShardReader {
    /// Reads up to `limit` records from `from`.
    pub async fn read(&mut self, from: u64, limit: usize) -> Result<Read, StorageError> {
        match self {
            ShardReader::DynamoDb(r) => r.read(from, limit).await,
            ShardReader::Kinesis(r) => r.read(from, limit).await,
        }
    }

    /// The wake-up of this shard.
    pub fn wake(&mut self) -> &mut Wake {
        match self {
            ShardReader::DynamoDb(r) => &mut r.wake,
            ShardReader::Kinesis(r) => &mut r.wake,
        }
    }

    /// The wire form of the shard's sequence number `seq` (what the records' events and
    /// GetRecords show): an on-failure record's positions.
    pub fn wire_seq(&self, seq: u64) -> String {
        match self {
            ShardReader::DynamoDb(r) => crate::engine::streams::wire_seq(r.partition, seq),
            ShardReader::Kinesis(r) => r.wire_seq(seq),
        }
    }

    /// How long records stay in the source: older ones are gone, expired.
    pub fn retention_ms(&self) -> i64 {
        match self {
            ShardReader::DynamoDb(r) => r.retention_ms,
            ShardReader::Kinesis(r) => r.retention_ms(),
        }
    }
}

/// The role ARN a Kinesis event names as `invokeIdentityArn`: Lambda sends the function's
/// execution role; sluice has no roles, so one fixed name in the account.
pub fn invoke_identity_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/sluice")
}

fn event_context(engine: &Engine, record: &MappingRecord) -> EventContext {
    EventContext {
        region: engine.ns.region.clone(),
        source_arn: record.event_source_arn.clone(),
        invoke_identity_arn: invoke_identity_arn(&engine.ns.account),
    }
}

/// The shards of `shards` to read now: not finished at their checkpoint, and every parent
/// still listed finished, so a child is never read before its parents are done.
pub fn eligible(shards: &[ShardInfo], checkpoint: impl Fn(&str) -> Option<u64>) -> Vec<&ShardInfo> {
    let finished = |s: &ShardInfo| s.finished(checkpoint(&s.id));
    shards
        .iter()
        .filter(|s| !finished(s))
        .filter(|s| {
            s.parents.iter().all(|p| shards.iter().find(|x| &x.id == p).is_none_or(finished))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], start: u64, end: Option<u64>) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            start,
            end,
        }
    }

    #[test]
    fn children_wait_for_every_parent_still_listed() {
        // a split into b and c, which merge into d; e's parent is forgotten.
        let shards = [
            shard("a", &[], 0, Some(10)),
            shard("b", &["a"], 0, Some(5)),
            shard("c", &["a"], 0, Some(0)),
            shard("d", &["b", "c"], 0, None),
            shard("e", &["gone"], 7, None),
        ];
        let ids = |cps: &[(&str, u64)]| {
            let cp = |id: &str| cps.iter().find(|(s, _)| *s == id).map(|(_, c)| *c);
            eligible(&shards, cp).into_iter().map(|s| s.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&[]), ["a", "e"]);
        assert_eq!(ids(&[("a", 9)]), ["a", "e"]);
        // a done: b (and the empty c, finished at its start) follow.
        assert_eq!(ids(&[("a", 10)]), ["b", "e"]);
        assert_eq!(ids(&[("a", 10), ("b", 5)]), ["d", "e"]);
        assert!(shard("x", &[], 3, Some(3)).finished(None), "an empty closed shard");
        assert!(!shard("x", &[], 3, None).finished(Some(u64::MAX)), "an open shard never");
    }
}
