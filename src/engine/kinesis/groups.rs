//! Records stored by group (`storage/keys/kinesis_groups.rs`): how a grouped stream's
//! writer places a group's values, headers and locators, and how a reader of one shard
//! finds that shard's sections.
//!
//! Every section of a shard lies within [`LOCATE_EVERY_GROUPS`] groups of the last
//! locator the shard had when it was written (the writer adds one otherwise), so a
//! reader walks the shard's locators from the last one at or before its position and,
//! for each, reads at most that many headers: the work of a read follows the sections it
//! returns, not the groups other shards wrote in between. The trimmer deletes a locator
//! only once every group of its window is gone.

use std::collections::HashMap;
use std::ops::Bound;

use crate::engine::read::prefix_end;
use crate::storage::keys::kinesis::{self as kkeys, Attempts, plain_of};
use crate::storage::keys::kinesis_groups::{self as gkeys, GroupBuilder, LOCATE_EVERY_GROUPS};
use crate::storage::{KvIter, Mutation, Parts, ReadView, SealedParts, Space, StorageError};

/// The mutations that store `group` as group number `number` of stream `stream_id`: its
/// value, its header, and a locator for each shard whose last one (as `last_locator`
/// reports it) is [`LOCATE_EVERY_GROUPS`] groups behind or missing. Returns the locators
/// it added (shard, group): the caller tracks them.
pub(super) fn put_group(
    stream_id: u64,
    number: u64,
    group: GroupBuilder,
    last_locator: impl Fn(u32) -> Option<u64>,
    attempts: &mut Attempts,
    mutations: &mut Vec<Mutation>,
) -> Vec<(u32, u64)> {
    let mut located = Vec::new();
    for (shard, first) in group.firsts() {
        let due =
            last_locator(shard).is_none_or(|at| number.saturating_sub(at) >= LOCATE_EVERY_GROUPS);
        if due {
            let key = gkeys::locator_key(stream_id, shard, first);
            mutations.push(Mutation::put(Space::KinesisIndex, key, gkeys::encode_locator(number)));
            located.push((shard, number));
        }
    }
    let finished = group.finish_in(attempts);
    let key = gkeys::group_key(stream_id, number);
    mutations.push(Mutation::put_parts(
        Space::Kinesis,
        key.clone(),
        finished.value,
        finished.parts,
    ));
    mutations.push(Mutation::put(Space::KinesisIndex, key, finished.header));
    located
}

/// Where a grouped stream's writer starts: the next group number and each shard's last
/// locator. The next number follows the last stored group and every locator still kept:
/// once the trimmer has deleted every group, locators whose window reaches past the last
/// one remain, and a group numbered inside such a window would get no locator of its own
/// while no reader looks for it there.
pub(super) fn recover(
    view: &ReadView,
    stream_id: u64,
    shards: impl Iterator<Item = u32>,
) -> Result<(u64, HashMap<u32, u64>), StorageError> {
    // The last group's header: its key is the group's, and it is small (the value may
    // be 64 KiB to open).
    let prefix = gkeys::groups_prefix(stream_id);
    let mut last =
        view.range(Space::KinesisIndex, Bound::Included(prefix.clone()), prefix_end(&prefix));
    let next = match last.next_back() {
        Some(entry) => gkeys::group_of(&entry?.0)?.saturating_add(1),
        None => 0,
    };
    let mut locators = HashMap::new();
    for shard in shards {
        let prefix = kkeys::shard_prefix(stream_id, shard);
        let mut all =
            view.range(Space::KinesisIndex, Bound::Included(prefix.clone()), prefix_end(&prefix));
        if let Some(entry) = all.next_back() {
            locators.insert(shard, gkeys::decode_locator(&entry?.1)?);
        }
    }
    let after_locators = locators.values().max().map_or(0, |g| g.saturating_add(1));
    Ok((next.max(after_locators), locators))
}

/// The sections of `shard` from the one holding `from` (or the first after it), in
/// order, each as its first sequence number and its run value (as `kinesis::Run` reads
/// it, decompressed).
pub(super) struct Sections<'v> {
    view: &'v ReadView,
    stream_id: u64,
    shard: u32,
    /// Sections ending at or before it are skipped.
    from: u64,
    locators: KvIter,
    headers: Option<KvIter>,
    /// Every group before it has been looked at.
    scanned_to: u64,
}

impl<'v> Sections<'v> {
    pub(super) fn new(view: &'v ReadView, stream_id: u64, shard: u32, from: u64) -> Self {
        let prefix = kkeys::shard_prefix(stream_id, shard);
        let at = gkeys::locator_key(stream_id, shard, from);
        // The last locator at or before `from`, or the shard's first after it.
        let before = view
            .range(
                Space::KinesisIndex,
                Bound::Included(prefix.clone()),
                Bound::Included(at.clone()),
            )
            .next_back();
        let (start, failed) = match before {
            Some(Ok((key, _))) => (key, None),
            Some(Err(e)) => (at, Some(e)),
            None => (at, None),
        };
        let locators: KvIter = match failed {
            // The seek failed: the reader gets the error first, and nothing after it.
            Some(e) => Box::new(std::iter::once(Err(e))),
            None => view.range(Space::KinesisIndex, Bound::Included(start), prefix_end(&prefix)),
        };
        Sections { view, stream_id, shard, from, locators, headers: None, scanned_to: 0 }
    }

    /// The next window of headers to read, from the next locator; `None` when the shard
    /// has no more.
    fn next_window(&mut self) -> Option<Result<(), StorageError>> {
        loop {
            let (_, value) = match self.locators.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e)),
            };
            let group = match gkeys::decode_locator(&value) {
                Ok(group) => group,
                Err(e) => return Some(Err(e)),
            };
            let (lo, hi) = (group.max(self.scanned_to), group.saturating_add(LOCATE_EVERY_GROUPS));
            if lo >= hi {
                continue; // a window already read (windows overlap)
            }
            self.scanned_to = hi;
            let (lo, hi) =
                (gkeys::group_key(self.stream_id, lo), gkeys::group_key(self.stream_id, hi));
            let headers =
                self.view.range(Space::KinesisIndex, Bound::Included(lo), Bound::Excluded(hi));
            self.headers = Some(headers);
            return Some(Ok(()));
        }
    }

    /// `shard`'s section of the group whose header is `(key, header)`, if it has one past
    /// `from`.
    fn section(
        &mut self,
        key: &[u8],
        header: &[u8],
    ) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let Some(section) = gkeys::header_section(header, self.shard)? else {
            return Ok(None);
        };
        if section.end() <= self.from {
            return Ok(None);
        }
        // Headers and values are written and deleted in the same batches, and the view
        // is one snapshot: a header's value is there.
        let group = gkeys::group_of(key)?;
        let value = self
            .view
            .get_parts(Space::Kinesis, &gkeys::group_key(self.stream_id, group))?
            .ok_or_else(|| StorageError::Corrupt("kinesis group without its value".into()))?;
        let found = match value {
            Parts::Whole(value) => gkeys::Group::new(&value)?.section(self.shard)?,
            Parts::Sealed(parts) => sealed_section(&parts, self.shard)?,
        };
        let Some((section, run)) = found else {
            return Err(StorageError::Corrupt("kinesis group without its header's section".into()));
        };
        self.from = section.end();
        Ok(Some((section.first, run)))
    }
}

/// `shard`'s section of a group sealed in parts: its table opened, then that section
/// alone (a reader of one shard of 64 would otherwise decrypt 64 shards' records).
fn sealed_section(
    parts: &SealedParts,
    shard: u32,
) -> Result<Option<(gkeys::Section, Vec<u8>)>, StorageError> {
    let table = parts.open(0)?;
    let table = gkeys::Group::table(&table)?;
    if parts.count() as usize != 1 + table.section_count() {
        return Err(StorageError::Corrupt("kinesis group: parts and table disagree".into()));
    }
    let Some((index, section, _, len)) = table.find(shard) else { return Ok(None) };
    let body = parts.open(1 + index as u32)?;
    if body.len() != len {
        return Err(StorageError::Corrupt("kinesis group: a section's length".into()));
    }
    Ok(Some((section, plain_of(&body)?)))
}

impl Iterator for Sections<'_> {
    type Item = Result<(u64, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(headers) = self.headers.as_mut() else {
                if let Err(e) = self.next_window()? {
                    return Some(Err(e));
                }
                continue;
            };
            let Some(entry) = headers.next() else {
                self.headers = None;
                continue;
            };
            let found = entry.and_then(|(key, header)| self.section(&key, &header));
            match found {
                Ok(None) => continue,
                Ok(Some(section)) => return Some(Ok(section)),
                Err(e) => {
                    // Nothing after a corrupt entry is trusted.
                    self.headers = None;
                    self.locators = Box::new(std::iter::empty());
                    return Some(Err(e));
                }
            }
        }
    }
}
