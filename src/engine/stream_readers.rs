//! Who reads each DynamoDB Streams shard, for `streams.enforce_limits`: AWS says no
//! more than two processes should read one shard at a time, and throttles beyond that.
//! A reader is one chain of iterators (GetShardIterator hands out a new reader id, each
//! GetRecords' NextShardIterator keeps it); it reads a shard while it has called
//! GetRecords on it within the last [`ACTIVE_MS`]. A third reader is refused until one
//! of the two stops.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long after its last GetRecords a reader still counts as reading the shard.
pub const ACTIVE_MS: i64 = 1000;
/// Readers a shard serves at once.
pub const MAX_READERS: usize = 2;

/// A shard's readers: (reader id, when it last read, ms).
type Readers = Vec<(u64, i64)>;

/// The readers of every shard read lately, by (stream ARN, shard id).
#[derive(Default)]
pub struct StreamReaders {
    shards: Mutex<HashMap<(String, String), Readers>>,
}

impl StreamReaders {
    /// Whether `reader` may read the shard at `now_ms`; records the read when it may.
    /// Reader 0 (an iterator from before readers were tracked) is never refused.
    pub fn admit(&self, stream: &str, shard: &str, reader: u64, now_ms: i64) -> bool {
        if reader == 0 {
            return true;
        }
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what stopped reading, everywhere: the map holds only live readers.
        shards.retain(|_, readers| {
            readers.retain(|(_, at)| now_ms - *at < ACTIVE_MS);
            !readers.is_empty()
        });
        let readers = shards.entry((stream.to_string(), shard.to_string())).or_default();
        if let Some(entry) = readers.iter_mut().find(|(r, _)| *r == reader) {
            entry.1 = now_ms;
            return true;
        }
        if readers.len() >= MAX_READERS {
            return false;
        }
        readers.push((reader, now_ms));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_reader_waits_until_one_of_two_stops() {
        let r = StreamReaders::default();
        assert!(r.admit("s", "a", 1, 0));
        assert!(r.admit("s", "a", 2, 10));
        assert!(!r.admit("s", "a", 3, 20), "a third reader of the same shard");
        assert!(r.admit("s", "b", 3, 20), "another shard has its own two");
        assert!(r.admit("s", "a", 1, 500), "a reader already in goes on");
        assert!(r.admit("s", "a", 0, 500), "untracked iterators are not counted");
        // Reader 2 stops; a second later its place is free.
        assert!(r.admit("s", "a", 1, 1200));
        assert!(r.admit("s", "a", 3, 1200));
        assert!(!r.admit("s", "a", 2, 1201));
    }
}
