//! A Kinesis stream's persisted metadata: settings, tags and every shard with its hash
//! range and lineage. Stored as JSON (versioned) under `keys::kinesis::stream_record`;
//! hash keys are 128-bit and written as decimal strings, as on the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the persisted stream record.
pub const RECORD_VERSION: u32 = 1;

/// Default and bounds of the retention period, in hours (AWS's).
pub const DEFAULT_RETENTION_HOURS: u32 = 24;
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;

/// Default maximum record size (data plus partition key), in KiB.
pub const DEFAULT_MAX_RECORD_KIB: u32 = 1024;

/// Shards an on-demand stream starts with (4 MiB/s of write capacity, as on AWS).
pub const ON_DEMAND_SHARDS: u32 = 4;

/// PROVISIONED or ON_DEMAND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// The status a stream reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
}

impl StreamStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }
}

/// One shard. Indexes are dense per stream and never reused: a child takes the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    #[serde(with = "decimal")]
    pub start_hash: u128,
    #[serde(with = "decimal")]
    pub end_hash: u128,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    /// Set when the shard closes: the sequence number after its last record (its writer
    /// committed everything queued before the close, so nothing ever lands past it).
    pub end_next: Option<u64>,
}

impl ShardMeta {
    /// A new open shard.
    pub fn open(index: u32, range: (u128, u128), now_ms: i64) -> ShardMeta {
        ShardMeta {
            index,
            parent: None,
            adjacent_parent: None,
            start_hash: range.0,
            end_hash: range.1,
            created_ms: now_ms,
            closed_ms: None,
            end_next: None,
        }
    }

    /// The wire id, `shardId-000000000000`.
    pub fn id(&self) -> String {
        shard_id(self.index)
    }

    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }

    /// Whether `hash` falls in this shard's range.
    pub fn contains(&self, hash: u128) -> bool {
        self.start_hash <= hash && hash <= self.end_hash
    }
}

/// The wire id of shard `index`.
pub fn shard_id(index: u32) -> String {
    // Only ASCII was written.
    std::str::from_utf8(&shard_id_bytes(index)).map(str::to_owned).unwrap_or_default()
}

/// [`shard_id`] as ASCII bytes, for a writer that copies them (one per record answered).
pub fn shard_id_bytes(index: u32) -> [u8; 20] {
    // Digit by digit, as the sequence numbers (see `seqno::SeqNo::digits`).
    let mut id = *b"shardId-000000000000";
    super::seqno::put_digits(&mut id[8..], u64::from(index));
    id
}

/// Parses a shard id as AWS resolves it: `shardId-<digits>` or bare digits, at most
/// 2^31 - 1 (kinesalite's recordings accept `shardId-1` for `shardId-000000000001`).
pub fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("shardId-").unwrap_or(id);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().filter(|n| *n <= i32::MAX as u64).map(|n| n as u32)
}

/// KMS encryption as StartStreamEncryption recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub key_id: String,
}

/// Everything persisted about one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub version: u32,
    pub id: u64,
    pub name: String,
    pub created_ms: i64,
    pub retention_hours: u32,
    pub mode: StreamMode,
    pub max_record_kib: u32,
    pub encryption: Option<Encryption>,
    /// Enhanced monitoring metric names, in the order they were enabled.
    pub shard_level_metrics: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// The stream reports UPDATING until this time (resharding, mode and encryption
    /// changes; `kinesis.update_stream_delay_ms` after the change).
    pub updating_until_ms: i64,
    /// UpdateShardCount calls of the last 24 hours (AWS allows 10).
    #[serde(default)]
    pub scalings_ms: Vec<i64>,
    pub shards: Vec<ShardMeta>,
    /// Enhanced fan-out consumers, in registration order (records written before fan-out
    /// existed have none).
    #[serde(default)]
    pub consumers: Vec<super::consumers::ConsumerMeta>,
    /// Records stored by group (`storage/keys/kinesis_groups.rs`), as every stream
    /// created since that layout; streams created before keep a run per shard.
    #[serde(default)]
    pub grouped: bool,
}

impl StreamMeta {
    /// The status at `now_ms`, given how long new streams stay CREATING.
    pub fn status(&self, now_ms: i64, create_delay_ms: u64) -> StreamStatus {
        if now_ms < self.created_ms.saturating_add(create_delay_ms as i64) {
            StreamStatus::Creating
        } else if now_ms < self.updating_until_ms {
            StreamStatus::Updating
        } else {
            StreamStatus::Active
        }
    }

    /// The retention period in milliseconds.
    pub fn retention_ms(&self) -> i64 {
        i64::from(self.retention_hours) * 3_600_000
    }

    /// Largest record (data plus partition key) in bytes.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_kib as usize * 1024
    }

    /// A shard by index.
    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        self.shards.get(index as usize).filter(|s| s.index == index)
    }

    /// The open shards, in index order.
    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.is_open())
    }

    /// Whether a closed shard is past the retention period: all its records are older
    /// than its closing, so the trimmer has removed (or may now remove) every one, and
    /// AWS no longer lists it.
    pub fn is_expired(&self, shard: &ShardMeta, now_ms: i64) -> bool {
        shard.closed_ms.is_some_and(|t| t.saturating_add(self.retention_ms()) < now_ms)
    }

    /// The shards AWS still lists (open, or closed within the retention period).
    pub fn live_shards(&self, now_ms: i64) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(move |s| !self.is_expired(s, now_ms))
    }

    /// The children of a shard (from a split, or the child of a merge it took part in).
    pub fn children_of(&self, index: u32) -> impl Iterator<Item = &ShardMeta> {
        self.shards
            .iter()
            .filter(move |s| s.parent == Some(index) || s.adjacent_parent == Some(index))
    }

    /// The open shard whose range contains `hash`.
    pub fn route(&self, hash: u128) -> Option<&ShardMeta> {
        self.open_shards().find(|s| s.contains(hash))
    }

    /// The stream's ARN in `region` and `account`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        stream_arn(region, account, &self.name)
    }
}

/// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
pub fn stream_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
}

/// The hash key of a partition key: its MD5 as a 128-bit big-endian integer.
pub fn hash_of(partition_key: &str) -> u128 {
    u128::from_be_bytes(md5::compute(partition_key.as_bytes()).0)
}

/// Splits the hash key space into `n` ranges as AWS does: shard `i` starts at
/// `i * floor(2^128 / n)` and the last one ends at 2^128 - 1.
pub fn even_ranges(n: u32) -> Vec<(u128, u128)> {
    let n = u128::from(n.max(1));
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    // floor(2^128 / n) without 2^128: floor((2^128 - 1) / n), plus one when n divides 2^128.
    let step = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
    (0..n)
        .map(|i| {
            let start = i * step;
            let end = if i == n - 1 { u128::MAX } else { (i + 1) * step - 1 };
            (start, end)
        })
        .collect()
}

/// Serde for u128 hash keys as decimal strings.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_aws() {
        // kinesalite's recording of a three-shard stream.
        let r = even_ranges(3);
        assert_eq!(r[0], (0, 113427455640312821154458202477256070484));
        assert_eq!(
            r[1],
            (113427455640312821154458202477256070485, 226854911280625642308916404954512140969)
        );
        assert_eq!(r[2].1, u128::MAX);
        let two = even_ranges(2);
        assert_eq!(two[0].1, (1u128 << 127) - 1);
        assert_eq!(two[1].0, 1u128 << 127);
        assert_eq!(even_ranges(1), vec![(0, u128::MAX)]);
        for n in 1..40 {
            let r = even_ranges(n);
            assert_eq!(r.len(), n as usize);
            assert!(r.windows(2).all(|w| w[0].1 + 1 == w[1].0));
        }
    }

    #[test]
    fn shard_ids_and_hashes() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        for index in [0, 9, 10, 123_456, u32::MAX] {
            assert_eq!(shard_id(index), format!("shardId-{index:012}"));
        }
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("shardId-7"), Some(7));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-2147483648"), None);
        assert_eq!(parse_shard_id("shard-1x"), None);
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_of("a"), 0x0cc175b9c0f1b6a831c399e269772661);
    }

    #[test]
    fn records_round_trip_with_decimal_hash_keys() {
        let mut shard = ShardMeta::open(0, (0, u128::MAX), 5);
        shard.parent = Some(3);
        let json = serde_json::to_string(&shard).unwrap();
        assert!(json.contains("\"340282366920938463463374607431768211455\""), "{json}");
        assert_eq!(serde_json::from_str::<ShardMeta>(&json).unwrap(), shard);
    }

    #[test]
    fn a_record_written_before_groups_reads_as_a_stream_of_runs() {
        let old = r#"{"version":1,"id":4,"name":"s","created_ms":0,"retention_hours":24,
            "mode":"PROVISIONED","max_record_kib":1024,"encryption":null,
            "shard_level_metrics":[],"tags":{},"updating_until_ms":0,"shards":[]}"#;
        let meta: StreamMeta = serde_json::from_str(old).unwrap();
        assert!(!meta.grouped);
        let again: StreamMeta = serde_json::from_str(
            &serde_json::to_string(&StreamMeta { grouped: true, ..meta }).unwrap(),
        )
        .unwrap();
        assert!(again.grouped);
    }
}
