//! Which open shard a record's hash key goes to: the writer's lookup for every record.

use super::meta::StreamMeta;

/// The open shards' hash ranges, sorted by start, and for each value of a hash key's top
/// byte the last range starting at or before that byte's first key. A binary search over
/// all ranges missed a branch at nearly every step on random hash keys, about 2 % of the
/// daemon's CPU under PutRecords on 64 shards; with the index a lookup on up to 256 even
/// shards looks at one or two ranges.
pub struct Routes {
    ranges: Vec<(u128, u128, u32)>,
    from: [u32; 256],
}

impl Routes {
    /// The routes of `meta`'s open shards.
    pub fn new(meta: &StreamMeta) -> Routes {
        Routes::of(meta.open_shards().map(|s| (s.start_hash, s.end_hash, s.index)).collect())
    }

    fn of(mut ranges: Vec<(u128, u128, u32)>) -> Routes {
        ranges.sort_unstable();
        let mut from = [0u32; 256];
        for (byte, at) in from.iter_mut().enumerate() {
            let first_key = (byte as u128) << 120;
            *at = ranges.partition_point(|r| r.0 <= first_key).saturating_sub(1) as u32;
        }
        Routes { ranges, from }
    }

    /// How many open shards there are.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The open shard whose range holds `hash`.
    pub fn route(&self, hash: u128) -> Option<u32> {
        let byte = (hash >> 120) as usize;
        // The range holding `hash` starts at or after the one holding the byte's first
        // key, and at or before the one holding the next byte's.
        let lo = self.from[byte] as usize;
        let hi = match self.from.get(byte + 1) {
            Some(&next) => next as usize + 1,
            None => self.ranges.len(),
        };
        let window = self.ranges.get(lo..hi)?;
        let at = lo + window.partition_point(|r| r.0 <= hash).checked_sub(1)?;
        let (start, end, shard) = self.ranges[at];
        (start <= hash && hash <= end).then_some(shard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain search the index stands in for.
    fn searched(ranges: &[(u128, u128, u32)], hash: u128) -> Option<u32> {
        let mut sorted = ranges.to_vec();
        sorted.sort_unstable();
        let at = sorted.partition_point(|r| r.0 <= hash).checked_sub(1)?;
        let (start, end, shard) = sorted[at];
        (start <= hash && hash <= end).then_some(shard)
    }

    #[test]
    fn routing_finds_the_covering_range() {
        let routes = Routes::of(vec![(20, u128::MAX, 7), (0, 9, 4), (10, 19, 2)]);
        assert_eq!(routes.route(0), Some(4));
        assert_eq!(routes.route(9), Some(4));
        assert_eq!(routes.route(10), Some(2));
        assert_eq!(routes.route(u128::MAX), Some(7));
        assert_eq!(Routes::of(vec![(5, 9, 1)]).route(3), None);
        assert_eq!(Routes::of(vec![(5, 9, 1)]).route(10), None);
        assert_eq!(Routes::of(vec![]).route(10), None);
    }

    #[test]
    fn the_index_answers_as_a_search_of_every_range_would() {
        let mut rng = fastrand::Rng::with_seed(3);
        let even = |n: u128| -> Vec<(u128, u128, u32)> {
            let step = (u128::MAX / n).saturating_add(1);
            (0..n)
                .map(|i| {
                    (i * step, if i + 1 == n { u128::MAX } else { (i + 1) * step - 1 }, i as u32)
                })
                .collect()
        };
        // Even splits of every size up to past the index's 256 buckets, then splits and
        // merges left uneven: cut points anywhere, many within one top byte, and gaps.
        let mut layouts: Vec<Vec<(u128, u128, u32)>> = (1..=300).map(even).collect();
        for _ in 0..200 {
            let n = rng.usize(1..40);
            let mut cuts: Vec<u128> = (0..n)
                .map(|_| match rng.u8(..3) {
                    0 => rng.u128(..),
                    1 => rng.u128(..1 << 121),
                    _ => (rng.u128(..4) << 120) + rng.u128(..1000),
                })
                .collect();
            cuts.push(0);
            cuts.sort_unstable();
            cuts.dedup();
            let mut ranges: Vec<_> = cuts
                .iter()
                .enumerate()
                .map(|(i, &s)| (s, cuts.get(i + 1).map_or(u128::MAX, |&n| n - 1), i as u32))
                .collect();
            // Some layouts lose a range: hashes in the gap route nowhere.
            if rng.bool() {
                ranges.remove(rng.usize(..ranges.len()));
            }
            layouts.push(ranges);
        }
        for ranges in layouts {
            let routes = Routes::of(ranges.clone());
            let edges =
                ranges.iter().flat_map(|r| [r.0, r.0.wrapping_sub(1), r.1, r.1.wrapping_add(1)]);
            let random = (0..200).map(|_| rng.u128(..));
            for hash in edges.chain(random).chain([0, u128::MAX]) {
                assert_eq!(routes.route(hash), searched(&ranges, hash), "{hash} in {ranges:?}");
            }
        }
    }
}
