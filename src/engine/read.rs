//! Range reads for Query and Scan: one page at a time, over a storage snapshot, so a
//! read never waits for a writer and never sees half of a write group.
//!
//! A read walks a [`KeySpace`]: byte-ordered keys made of a partition prefix followed
//! by an order-preserving sort component: a table's items (`storage::keys::item_key`)
//! or a secondary index's entries (`storage::keys::index_entry_key`, whose sort
//! component is delimited and followed by the item's own key), so the page loop and the
//! bounds below serve both.
//!
//! A page stops after `limit` items were read or once `max_bytes` of items were read
//! (DynamoDB's Limit and 1 MB page, both counted before any filter), and says so, so
//! the caller can hand out a LastEvaluatedKey.

use std::ops::Bound;
use std::sync::Arc;

use crate::model::expr::KeyOp;
use crate::model::{AttributeValue, Item, value};
use crate::storage::{ReadView, Space, StorageError, Store, keys};

use super::Engine;

/// DynamoDB's page size: a Query or Scan reads at most 1 MB of items per call.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// After skipping this many items of one partition outside the requested segment, the
/// page loop seeks past the partition instead of reading on through it.
const SEEK_AFTER_SKIPPED: usize = 16;

/// A contiguous, ordered set of keys a read can walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpace {
    /// The items of one table, keyed by the table's primary key.
    Table { table_id: u64 },
    /// The entries of one secondary index, keyed by the index key then the item key.
    Index { table_id: u64, index_id: u32 },
}

/// Storage-key bounds of a read.
pub type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

impl KeySpace {
    fn prefix(&self) -> Vec<u8> {
        match self {
            KeySpace::Table { table_id } => keys::table_items_prefix(*table_id),
            KeySpace::Index { table_id, index_id } => keys::index_prefix(*table_id, *index_id),
        }
    }

    fn space(&self) -> Space {
        match self {
            KeySpace::Table { .. } => Space::Items,
            KeySpace::Index { .. } => Space::Indexes,
        }
    }

    /// Every key of the key space (Scan).
    pub fn whole(&self) -> KeyBounds {
        let prefix = self.prefix();
        let end = prefix_end(&prefix);
        (Bound::Included(prefix), end)
    }

    /// The storage key of the entry with these key values (a start key's position).
    /// `item_key` is the item's own storage key, which follows an index's key values.
    /// `hash` and `range` hold one value per key attribute (a table has one of each at
    /// most; an index with a multi-attribute key up to four of each).
    pub fn position(
        &self,
        hash: &[&AttributeValue],
        range: &[&AttributeValue],
        item_key: &[u8],
    ) -> Vec<u8> {
        match self {
            KeySpace::Table { table_id } => {
                keys::item_key(*table_id, hash[0], range.first().copied())
            }
            KeySpace::Index { table_id, index_id } => {
                keys::index_entry_key(*table_id, *index_id, hash, range, item_key)
            }
        }
    }

    /// The keys of partition `hash` whose leading sort key attributes equal `equal`
    /// and whose next one satisfies `op` (everything under that prefix when `op` is
    /// `None`). Sort components are order-preserving, so each operator is one
    /// contiguous key range. `equal` is empty for tables (one sort key attribute).
    pub fn query(
        &self,
        hash: &[&AttributeValue],
        equal: &[&AttributeValue],
        op: Option<&KeyOp>,
    ) -> KeyBounds {
        use Bound::{Excluded, Included};
        let partition = match self {
            KeySpace::Table { table_id } => keys::partition_prefix(*table_id, hash[0]),
            KeySpace::Index { table_id, index_id } => {
                let mut k = keys::index_partition_prefix(*table_id, *index_id, hash);
                for v in equal {
                    keys::push_delimited_component(&mut k, v);
                }
                k
            }
        };
        let start = || Bound::Included(partition.clone());
        let end = || prefix_end(&partition);
        match self {
            KeySpace::Table { .. } => {
                // The sort component is last in a table key: a value's key is exact.
                let at = |v: &AttributeValue| self.position(hash, &[v], &[]);
                match op {
                    None => (start(), end()),
                    Some(KeyOp::Eq(v)) => (Included(at(v)), Included(at(v))),
                    Some(KeyOp::Lt(v)) => (start(), Excluded(at(v))),
                    Some(KeyOp::Le(v)) => (start(), Included(at(v))),
                    Some(KeyOp::Gt(v)) => (Excluded(at(v)), end()),
                    Some(KeyOp::Ge(v)) => (Included(at(v)), end()),
                    Some(KeyOp::Between(lo, hi)) => (Included(at(lo)), Included(at(hi))),
                    Some(KeyOp::BeginsWith(prefix)) => {
                        // S and B sort components are the raw bytes, so "begins with"
                        // is a byte-prefix range.
                        let from = at(prefix);
                        let to = prefix_end(&from);
                        (Included(from), to)
                    }
                }
            }
            KeySpace::Index { .. } => {
                // In an index key the sort component is followed by the item key, so a
                // value stands for every key it prefixes.
                let at = |v: &AttributeValue| {
                    let mut k = partition.clone();
                    keys::push_delimited_component(&mut k, v);
                    k
                };
                let after = |v: &AttributeValue| prefix_end(&at(v));
                match op {
                    None => (start(), end()),
                    Some(KeyOp::Eq(v)) => (Included(at(v)), after(v)),
                    Some(KeyOp::Lt(v)) => (start(), Excluded(at(v))),
                    Some(KeyOp::Le(v)) => (start(), after(v)),
                    Some(KeyOp::Gt(v)) => (after(v), end()),
                    Some(KeyOp::Ge(v)) => (Included(at(v)), end()),
                    Some(KeyOp::Between(lo, hi)) => (Included(at(lo)), after(hi)),
                    Some(KeyOp::BeginsWith(prefix)) => {
                        // The delimited form of a prefix, without its terminator,
                        // prefixes the form of every value that begins with it.
                        let mut from = partition.clone();
                        keys::push_delimited_component(&mut from, prefix);
                        from.truncate(from.len() - 2);
                        let to = prefix_end(&from);
                        (Included(from), to)
                    }
                }
            }
        }
    }

    /// Where the partition key component starts in this key space's keys.
    fn partition_offset(&self) -> usize {
        match self {
            KeySpace::Table { .. } => 8,
            KeySpace::Index { .. } => 12,
        }
    }
}

/// The first key after every key that starts with `prefix` (unbounded when there is
/// none, i.e. the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// One segment of a parallel scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub total: u32,
}

/// The segment of the partition whose hash component (`keys::hash_component`) is
/// `component`, out of `total`. Segments split a stable 64-bit hash of the partition
/// key into equal contiguous ranges, as DynamoDB splits its hash space: every item of
/// one partition lands in one segment, and the segments are disjoint and cover all.
pub fn segment_of(component: &[u8], total: u32) -> u32 {
    hash_segment(fnv(FNV_START, component), total)
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Range-splits the hash after a finalizer: FNV-1a alone leaves the high bits of short,
/// similar keys ("x1", "x2", ...) clustered, which would pile them into few segments.
fn hash_segment(h: u64, total: u32) -> u32 {
    let mut x = h;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    ((u128::from(x) * u128::from(total)) >> 64) as u32
}

/// The partition prefix length and the segment hash of a key whose partition component
/// (`<tag> <len u16> <bytes>`) starts at `at`.
fn partition_of(key: &[u8], at: usize) -> Result<(usize, u64), StorageError> {
    let bad = || StorageError::Corrupt("item key layout".into());
    let tag = *key.get(at).ok_or_else(bad)?;
    let len = key.get(at + 1..at + 3).ok_or_else(bad)?;
    let end = at + 3 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    let bytes = key.get(at + 3..end).ok_or_else(bad)?;
    Ok((end, fnv(fnv(FNV_START, &[tag]), bytes)))
}

/// What to read for one page.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub space: KeySpace,
    pub bounds: KeyBounds,
    /// Key order (`true`) or reverse key order.
    pub forward: bool,
    /// Read at most this many items (DynamoDB's Limit).
    pub limit: Option<usize>,
    /// Stop once this many bytes of items were read.
    pub max_bytes: usize,
    /// Only items of partitions in this segment (forward reads only).
    pub segment: Option<Segment>,
}

/// One page: every item read, in order, before any filter.
#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The summed DynamoDB sizes of `items`.
    pub bytes: usize,
    /// The page stopped at the limit or the size cap: more items may follow the last.
    pub truncated: bool,
}

impl Engine {
    /// Reads one page on the blocking pool: decoding up to a megabyte of items is too
    /// much work for an async worker thread.
    pub async fn read_page(&self, request: PageRequest) -> Result<Page, StorageError> {
        let store: Arc<Store> = self.store.clone();
        tokio::task::spawn_blocking(move || read_page(&store.read_view(), &request))
            .await
            .map_err(|e| StorageError::Fjall(format!("read task: {e}")))?
    }
}

/// A stored item, decoded; a record that does not decode is corruption.
pub(super) fn decode_stored_item(bytes: &[u8]) -> Result<Item, StorageError> {
    value::decode_item(bytes).map_err(|e| StorageError::Corrupt(format!("item: {}", e.message())))
}

/// The page loop over one snapshot.
pub fn read_page(view: &ReadView, req: &PageRequest) -> Result<Page, StorageError> {
    let mut page = Page::default();
    let mut lower = req.bounds.0.clone();
    // Restarted only to seek past a partition outside the segment.
    'seek: loop {
        let mut iter = view.range(req.space.space(), lower.clone(), req.bounds.1.clone());
        let mut skipped = 0;
        loop {
            let next = if req.forward { iter.next() } else { iter.next_back() };
            let Some(entry) = next else { break 'seek };
            let (key, bytes) = entry?;
            if let Some(segment) = req.segment.filter(|s| s.total > 1) {
                let (prefix_len, hash) = partition_of(&key, req.space.partition_offset())?;
                if hash_segment(hash, segment.total) != segment.index {
                    skipped += 1;
                    if skipped >= SEEK_AFTER_SKIPPED && req.forward {
                        lower = prefix_end(&key[..prefix_len]);
                        if lower == Bound::Unbounded {
                            break 'seek;
                        }
                        continue 'seek;
                    }
                    continue;
                }
                skipped = 0;
            }
            let item = decode_stored_item(&bytes)?;
            page.bytes += value::item_size(&item);
            page.items.push(item);
            let full = req.limit.is_some_and(|l| page.items.len() >= l);
            if full || page.bytes >= req.max_bytes {
                page.truncated = true;
                break 'seek;
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_bounds_select_exactly_the_matching_entries() {
        let space = KeySpace::Index { table_id: 4, index_id: 2 };
        let s = |x: &str| AttributeValue::S(x.into());
        let h = s("part");
        let values = ["", "a", "a\0", "ab", "abc", "b", "b\0x"];
        let entry = |v: &str, item: &str| {
            keys::index_entry_key(4, 2, &[&h], &[&s(v)], &keys::item_key(4, &s(item), None))
        };
        let within = |(lo, hi): &KeyBounds, k: &Vec<u8>| {
            let above = match lo {
                Bound::Included(b) => k >= b,
                Bound::Excluded(b) => k > b,
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(b) => k <= b,
                Bound::Excluded(b) => k < b,
                Bound::Unbounded => true,
            };
            above && below
        };
        type Case = (KeyOp, fn(&str) -> bool);
        let cases: Vec<Case> = vec![
            (KeyOp::Eq(s("a")), |v| v == "a"),
            (KeyOp::Lt(s("ab")), |v| v < "ab"),
            (KeyOp::Le(s("ab")), |v| v <= "ab"),
            (KeyOp::Gt(s("a")), |v| v > "a"),
            (KeyOp::Ge(s("a\0")), |v| v >= "a\0"),
            (KeyOp::Between(s("a"), s("abc")), |v| ("a"..="abc").contains(&v)),
            (KeyOp::BeginsWith(s("a")), |v| v.starts_with('a')),
            (KeyOp::BeginsWith(s("b\0")), |v| v.starts_with("b\0")),
        ];
        for (op, expected) in cases {
            let bounds = space.query(&[&h], &[], Some(&op));
            for v in values {
                for item in ["i1", "i2"] {
                    assert_eq!(within(&bounds, &entry(v, item)), expected(v), "{op:?} on {v:?}");
                }
            }
        }
    }

    #[test]
    fn multi_attribute_keys_order_as_tuples_and_query_by_prefix() {
        let space = KeySpace::Index { table_id: 4, index_id: 2 };
        let s = |x: &str| AttributeValue::S(x.into());
        let n = |x: i64| {
            AttributeValue::N(crate::model::number::Number::parse(&x.to_string()).unwrap())
        };
        let hash = [s("t"), n(1)];
        let other_hash = [s("t"), n(2)];
        let firsts = ["a", "a\0", "ab", "b"];
        let seconds = [-5, 0, 3, 10, 100];
        let entry = |h: &[AttributeValue; 2], a: &str, b: i64| {
            let item = keys::item_key(4, &s(&format!("{a}/{b}")), None);
            keys::index_entry_key(4, 2, &[&h[0], &h[1]], &[&s(a), &n(b)], &item)
        };
        // Storage order is the (S, N) tuple order, each by its own type.
        let mut tuples: Vec<(&str, i64)> =
            firsts.iter().flat_map(|a| seconds.iter().map(move |b| (*a, *b))).collect();
        let mut by_key = tuples.clone();
        by_key.sort_by_key(|(a, b)| entry(&hash, a, *b));
        tuples.sort();
        assert_eq!(by_key, tuples);
        let within = |(lo, hi): &KeyBounds, k: &[u8]| {
            let above = match lo {
                Bound::Included(b) => k >= b.as_slice(),
                Bound::Excluded(b) => k > b.as_slice(),
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(b) => k <= b.as_slice(),
                Bound::Excluded(b) => k < b.as_slice(),
                Bound::Unbounded => true,
            };
            above && below
        };
        type Case = (Vec<AttributeValue>, Option<KeyOp>, fn(&str, i64) -> bool);
        let cases: Vec<Case> = vec![
            (vec![], None, |_, _| true),
            (vec![], Some(KeyOp::Eq(s("a"))), |a, _| a == "a"),
            (vec![], Some(KeyOp::BeginsWith(s("a"))), |a, _| a.starts_with('a')),
            (vec![], Some(KeyOp::Gt(s("a"))), |a, _| a > "a"),
            (vec![s("a")], None, |a, _| a == "a"),
            (vec![s("a")], Some(KeyOp::Gt(n(0))), |a, b| a == "a" && b > 0),
            (vec![s("a")], Some(KeyOp::Le(n(3))), |a, b| a == "a" && b <= 3),
            (vec![s("ab")], Some(KeyOp::Between(n(0), n(10))), |a, b| {
                a == "ab" && (0..=10).contains(&b)
            }),
            (vec![s("b")], Some(KeyOp::Eq(n(10))), |a, b| a == "b" && b == 10),
        ];
        for (equal, op, expected) in cases {
            let equal: Vec<&AttributeValue> = equal.iter().collect();
            let bounds = space.query(&[&hash[0], &hash[1]], &equal, op.as_ref());
            for a in firsts {
                for b in seconds {
                    let what = format!("{equal:?} {op:?} on ({a:?}, {b})");
                    assert_eq!(within(&bounds, &entry(&hash, a, b)), expected(a, b), "{what}");
                    assert!(!within(&bounds, &entry(&other_hash, a, b)), "{what}");
                }
            }
        }
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Bound::Excluded(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Bound::Excluded(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), Bound::Unbounded);
    }

    #[test]
    fn segments_are_stable_and_in_range() {
        for total in [1, 2, 3, 7, 1_000_000] {
            for key in [&b"\x01a"[..], b"\x02\x80", b"", b"\x03xyz"] {
                let s = segment_of(key, total);
                assert!(s < total);
                assert_eq!(s, segment_of(key, total));
            }
        }
        assert_eq!(segment_of(b"\x01anything", 1), 0);
        // Similar short keys spread over the segments.
        let mut counts = [0; 4];
        for i in 0..400 {
            counts[segment_of(format!("\x01x{i}").as_bytes(), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (70..130).contains(c)), "{counts:?}");
    }

    #[test]
    fn key_hash_matches_component_hash() {
        let h = AttributeValue::S("part".into());
        let key = keys::item_key(9, &h, Some(&AttributeValue::S("x".into())));
        let (len, hash) = partition_of(&key, 8).unwrap();
        assert_eq!(&key[..len], keys::partition_prefix(9, &h).as_slice());
        for total in [2, 5, 64] {
            assert_eq!(hash_segment(hash, total), segment_of(&keys::hash_component(&h), total));
        }
        assert!(partition_of(b"short", 8).is_err());
    }
}
