//! Byte layouts of the Kinesis keys and values (see the table in `keys.rs`). Persisted:
//! never reorder a field or reuse a tag.
//!
//! Records sort by `<stream id> <shard index> <seq>`, big-endian, so one shard's records
//! are contiguous and in sequence order: reads are range scans, trimming deletes from the
//! front, and the retained sequence numbers of a shard are always one dense interval
//! (writers assign them densely, the trimmer only ever removes the oldest).

use crate::storage::StorageError;

/// Version of the persisted record encoding.
const RECORD_VERSION: u8 = 1;

/// Prefix of every Kinesis stream record in the meta keyspace.
pub const STREAM_RECORD_PREFIX: &[u8] = b"k\0";

/// The next-stream-id counter.
pub const NEXT_STREAM_ID: &[u8] = b"nnext_kinesis_stream_id";

/// The key of the secret that signs shard iterators (so they survive restarts).
pub const ITERATOR_SECRET: &[u8] = b"ikinesis_iterator_secret";

/// Prefix of every deleted-stream marker.
pub const DELETED_STREAM_PREFIX: &[u8] = b"K";

/// The meta key of a stream's record, in the namespace whose key prefix is `ns`.
pub fn stream_record(ns: &[u8], name: &str) -> Vec<u8> {
    let mut k = [ns, STREAM_RECORD_PREFIX].concat();
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix of every stream record of a namespace.
pub fn stream_record_prefix(ns: &[u8]) -> Vec<u8> {
    [ns, STREAM_RECORD_PREFIX].concat()
}

/// The marker of a deleted stream whose records are still being purged (global, as
/// the deleted-table markers).
pub fn deleted_stream(stream_id: u64) -> Vec<u8> {
    let mut k = DELETED_STREAM_PREFIX.to_vec();
    k.extend_from_slice(&stream_id.to_be_bytes());
    k
}

/// The meta key of one shard's counters.
pub fn shard_counters(stream_id: u64, shard: u32) -> Vec<u8> {
    let mut k = b"q".to_vec();
    k.extend_from_slice(&stream_id.to_be_bytes());
    k.extend_from_slice(&shard.to_be_bytes());
    k
}

/// Prefix of every record of a stream.
pub fn stream_prefix(stream_id: u64) -> Vec<u8> {
    stream_id.to_be_bytes().to_vec()
}

/// Prefix of every record of one shard.
pub fn shard_prefix(stream_id: u64, shard: u32) -> Vec<u8> {
    let mut k = stream_prefix(stream_id);
    k.extend_from_slice(&shard.to_be_bytes());
    k
}

/// The key of record `seq` of a shard.
pub fn record_key(stream_id: u64, shard: u32, seq: u64) -> Vec<u8> {
    let mut k = shard_prefix(stream_id, shard);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The sequence number at the end of a record key.
pub fn seq_of(key: &[u8]) -> Result<u64, StorageError> {
    key.get(12..20)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt("kinesis record key".into()))
}

/// What the writer keeps per shard, persisted in the same batch as the records it counts,
/// so sequence numbers are never reused (even after every record is trimmed) and the
/// retained totals need no scan at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// The sequence number the next record takes.
    pub next: u64,
    /// The oldest sequence number still kept (== `next` when the shard holds nothing).
    pub first: u64,
    /// Arrival time of the last record, in epoch milliseconds (arrivals never go back).
    pub last_arrival_ms: i64,
    /// Records and bytes (data plus partition key) still kept.
    pub records: i64,
    pub bytes: i64,
}

impl Counters {
    /// The persisted form: five big-endian 8-byte fields in declaration order.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(40);
        v.extend_from_slice(&self.next.to_be_bytes());
        v.extend_from_slice(&self.first.to_be_bytes());
        v.extend_from_slice(&self.last_arrival_ms.to_be_bytes());
        v.extend_from_slice(&self.records.to_be_bytes());
        v.extend_from_slice(&self.bytes.to_be_bytes());
        v
    }

    /// Decodes counters; never panics on corrupt input.
    pub fn decode(v: &[u8]) -> Result<Counters, StorageError> {
        let field = |i: usize| -> Result<[u8; 8], StorageError> {
            v.get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| StorageError::Corrupt("kinesis shard counters".into()))
        };
        Ok(Counters {
            next: u64::from_be_bytes(field(0)?),
            first: u64::from_be_bytes(field(1)?),
            last_arrival_ms: i64::from_be_bytes(field(2)?),
            records: i64::from_be_bytes(field(3)?),
            bytes: i64::from_be_bytes(field(4)?),
        })
    }
}

/// One stored record, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl StoredRecord {
    /// Bytes a record counts for in limits and metrics: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// The persisted form: version, arrival ms (i64 BE), partition key length (u16 BE), the
/// partition key's UTF-8, then the data to the end.
pub fn encode_record(arrival_ms: i64, partition_key: &str, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(11 + partition_key.len() + data.len());
    v.push(RECORD_VERSION);
    v.extend_from_slice(&arrival_ms.to_be_bytes());
    // Partition keys are at most 256 characters (1 KiB of UTF-8), so a u16 always fits.
    v.extend_from_slice(&(partition_key.len() as u16).to_be_bytes());
    v.extend_from_slice(partition_key.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Decodes a persisted record; never panics on corrupt input.
pub fn decode_record(v: &[u8]) -> Result<StoredRecord, StorageError> {
    let bad = |what: &str| StorageError::Corrupt(format!("kinesis record: {what}"));
    if v.first() != Some(&RECORD_VERSION) {
        return Err(bad("unknown version"));
    }
    let arrival_ms = record_arrival(v)?;
    let len = v.get(9..11).ok_or_else(|| bad("truncated"))?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    let key = v.get(11..11 + len).ok_or_else(|| bad("truncated"))?;
    let partition_key = String::from_utf8(key.to_vec()).map_err(|_| bad("partition key"))?;
    Ok(StoredRecord { arrival_ms, partition_key, data: v[11 + len..].to_vec() })
}

/// A record's arrival time alone (the trimmer and timestamp searches need nothing else).
pub fn record_arrival(v: &[u8]) -> Result<i64, StorageError> {
    v.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt("kinesis record: truncated".into()))
}

/// The bytes a stored record counts for (data plus partition key), from its encoding.
pub fn record_size(v: &[u8]) -> usize {
    v.len().saturating_sub(11)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shard_records_are_contiguous_and_ordered() {
        let a = record_key(1, 2, 255);
        let b = record_key(1, 2, 256);
        assert!(a < b && a.starts_with(&shard_prefix(1, 2)));
        assert!(record_key(1, 2, u64::MAX) < record_key(1, 3, 0));
        assert_eq!(seq_of(&b).unwrap(), 256);
        assert!(seq_of(&b[..19]).is_err());
    }

    proptest! {
        #[test]
        fn records_round_trip(ms in any::<i64>(), pk in ".{1,40}", data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let v = encode_record(ms, &pk, &data);
            let r = decode_record(&v).unwrap();
            prop_assert_eq!(record_size(&v), r.size());
            prop_assert_eq!(r, StoredRecord { arrival_ms: ms, partition_key: pk.clone(), data });
            for cut in 0..11 + pk.len() {
                prop_assert!(decode_record(&v[..cut]).is_err());
            }
        }

        #[test]
        fn counters_round_trip(next in any::<u64>(), first in any::<u64>(), ms in any::<i64>(), records in any::<i64>(), bytes in any::<i64>()) {
            let c = Counters { next, first, last_arrival_ms: ms, records, bytes };
            prop_assert_eq!(Counters::decode(&c.encode()).unwrap(), c);
            prop_assert!(Counters::decode(&c.encode()[..39]).is_err());
        }
    }
}
