//! Reads: one snapshot of the whole store (`ReadView`), values read in parts, and the
//! key bounds every read is clamped to.

use std::ops::Bound;
use std::sync::Arc;

use fjall::{Keyspace, Readable, Snapshot};

use super::{Keyspaces, MAX_KEY_BYTES, Space, StorageError, seal};

/// Key/value pairs of a range read, in key order (or reversed with `next_back`).
pub type KvIter =
    Box<dyn DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + Send>;

/// A value written in parts, as [`ReadView::get_parts`] reads it.
pub enum Parts {
    /// The whole value, in the clear: its reader finds its parts in it.
    Whole(fjall::Slice),
    /// The value sealed part by part.
    Sealed(SealedParts),
}

/// A value sealed part by part, each part opened on its own.
pub struct SealedParts {
    stored: fjall::Slice,
    count: u32,
    sealer: Option<Arc<seal::Sealer>>,
    space: Space,
    key: Vec<u8>,
}

impl SealedParts {
    /// How many parts the value has.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Part `index`, opened.
    pub fn open(&self, index: u32) -> Result<Vec<u8>, StorageError> {
        let parts = seal::Parted::new(&self.stored)?;
        parts.open(self.sealer.as_deref(), self.space, &self.key, index)
    }
}

/// A consistent snapshot of the whole store. Reads through it see exactly the commits
/// made before it was taken; writers never wait for it (fjall keeps the versions it
/// needs until it is dropped), so keep it for one page of a read, not longer.
pub struct ReadView {
    pub(super) sealer: Option<Arc<seal::Sealer>>,
    pub(super) snapshot: Snapshot,
    pub(super) spaces: Keyspaces,
}

impl ReadView {
    /// Reads one key as of the snapshot.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if !storable(key) {
            return Ok(None);
        }
        match self.snapshot.get(self.keyspace(space), key)? {
            Some(v) => Ok(Some(seal::open(self.sealer.as_deref(), space, key, v.to_vec())?)),
            None => Ok(None),
        }
    }

    /// A value written in parts ([`Mutation::put_parts`]), for a reader of some of them:
    /// in the clear, the store's own reference-counted bytes (often its cached block's),
    /// not copied; sealed in parts, each part opened only when asked for. For large values
    /// read in part, as a Kinesis group is by each shard's reader.
    pub fn get_parts(&self, space: Space, key: &[u8]) -> Result<Option<Parts>, StorageError> {
        if !storable(key) {
            return Ok(None);
        }
        let Some(stored) = self.snapshot.get(self.keyspace(space), key)? else {
            return Ok(None);
        };
        Ok(Some(if seal::is_parted(&stored) {
            let count = seal::Parted::new(&stored)?.count();
            let sealer = self.sealer.clone();
            Parts::Sealed(SealedParts { stored, count, sealer, space, key: key.to_vec() })
        } else if seal::is_sealed(&stored) {
            // Written whole, or before parts were sealed on their own.
            Parts::Whole(seal::open(self.sealer.as_deref(), space, key, stored.to_vec())?.into())
        } else {
            Parts::Whole(stored)
        }))
    }

    pub(super) fn keyspace(&self, space: Space) -> &Keyspace {
        self.spaces.of(space)
    }

    /// The pairs of `space` between `lower` and `upper`. An empty or inverted range
    /// yields nothing (rather than reaching the store with bounds it may reject).
    pub fn range(&self, space: Space, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KvIter {
        let (lower, upper) = (clamp_lower(lower), clamp_upper(upper));
        if range_is_empty(&lower, &upper) {
            return Box::new(std::iter::empty());
        }
        let sealer = self.sealer.clone();
        Box::new(self.snapshot.range(self.keyspace(space), (lower, upper)).map(move |guard| {
            let (k, v) = guard.into_inner()?;
            let v = seal::open(sealer.as_deref(), space, &k, v.to_vec())?;
            Ok((k.to_vec(), v))
        }))
    }
}

/// Whether the store could hold `key` (fjall asserts on anything else, panicking).
pub(super) fn storable(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES
}

/// A lower bound past the key limit, as the same bound within it: every stored key is at
/// most `MAX_KEY_BYTES` long, so one sorts after `k` exactly when it sorts after `k`'s
/// first `MAX_KEY_BYTES` bytes (which itself sorts before `k`). Reads thereby never hand
/// the store a bound it would refuse.
pub(super) fn clamp_lower(bound: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(mut k) | Bound::Excluded(mut k) if k.len() > MAX_KEY_BYTES => {
            k.truncate(MAX_KEY_BYTES);
            Bound::Excluded(k)
        }
        other => other,
    }
}

/// An upper bound past the key limit, as the same bound within it (see `clamp_lower`).
pub(super) fn clamp_upper(bound: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(mut k) | Bound::Excluded(mut k) if k.len() > MAX_KEY_BYTES => {
            k.truncate(MAX_KEY_BYTES);
            Bound::Included(k)
        }
        other => other,
    }
}

/// Whether no key can lie between the bounds.
pub(super) fn range_is_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    use Bound::{Excluded, Included, Unbounded};
    match (lower, upper) {
        (Unbounded, _) | (_, Unbounded) => false,
        (Included(l), Included(u)) => l > u,
        (Included(l), Excluded(u)) | (Excluded(l), Included(u)) | (Excluded(l), Excluded(u)) => {
            l >= u
        }
    }
}
