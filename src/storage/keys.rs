//! Byte layouts of every storage key. Persisted: never renumber a tag or reorder a field.
//!
//! ```text
//! meta keyspace
//!   b"t" 0x00 <table name, UTF-8>              -> table record (JSON, versioned)
//!   b"n" b"next_table_id"                       -> u64 BE
//!   b"s" <table id u64 BE> <partition u32 BE>   -> partition stats: items i64 BE, bytes i64 BE
//!   b"d" <table id u64 BE>                      -> table deleted, its items still being purged
//!   b"x" <table id u64 BE> <index id u32 BE> <partition u32 BE>
//!                                               -> index stats: entries i64 BE, bytes i64 BE
//!   b"e" <table id u64 BE> <index id u32 BE>    -> index deleted, its entries still being purged
//!   b"r" <table name, UTF-8> 0x00 <stream label> -> stream record (JSON, versioned)
//!   b"c" <table id u64 BE> <partition u32 BE>   -> bridge cursor: next seq to forward, u64 BE
//!   b"k" 0x00 <Kinesis stream name, UTF-8>     -> Kinesis stream record (JSON, versioned)
//!   b"n" b"next_kinesis_stream_id"              -> u64 BE
//!   b"q" <stream id u64 BE> <shard index u32 BE> -> Kinesis shard counters (`kinesis::Counters`)
//!   b"K" <stream id u64 BE>                     -> Kinesis stream deleted, records still being purged
//!   b"i" b"kinesis_iterator_secret"             -> 16 random bytes keying shard iterator checksums
//!   b"m" <mapping UUID, 36 ASCII>               -> Lambda event source mapping record (JSON, versioned)
//!   b"M" <mapping UUID, 36 ASCII> <shard id, UTF-8>
//!                                               -> mapping checkpoint: version u8, next seq u64 BE
//! changes keyspace (the change log)
//!   <table id u64 BE> <partition u32 BE> <seq u64 BE>  -> change record
//! kinesis keyspace (the Kinesis log)
//!   <stream id u64 BE> <shard index u32 BE> <first seq u64 BE>  -> a run of records (`kinesis::Run`)
//!   <stream id u64 BE> FFFFFFFF <group u64 BE>  -> a group of runs (`kinesis_groups::Group`)
//! kinesis_index keyspace (streams stored by group)
//!   <stream id u64 BE> FFFFFFFF <group u64 BE>  -> the group's header (`kinesis_groups::Header`)
//!   <stream id u64 BE> <shard index u32 BE> <first seq u64 BE>  -> locator: group u64 BE
//! items keyspace
//!   <table id u64 BE> <hash component> [<range component>]
//!   hash component:  <type tag u8> <length u16 BE> <bytes>
//!   range component: <type tag u8> <bytes>      (memcmp order == DynamoDB's sort order)
//! ```
//!
//! indexes keyspace (secondary indexes: one entry per item that has the index's keys)
//!   <table id u64 BE> <index id u32 BE> <hash component> [<delimited range component>]
//!   <item key without the table id>             -> the projected item
//!   delimited range component: <type tag u8> then, for S and B, the bytes with 0x00
//!   escaped as 0x00 0xFF and a 0x00 0x00 terminator; for N the self-delimiting
//!   `Number::sort_key_bytes` (so entries still sort by the index range key, and the
//!   table's primary key that follows makes each entry unique)
//!
//! Key bytes of a value: S is its UTF-8, B its raw bytes, N its order-preserving
//! `Number::sort_key_bytes` (so "1" and "1.0" are one key). The hash component is length
//! prefixed so one partition key's items are contiguous; the range component is last, so
//! it needs no terminator and sorts by value.

pub mod kinesis;
pub mod kinesis_groups;
pub mod mappings;

use crate::model::{AttributeValue, Number};

use super::StorageError;

/// Type tags of key components. Pinned: persisted in every item key.
const TAG_S: u8 = 1;
const TAG_N: u8 = 2;
const TAG_B: u8 = 3;

/// The catalog key of a table of the namespace whose key prefix is `ns`
/// (`engine::namespace`).
pub fn table_record(ns: &[u8], name: &str) -> Vec<u8> {
    let mut k = table_record_prefix(ns);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix of every table record of a namespace.
pub fn table_record_prefix(ns: &[u8]) -> Vec<u8> {
    [ns, b"t\0"].concat()
}

/// The next-table-id counter.
pub const NEXT_TABLE_ID: &[u8] = b"nnext_table_id";

/// A table partition's statistics.
pub fn partition_stats(table_id: u64, partition: u32) -> Vec<u8> {
    let mut k = b"s".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// Prefix of all statistics of one table.
pub fn partition_stats_prefix(table_id: u64) -> Vec<u8> {
    let mut k = b"s".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

/// The marker of a deleted table whose items are still being purged. Global (by id):
/// the default namespace's engine resumes every purge at start.
pub fn deleted_table(table_id: u64) -> Vec<u8> {
    let mut k = b"d".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

/// Prefix of every deleted-table marker.
pub const DELETED_TABLE_PREFIX: &[u8] = b"d";

/// Prefix of every item of a table.
pub fn table_items_prefix(table_id: u64) -> Vec<u8> {
    table_id.to_be_bytes().to_vec()
}

/// The storage key of an item, from its key attribute values.
pub fn item_key(table_id: u64, hash: &AttributeValue, range: Option<&AttributeValue>) -> Vec<u8> {
    let mut k = partition_prefix(table_id, hash);
    if let Some(range) = range {
        let (tag, bytes) = component(range);
        k.push(tag);
        k.extend_from_slice(&bytes);
    }
    k
}

/// Prefix of every item that shares one partition key value.
pub fn partition_prefix(table_id: u64, hash: &AttributeValue) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(&table_id.to_be_bytes());
    push_hash_component(&mut k, hash);
    k
}

fn push_hash_component(k: &mut Vec<u8>, hash: &AttributeValue) {
    let (tag, bytes) = component(hash);
    k.push(tag);
    // Partition key values are at most 2048 bytes, so a u16 length always fits.
    k.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    k.extend_from_slice(&bytes);
}

/// The hash component's bytes alone (stable input to partition routing).
pub fn hash_component(hash: &AttributeValue) -> Vec<u8> {
    let (tag, mut bytes) = component(hash);
    bytes.insert(0, tag);
    bytes
}

fn component(value: &AttributeValue) -> (u8, Vec<u8>) {
    match value {
        AttributeValue::S(s) => (TAG_S, s.as_bytes().to_vec()),
        AttributeValue::N(n) => (TAG_N, n.sort_key_bytes()),
        AttributeValue::B(b) => (TAG_B, b.clone()),
        // Callers validate key types before building keys; anything else is a bug,
        // encoded distinctly rather than panicking.
        other => (0, format!("{other:?}").into_bytes()),
    }
}

/// Decodes a key component back to its value (used to rebuild keys for paging).
pub fn decode_component(tag: u8, bytes: &[u8]) -> Result<AttributeValue, StorageError> {
    match tag {
        TAG_S => String::from_utf8(bytes.to_vec())
            .map(AttributeValue::S)
            .map_err(|_| StorageError::Corrupt("key string is not UTF-8".into())),
        TAG_N => Number::from_sort_key_bytes(bytes)
            .map(AttributeValue::N)
            .map_err(|e| StorageError::Corrupt(format!("key number: {e}"))),
        TAG_B => Ok(AttributeValue::B(bytes.to_vec())),
        other => Err(StorageError::Corrupt(format!("unknown key tag {other}"))),
    }
}

/// An index's statistics for one table partition.
pub fn index_stats(table_id: u64, index_id: u32, partition: u32) -> Vec<u8> {
    let mut k = index_stats_prefix(table_id, index_id);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// Prefix of all statistics of one index.
pub fn index_stats_prefix(table_id: u64, index_id: u32) -> Vec<u8> {
    let mut k = b"x".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// The marker of a deleted index whose entries are still being purged (global, as
/// [`deleted_table`]).
pub fn deleted_index(table_id: u64, index_id: u32) -> Vec<u8> {
    let mut k = b"e".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// Prefix of every deleted-index marker.
pub const DELETED_INDEX_PREFIX: &[u8] = b"e";

/// Prefix of every entry of one index.
pub fn index_prefix(table_id: u64, index_id: u32) -> Vec<u8> {
    let mut k = table_id.to_be_bytes().to_vec();
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// Prefix of every entry of one index that shares one index partition key value: one
/// length-prefixed component per partition key attribute (a multi-attribute key has
/// up to four; a single attribute's layout is what it always was).
pub fn index_partition_prefix(table_id: u64, index_id: u32, hash: &[&AttributeValue]) -> Vec<u8> {
    let mut k = index_prefix(table_id, index_id);
    for h in hash {
        push_hash_component(&mut k, h);
    }
    k
}

/// The key of one index entry: the index's key values (partition key attributes, then
/// each sort key attribute delimited, so a multi-attribute sort key orders as its tuple),
/// then the item's own key (`item_key` without its table id), so entries with equal
/// index keys stay distinct.
pub fn index_entry_key(
    table_id: u64,
    index_id: u32,
    hash: &[&AttributeValue],
    range: &[&AttributeValue],
    item_key: &[u8],
) -> Vec<u8> {
    let mut k = index_partition_prefix(table_id, index_id, hash);
    for r in range {
        push_delimited_component(&mut k, r);
    }
    k.extend_from_slice(item_key.get(8..).unwrap_or_default());
    k
}

/// Appends a range component that marks its own end and keeps memcmp order.
pub fn push_delimited_component(k: &mut Vec<u8>, value: &AttributeValue) {
    let (tag, bytes) = component(value);
    k.push(tag);
    if tag == TAG_N {
        // Number sort-key bytes are self-delimiting.
        k.extend_from_slice(&bytes);
        return;
    }
    for b in bytes {
        k.push(b);
        if b == 0 {
            k.push(0xFF);
        }
    }
    k.extend_from_slice(&[0, 0]);
}

/// The meta key of a stream.
pub fn stream_record(ns: &[u8], table: &str, label: &str) -> Vec<u8> {
    let mut k = stream_record_prefix(ns);
    k.extend_from_slice(table.as_bytes());
    k.push(0);
    k.extend_from_slice(label.as_bytes());
    k
}

/// Prefix of every stream record of a namespace.
pub fn stream_record_prefix(ns: &[u8]) -> Vec<u8> {
    [ns, b"r"].concat()
}

/// The bridge cursor of a table partition: the sequence number of the next change to
/// forward to the table's Kinesis destination.
pub fn bridge_cursor(table_id: u64, partition: u32) -> Vec<u8> {
    let mut k = bridge_cursor_prefix(table_id);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// Prefix of every bridge cursor of a table.
pub fn bridge_cursor_prefix(table_id: u64) -> Vec<u8> {
    let mut k = b"c".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

/// The change-log key of record `seq` of a table partition.
pub fn change_key(table_id: u64, partition: u32, seq: u64) -> Vec<u8> {
    let mut k = change_prefix(table_id, partition);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Prefix of one table partition's change log.
pub fn change_prefix(table_id: u64, partition: u32) -> Vec<u8> {
    let mut k = table_id.to_be_bytes().to_vec();
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// Encodes partition statistics.
pub fn encode_stats(items: i64, bytes: i64) -> Vec<u8> {
    let mut v = items.to_be_bytes().to_vec();
    v.extend_from_slice(&bytes.to_be_bytes());
    v
}

/// Encodes a table partition's statistics with its last change-log sequence number
/// (a third field; records written before the change log have only two).
pub fn encode_partition_stats(items: i64, bytes: i64, last_seq: u64) -> Vec<u8> {
    let mut v = encode_stats(items, bytes);
    v.extend_from_slice(&last_seq.to_be_bytes());
    v
}

/// The last sequence number of partition statistics (0 when the record has none).
pub fn decode_last_seq(v: &[u8]) -> u64 {
    v.get(16..24).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Decodes partition statistics.
pub fn decode_stats(v: &[u8]) -> Result<(i64, i64), StorageError> {
    let bad = || StorageError::Corrupt("partition stats".into());
    let items = i64::from_be_bytes(v.get(0..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let bytes = i64::from_be_bytes(v.get(8..16).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    Ok((items, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    #[test]
    fn equal_numbers_make_equal_keys() {
        assert_eq!(item_key(1, &n("1"), None), item_key(1, &n("1.0"), None));
        assert_ne!(item_key(1, &n("1"), None), item_key(2, &n("1"), None));
    }

    #[test]
    fn one_partition_is_contiguous() {
        let s = |x: &str| AttributeValue::S(x.into());
        let a = item_key(7, &s("a"), Some(&s("zzz")));
        let ab = item_key(7, &s("ab"), Some(&s("")));
        let prefix = partition_prefix(7, &s("a"));
        assert!(a.starts_with(&prefix));
        assert!(!ab.starts_with(&prefix));
    }

    #[test]
    fn index_entries_sort_by_index_range_then_item() {
        let s = |x: &str| AttributeValue::S(x.into());
        let item_a = item_key(3, &s("p1"), None);
        let item_b = item_key(3, &s("p2"), None);
        let k = |r: &str, item: &[u8]| index_entry_key(3, 1, &[&s("g")], &[&s(r)], item);
        // "a" < "a\0" < "ab": the terminator and escaping keep string order.
        assert!(k("a", &item_b) < k("a\0", &item_a));
        assert!(k("a\0", &item_b) < k("ab", &item_a));
        assert!(k("a", &item_a) < k("a", &item_b));
        assert!(k("a", &item_a).starts_with(&index_partition_prefix(3, 1, &[&s("g")])));
    }

    proptest! {
        #[test]
        fn delimited_components_keep_order(a in proptest::collection::vec(any::<u8>(), 0..12), b in proptest::collection::vec(any::<u8>(), 0..12), suffix_a in proptest::collection::vec(any::<u8>(), 0..6), suffix_b in proptest::collection::vec(any::<u8>(), 0..6)) {
            let mut ka = Vec::new();
            push_delimited_component(&mut ka, &AttributeValue::B(a.clone()));
            ka.extend_from_slice(&suffix_a);
            let mut kb = Vec::new();
            push_delimited_component(&mut kb, &AttributeValue::B(b.clone()));
            kb.extend_from_slice(&suffix_b);
            if a != b {
                prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            }
        }

        #[test]
        fn range_keys_sort_like_numbers(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, fa in 0u32..1000, fb in 0u32..1000) {
            let (x, y) = (format!("{a}.{fa:03}"), format!("{b}.{fb:03}"));
            let h = AttributeValue::S("h".into());
            let kx = item_key(1, &h, Some(&n(&x)));
            let ky = item_key(1, &h, Some(&n(&y)));
            let (nx, ny) = (Number::parse(&x).unwrap(), Number::parse(&y).unwrap());
            prop_assert_eq!(kx.cmp(&ky), nx.cmp(&ny));
        }

        #[test]
        fn stats_round_trip(items in any::<i64>(), bytes in any::<i64>()) {
            prop_assert_eq!(decode_stats(&encode_stats(items, bytes)).unwrap(), (items, bytes));
        }

        #[test]
        fn components_round_trip(s in ".{0,40}", b in proptest::collection::vec(any::<u8>(), 0..40)) {
            for v in [AttributeValue::S(s.clone()), AttributeValue::B(b.clone())] {
                let (tag, bytes) = component(&v);
                prop_assert_eq!(decode_component(tag, &bytes).unwrap(), v);
            }
        }
    }
}
