//! DynamoDB Streams as windows on the change log.
//!
//! A stream belongs to one table and one enable: enabling creates a stream with a new
//! label and one open shard per table partition, each starting at the partition's next
//! sequence number; disabling (or deleting the table) closes its open shards at the
//! partition's last sequence number. A shard is therefore a sequence range of one
//! partition's change log: `[start_seq, end_seq]`, open while `end_seq` is `None`.
//! Rolling a shard over closes it and opens a child on the same partition. Boundaries are
//! taken by the partition writers themselves (`WriterMsg::Boundary`), so no record ever
//! falls between two shards or into a stream it was not written for.
//!
//! Stream records are persisted in the meta keyspace (`storage::keys::stream_record`) and
//! outlive their table for the retention period, as AWS keeps a disabled stream readable
//! for 24 hours.

use serde::{Deserialize, Serialize};

use crate::engine::KeySchema;
use crate::engine::changelog::{ChangeRecord, EventName};
use crate::model::{Item, value};

/// What a stream's records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl ViewType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::KeysOnly => "KEYS_ONLY",
            ViewType::NewImage => "NEW_IMAGE",
            ViewType::OldImage => "OLD_IMAGE",
            ViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<ViewType> {
        match s {
            "KEYS_ONLY" => Some(ViewType::KeysOnly),
            "NEW_IMAGE" => Some(ViewType::NewImage),
            "OLD_IMAGE" => Some(ViewType::OldImage),
            "NEW_AND_OLD_IMAGES" => Some(ViewType::NewAndOldImages),
            _ => None,
        }
    }

    /// Whether records carry the new image.
    pub fn new_image(self) -> bool {
        matches!(self, ViewType::NewImage | ViewType::NewAndOldImages)
    }

    /// Whether records carry the old image.
    pub fn old_image(self) -> bool {
        matches!(self, ViewType::OldImage | ViewType::NewAndOldImages)
    }
}

/// One shard: a sequence range of one partition's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// `shardId-<20-digit creation millis>-<8 hex>`.
    pub id: String,
    pub partition: u32,
    /// The first sequence number that belongs to the shard.
    pub start_seq: u64,
    /// The last one, once the shard is closed.
    pub end_seq: Option<u64>,
    pub parent: Option<String>,
    pub created_ms: i64,
    /// When the shard was closed.
    pub closed_ms: Option<i64>,
}

impl ShardMeta {
    /// Whether `seq` lies in the shard (an open shard has no upper end yet).
    pub fn contains(&self, seq: u64) -> bool {
        seq >= self.start_seq && self.end_seq.is_none_or(|end| seq <= end)
    }
}

/// One stream of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub table_name: String,
    /// The table's internal id: the change log's key prefix.
    pub table_id: u64,
    /// ISO-8601 with milliseconds, no zone (`2015-05-20T20:51:10.252`).
    pub label: String,
    pub view_type: ViewType,
    pub created_ms: i64,
    /// When the stream was disabled (or its table deleted).
    pub disabled_ms: Option<i64>,
    pub key_schema: KeySchema,
    /// Every shard, parents before children.
    pub shards: Vec<ShardMeta>,
}

impl StreamMeta {
    /// `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!(
            "arn:aws:dynamodb:{region}:{account}:table/{}/stream/{}",
            self.table_name, self.label
        )
    }

    /// ENABLED or DISABLED.
    pub fn status(&self) -> &'static str {
        if self.disabled_ms.is_none() { "ENABLED" } else { "DISABLED" }
    }

    /// The status DescribeStream reports at `now_ms`: ENABLING for `delay_ms` after the
    /// stream was enabled and DISABLING for `delay_ms` after it was disabled, as AWS
    /// passes through them (`streams.status_delay_ms`; 0 reports the end state at once).
    /// Records are captured from the enabling on either way.
    pub fn status_at(&self, now_ms: i64, delay_ms: i64) -> &'static str {
        match self.disabled_ms {
            None if now_ms < self.created_ms + delay_ms => "ENABLING",
            None => "ENABLED",
            Some(at) if now_ms < at + delay_ms => "DISABLING",
            Some(_) => "DISABLED",
        }
    }

    /// A shard by id.
    pub fn shard(&self, id: &str) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.id == id)
    }
}

/// What a change record shows through a stream's view type: its keys, the images the
/// view keeps, and their size as DynamoDB counts it (`SizeBytes`). GetRecords and the
/// Lambda pollers render records from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection<'a> {
    pub keys: Item,
    pub new: Option<&'a Item>,
    pub old: Option<&'a Item>,
    pub size_bytes: u64,
}

/// Projects `change` through `stream`'s view type and key schema.
pub fn project<'a>(change: &'a ChangeRecord, stream: &StreamMeta) -> Projection<'a> {
    let view = stream.view_type;
    let keys: Item = stream
        .key_schema
        .names()
        .filter_map(|name| change.item().get(name).map(|v| (name.to_string(), v.clone())))
        .collect();
    // INSERT has no old image and REMOVE no new one, whatever the view type.
    let new = change.new.as_ref().filter(|_| view.new_image() && change.event != EventName::Remove);
    let old = change.old.as_ref().filter(|_| view.old_image() && change.event != EventName::Insert);
    // DynamoDB's item-size rule over what the record carries: the keys, and each image.
    let size =
        value::item_size(&keys) + new.map_or(0, value::item_size) + old.map_or(0, value::item_size);
    Projection { keys, new, old, size_bytes: size as u64 }
}

/// `ApproximateCreationDateTime` of a record committed at `created_ms`: epoch seconds,
/// rounded down to the second as AWS documents, written as a JSON number with a decimal
/// part (`1464806460.0`).
pub fn approximate_creation(created_ms: i64) -> serde_json::Value {
    let seconds = created_ms.div_euclid(1000) as f64;
    serde_json::Number::from_f64(seconds).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// Parses a stream ARN into (table name, label); the region and account are not checked
/// here (the caller compares them).
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:dynamodb:")?;
    let (_, rest) = rest.split_once(":table/")?;
    let (table, label) = rest.split_once("/stream/")?;
    (!table.is_empty() && !label.is_empty()).then_some((table, label))
}

/// The stream label of a stream created at `ms`: ISO-8601 with milliseconds, UTC.
pub fn label_of(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A new shard id for a shard created at `ms`.
pub fn new_shard_id(ms: i64) -> String {
    let random = uuid::Uuid::new_v4().as_u128() as u32;
    format!("shardId-{:020}-{random:08x}", ms.max(0))
}

/// The wire form of a sequence number of partition `partition`'s shards: 24 digits, a
/// leading 1, the partition (3 digits), then the zero-padded partition sequence. So every
/// record's number is its own in the whole stream, as on AWS (each shard's
/// StartingSequenceNumber differs), and the strings sort like the numbers within a shard
/// and from a parent shard to its children (one partition's).
pub fn wire_seq(partition: u32, seq: u64) -> String {
    format!("1{partition:03}{seq:020}")
}

/// Parses the wire form of a number of partition `partition`'s shards back: `None` for
/// anything else, a number of another partition included. The 21-digit form of earlier
/// releases (`1` then the sequence, no partition) is taken as this partition's, so
/// checkpoints kept by consumers (a KCL lease table) still work after an upgrade.
pub fn parse_wire_seq(s: &str, partition: u32) -> Option<u64> {
    let digits = s.strip_prefix('1')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        20 => digits.parse().ok(),
        23 if digits[..3].parse::<u32>().ok()? == partition => digits[3..].parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_iso_8601_with_millis() {
        assert_eq!(label_of(0), "1970-01-01T00:00:00.000");
        assert_eq!(label_of(1_432_154_270_252), "2015-05-20T20:37:50.252");
        assert_eq!(label_of(951_782_400_001), "2000-02-29T00:00:00.001");
    }

    #[test]
    fn arns_parse_and_sequence_numbers_round_trip() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2015-05-20T20:51:10.252";
        assert_eq!(parse_stream_arn(arn), Some(("t", "2015-05-20T20:51:10.252")));
        assert_eq!(parse_stream_arn("arn:aws:dynamodb:x:y:table/t"), None);
        for partition in [0, 1, 7, 255] {
            for seq in [0, 1, 42, u64::MAX / 10] {
                let wire = wire_seq(partition, seq);
                assert_eq!(wire.len(), 24);
                assert_eq!(parse_wire_seq(&wire, partition), Some(seq));
                // Another partition's number is not this shard's.
                assert_eq!(parse_wire_seq(&wire, partition + 1), None);
            }
        }
        assert_eq!(wire_seq(3, 42), "100300000000000000000042");
        assert!(wire_seq(0, 9) < wire_seq(0, 10));
        assert_ne!(wire_seq(0, 1), wire_seq(1, 1));
        // The form of earlier releases, without the partition, still names a place.
        assert_eq!(parse_wire_seq("100000000000000000042", 5), Some(42));
        for bad in [
            "",
            "2000000000000000000001",
            "1abc",
            "10000000000000000000001",
            "1-03000000000000000000042",
        ] {
            assert_eq!(parse_wire_seq(bad, 0), None, "{bad}");
        }
        let id = new_shard_id(1_414_562_045_508);
        assert!(id.starts_with("shardId-00000001414562045508-"), "{id}");
        assert_eq!(id.len(), 37);
    }
}
