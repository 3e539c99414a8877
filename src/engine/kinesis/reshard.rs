//! Resharding plans: SplitShard, MergeShards and UpdateShardCount as changes to a
//! stream's metadata. Parents close, children take the next shard indexes and record
//! their lineage; the writer then closes the parents at exact sequence numbers.
//!
//! UpdateShardCount (UNIFORM_SCALING) is built from splits and merges, as AWS performs
//! it: first split wherever a target boundary falls inside an open shard, then merge the
//! shards inside each target range pairwise. Every child so has at most two parents that
//! cover it exactly, which is what ParentShardId and AdjacentParentShardId can express
//! and what readers (the KCL) rely on to finish parents before children. The intermediate
//! shards open and close at the same instant and hold no records.

use super::meta::{ShardMeta, StreamMeta, even_ranges};

/// A metadata change under construction, remembering every shard it closes.
pub struct Plan {
    pub meta: StreamMeta,
    pub closed: Vec<u32>,
    now_ms: i64,
}

impl Plan {
    /// A plan starting from `meta` at `now_ms`.
    pub fn new(meta: &StreamMeta, now_ms: i64) -> Plan {
        Plan { meta: meta.clone(), closed: Vec::new(), now_ms }
    }

    /// The finished metadata and the shards to close.
    pub fn finish(self) -> (StreamMeta, Vec<u32>) {
        (self.meta, self.closed)
    }

    fn close(&mut self, index: u32) {
        if let Some(s) = self.meta.shards.get_mut(index as usize) {
            s.closed_ms = Some(self.now_ms);
        }
        self.closed.push(index);
    }

    fn open_child(&mut self, range: (u128, u128), parent: u32, adjacent: Option<u32>) -> u32 {
        let index = self.meta.shards.len() as u32;
        let mut child = ShardMeta::open(index, range, self.now_ms);
        child.parent = Some(parent);
        child.adjacent_parent = adjacent;
        self.meta.shards.push(child);
        index
    }

    /// Splits open shard `index` so the second child starts at `at` (which must lie in
    /// `(start, end]`); returns the two children.
    pub fn split(&mut self, index: u32, at: u128) -> (u32, u32) {
        let (start, end) = match self.meta.shard(index) {
            Some(s) => (s.start_hash, s.end_hash),
            None => return (index, index),
        };
        self.close(index);
        let low = self.open_child((start, at - 1), index, None);
        let high = self.open_child((at, end), index, None);
        (low, high)
    }

    /// Merges open shard `index` with the adjacent open shard `adjacent`; returns the
    /// child, whose ParentShardId is `index` and AdjacentParentShardId `adjacent`.
    pub fn merge(&mut self, index: u32, adjacent: u32) -> u32 {
        let (Some(a), Some(b)) = (self.meta.shard(index), self.meta.shard(adjacent)) else {
            return index;
        };
        let range = (a.start_hash.min(b.start_hash), a.end_hash.max(b.end_hash));
        self.close(index);
        self.close(adjacent);
        self.open_child(range, index, Some(adjacent))
    }

    /// Rescales the open shards to `target` even ranges through splits and merges.
    pub fn scale_to(&mut self, target: u32) {
        let targets = even_ranges(target);
        for &(start, _) in targets.iter().skip(1) {
            let inside =
                self.meta.open_shards().find(|s| s.start_hash < start && start <= s.end_hash);
            if let Some(index) = inside.map(|s| s.index) {
                self.split(index, start);
            }
        }
        for (start, end) in targets {
            let mut members: Vec<(u128, u32)> = self
                .meta
                .open_shards()
                .filter(|s| start <= s.start_hash && s.end_hash <= end)
                .map(|s| (s.start_hash, s.index))
                .collect();
            members.sort_unstable();
            let mut members = members.into_iter().map(|(_, i)| i);
            let Some(mut acc) = members.next() else { continue };
            for next in members {
                acc = self.merge(acc, next);
            }
        }
    }
}

/// Whether two shards' ranges touch (either order).
pub fn adjacent(a: &ShardMeta, b: &ShardMeta) -> bool {
    a.end_hash.checked_add(1) == Some(b.start_hash)
        || b.end_hash.checked_add(1) == Some(a.start_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kinesis::meta::{RECORD_VERSION, StreamMode};

    fn stream(n: u32) -> StreamMeta {
        StreamMeta {
            version: RECORD_VERSION,
            id: 1,
            name: "s".into(),
            created_ms: 0,
            retention_hours: 24,
            mode: StreamMode::Provisioned,
            max_record_kib: 1024,
            encryption: None,
            shard_level_metrics: vec![],
            tags: Default::default(),
            updating_until_ms: 0,
            scalings_ms: vec![],
            consumers: vec![],
            grouped: false,
            shards: even_ranges(n)
                .into_iter()
                .enumerate()
                .map(|(i, r)| ShardMeta::open(i as u32, r, 0))
                .collect(),
        }
    }

    fn open_ranges(meta: &StreamMeta) -> Vec<(u128, u128)> {
        let mut r: Vec<_> = meta.open_shards().map(|s| (s.start_hash, s.end_hash)).collect();
        r.sort_unstable();
        r
    }

    #[test]
    fn split_and_merge_keep_lineage() {
        let mut plan = Plan::new(&stream(2), 5);
        let (a, b) = plan.split(0, 100);
        let merged = plan.merge(a, b);
        let (meta, closed) = plan.finish();
        assert_eq!(closed, vec![0, a, b]);
        assert_eq!(meta.shards[a as usize].parent, Some(0));
        assert_eq!((meta.shards[a as usize].start_hash, meta.shards[a as usize].end_hash), (0, 99));
        let m = &meta.shards[merged as usize];
        assert_eq!((m.parent, m.adjacent_parent), (Some(a), Some(b)));
        assert_eq!(open_ranges(&meta), open_ranges(&stream(2)));
    }

    #[test]
    fn uniform_scaling_reaches_even_ranges_with_at_most_two_parents() {
        for (from, to) in [(1, 2), (2, 4), (3, 5), (5, 3), (4, 2), (7, 4), (6, 11), (10, 5)] {
            let mut plan = Plan::new(&stream(from), 1);
            plan.scale_to(to);
            let (meta, closed) = plan.finish();
            assert_eq!(open_ranges(&meta), even_ranges(to), "{from} -> {to}");
            for shard in meta.shards.iter().skip(from as usize) {
                let range = |i: Option<u32>| {
                    i.map(|i| {
                        (meta.shards[i as usize].start_hash, meta.shards[i as usize].end_hash)
                    })
                };
                let (parent, adjacent) = (range(shard.parent), range(shard.adjacent_parent));
                let parent = parent.expect("every child has a parent");
                match adjacent {
                    // A split child lies inside its parent.
                    None => assert!(parent.0 <= shard.start_hash && shard.end_hash <= parent.1),
                    // A merge child is exactly its two parents.
                    Some(adj) => assert_eq!(
                        (parent.0.min(adj.0), parent.1.max(adj.1)),
                        (shard.start_hash, shard.end_hash),
                        "{from} -> {to}"
                    ),
                }
            }
            assert!(closed.iter().all(|i| meta.shards[*i as usize].closed_ms.is_some()));
        }
    }
}
