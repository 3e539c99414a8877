//! Byte layouts of Kinesis records stored by group, the layout issue 19 measured for
//! streams of many shards (BENCHMARKS.md, "a layout for Kinesis records that needs no
//! per-shard keys"). Persisted: never reorder a field or reuse a version.
//!
//! A run per shard (`kinesis.rs`) costs a group of PutRecords calls one key per shard it
//! touches, and with shard-first keys every flushed table spans every shard: on 64
//! shards the commit thread and fjall's compactions then cost half again what they cost
//! on one. Here a group's records go into values of up to [`MAX_GROUP_BYTES`], keyed by
//! a per-stream counter, so keys only grow; each value holds one section per shard (a run,
//! compressed on its own, so a reader of one shard decompresses only its section).
//!
//! ```text
//! kinesis keyspace
//!   <stream id u64 BE> FFFFFFFF <group u64 BE>       -> group value
//! kinesis index keyspace
//!   <stream id u64 BE> FFFFFFFF <group u64 BE>       -> group header (its sections)
//!   <stream id u64 BE> <shard u32 BE> <first seq u64 BE> -> locator: group u64 BE
//! ```
//!
//! No shard has index `FFFFFFFF`, so group keys never meet a run's. A reader of a shard
//! finds the last locator at or before its sequence number and reads headers forward
//! from that group; the writer adds a locator whenever a shard's last one is
//! [`LOCATE_EVERY_RECORDS`] records or [`LOCATE_EVERY_GROUPS`] groups behind, so a seek
//! reads a bounded number of headers.

use super::kinesis::{Attempts, MAX_RUN_BYTES, RunBuilder, plain_of};
use crate::storage::StorageError;

/// The shard index in every group key and header key (no shard has it).
pub const GROUP_SHARD: u32 = u32::MAX;
/// A group value takes no more records once it holds this many bytes of records (each
/// shard's section still at most [`MAX_RUN_BYTES`], so one shard's groups are as before).
/// Four runs' worth: capped at one, a writer's batch on 64 shards became groups of 64
/// sections of about 1 KiB, which LZ4 shrinks far less than 4 KiB ones (the bench's
/// PutRecords stored 53 bytes a record against 8 on one shard), and each group paid its
/// header, its locators and a table clear per section (BENCHMARKS.md, "Eleventh
/// session"). A reader of one shard still decompresses only its own section.
pub const MAX_GROUP_BYTES: usize = 4 * MAX_RUN_BYTES;
/// A shard gets a new locator once this many of its records follow its last one...
pub const LOCATE_EVERY_RECORDS: u64 = 4096;
/// ...or once its last one is this many groups behind.
pub const LOCATE_EVERY_GROUPS: u64 = 16;

/// Version of a group value: `4`, the section count (u32 BE), per section its shard (u32
/// BE), first sequence number (u64 BE), record count (u32 BE) and length (u32 BE), then
/// the sections' bytes in that order, each a run value (`kinesis::Run` versions 2 or 3).
const GROUP_VERSION: u8 = 4;
/// Version of a group header: `1`, the newest arrival time in the group (i64 BE, epoch
/// ms: the trimmer decides on headers alone), then per section its shard (u32 BE), first
/// sequence number (u64 BE), record count (u32 BE) and records' bytes (data plus partition
/// keys, u32 BE).
const HEADER_VERSION: u8 = 1;
/// Bytes of one section's entry in a group value's table.
const TABLE_ENTRY: usize = 20;
/// Bytes of one section's entry in a header.
const HEADER_ENTRY: usize = 20;

/// The key of group `group` of a stream (in the kinesis keyspace), and of its header (in
/// the index keyspace).
pub fn group_key(stream_id: u64, group: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(20);
    k.extend_from_slice(&stream_id.to_be_bytes());
    k.extend_from_slice(&GROUP_SHARD.to_be_bytes());
    k.extend_from_slice(&group.to_be_bytes());
    k
}

/// Prefix of every group key (and header key) of a stream.
pub fn groups_prefix(stream_id: u64) -> Vec<u8> {
    let mut k = stream_id.to_be_bytes().to_vec();
    k.extend_from_slice(&GROUP_SHARD.to_be_bytes());
    k
}

/// The group number at the end of a group or header key.
pub fn group_of(key: &[u8]) -> Result<u64, StorageError> {
    key.get(12..20)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt("group key"))
}

/// The key of a shard's locator for the section starting at `first`.
pub fn locator_key(stream_id: u64, shard: u32, first: u64) -> Vec<u8> {
    debug_assert_ne!(shard, GROUP_SHARD);
    super::kinesis::record_key(stream_id, shard, first)
}

/// A locator's value: the group it points at.
pub fn encode_locator(group: u64) -> Vec<u8> {
    group.to_be_bytes().to_vec()
}

/// The group a locator points at.
pub fn decode_locator(value: &[u8]) -> Result<u64, StorageError> {
    value.try_into().map(u64::from_be_bytes).map_err(|_| corrupt("locator"))
}

/// One shard's section of a group: its records `first..first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub shard: u32,
    pub first: u64,
    pub count: u32,
}

/// A group header: what the readers and the trimmer need without the group's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The newest arrival time of the group's records.
    pub newest_ms: i64,
    /// Each section, and its records' bytes (data plus partition keys).
    pub sections: Vec<(Section, u32)>,
}

impl Section {
    /// The sequence number after the section's last record.
    pub fn end(&self) -> u64 {
        self.first + u64::from(self.count)
    }
}

/// One group value being built: a run per shard, in the order shards first appear.
#[derive(Default)]
pub struct GroupBuilder {
    /// Each section's run and its records' bytes.
    sections: Vec<(RunBuilder, usize)>,
    /// Each section's shard, in the same order: kept apart, 4 bytes a section, for what
    /// [`position`](Self::position) scans.
    shards: Vec<u32>,
    bytes: usize,
    newest_ms: i64,
}

impl GroupBuilder {
    /// Whether the group holds no record yet.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// Whether a record of `size` bytes for `shard` still goes in: within the group's
    /// bytes and the shard's run caps, or as the group's first record, of any size.
    #[cfg(test)]
    pub fn takes(&self, shard: u32, size: usize) -> bool {
        self.takes_at(self.position(shard), size)
    }

    /// [`takes`](Self::takes) for the section at `at` (`None`: a new one).
    fn takes_at(&self, at: Option<usize>, size: usize) -> bool {
        if self.sections.is_empty() {
            return true;
        }
        let run_takes = at.is_none_or(|at| self.sections[at].0.takes(size));
        run_takes && self.bytes + size <= MAX_GROUP_BYTES
    }

    /// Where `shard`'s section is. A group touches few shards or many; a linear search
    /// beats a map below a few dozen, and the last shard pushed is checked first. On 64
    /// shards, searching entries that held each shard beside its run took a cache line a
    /// section (1 % of the daemon's samples under PutRecords).
    fn position(&self, shard: u32) -> Option<usize> {
        self.shards.iter().rposition(|s| *s == shard)
    }

    /// Each shard of the group and the sequence number of its first record here.
    pub fn firsts(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.shards.iter().zip(&self.sections).map(|(shard, (run, _))| (*shard, run.first()))
    }

    /// Appends `shard`'s record with sequence number `seq` (the one after its last in
    /// this group, if it has any) if it [`takes`](Self::takes) it, with one search for
    /// its section: the writer's path for every record. `false` when it does not go in
    /// (never for an empty group's first record).
    #[must_use = "a record that does not go in is not in the group"]
    pub fn push(
        &mut self,
        shard: u32,
        seq: u64,
        arrival_ms: i64,
        partition_key: &str,
        data: &[u8],
    ) -> bool {
        let found = self.position(shard);
        let size = partition_key.len() + data.len();
        if !self.takes_at(found, size) {
            return false;
        }
        let at = found.unwrap_or_else(|| {
            self.sections.push((RunBuilder::new(seq), 0));
            self.shards.push(shard);
            self.sections.len() - 1
        });
        let section = &mut self.sections[at];
        section.0.push(arrival_ms, partition_key, data);
        section.1 += size;
        self.bytes += size;
        self.newest_ms = self.newest_ms.max(arrival_ms);
        true
    }

    /// The group's value, its parts and its header. Each section is compressed on its own
    /// when that pays (`attempts` as for runs).
    pub fn finish_in(self, attempts: &mut Attempts) -> Finished {
        let n = self.sections.len();
        let table_len = 5 + n * TABLE_ENTRY;
        let mut table = Vec::with_capacity(table_len);
        table.push(GROUP_VERSION);
        table.extend_from_slice(&(n as u32).to_be_bytes());
        let mut header = Vec::with_capacity(9 + n * HEADER_ENTRY);
        header.push(HEADER_VERSION);
        header.extend_from_slice(&self.newest_ms.to_be_bytes());
        let mut parts = Vec::with_capacity(1 + n);
        parts.push(table_len as u32);
        // Compressed sections go into one buffer; the others stay in their runs. The value
        // is then made once, at its final length, in the store's own byte type, each
        // section copied from where it lies: built in a `Vec` first, a value of sections
        // stored as they are (random data) was copied twice more than its records.
        PACKED.with_borrow_mut(|packed| {
            packed.clear();
            let mut bodies = Vec::with_capacity(n);
            for (shard, (mut run, bytes)) in self.shards.into_iter().zip(self.sections) {
                let (first, count) = (run.first(), run.count());
                let start = packed.len();
                let body = match run.pack_section(attempts, packed) {
                    true => Body::Packed(start..packed.len()),
                    false => Body::Plain(run),
                };
                for out in [&mut table, &mut header] {
                    out.extend_from_slice(&shard.to_be_bytes());
                    out.extend_from_slice(&first.to_be_bytes());
                    out.extend_from_slice(&count.to_be_bytes());
                }
                // A group holds at most `MAX_GROUP_BYTES` of records but one record of 10 MiB.
                header.extend_from_slice(&(bytes as u32).to_be_bytes());
                // A section is a run of at most `MAX_PLAIN_BYTES` (or one record of at
                // most 10 MiB): its length fits a u32.
                let len = body.bytes(packed).len() as u32;
                table.extend_from_slice(&len.to_be_bytes());
                parts.push(len);
                bodies.push(body);
            }
            let pieces = std::iter::once(table.as_slice())
                .chain(bodies.iter().map(|body| body.bytes(packed)));
            let value = joined(pieces);
            // A group of one huge record (up to 10 MiB) must not leave its buffer behind
            // on every thread that ever finished one.
            if packed.capacity() > KEEP_PACKED_BYTES {
                *packed = Vec::new();
            }
            Finished { value, parts, header }
        })
    }
}

/// The most [`PACKED`] keeps between groups: a group's worth, compressed or not.
const KEEP_PACKED_BYTES: usize = 2 * MAX_GROUP_BYTES;

thread_local! {
    /// The compressed sections of the group being finished, reused group after group.
    static PACKED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Where a finished section's bytes are.
enum Body {
    /// In [`PACKED`], compressed.
    Packed(std::ops::Range<usize>),
    /// In its run, as it is.
    Plain(RunBuilder),
}

impl Body {
    fn bytes<'a>(&'a self, packed: &'a [u8]) -> &'a [u8] {
        match self {
            Body::Packed(range) => &packed[range.clone()],
            Body::Plain(run) => run.plain_value(),
        }
    }
}

/// `pieces` one after another, in a store value made at its final length.
fn joined<'a>(pieces: impl Iterator<Item = &'a [u8]> + Clone) -> fjall::Slice {
    let len = pieces.clone().map(<[u8]>::len).sum();
    let mut reader = Pieces { pieces: pieces.clone(), current: &[] };
    // `from_reader` fills a value it allocates at `len` without zeroing it first (fjall's
    // own way to read values from disk; public but outside its documented API, so an
    // upgrade of fjall must keep it or replace this). The reader holds exactly `len`
    // bytes, so it cannot come up short; were it to, the value is built the slow way
    // rather than fail the group.
    fjall::Slice::from_reader(&mut reader, len)
        .unwrap_or_else(|_| pieces.collect::<Vec<_>>().concat().into())
}

/// A [`std::io::Read`] over byte slices in turn.
struct Pieces<'a, I> {
    pieces: I,
    current: &'a [u8],
}

impl<'a, I: Iterator<Item = &'a [u8]>> std::io::Read for Pieces<'a, I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.current.is_empty() {
                match self.pieces.next() {
                    Some(next) => self.current = next,
                    None => break,
                }
                continue;
            }
            let n = self.current.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.current[..n]);
            self.current = &self.current[n..];
            filled += n;
        }
        Ok(filled)
    }
}

/// A group ready to store: its value, the lengths of the value's parts (its table, then
/// each section: with encryption at rest each is sealed on its own, so a reader of one
/// shard opens the table and its section, not every shard's), and its header.
pub struct Finished {
    pub value: fjall::Slice,
    pub parts: Vec<u32>,
    pub header: Vec<u8>,
}

/// A group header; never panics on corrupt input.
pub fn decode_header(header: &[u8]) -> Result<Header, StorageError> {
    let Some((&HEADER_VERSION, rest)) = header.split_first() else {
        return Err(corrupt("group header version"));
    };
    let newest: [u8; 8] =
        rest.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(|| corrupt("group header"))?;
    let entries = &rest[8..];
    if entries.len() % HEADER_ENTRY != 0 {
        return Err(corrupt("group header length"));
    }
    let sections = entries
        .chunks_exact(HEADER_ENTRY)
        .map(|e| (section_of(e), u32::from_be_bytes([e[16], e[17], e[18], e[19]])))
        .collect();
    Ok(Header { newest_ms: i64::from_be_bytes(newest), sections })
}

/// `shard`'s section in a group header, found in place (a reader of one shard looks at
/// every header of its windows).
pub fn header_section(header: &[u8], shard: u32) -> Result<Option<Section>, StorageError> {
    let Some((&HEADER_VERSION, rest)) = header.split_first() else {
        return Err(corrupt("group header version"));
    };
    let entries = rest.get(8..).ok_or_else(|| corrupt("group header"))?;
    if entries.len() % HEADER_ENTRY != 0 {
        return Err(corrupt("group header length"));
    }
    let wanted = shard.to_be_bytes();
    let entry = entries.chunks_exact(HEADER_ENTRY).find(|e| e[..4] == wanted);
    Ok(entry.map(section_of))
}

fn section_of(entry: &[u8]) -> Section {
    let u32_at =
        |i: usize| u32::from_be_bytes([entry[i], entry[i + 1], entry[i + 2], entry[i + 3]]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&entry[4..12]);
    Section { shard: u32_at(0), first: u64::from_be_bytes(first), count: u32_at(12) }
}

/// A stored group value, read in place.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    table: &'a [u8],
    bodies: &'a [u8],
}

impl<'a> Group<'a> {
    /// Reads a group value's table; never panics on corrupt input.
    pub fn new(value: &'a [u8]) -> Result<Group<'a>, StorageError> {
        let (table, bodies) = split_table(value)?;
        let total: u64 = table.chunks_exact(TABLE_ENTRY).map(|e| u64::from(body_len(e))).sum();
        if total != bodies.len() as u64 {
            return Err(corrupt("group lengths"));
        }
        Ok(Group { table, bodies })
    }

    /// A group value's table alone, its first part (a value sealed in parts is read part
    /// by part): [`find`](Self::find) works on it, [`section`](Self::section) finds no
    /// body.
    pub fn table(part: &'a [u8]) -> Result<Group<'a>, StorageError> {
        let (table, rest) = split_table(part)?;
        if !rest.is_empty() {
            return Err(corrupt("group table length"));
        }
        Ok(Group { table, bodies: &[] })
    }

    /// How many sections the group has.
    pub fn section_count(&self) -> usize {
        self.table.len() / TABLE_ENTRY
    }

    /// The group's sections, in order.
    #[cfg(test)]
    pub fn sections(&self) -> impl Iterator<Item = Section> + 'a {
        self.table.chunks_exact(TABLE_ENTRY).map(section_of)
    }

    /// `shard`'s section: its place among the sections, where its body starts among
    /// the bodies, and its length.
    pub fn find(&self, shard: u32) -> Option<(usize, Section, usize, usize)> {
        let mut at = 0usize;
        for (index, entry) in self.table.chunks_exact(TABLE_ENTRY).enumerate() {
            let len = body_len(entry) as usize;
            let section = section_of(entry);
            if section.shard == shard {
                return Some((index, section, at, len));
            }
            at += len;
        }
        None
    }

    /// `shard`'s section and its run value as `kinesis::Run` reads it (decompressed), if
    /// the group holds records of that shard.
    pub fn section(&self, shard: u32) -> Result<Option<(Section, Vec<u8>)>, StorageError> {
        let Some((_, section, at, len)) = self.find(shard) else { return Ok(None) };
        let body = self.bodies.get(at..at + len).ok_or_else(|| corrupt("group body"))?;
        Ok(Some((section, plain_of(body)?)))
    }
}

/// A group value's table (its entries) and what follows it.
fn split_table(value: &[u8]) -> Result<(&[u8], &[u8]), StorageError> {
    let Some((&GROUP_VERSION, rest)) = value.split_first() else {
        return Err(corrupt("group version"));
    };
    let n = rest.get(..4).ok_or_else(|| corrupt("group truncated"))?;
    let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
    let table_len = n.checked_mul(TABLE_ENTRY).ok_or_else(|| corrupt("group table"))?;
    let table = rest.get(4..4 + table_len).ok_or_else(|| corrupt("group truncated"))?;
    Ok((table, &rest[4 + table_len..]))
}

fn body_len(entry: &[u8]) -> u32 {
    u32::from_be_bytes([entry[16], entry[17], entry[18], entry[19]])
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(format!("kinesis record: {what}"))
}

#[cfg(test)]
mod tests {
    use super::super::kinesis::Run;
    use super::*;

    fn records_of(group: &Group, shard: u32) -> Vec<(u64, i64, String, Vec<u8>)> {
        let Some((section, run)) = group.section(shard).unwrap() else { return Vec::new() };
        Run::new(section.first, &run)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let key = String::from_utf8(r.partition_key.to_vec()).unwrap();
                (r.seq, r.arrival_ms, key, r.data.to_vec())
            })
            .collect()
    }

    #[test]
    fn a_groups_parts_are_its_table_then_each_section_as_the_table_places_them() {
        let mut g = GroupBuilder::default();
        assert!(g.push(3, 10, 1, "a", b"x"));
        assert!(g.push(0, 7, 1, "b", &[5u8; 300]));
        let Finished { value, parts, .. } = g.finish_in(&mut Attempts::default());
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.iter().map(|&p| p as usize).sum::<usize>(), value.len());
        let (table, bodies) = value.split_at(parts[0] as usize);
        let table = Group::table(table).unwrap();
        assert_eq!(table.section_count(), 2);
        assert!(table.section(0).is_err(), "a table alone has no bodies");
        let whole = Group::new(&value).unwrap();
        for (shard, index) in [(3, 0), (0, 1)] {
            let (i, section, at, len) = table.find(shard).unwrap();
            assert_eq!((i, len), (index, parts[1 + index] as usize));
            let body = plain_of(&bodies[at..at + len]).unwrap();
            assert_eq!(Some((section, body)), whole.section(shard).unwrap());
        }
        assert!(table.find(9).is_none());
        assert!(Group::table(&value).is_err(), "a table with bodies after it");
        assert!(Group::table(&value[..parts[0] as usize - 1]).is_err());
    }

    #[test]
    fn each_shard_reads_back_its_own_records_in_order() {
        let mut g = GroupBuilder::default();
        assert!(g.push(3, 10, 1, "a", b"x"));
        assert!(g.push(0, 7, 1, "b", b"yy"));
        assert!(g.push(3, 11, 2, "c", b"zzz"));
        assert!(g.push(63, 0, 2, "d", b""));
        let Finished { value, header: g_header, .. } = g.finish_in(&mut Attempts::default());
        let group = Group::new(&value).unwrap();
        let sections: Vec<Section> = group.sections().collect();
        let header = decode_header(&g_header).unwrap();
        assert_eq!(header.newest_ms, 2);
        assert_eq!(header.sections.iter().map(|(s, _)| *s).collect::<Vec<_>>(), sections);
        assert_eq!(header.sections.iter().map(|(_, b)| *b).collect::<Vec<_>>(), vec![6, 3, 1]);
        let raw = g_header.as_slice();
        assert_eq!(header_section(raw, 0).unwrap(), Some(sections[1]));
        assert_eq!(header_section(raw, 5).unwrap(), None);
        assert!(header_section(&raw[..raw.len() - 1], 0).is_err());
        assert_eq!(
            sections,
            vec![
                Section { shard: 3, first: 10, count: 2 },
                Section { shard: 0, first: 7, count: 1 },
                Section { shard: 63, first: 0, count: 1 },
            ]
        );
        assert_eq!(
            records_of(&group, 3),
            vec![(10, 1, "a".into(), b"x".to_vec()), (11, 2, "c".into(), b"zzz".to_vec())]
        );
        assert_eq!(records_of(&group, 0), vec![(7, 1, "b".into(), b"yy".to_vec())]);
        assert_eq!(records_of(&group, 63), vec![(0, 2, "d".into(), Vec::new())]);
        assert!(records_of(&group, 1).is_empty());
        assert_eq!(sections[0].end(), 12);
    }

    #[test]
    fn sections_are_compressed_alone_and_read_back_plain() {
        let mut g = GroupBuilder::default();
        let data = vec![b'q'; 300];
        for seq in 0..20 {
            assert!(g.push(1, seq, 5, "k", &data));
            assert!(g.push(2, 100 + seq, 5, "k", &data));
        }
        let value = g.finish_in(&mut Attempts::default()).value;
        assert!(value.len() < 2 * 20 * 300 / 4, "compressible sections shrink: {}", value.len());
        let group = Group::new(&value).unwrap();
        let ones = records_of(&group, 1);
        assert_eq!(ones.len(), 20);
        assert!(ones.iter().all(|r| r.3 == data));
        assert_eq!(records_of(&group, 2).first().map(|r| r.0), Some(100));
    }

    #[test]
    fn sections_that_do_not_shrink_leave_nothing_of_the_attempt_in_the_value() {
        // Noise, then repetitive records, then noise long enough for the probe, then
        // repetitive again: each attempt writes into the value itself, and one that
        // fails must be undone before the section goes in as it is.
        let mut rng = fastrand::Rng::with_seed(5);
        // Per shard: the record's length and its repeated byte (none: noise).
        let shards = [(4, 300, None), (1, 300, Some(b'q')), (2, 1200, None), (3, 150, Some(b'r'))];
        let mut written: Vec<(u32, Vec<Vec<u8>>)> = shards.iter().map(|s| (s.0, vec![])).collect();
        let mut g = GroupBuilder::default();
        for seq in 0..8 {
            for ((shard, len, byte), (_, kept)) in shards.iter().zip(&mut written) {
                let data = match byte {
                    Some(b) => vec![*b; *len],
                    None => (0..*len).map(|_| rng.u8(..)).collect(),
                };
                assert!(g.push(*shard, seq, seq as i64, "k", &data));
                kept.push(data);
            }
        }
        let Finished { value, parts, .. } = g.finish_in(&mut Attempts::default());
        assert_eq!(parts.iter().map(|&p| p as usize).sum::<usize>(), value.len());
        let (_, bodies) = value.split_at(parts[0] as usize);
        let versions: Vec<u8> = parts[1..]
            .iter()
            .scan(0, |at, &len| {
                *at += len as usize;
                Some(bodies[*at - len as usize])
            })
            .collect();
        // Version 2: stored as it is; 3: compressed.
        assert_eq!(versions, vec![2, 3, 2, 3]);
        let group = Group::new(&value).unwrap();
        for (shard, kept) in &written {
            let records = records_of(&group, *shard);
            assert_eq!(records.len(), 8, "shard {shard}");
            assert!(
                records
                    .iter()
                    .zip(kept)
                    .enumerate()
                    .all(|(i, (r, d))| r.0 == i as u64 && &r.3 == d)
            );
        }
    }

    #[test]
    fn the_header_names_the_newest_arrival_whatever_shard_holds_it() {
        let mut g = GroupBuilder::default();
        assert!(g.push(0, 0, 10, "a", b"x"));
        // Another shard's clock can trail (arrivals only never go back within a shard).
        assert!(g.push(1, 0, 5, "a", b"x"));
        let header = g.finish_in(&mut Attempts::default()).header;
        assert_eq!(decode_header(&header).unwrap().newest_ms, 10);
    }

    #[test]
    fn small_sections_of_repetitive_records_are_compressed_too() {
        let mut g = GroupBuilder::default();
        for shard in 0..64 {
            for seq in 0..5 {
                assert!(g.push(shard, seq, 5, "key", &[b'j'; 40]));
            }
        }
        let value = g.finish_in(&mut Attempts::default()).value;
        let raw = 64 * 5 * (8 + 2 + 3 + 4 + 40);
        assert!(value.len() < raw / 2, "{} of {raw} bytes", value.len());
        let group = Group::new(&value).unwrap();
        assert_eq!(records_of(&group, 63).len(), 5);
    }

    #[test]
    fn a_group_closes_at_its_byte_cap_or_a_full_run() {
        let mut g = GroupBuilder::default();
        assert!(g.takes(0, 10 * MAX_GROUP_BYTES), "a lone record of any size goes in");
        assert!(g.push(0, 0, 1, "", &vec![0; MAX_GROUP_BYTES - 10]));
        assert!(g.takes(1, 10));
        assert!(!g.takes(1, 11));
        let mut g = GroupBuilder::default();
        for seq in 0..u64::from(super::super::kinesis::MAX_RUN_RECORDS) {
            assert!(g.push(0, seq, 1, "", b""));
        }
        assert!(!g.takes(0, 0), "shard 0's run is full");
        assert!(g.takes(1, 0), "another shard's section still opens");
    }

    #[test]
    fn a_value_joined_from_pieces_holds_each_in_turn_whatever_their_sizes() {
        let long: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let cases: [&[&[u8]]; 4] = [
            &[],
            &[b"", b"abc", b"", b"defg", b""],
            &[b"table", &long, b"x", &long[..3]],
            &[&long[..20], &long[20..21]],
        ];
        for pieces in cases {
            let value = joined(pieces.iter().copied());
            assert_eq!(&*value, pieces.concat().as_slice());
        }
    }

    #[test]
    fn a_huge_lone_record_leaves_no_huge_buffer_on_its_thread() {
        let mut g = GroupBuilder::default();
        let data = vec![b'x'; 3 << 20];
        assert!(g.push(0, 0, 1, "k", &data));
        let finished = g.finish_in(&mut Attempts::default());
        let group = Group::new(&finished.value).unwrap();
        assert_eq!(records_of(&group, 0)[0].3, data);
        assert!(PACKED.with_borrow(|packed| packed.capacity()) <= KEEP_PACKED_BYTES);
    }

    #[test]
    fn a_group_of_many_shards_holds_several_runs_worth_each_section_within_a_run() {
        // 64 shards' records of 1 KiB: sections of 4 KiB, not 1 (LZ4 packs them better).
        let mut g = GroupBuilder::default();
        let data = vec![b'x'; 1024];
        let mut pushed = 0u64;
        while g.push((pushed % 64) as u32, pushed / 64, 1, "", &data) {
            pushed += 1;
        }
        assert_eq!(pushed as usize, MAX_GROUP_BYTES / 1024);
        assert!(pushed / 64 >= 4, "sections of 4 KiB or more on 64 shards");
        let finished = g.finish_in(&mut Attempts::default());
        let group = Group::new(&finished.value).unwrap();
        for shard in [0, 63] {
            let records = records_of(&group, shard);
            assert_eq!(records.len() as u64, pushed / 64, "shard {shard}");
            assert!(records.iter().all(|r| r.3 == data));
        }
        // One shard alone still closes a group at a run's cap.
        let mut g = GroupBuilder::default();
        let mut alone = 0usize;
        while g.push(5, alone as u64, 1, "", &data) {
            alone += 1;
        }
        assert_eq!(alone, MAX_RUN_BYTES / 1024);
    }

    #[test]
    fn keys_sort_after_every_run_of_the_stream_and_before_the_next_stream() {
        let run = super::super::kinesis::record_key(7, 1_000_000, u64::MAX);
        let group = group_key(7, 0);
        assert!(run < group && group < group_key(7, 1));
        assert!(group_key(7, u64::MAX) < super::super::kinesis::record_key(8, 0, 0));
        assert!(group.starts_with(&groups_prefix(7)));
        assert_eq!(group_of(&group_key(7, 42)).unwrap(), 42);
        assert_eq!(decode_locator(&encode_locator(9)).unwrap(), 9);
        assert!(decode_locator(b"short").is_err());
    }

    #[test]
    fn corrupt_values_and_headers_are_errors_never_panics() {
        let mut g = GroupBuilder::default();
        assert!(g.push(3, 10, 1, "a", b"x"));
        assert!(g.push(4, 10, 1, "a", &[7; 2000]));
        let Finished { value, header, .. } = g.finish_in(&mut Attempts::default());
        for cut in 0..value.len() {
            if let Ok(group) = Group::new(&value[..cut]) {
                let _ = group.section(4);
                panic!("a value cut at {cut} of {} was read", value.len());
            }
        }
        for cut in 0..header.len() {
            // A header cut at an entry's boundary is a shorter, valid header.
            if decode_header(&header[..cut]).is_ok() {
                assert_eq!((cut - 9) % HEADER_ENTRY, 0);
            }
        }
        let mut bad = value.to_vec();
        bad[0] = 9;
        assert!(Group::new(&bad).is_err());
        let mut huge = value.to_vec();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Group::new(&huge).is_err());
        assert!(decode_header(&[]).is_err());
    }
}
