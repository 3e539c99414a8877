//! Records rendered once for every mapping on a source. Several mappings on one stream
//! read the same records at about the same time (each wakes on the same commit), and
//! reading, decoding and rendering them as Lambda's entries was, with ten mappings, a
//! third of the daemon's CPU. The first reader of a shard keeps what it rendered here;
//! the others take it (the JSON is shared, not copied) and read the store only past it.
//!
//! A run is one shard's records over a range `[start, next)`: every record the shard
//! holds in that range, in order, so a reader inside it needs nothing from the store.
//! Memory is bounded: at most [`MAX_RUNS`] runs of at most [`RUN_BYTES`] of JSON, the
//! oldest records of a run and the least recently read runs going first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use super::batch::EventRecord;

/// Most JSON kept per shard: a few batches' worth, so mappings that read a shard about
/// together share it, and one that fell behind reads the store.
pub const RUN_BYTES: usize = 2 * 1024 * 1024;

/// Most shards kept at once.
pub const MAX_RUNS: usize = 16;

/// Which shard: the source ARN the events name, the table or stream id (a stream deleted
/// and created again under the same name restarts its sequence numbers), the shard id.
pub type RunKey = (String, u64, String);

struct Run {
    start: u64,
    next: u64,
    records: VecDeque<EventRecord>,
    bytes: usize,
    used: Instant,
}

/// What a run held for a read.
#[derive(Debug, Default)]
pub struct Cached {
    pub records: Vec<EventRecord>,
    /// Where the next read starts.
    pub next: u64,
    /// The run ended before the read's limits: the shard may hold more from `next` on.
    pub exhausted: bool,
}

/// Rendered records by shard.
#[derive(Default)]
pub struct Rendered {
    runs: Mutex<HashMap<RunKey, Run>>,
}

impl Rendered {
    /// The kept records from `from` on, up to `limit` of them, to `to` (inclusive) and
    /// within `max_bytes` of JSON (at least one); `None` when `from` is not inside a
    /// kept run.
    pub fn get(
        &self,
        key: &RunKey,
        from: u64,
        to: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Option<Cached> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = runs.get_mut(key)?;
        if from < run.start || from >= run.next {
            return None;
        }
        run.used = Instant::now();
        let at = run.records.partition_point(|r| r.seq < from);
        let mut out = Vec::new();
        let mut bytes = 0;
        for r in run.records.range(at..) {
            if let Some(to) = to.filter(|to| r.seq > *to) {
                return Some(Cached { records: out, next: to + 1, exhausted: false });
            }
            if out.len() >= limit || (!out.is_empty() && bytes + r.json.len() > max_bytes) {
                return Some(Cached { records: out, next: r.seq, exhausted: false });
            }
            bytes += r.json.len();
            out.push(r.clone());
        }
        let exhausted = out.len() < limit && to.is_none_or(|to| run.next <= to);
        Some(Cached { records: out, next: run.next, exhausted })
    }

    /// Keeps `records`, everything the shard holds in `[from, next)`.
    pub fn put(&self, key: &RunKey, from: u64, records: &[EventRecord], next: u64) {
        if records.is_empty() || next <= from {
            return;
        }
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        match runs.get_mut(key) {
            // Continues the run.
            Some(run) if run.next == from => {
                run.records.extend(records.iter().cloned());
                run.bytes += records.iter().map(|r| r.json.len()).sum::<usize>();
                run.next = next;
                run.used = Instant::now();
                trim(run);
            }
            // A reader behind the run: the run serves the readers ahead.
            Some(run) if next <= run.next => {}
            _ => {
                if !runs.contains_key(key) && runs.len() >= MAX_RUNS {
                    let oldest = runs.iter().min_by_key(|(_, r)| r.used).map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        runs.remove(&oldest);
                    }
                }
                let mut run = Run {
                    start: from,
                    next,
                    records: records.iter().cloned().collect(),
                    bytes: records.iter().map(|r| r.json.len()).sum(),
                    used: Instant::now(),
                };
                trim(&mut run);
                runs.insert(key.clone(), run);
            }
        }
    }

    /// Forgets a shard (read to its end, or gone).
    pub fn forget(&self, key: &RunKey) {
        self.runs.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// Drops a run's oldest records past [`RUN_BYTES`] (keeping at least the last one).
fn trim(run: &mut Run) {
    while run.bytes > RUN_BYTES && run.records.len() > 1 {
        if let Some(old) = run.records.pop_front() {
            run.bytes -= old.json.len();
            run.start = old.seq + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, len: usize) -> EventRecord {
        EventRecord {
            seq,
            sequence_number: seq.to_string(),
            key_hash: 0,
            arrival_ms: 0,
            json: vec![b'x'; len].into(),
        }
    }

    fn seqs(got: Option<Cached>) -> Option<(Vec<u64>, u64)> {
        got.map(|c| (c.records.iter().map(|r| r.seq).collect(), c.next))
    }

    #[test]
    fn readers_inside_a_run_take_it_and_others_read_the_store() {
        let cache = Rendered::default();
        let key: RunKey = ("arn".into(), 1, "s".into());
        // The shard holds 10, 12, 13 in [10, 20).
        cache.put(&key, 10, &[record(10, 5), record(12, 5), record(13, 5)], 20);
        assert_eq!(seqs(cache.get(&key, 10, None, 10, 100)), Some((vec![10, 12, 13], 20)));
        assert_eq!(seqs(cache.get(&key, 11, None, 10, 100)), Some((vec![12, 13], 20)));
        assert_eq!(seqs(cache.get(&key, 14, None, 10, 100)), Some((vec![], 20)));
        assert_eq!(seqs(cache.get(&key, 10, None, 2, 100)), Some((vec![10, 12], 13)));
        assert_eq!(seqs(cache.get(&key, 10, Some(12), 10, 100)), Some((vec![10, 12], 13)));
        assert_eq!(seqs(cache.get(&key, 10, None, 10, 7)), Some((vec![10], 12)), "bytes");
        let exhausted = |from, to, limit| cache.get(&key, from, to, limit, 100).unwrap().exhausted;
        assert!(exhausted(10, None, 10) && exhausted(14, Some(25), 10));
        assert!(
            !exhausted(10, None, 3) && !exhausted(10, Some(12), 10) && !exhausted(10, Some(19), 10)
        );
        assert_eq!(cache.get(&key, 9, None, 10, 100).map(|_| ()), None, "before the run");
        assert_eq!(cache.get(&key, 20, None, 10, 100).map(|_| ()), None, "past it");
        let other: RunKey = ("arn".into(), 2, "s".into());
        assert_eq!(cache.get(&other, 10, None, 10, 100).map(|_| ()), None, "another stream");

        // Continued at its end; a reader behind changes nothing; one ahead replaces it.
        cache.put(&key, 20, &[record(20, 5)], 21);
        assert_eq!(seqs(cache.get(&key, 13, None, 10, 100)), Some((vec![13, 20], 21)));
        cache.put(&key, 0, &[record(3, 5)], 4);
        assert_eq!(seqs(cache.get(&key, 10, None, 1, 100)), Some((vec![10], 12)));
        cache.put(&key, 30, &[record(30, 5)], 31);
        assert_eq!(cache.get(&key, 20, None, 10, 100).map(|_| ()), None);
        assert_eq!(seqs(cache.get(&key, 30, None, 10, 100)), Some((vec![30], 31)));
        cache.forget(&key);
        assert_eq!(cache.get(&key, 30, None, 10, 100).map(|_| ()), None);
    }

    #[test]
    fn memory_is_bounded() {
        let cache = Rendered::default();
        let key: RunKey = ("arn".into(), 1, "s".into());
        let big = RUN_BYTES / 4 + 1;
        let records: Vec<_> = (0..8).map(|s| record(s, big)).collect();
        cache.put(&key, 0, &records, 8);
        // Only the newest records that fit are kept; the run starts after the dropped.
        assert_eq!(cache.get(&key, 4, None, 10, usize::MAX).map(|_| ()), None);
        assert_eq!(seqs(cache.get(&key, 5, None, 10, usize::MAX)), Some((vec![5, 6, 7], 8)));
        for i in 0..MAX_RUNS as u64 + 3 {
            cache.put(&("arn".into(), 10 + i, "s".into()), 0, &[record(0, 1)], 1);
        }
        assert_eq!(cache.runs.lock().unwrap().len(), MAX_RUNS);
    }
}
