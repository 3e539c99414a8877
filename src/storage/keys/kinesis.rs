//! Byte layouts of the Kinesis keys and values (see the table in `keys.rs`). Persisted:
//! never reorder a field or reuse a tag.
//!
//! Records are stored in runs: one value holds consecutive records of one shard, keyed
//! by the first one's `<stream id> <shard index> <seq>`, big-endian, so one shard's runs
//! are contiguous and in sequence order: reads are range scans, trimming deletes whole
//! runs from the front, and the retained sequence numbers of a shard are always one dense
//! interval (writers assign them densely, the trimmer only ever removes the oldest).
//!
//! A run holds what one commit group appended to the shard (up to [`MAX_RUN_RECORDS`] and
//! about [`MAX_RUN_BYTES`]): the commit thread's cost is per key (a memtable insert at a
//! scattered position, the journal entry, the flush), so a group of PutRecords calls
//! costs one key per shard instead of one per record (BENCHMARKS.md, "Records in runs").
//! Stores written before runs hold one record per value (version 1); both are read.
//!
//! A run whose records' bytes shrink by an eighth or more under LZ4 is stored compressed
//! (version 3), compressed by the stream's writer, off the commit thread: smaller values
//! are cheaper in the journal, the memtables, their flushes and every compaction after.
//! Readers get it back as a version-2 run ([`plain`]); data that does not shrink (random
//! or already compressed payloads) is stored as it is.

use crate::storage::StorageError;

/// Version of a value holding one record (written before runs; still read).
const RECORD_VERSION: u8 = 1;
/// Version of a run: `2`, the record count (u32 BE), then per record its arrival ms (i64
/// BE), partition key length (u16 BE), partition key, data length (u32 BE) and data.
const RUN_VERSION: u8 = 2;
/// Version of a compressed run: `3`, the record count (u32 BE), the length of the
/// records' bytes (u32 BE), then those bytes (laid out as in a version-2 run) as one LZ4
/// block.
const LZ4_RUN_VERSION: u8 = 3;
/// Runs whose records take fewer bytes are not worth a compression attempt.
const COMPRESS_FROM: usize = 1024;
/// The same for a section of a group value: a group spread over 64 shards has sections
/// of about 1 KiB, which left uncompressed took repetitive data to 8 times the disk of
/// one shard's (BENCHMARKS.md, "Kinesis records stored by group").
const SECTION_COMPRESS_FROM: usize = 128;
/// A run of more than twice this many bytes is first tried on its first this many: if
/// they do not shrink, neither will the rest (records of a stream look alike), and random
/// or already-compressed data costs a sixteenth of a full attempt on a full run.
const PROBE_BYTES: usize = 4096;
/// The most bytes a compressed run may say its records take (a lone record is at most
/// 10 MiB): a corrupt length is an error, never an allocation.
const MAX_PLAIN_BYTES: usize = 16 * 1024 * 1024;

/// Most records one run holds (PutRecords' own limit).
pub const MAX_RUN_RECORDS: u32 = 500;
/// A run takes no more records once it holds this many bytes of records: a reader that
/// starts inside a run reads all of it.
pub const MAX_RUN_BYTES: usize = 64 * 1024;

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

/// What the writer keeps per shard, persisted now and then with the records it counts
/// (every 4,096 records or 1 MiB of a shard, and with every trim and reshard); at start
/// the records stored after the persisted `next` are read back to bring them up to date.
/// So sequence numbers are never reused (even after every record is trimmed), and the
/// scan at start is short.
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

/// One commit's consecutive records of a shard, being encoded as one run.
pub struct RunBuilder {
    first: u64,
    count: u32,
    bytes: usize,
    value: Vec<u8>,
}

impl RunBuilder {
    /// An empty run whose first record takes sequence number `first`.
    pub fn new(first: u64) -> RunBuilder {
        RunBuilder { first, count: 0, bytes: 0, value: vec![RUN_VERSION, 0, 0, 0, 0] }
    }

    /// The sequence number of the run's first record (its key's).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// How many records the run holds.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether a record of `size` bytes (data plus partition key) still goes in: within
    /// the caps, or as a lone record of any size.
    pub fn takes(&self, size: usize) -> bool {
        self.count == 0 || (self.count < MAX_RUN_RECORDS && self.bytes + size <= MAX_RUN_BYTES)
    }

    /// Appends the record with the next sequence number.
    pub fn push(&mut self, arrival_ms: i64, partition_key: &str, data: &[u8]) {
        let v = &mut self.value;
        v.reserve(14 + partition_key.len() + data.len());
        v.extend_from_slice(&arrival_ms.to_be_bytes());
        // Partition keys are at most 256 characters (1 KiB of UTF-8), so a u16 always
        // fits; records are at most 10 MiB, so a u32 does.
        v.extend_from_slice(&(partition_key.len() as u16).to_be_bytes());
        v.extend_from_slice(partition_key.as_bytes());
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        self.count += 1;
        self.bytes += partition_key.len() + data.len();
    }

    /// The persisted value: compressed when that saves an eighth of it.
    pub fn finish(self) -> Vec<u8> {
        self.finish_in(&mut Attempts::default())
    }

    /// [`finish`](Self::finish) for one of a group's runs: not tried at all once the
    /// group's first attempts all failed (see [`Attempts`]).
    pub fn finish_in(self, attempts: &mut Attempts) -> Vec<u8> {
        self.finish_from(COMPRESS_FROM, attempts)
    }

    /// [`finish_in`](Self::finish_in) for a section of a group value: tried from
    /// [`SECTION_COMPRESS_FROM`] bytes of records and, when it shrinks, compressed onto
    /// the end of `out` (`true`). Otherwise `out` is as it was and the section is stored
    /// as [`plain_value`](Self::plain_value) gives it.
    pub fn pack_section(&mut self, attempts: &mut Attempts, out: &mut Vec<u8>) -> bool {
        self.pack(SECTION_COMPRESS_FROM, attempts, out)
    }

    /// The run as a version-2 value, once [`pack_section`](Self::pack_section) sealed its
    /// record count into it.
    pub fn plain_value(&self) -> &[u8] {
        &self.value
    }

    fn finish_from(mut self, from: usize, attempts: &mut Attempts) -> Vec<u8> {
        let mut packed = Vec::new();
        if self.pack(from, attempts, &mut packed) { packed } else { self.value }
    }

    /// Seals the record count into the run, then appends its compressed form to `out`
    /// when it is worth a try and shrinks; `false`, with `out` as it was, otherwise.
    fn pack(&mut self, from: usize, attempts: &mut Attempts, out: &mut Vec<u8>) -> bool {
        self.value[1..5].copy_from_slice(&self.count.to_be_bytes());
        // Small runs are not worth a try; past `MAX_PLAIN_BYTES` a reader would refuse
        // the run, so it is stored as it is.
        let records = self.value.len() - 5;
        if !(from..=MAX_PLAIN_BYTES).contains(&records) || !attempts.worth_one() {
            return false;
        }
        let shrank = compress_into(&self.value, out);
        attempts.tried += 1;
        attempts.shrank |= shrank;
        shrank
    }
}

/// The compression attempts on one group's runs. Records of a stream look alike (the
/// probe in [`compressed`] relies on it too), so once the first [`TRIES_PER_GROUP`] runs
/// of a group did not shrink, its other runs are stored without a try. Spread over 64
/// shards, a group of random data is 64 runs of a few KiB, each tried in full: LZ4
/// failing on them was 4 % of the daemon's CPU (BENCHMARKS.md, "Keys and values copied
/// by their writers"). The next group tries again, so a stream whose data changes is
/// compressed from its next group on.
#[derive(Debug, Default)]
pub struct Attempts {
    tried: u32,
    shrank: bool,
}

/// See [`Attempts`].
const TRIES_PER_GROUP: u32 = 2;

impl Attempts {
    fn worth_one(&self) -> bool {
        self.shrank || self.tried < TRIES_PER_GROUP
    }
}

/// Appends `run` (a version-2 value whose records take `from..=MAX_PLAIN_BYTES`, as
/// [`RunBuilder::pack`] checks) to `out` as a version-3 one, if LZ4 shrinks its records
/// by an eighth; `false`, with `out` as it was, if not.
fn compress_into(run: &[u8], out: &mut Vec<u8>) -> bool {
    let records = &run[5..];
    let shrinks = |packed: usize, of: usize| packed <= of - of / 8;
    let start = out.len();
    if records.len() > 2 * PROBE_BYTES {
        let probe = &records[..PROBE_BYTES];
        let packed = lz4_into(probe, out);
        out.truncate(start);
        if !shrinks(packed, probe.len()) {
            return false;
        }
    }
    out.push(LZ4_RUN_VERSION);
    out.extend_from_slice(&run[1..5]);
    out.extend_from_slice(&(records.len() as u32).to_be_bytes());
    let body = out.len();
    let packed = lz4_into(records, out);
    if !shrinks(packed, records.len()) {
        out.truncate(start);
        return false;
    }
    out.truncate(body + packed);
    true
}

thread_local! {
    /// LZ4's hash tables, one per thread for inputs under 64 KiB and one for larger
    /// ones, cleared by each use: `lz4_flex::block::compress` allocated and zeroed a table
    /// and an output buffer per call, then copied the output once more, which on 64
    /// shards (then 64 sections of about 1 KiB a group) was most of what compressing cost.
    static LZ4_TABLES: std::cell::RefCell<[lz4_flex::block::CompressTable; 2]> =
        std::cell::RefCell::new([
            lz4_flex::block::CompressTable::small(),
            lz4_flex::block::CompressTable::large(),
        ]);
}

/// Compresses `input` into the end of `out` (grown by LZ4's bound for it, not truncated)
/// and returns the compressed length.
fn lz4_into(input: &[u8], out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.resize(at + lz4_flex::block::get_maximum_output_size(input.len()), 0);
    LZ4_TABLES.with_borrow_mut(|tables| {
        let table = &mut tables[usize::from(input.len() >= usize::from(u16::MAX))];
        // The bound above always fits; an error would mean no saving, so "as long as
        // the output buffer" stores the run as it is.
        lz4_flex::block::compress_into_with_table(input, &mut out[at..], table)
            .unwrap_or(out.len() - at)
    })
}

/// A stored value as [`Run`] reads it: a compressed run decompressed into its version-2
/// form, any other value as it is. A compressed run that does not decompress to the
/// length it names is corrupt.
pub fn plain(value: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    if value.first() != Some(&LZ4_RUN_VERSION) {
        return Ok(value);
    }
    decompressed(&value)
}

/// [`plain`] of a value borrowed from a larger one (a section of a group): copied, or
/// decompressed straight from where it lies.
pub fn plain_of(value: &[u8]) -> Result<Vec<u8>, StorageError> {
    match value.first() {
        Some(&LZ4_RUN_VERSION) => decompressed(value),
        _ => Ok(value.to_vec()),
    }
}

/// A version-3 value's run, in its version-2 form.
fn decompressed(value: &[u8]) -> Result<Vec<u8>, StorageError> {
    let header = value.get(..9).ok_or_else(|| corrupt("truncated"))?;
    let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
    if len > MAX_PLAIN_BYTES {
        return Err(corrupt("compressed run length"));
    }
    let mut run = Vec::with_capacity(5 + len);
    run.push(RUN_VERSION);
    run.extend_from_slice(&header[1..5]);
    run.resize(5 + len, 0);
    match lz4_flex::block::decompress_into(&value[9..], &mut run[5..]) {
        Ok(n) if n == len => Ok(run),
        _ => Err(corrupt("compressed run")),
    }
}

/// One record of a stored run, borrowed from its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRecord<'a> {
    pub seq: u64,
    pub arrival_ms: i64,
    pub partition_key: &'a [u8],
    pub data: &'a [u8],
}

impl RunRecord<'_> {
    /// Bytes the record counts for: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    /// The record, owned.
    pub fn to_stored(&self) -> Result<StoredRecord, StorageError> {
        let partition_key = std::str::from_utf8(self.partition_key)
            .map_err(|_| StorageError::Corrupt("kinesis record: partition key".into()))?;
        Ok(StoredRecord {
            arrival_ms: self.arrival_ms,
            partition_key: partition_key.to_string(),
            data: self.data.to_vec(),
        })
    }
}

/// The records of a stored value (a run, or one record of an older store) whose first
/// record has sequence number `first`, in order. Never panics on corrupt input: a
/// truncated or overlong value yields an error.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    value: &'a [u8],
    at: usize,
    seq: u64,
    end: u64,
    /// A version-1 value: one record, its data running to the end.
    single: bool,
}

impl<'a> Run<'a> {
    /// Reads a stored value's header.
    pub fn new(first: u64, value: &'a [u8]) -> Result<Run<'a>, StorageError> {
        let (single, count, at) = match value.first() {
            Some(&RECORD_VERSION) => (true, 1, 1),
            Some(&RUN_VERSION) => {
                let count = value.get(1..5).ok_or_else(|| corrupt("truncated"))?;
                (false, u32::from_be_bytes([count[0], count[1], count[2], count[3]]), 5)
            }
            _ => return Err(corrupt("unknown version")),
        };
        let end = first.checked_add(u64::from(count)).ok_or_else(|| corrupt("sequence"))?;
        Ok(Run { value, at, seq: first, end, single })
    }

    /// The sequence number after the run's last record.
    pub fn end(&self) -> u64 {
        self.end
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        let bytes = self.value.get(self.at..self.at + n).ok_or_else(|| corrupt("truncated"))?;
        self.at += n;
        Ok(bytes)
    }

    fn next_record(&mut self) -> Result<RunRecord<'a>, StorageError> {
        let arrival = self.take(8)?;
        let arrival_ms = i64::from_be_bytes(arrival.try_into().map_err(|_| corrupt("arrival"))?);
        let len = self.take(2)?;
        let partition_key = self.take(usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        let data = if self.single {
            self.take(self.value.len().saturating_sub(self.at))?
        } else {
            let len = self.take(4)?;
            self.take(u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)?
        };
        Ok(RunRecord { seq: self.seq, arrival_ms, partition_key, data })
    }
}

impl<'a> Iterator for Run<'a> {
    type Item = Result<RunRecord<'a>, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.seq >= self.end {
            // Bytes past the last record mean the count or a length is wrong.
            return (self.at != self.value.len()).then(|| {
                self.at = self.value.len();
                Err(corrupt("trailing bytes"))
            });
        }
        let record = self.next_record();
        self.seq = match record {
            Ok(_) => self.seq + 1,
            Err(_) => self.end, // nothing after a corrupt record is trusted
        };
        if record.is_err() {
            self.at = self.value.len();
        }
        Some(record)
    }
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(format!("kinesis record: {what}"))
}

/// The version-1 value of one record (stores written before runs hold these).
#[cfg(test)]
pub fn encode_record(arrival_ms: i64, partition_key: &str, data: &[u8]) -> Vec<u8> {
    let mut v = vec![RECORD_VERSION];
    v.extend_from_slice(&arrival_ms.to_be_bytes());
    v.extend_from_slice(&(partition_key.len() as u16).to_be_bytes());
    v.extend_from_slice(partition_key.as_bytes());
    v.extend_from_slice(data);
    v
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

    #[test]
    fn a_run_is_capped_in_records_and_bytes_but_takes_any_lone_record() {
        let mut run = RunBuilder::new(7);
        assert!(run.takes(10 * 1024 * 1024));
        for _ in 0..MAX_RUN_RECORDS {
            assert!(run.takes(1));
            run.push(0, "k", b"");
        }
        assert!(!run.takes(1));
        let mut run = RunBuilder::new(7);
        run.push(0, "k", &[0; MAX_RUN_BYTES - 2]);
        assert!(run.takes(1) && !run.takes(2));
        assert_eq!(run.first(), 7);
        assert!(Run::new(7, &[9, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn a_group_stops_trying_once_its_first_runs_did_not_shrink() {
        let mut rng = fastrand::Rng::with_seed(11);
        let run = |data: &dyn Fn(&mut fastrand::Rng) -> Vec<u8>, rng: &mut fastrand::Rng| {
            let mut run = RunBuilder::new(0);
            for ms in 0..8 {
                run.push(ms, "key", &data(rng));
            }
            run
        };
        let noise = |rng: &mut fastrand::Rng| (0..200).map(|_| rng.u8(..)).collect::<Vec<u8>>();
        let alike = |_: &mut fastrand::Rng| vec![b'x'; 200];
        // Two runs of noise, then runs that would shrink: stored as they are, untried.
        let mut attempts = Attempts::default();
        for _ in 0..TRIES_PER_GROUP {
            assert_eq!(run(&noise, &mut rng).finish_in(&mut attempts)[0], RUN_VERSION);
        }
        assert_eq!(run(&alike, &mut rng).finish_in(&mut attempts)[0], RUN_VERSION);
        // A run too small to try does not use up a try.
        let mut attempts = Attempts::default();
        let mut small = RunBuilder::new(0);
        small.push(0, "key", &[b'x'; 10]);
        assert_eq!(small.finish_in(&mut attempts)[0], RUN_VERSION);
        assert_eq!(run(&noise, &mut rng).finish_in(&mut attempts)[0], RUN_VERSION);
        assert_eq!(run(&alike, &mut rng).finish_in(&mut attempts)[0], LZ4_RUN_VERSION);
        // Once one shrank, every run of the group is tried.
        for _ in 0..2 * TRIES_PER_GROUP {
            assert_eq!(run(&noise, &mut rng).finish_in(&mut attempts)[0], RUN_VERSION);
        }
        assert_eq!(run(&alike, &mut rng).finish_in(&mut attempts)[0], LZ4_RUN_VERSION);
        // A new group tries again.
        assert_eq!(run(&alike, &mut rng).finish_in(&mut Attempts::default())[0], LZ4_RUN_VERSION);
    }

    #[test]
    fn runs_that_shrink_are_stored_compressed_and_read_back_whole() {
        let build = |data: &[u8]| {
            let mut run = RunBuilder::new(3);
            for ms in 0..8 {
                run.push(ms, "key", data);
            }
            run
        };
        let records = |v: Vec<u8>| -> Vec<StoredRecord> {
            let v = plain(v).unwrap();
            Run::new(3, &v).unwrap().map(|r| r.unwrap().to_stored().unwrap()).collect()
        };
        // 8 x 200 repeated bytes: stored as version 3, a fraction of the size.
        let v = build(&[b'x'; 200]).finish();
        assert_eq!(v[0], LZ4_RUN_VERSION);
        assert!(v.len() < 200, "{} bytes", v.len());
        let got = records(v.clone());
        assert_eq!(got.len(), 8);
        assert!(
            got.iter().enumerate().all(|(i, r)| r.arrival_ms == i as i64 && r.data == [b'x'; 200])
        );
        // Random bytes do not shrink: stored as they are.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut run = RunBuilder::new(3);
        let mut last = Vec::new();
        for ms in 0..8 {
            last = (0..200).map(|_| rng.u8(..)).collect();
            run.push(ms, "key", &last);
        }
        let r = run.finish();
        assert_eq!(r[0], RUN_VERSION);
        assert_eq!(plain(r.clone()).unwrap(), r);
        assert_eq!(records(r)[7].data, last);
        // A long run whose first bytes do not shrink is stored as it is, even if the
        // rest would: the probe decides.
        let mut run = RunBuilder::new(3);
        let noise: Vec<u8> = (0..2 * PROBE_BYTES).map(|_| rng.u8(..)).collect();
        run.push(0, "key", &noise);
        for ms in 1..8 {
            run.push(ms, "key", &[b'x'; 2000]);
        }
        assert_eq!(run.finish()[0], RUN_VERSION);
        let mut run = RunBuilder::new(3);
        for ms in 0..8 {
            run.push(ms, "key", &[b'x'; 2000]);
        }
        assert_eq!(run.finish()[0], LZ4_RUN_VERSION);
        // Under `COMPRESS_FROM`, no attempt: stored as they are.
        assert_eq!(build(&[b'x'; 10]).finish()[0], RUN_VERSION);
        // Nor past what a reader takes back: a lone record over `MAX_PLAIN_BYTES`.
        let mut run = RunBuilder::new(3);
        run.push(0, "key", &vec![b'x'; MAX_PLAIN_BYTES + 1]);
        assert_eq!(run.finish()[0], RUN_VERSION);
        // A length the block does not decompress to, or past the cap, is corrupt.
        let mut wrong = v.clone();
        wrong[8] ^= 1;
        assert!(plain(wrong).is_err());
        let mut huge = v;
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(plain(huge).is_err());
        assert!(plain(vec![LZ4_RUN_VERSION, 0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn runs_round_trip(
            first in 0u64..u64::MAX / 2,
            records in proptest::collection::vec((any::<i64>(), ".{0,20}", prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                // Repeated bytes: runs past `COMPRESS_FROM` that LZ4 shrinks.
                (any::<u8>(), 0usize..600).prop_map(|(b, n)| vec![b; n]),
            ]), 1..8),
        ) {
            let mut run = RunBuilder::new(first);
            for (ms, pk, data) in &records {
                prop_assert!(run.takes(pk.len() + data.len()));
                run.push(*ms, pk, data);
            }
            let v = run.finish();
            let plain_v = plain(v.clone()).unwrap();
            let decoded = Run::new(first, &plain_v).unwrap();
            prop_assert_eq!(decoded.end(), first + records.len() as u64);
            let decoded: Vec<RunRecord> = decoded.collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(decoded.len(), records.len());
            for (i, (r, (ms, pk, data))) in decoded.iter().zip(&records).enumerate() {
                prop_assert_eq!(r.seq, first + i as u64);
                prop_assert_eq!(r.size(), pk.len() + data.len());
                let want = StoredRecord { arrival_ms: *ms, partition_key: pk.clone(), data: data.clone() };
                prop_assert_eq!(r.to_stored().unwrap(), want);
            }
            // Every cut, and any byte past the end, is an error, never a panic.
            let read = |v: &[u8]| {
                let v = plain(v.to_vec())?;
                Run::new(first, &v).and_then(|r| r.map(|r| r.map(|_| ())).collect::<Result<Vec<()>, _>>())
            };
            for cut in 0..v.len() {
                prop_assert!(read(&v[..cut]).is_err(), "cut at {}", cut);
            }
            let mut longer = v.clone();
            longer.push(0);
            prop_assert!(read(&longer).is_err());
        }

        #[test]
        fn a_version_1_value_is_a_run_of_one(seq in 0..u64::MAX, ms in any::<i64>(), pk in ".{1,40}", data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let v = encode_record(ms, &pk, &data);
            let records: Vec<RunRecord> = Run::new(seq, &v).unwrap().collect::<Result<_, _>>().unwrap();
            let want = StoredRecord { arrival_ms: ms, partition_key: pk.clone(), data };
            prop_assert_eq!(records.len(), 1);
            prop_assert_eq!(records[0].seq, seq);
            prop_assert_eq!(records[0].to_stored().unwrap(), want);
            for cut in 0..11 + pk.len() {
                prop_assert!(Run::new(seq, &v[..cut]).and_then(|r| r.collect::<Result<Vec<_>, _>>()).is_err());
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
