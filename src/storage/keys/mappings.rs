//! Byte layouts of the Lambda event source mapping keys (see the table in `keys.rs`).
//! Persisted: never reorder a field or reuse a tag.
//!
//! A mapping's record is JSON (`engine::triggers::record`, versioned) under `m<UUID>`. Its
//! checkpoints live under `M<UUID><shard id>`, one per shard it has read: the sequence
//! number of the next record to deliver (a DynamoDB stream shard's change-log sequence,
//! or a Kinesis shard's), written only after the batch before it completed. The UUID is
//! always 36 ASCII characters, so a mapping's checkpoints are exactly the keys that start
//! with `M<UUID>`, and the shard id is the rest of the key.

use crate::storage::StorageError;

/// Prefix of every mapping record in the meta keyspace.
pub const MAPPING_PREFIX: &[u8] = b"m";

/// Prefix of every checkpoint in the meta keyspace.
pub const CHECKPOINT_PREFIX: &[u8] = b"M";

/// Length of a mapping UUID (8-4-4-4-12 hex digits and dashes).
pub const UUID_LEN: usize = 36;

/// Version of the checkpoint value encoding: the next sequence number alone.
const CHECKPOINT_VERSION: u8 = 1;

/// ... followed by a tumbling window in progress: start and end (epoch ms, i64 BE), then
/// the function's state (JSON).
const WINDOW_VERSION: u8 = 2;

/// The meta key of a mapping's record, in the namespace whose key prefix is `ns`.
pub fn mapping_record(ns: &[u8], uuid: &str) -> Vec<u8> {
    let mut k = mapping_prefix(ns);
    k.extend_from_slice(uuid.as_bytes());
    k
}

/// Prefix of every mapping record of a namespace.
pub fn mapping_prefix(ns: &[u8]) -> Vec<u8> {
    [ns, MAPPING_PREFIX].concat()
}

/// Prefix of every checkpoint of one mapping.
pub fn checkpoint_prefix(uuid: &str) -> Vec<u8> {
    let mut k = CHECKPOINT_PREFIX.to_vec();
    k.extend_from_slice(uuid.as_bytes());
    k
}

/// The meta key of a mapping's checkpoint on one shard.
pub fn checkpoint(uuid: &str, shard_id: &str) -> Vec<u8> {
    let mut k = checkpoint_prefix(uuid);
    k.extend_from_slice(shard_id.as_bytes());
    k
}

/// The (mapping UUID, shard id) of a checkpoint key.
pub fn checkpoint_parts(key: &[u8]) -> Result<(&str, &str), StorageError> {
    let bad = || StorageError::Corrupt("mapping checkpoint key".into());
    let rest = key.strip_prefix(CHECKPOINT_PREFIX).ok_or_else(bad)?;
    if rest.len() <= UUID_LEN {
        return Err(bad());
    }
    let (uuid, shard) = rest.split_at(UUID_LEN);
    let uuid = std::str::from_utf8(uuid).map_err(|_| bad())?;
    let shard = std::str::from_utf8(shard).map_err(|_| bad())?;
    Ok((uuid, shard))
}

/// A checkpoint's value: a version byte, then the next sequence number (u64 BE). The
/// version leaves room for what later features keep per shard (a tumbling window's
/// state, a bisected batch's remaining half).
pub fn encode_checkpoint(next: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    v.push(CHECKPOINT_VERSION);
    v.extend_from_slice(&next.to_be_bytes());
    v
}

/// A checkpoint with the tumbling window in progress on its shard.
pub fn encode_checkpoint_window(next: u64, start_ms: i64, end_ms: i64, state: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(25 + state.len());
    v.push(WINDOW_VERSION);
    v.extend_from_slice(&next.to_be_bytes());
    v.extend_from_slice(&start_ms.to_be_bytes());
    v.extend_from_slice(&end_ms.to_be_bytes());
    v.extend_from_slice(state);
    v
}

/// Decodes a checkpoint's next sequence number; never panics on corrupt input.
pub fn decode_checkpoint(v: &[u8]) -> Result<u64, StorageError> {
    let bad = || StorageError::Corrupt("mapping checkpoint".into());
    if !matches!(v.first(), Some(&CHECKPOINT_VERSION | &WINDOW_VERSION)) {
        return Err(bad());
    }
    v.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(bad)
}

/// A tumbling window as a checkpoint carries it: start, end (epoch ms), state JSON.
pub type SavedWindow<'a> = (i64, i64, &'a [u8]);

/// The tumbling window a checkpoint carries.
pub fn decode_window(v: &[u8]) -> Result<Option<SavedWindow<'_>>, StorageError> {
    let bad = || StorageError::Corrupt("mapping checkpoint window".into());
    decode_checkpoint(v)?;
    if v[0] != WINDOW_VERSION {
        return Ok(None);
    }
    let at = |i: usize| v.get(i..i + 8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
    let (start, end) = (at(9).ok_or_else(bad)?, at(17).ok_or_else(bad)?);
    Ok(Some((start, end, &v[25..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UUID: &str = "a1b2c3d4-0000-4000-8000-0123456789ab";

    #[test]
    fn tags_are_pinned_and_one_mappings_checkpoints_share_a_prefix() {
        assert_eq!(mapping_record(b"", UUID)[0], b'm');
        assert_eq!(checkpoint(UUID, "s")[0], b'M');
        let a = checkpoint(UUID, "shardId-00000001700000000000-0a0b0c0d");
        assert!(a.starts_with(&checkpoint_prefix(UUID)));
        let other = checkpoint("a1b2c3d4-0000-4000-8000-0123456789ac", "shardId-000000000000");
        assert!(!other.starts_with(&checkpoint_prefix(UUID)));
        assert_eq!(checkpoint_parts(&a).unwrap(), (UUID, "shardId-00000001700000000000-0a0b0c0d"));
        assert!(checkpoint_parts(&checkpoint_prefix(UUID)).is_err());
        assert!(checkpoint_parts(b"Mshort").is_err());
        assert!(checkpoint_parts(&mapping_record(b"", UUID)).is_err());
    }

    proptest! {
        #[test]
        fn checkpoints_round_trip(next in any::<u64>(), shard in "shardId-[0-9a-f-]{1,40}") {
            let v = encode_checkpoint(next);
            prop_assert_eq!(decode_checkpoint(&v).unwrap(), next);
            for cut in 0..v.len() {
                prop_assert!(decode_checkpoint(&v[..cut]).is_err());
            }
            let w = encode_checkpoint_window(next, -5, 7, b"{}");
            prop_assert_eq!(decode_checkpoint(&w).unwrap(), next);
            prop_assert_eq!(decode_window(&w).unwrap(), Some((-5, 7, &b"{}"[..])));
            prop_assert_eq!(decode_window(&v).unwrap(), None);
            for cut in 0..25 {
                prop_assert!(decode_window(&w[..cut]).is_err());
            }
            let key = checkpoint(UUID, &shard);
            prop_assert_eq!(checkpoint_parts(&key).unwrap(), (UUID, shard.as_str()));
        }
    }
}
