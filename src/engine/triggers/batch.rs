//! A batch: records of ONE shard, in shard order, each already rendered as its entry of
//! Lambda's event (`{"Records": [...]}`), and what one invocation of it came to.
//!
//! Records are rendered once, when read, and kept as bytes: the payload of every retry is
//! the same bytes, and the size a record adds to the payload is known before it is added,
//! so a batch is cut before it passes Lambda's 6 MiB invocation limit. The batch keeps
//! each record's sequence number and arrival time, which is what splitting it (bisect,
//! partial failures), discarding its old records (MaximumRecordAgeInSeconds) and
//! describing it (an on-failure record's positions) need.

use bytes::Bytes;

use crate::lambda::invocation::{Invocation, InvokeError, MAX_REQUEST_PAYLOAD};

/// The most a batch's event may take: Lambda's synchronous payload limit (6 MiB).
pub const MAX_PAYLOAD: usize = MAX_REQUEST_PAYLOAD;

/// `{"Records":[` and `]}`.
const ENVELOPE: usize = 14;

/// One record, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The shard's sequence number of the record (change-log or Kinesis).
    pub seq: u64,
    /// Its wire form, as the event and a function's `itemIdentifier` write it.
    pub sequence_number: String,
    /// A hash of its key (a DynamoDB item's key attributes, a Kinesis partition key): the
    /// records of one key go to the same batch when a shard delivers several at once.
    pub key_hash: u64,
    /// When it was written (epoch ms): its age counts from here.
    pub arrival_ms: i64,
    /// Its entry of the event's `Records`, as JSON.
    pub json: bytes::Bytes,
}

/// Records of one shard that go to the function together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub records: Vec<EventRecord>,
    /// Sum of the records' JSON lengths.
    json_bytes: usize,
}

impl Batch {
    /// The event's size.
    pub fn payload_len(&self) -> usize {
        ENVELOPE + self.json_bytes + self.records.len().saturating_sub(1)
    }

    /// The event's size with one more record of `extra` bytes (and its comma).
    fn payload_len_with(&self, extra: usize) -> usize {
        ENVELOPE + self.json_bytes + extra + self.records.len()
    }

    /// Whether `record` still fits under [`MAX_PAYLOAD`].
    pub fn fits(&self, record: &EventRecord) -> bool {
        self.payload_len_with(record.json.len()) <= MAX_PAYLOAD
    }

    /// Adds a record (the caller checked that it fits and that it is the next one).
    pub fn push(&mut self, record: EventRecord) {
        self.json_bytes += record.json.len();
        self.records.push(record);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The position after the batch: where the checkpoint moves once it is done.
    pub fn next_position(&self) -> Option<u64> {
        self.records.last().map(|r| r.seq + 1)
    }

    /// The event: `{"Records":[<record>,<record>,...]}`.
    pub fn payload(&self) -> Bytes {
        self.payload_with(&[])
    }

    /// The event with `extra` members after `Records` (`,"k":v...`).
    pub fn payload_with(&self, extra: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(self.payload_len() + extra.len());
        out.extend_from_slice(b"{\"Records\":[");
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&r.json);
        }
        out.push(b']');
        out.extend_from_slice(extra);
        out.push(b'}');
        Bytes::from(out)
    }

    /// Splits the batch at `at`: this one keeps the records before it, the one returned
    /// holds the rest.
    pub fn split_off(&mut self, at: usize) -> Batch {
        let rest: Vec<EventRecord> = self.records.split_off(at.min(self.records.len()));
        let rest_bytes: usize = rest.iter().map(|r| r.json.len()).sum();
        self.json_bytes -= rest_bytes;
        Batch { records: rest, json_bytes: rest_bytes }
    }

    /// The position in the batch of the record whose wire sequence number is `wire`.
    pub fn index_of(&self, wire: &str) -> Option<usize> {
        self.records.iter().position(|r| r.sequence_number == wire)
    }

    /// Removes the records written before `cutoff_ms` (a prefix: arrival times never go
    /// back within a shard) and returns them.
    pub fn take_older_than(&mut self, cutoff_ms: i64) -> Vec<EventRecord> {
        let expired = self.records.iter().take_while(|r| r.arrival_ms < cutoff_ms).count();
        let taken: Vec<EventRecord> = self.records.drain(..expired).collect();
        self.json_bytes -= taken.iter().map(|r| r.json.len()).sum::<usize>();
        taken
    }
}

/// How many records with entries of these lengths fit one event, in order and at most
/// `limit` of them, and whether the 6 MiB limit (not `limit`) is what stopped it.
pub fn fitting(lengths: impl Iterator<Item = usize>, limit: usize) -> (usize, bool) {
    fitting_within(lengths, limit, MAX_PAYLOAD)
}

/// [`fitting`] for events of at most `max_payload` bytes of records (the rest of the 6
/// MiB taken by other members, a tumbling window's).
pub fn fitting_within(
    lengths: impl Iterator<Item = usize>,
    limit: usize,
    max_payload: usize,
) -> (usize, bool) {
    let mut probe = Batch::default();
    for len in lengths.take(limit) {
        if probe.payload_len_with(len) > max_payload {
            return (probe.records.len(), true);
        }
        // Only the sizes count here: the stand-in record holds no bytes.
        probe.json_bytes += len;
        probe.records.push(EventRecord {
            seq: 0,
            sequence_number: String::new(),
            key_hash: 0,
            arrival_ms: 0,
            json: bytes::Bytes::new(),
        });
    }
    (probe.records.len(), false)
}

/// How many records, given as (key hash, entry length) in order, fit one round of
/// `factor` batches of at most `limit` records and 6 MiB each, each key in the batch
/// `key_hash % factor`; and whether a full batch stopped it. The round is a prefix, so
/// the checkpoint after it is exact.
pub fn fitting_by_key(
    records: impl Iterator<Item = (u64, usize)>,
    limit: usize,
    factor: usize,
) -> (usize, bool) {
    let factor = factor.max(1);
    let mut lanes = vec![(0usize, ENVELOPE); factor];
    let mut taken = 0;
    for (hash, len) in records {
        let (count, bytes) = &mut lanes[(hash % factor as u64) as usize];
        // The entry and its comma.
        let grown = *bytes + len + usize::from(*count > 0);
        if *count >= limit || grown > MAX_PAYLOAD {
            return (taken, true);
        }
        *count += 1;
        *bytes = grown;
        taken += 1;
    }
    (taken, false)
}

/// Spreads `round` over `factor` batches by key, each keeping the records' order; the
/// empty ones are left out.
pub fn by_key(round: Batch, factor: usize) -> Vec<Batch> {
    let factor = factor.max(1);
    let mut lanes: Vec<Batch> = (0..factor).map(|_| Batch::default()).collect();
    for r in round.records {
        lanes[(r.key_hash % factor as u64) as usize].push(r);
    }
    lanes.into_iter().filter(|b| !b.is_empty()).collect()
}

/// What one invocation of a batch came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function ran and succeeded: its answer.
    Success(Bytes),
    /// The function ran and reported, through ReportBatchItemFailures, that the records
    /// from this position in the batch on failed (0: all of them).
    Reported(usize),
    /// The function ran and failed, or ran out of time: its error JSON.
    FunctionError(Bytes),
    /// The batch never reached the function (throttled, unreachable, unknown function):
    /// AWS retries these until the records expire, without counting them as retries.
    NotInvoked(InvokeError),
}

impl Outcome {
    /// The outcome of an invoke call. `None` when sluice is shutting down: the batch is
    /// neither a success nor a failure, and goes again after the restart.
    pub fn of(result: Result<Invocation, InvokeError>) -> Option<Outcome> {
        match result {
            Ok(i) if i.function_error.is_some() => Some(Outcome::FunctionError(i.payload)),
            Ok(i) => Some(Outcome::Success(i.payload)),
            Err(InvokeError::ShuttingDown) => None,
            Err(e) => Some(Outcome::NotInvoked(e)),
        }
    }

    /// Whether the invocation reached the function (and so counts as an attempt).
    pub fn reached_function(&self) -> bool {
        !matches!(self, Outcome::NotInvoked(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, arrival_ms: i64, json: &str) -> EventRecord {
        EventRecord {
            seq,
            sequence_number: seq.to_string(),
            key_hash: seq % 3,
            arrival_ms,
            json: json.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn the_payload_is_the_records_in_order_and_its_size_is_known_before() {
        let mut b = Batch::default();
        assert_eq!(&b.payload()[..], b"{\"Records\":[]}");
        assert_eq!(b.payload_len(), b.payload().len());
        for (seq, json) in [(4, "{\"a\":1}"), (5, "{\"b\":2}")] {
            let r = record(seq, 0, json);
            let expected = b.payload_len_with(r.json.len());
            b.push(r);
            assert_eq!(b.payload().len(), expected);
        }
        assert_eq!(&b.payload()[..], b"{\"Records\":[{\"a\":1},{\"b\":2}]}");
        assert_eq!(b.next_position(), Some(6));
    }

    #[test]
    fn a_record_that_would_pass_6_mib_does_not_fit() {
        let mut b = Batch::default();
        let big = "x".repeat(MAX_PAYLOAD - ENVELOPE - 10);
        let first = record(1, 0, &big);
        assert!(b.fits(&first));
        b.push(first);
        // 10 bytes left: a comma and 9 bytes fit, 10 do not.
        assert!(b.fits(&record(2, 0, "123456789")));
        assert!(!b.fits(&record(2, 0, "1234567890")));
        let alone = Batch::default();
        assert!(!alone.fits(&record(1, 0, &"y".repeat(MAX_PAYLOAD))));
        // The same arithmetic, from lengths alone.
        let big = MAX_PAYLOAD - ENVELOPE - 10;
        assert_eq!(fitting([big, 9, 1].into_iter(), 10), (2, true));
        assert_eq!(fitting([big, 10].into_iter(), 10), (1, true));
        assert_eq!(fitting([1, 1, 1].into_iter(), 2), (2, false));
        assert_eq!(fitting([MAX_PAYLOAD].into_iter(), 2), (0, true));
    }

    #[test]
    fn batches_split_and_find_records_by_wire_sequence_number() {
        let mut b = Batch::default();
        for seq in 1..=5 {
            b.push(record(seq, 0, "{}"));
        }
        assert_eq!(b.index_of("3"), Some(2));
        assert_eq!(b.index_of("9"), None);
        let rest = b.split_off(2);
        assert_eq!((b.len(), rest.len()), (2, 3));
        assert_eq!(b.payload_len(), b.payload().len());
        assert_eq!(rest.payload_len(), rest.payload().len());
        assert_eq!(rest.next_position(), Some(6));
    }

    #[test]
    fn rounds_spread_keys_over_batches_and_stop_at_the_first_full_one() {
        // Keys 0, 1, 2 over 2 batches of 2: key 0 and 2 share batch 0.
        let recs = [(0, 10), (1, 10), (2, 10), (1, 10), (0, 10)];
        assert_eq!(fitting_by_key(recs.into_iter(), 2, 2), (4, true));
        assert_eq!(fitting_by_key(recs.into_iter().take(4), 2, 2), (4, false));
        assert_eq!(fitting_by_key([(0, MAX_PAYLOAD)].into_iter(), 2, 2), (0, true));
        let mut round = Batch::default();
        for seq in 0..6 {
            round.push(record(seq, 0, "{}"));
        }
        // key_hash is seq % 3 here.
        let lanes = by_key(round, 2);
        let seqs: Vec<Vec<u64>> =
            lanes.iter().map(|b| b.records.iter().map(|r| r.seq).collect()).collect();
        assert_eq!(seqs, [vec![0, 2, 3, 5], vec![1, 4]]);
        for b in &lanes {
            assert_eq!(b.payload_len(), b.payload().len());
        }
    }

    #[test]
    fn old_records_leave_as_a_prefix() {
        let mut b = Batch::default();
        for (seq, at) in [(1, 100), (2, 200), (3, 300)] {
            b.push(record(seq, at, "{}"));
        }
        let old = b.take_older_than(250);
        assert_eq!(old.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(&b.payload()[..], b"{\"Records\":[{}]}");
        assert_eq!(b.payload_len(), b.payload().len());
    }

    #[test]
    fn outcomes_of_invocations() {
        let ok = Outcome::of(Ok(Invocation::ok(Bytes::from_static(b"{}")))).unwrap();
        assert_eq!(ok, Outcome::Success(Bytes::from_static(b"{}")));
        let timed_out = Outcome::of(Ok(Invocation::timed_out("id", 3))).unwrap();
        assert!(matches!(timed_out, Outcome::FunctionError(_)) && timed_out.reached_function());
        let throttled = Outcome::of(Err(InvokeError::Throttled)).unwrap();
        assert!(!throttled.reached_function());
        assert_eq!(Outcome::of(Err(InvokeError::ShuttingDown)), None);
    }
}
