//! Encryption at rest (`storage.encryption_key_file`): every value the store holds is
//! sealed with AES-256-GCM (ring's, hardware-accelerated) before it reaches the journal
//! and opened when read. The value's keyspace and key are the AEAD's associated data, so
//! a sealed value cannot be moved to another key unnoticed. Keys stay in the clear: they
//! carry the ordering every read depends on (table and partition ids, the items' key
//! attribute values, sequence numbers).
//!
//! Layout of a sealed value: `E7 5E`, the 4-byte id of the key that sealed it, a 12-byte
//! nonce, the ciphertext, the 16-byte tag (34 bytes more than the value). A value without
//! the marker is one written before a key was configured, read as it is. The id lets a
//! store be read with the previous keys (`storage.previous_encryption_key_files`) while
//! the current one seals everything written from then on.
//!
//! Nonces: 8 random bytes drawn at start (and again every 2^32 seals) followed by a
//! 4-byte counter, so no two seals under one key share a nonce short of two draws of the
//! same 64 random bits.
//!
//! A value written in parts ([`super::Mutation::put_parts`]: a Kinesis group, whose
//! readers each want one shard's section) is sealed part by part, so that a reader opens
//! only the parts it reads: `E7 5F`, the part count (u32 BE), each stored part's length
//! (u32 BE), then the parts, each sealed as above with its index in the associated data.
//! Without a key it is stored as its parts' concatenation, like any other value.

use std::sync::Mutex;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Space, StorageError};

const MARKER: [u8; 2] = [0xE7, 0x5E];
const PARTS_MARKER: [u8; 2] = [0xE7, 0x5F];
const HEADER: usize = 2 + 4 + 12;
const TAG: usize = 16;

/// A 256-bit key and its id.
struct Key {
    id: [u8; 4],
    aead: LessSafeKey,
}

/// Seals and opens values.
pub struct Sealer {
    /// The key new values are sealed with; none when only previous keys are configured
    /// (new values are then written in the clear: how encryption is turned off).
    current: Option<Key>,
    previous: Vec<Key>,
    nonces: Mutex<(u64, u32)>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.current.as_ref().map(|k| k.id);
        write!(f, "Sealer {{ key id {id:02x?}, {} previous }}", self.previous.len())
    }
}

/// Reads a key file: 32 raw bytes, or 64 hex digits (with or without a final newline).
pub fn read_key_file(path: &str) -> Result<[u8; 32], String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() == 32 {
        return Ok(bytes.try_into().unwrap_or([0; 32]));
    }
    let text = String::from_utf8_lossy(&bytes);
    let hex = text.trim();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut key = [0u8; 32];
        for (i, k) in key.iter_mut().enumerate() {
            *k = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        return Ok(key);
    }
    Err(format!("{path}: a key is 32 bytes, or 64 hex digits (e.g. `openssl rand -hex 32`)"))
}

fn key(bytes: &[u8; 32]) -> Result<Key, String> {
    let digest =
        ring::digest::digest(&ring::digest::SHA256, &[b"sluice key id:" as &[u8], bytes].concat());
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest.as_ref()[..4]);
    let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "not an AES-256 key")?;
    Ok(Key { id, aead: LessSafeKey::new(unbound) })
}

fn aad(space: Space, key: &[u8]) -> Vec<u8> {
    // Fixed numbers, not the enum's order: sealed values outlive code changes.
    let tag = match space {
        Space::Meta => 1,
        Space::Items => 2,
        Space::Indexes => 3,
        Space::Changes => 4,
        Space::Kinesis => 5,
        Space::KinesisIndex => 6,
    };
    let mut aad = Vec::with_capacity(1 + key.len());
    aad.push(tag);
    aad.extend_from_slice(key);
    aad
}

/// The associated data of part `index` of the value of `key`: a tag no whole value has,
/// so a part cannot pass for a value, nor for another part.
fn part_aad(space: Space, key: &[u8], index: u32) -> Vec<u8> {
    let mut aad = aad(space, key);
    aad[0] |= 0x80;
    aad.splice(1..1, index.to_be_bytes());
    aad
}

impl Sealer {
    /// A sealer sealing with `current` and opening with it and `previous`.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Result<Sealer, String> {
        Sealer::with(Some(current), previous)
    }

    /// A sealer that opens with `previous` and seals nothing: values are written in the
    /// clear (`storage.previous_encryption_key_files` without `encryption_key_file`).
    pub fn opening_only(previous: &[[u8; 32]]) -> Result<Sealer, String> {
        Sealer::with(None, previous)
    }

    fn with(current: Option<&[u8; 32]>, previous: &[[u8; 32]]) -> Result<Sealer, String> {
        let random = SystemRandom::new();
        let sealer = Sealer {
            current: current.map(key).transpose()?,
            previous: previous.iter().map(key).collect::<Result<_, _>>()?,
            nonces: Mutex::new((0, u32::MAX)),
            random,
        };
        Ok(sealer)
    }

    /// The key id values are sealed with now, if they are sealed.
    pub fn key_id(&self) -> Option<[u8; 4]> {
        self.current.as_ref().map(|k| k.id)
    }

    /// The key new values are sealed with.
    fn sealing(&self) -> Result<&Key, StorageError> {
        self.current.as_ref().ok_or_else(|| {
            StorageError::Fjall("no storage.encryption_key_file to seal with".into())
        })
    }

    /// The first of `n` fresh nonces, which follow it by counter.
    fn nonces(&self, n: u32) -> Result<[u8; 12], StorageError> {
        let n = n.max(1);
        let mut state = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        match state.1.checked_add(n) {
            Some(last) if state.1 != u32::MAX => {
                state.1 += 1;
                let first = *state;
                state.1 = last;
                return Ok(nonce_of(first));
            }
            _ => {}
        }
        let mut prefix = [0u8; 8];
        self.random
            .fill(&mut prefix)
            .map_err(|_| StorageError::Fjall("no randomness for a nonce".into()))?;
        *state = (u64::from_be_bytes(prefix), n.saturating_sub(1));
        Ok(nonce_of((state.0, 0)))
    }

    /// `value` of `key` in `space`, sealed.
    pub fn seal(&self, space: Space, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::with_capacity(HEADER + value.len() + TAG);
        self.seal_into(&mut out, self.nonces(1)?, &aad(space, key), value)?;
        Ok(out)
    }

    /// `value` of `key` in `space`, made of parts of `lengths` bytes in order, each
    /// sealed on its own (see the module docs).
    pub fn seal_parts(
        &self,
        space: Space,
        key: &[u8],
        value: &[u8],
        lengths: &[u32],
    ) -> Result<Vec<u8>, StorageError> {
        let n = u32::try_from(lengths.len())
            .map_err(|_| StorageError::Refused("over 2^32 parts".into()))?;
        let mut out = Vec::with_capacity(6 + lengths.len() * (4 + HEADER + TAG) + value.len());
        out.extend_from_slice(&PARTS_MARKER);
        out.extend_from_slice(&n.to_be_bytes());
        for len in lengths {
            let stored = len
                .checked_add((HEADER + TAG) as u32)
                .ok_or_else(|| StorageError::Refused("a part over 4 GiB".into()))?;
            out.extend_from_slice(&stored.to_be_bytes());
        }
        // One lock for every part's nonce, and one associated data whose index changes.
        let mut nonce = self.nonces(n)?;
        let mut aad = part_aad(space, key, 0);
        let mut at = 0usize;
        for (index, len) in lengths.iter().enumerate() {
            let part = value
                .get(at..at + *len as usize)
                .ok_or_else(|| StorageError::Refused("parts longer than their value".into()))?;
            aad[1..5].copy_from_slice(&(index as u32).to_be_bytes());
            self.seal_into(&mut out, nonce, &aad, part)?;
            let counter = u32::from_be_bytes([nonce[8], nonce[9], nonce[10], nonce[11]]);
            nonce[8..].copy_from_slice(&counter.wrapping_add(1).to_be_bytes());
            at += *len as usize;
        }
        if at != value.len() {
            return Err(StorageError::Refused("parts shorter than their value".into()));
        }
        Ok(out)
    }

    /// Appends `value` sealed with `nonce` and `aad` to `out`, sealed where it lands.
    fn seal_into(
        &self,
        out: &mut Vec<u8>,
        nonce: [u8; 12],
        aad: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        let current = self.sealing()?;
        let start = out.len();
        out.extend_from_slice(&MARKER);
        out.extend_from_slice(&current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let tag = current
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[start + HEADER..],
            )
            .map_err(|_| StorageError::Fjall("sealing a value failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens a stored value of `key` in `space` ([`open`] with this sealer).
    pub fn open(&self, space: Space, key: &[u8], stored: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        open(Some(self), space, key, stored)
    }
}

/// Whether a stored value is sealed, whole or in parts (else it is read as it is).
pub fn is_sealed(stored: &[u8]) -> bool {
    is_sealed_whole(stored) || is_parted(stored)
}

fn is_sealed_whole(stored: &[u8]) -> bool {
    stored.len() >= HEADER + TAG && stored[..2] == MARKER
}

/// Whether a stored value is sealed in parts.
pub fn is_parted(stored: &[u8]) -> bool {
    stored.len() >= 6 && stored[..2] == PARTS_MARKER
}

/// Opens a stored value: a sealed one with the key that sealed it, a plain one as it is;
/// one sealed in parts comes back whole (its parts opened and joined).
/// A sealed value no given key sealed, or one that fails authentication, is an error:
/// never read as if it were plain.
pub fn open(
    sealer: Option<&Sealer>,
    space: Space,
    key: &[u8],
    stored: Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    if is_parted(&stored) {
        return Ok(Parted::new(&stored)?.open_all(sealer, space, key)?.0);
    }
    if !is_sealed_whole(&stored) {
        return Ok(stored);
    }
    open_with(sealer, aad(space, key), stored)
}

fn open_with(
    sealer: Option<&Sealer>,
    aad: Vec<u8>,
    stored: Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    let Some(sealer) = sealer else {
        return Err(StorageError::Corrupt(
            "a value is encrypted and sluice has no storage.encryption_key_file".into(),
        ));
    };
    if !is_sealed_whole(&stored) {
        return Err(StorageError::Corrupt("a sealed value's part is not sealed".into()));
    }
    let id = &stored[2..6];
    let k =
        sealer.current.iter().chain(&sealer.previous).find(|k| k.id == id).ok_or_else(|| {
            StorageError::Corrupt(format!(
                "a value is encrypted with key {id:02x?}, which no configured key file holds"
            ))
        })?;
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&stored[6..HEADER]);
    // Opened where it lies (the plaintext moved to the front): no second buffer.
    let mut stored = stored;
    let len = k
        .aead
        .open_within(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut stored, HEADER..)
        .map_err(|_| StorageError::Corrupt("an encrypted value failed authentication".into()))?
        .len();
    stored.truncate(len);
    Ok(stored)
}

/// A value sealed in parts, read in place: each part is opened on its own.
#[derive(Debug, Clone)]
pub struct Parted<'a> {
    lengths: &'a [u8],
    parts: &'a [u8],
}

impl<'a> Parted<'a> {
    /// Reads the table of a value sealed in parts; never panics on corrupt input.
    pub fn new(stored: &'a [u8]) -> Result<Parted<'a>, StorageError> {
        let corrupt = || StorageError::Corrupt("a value sealed in parts is truncated".into());
        let n = stored.get(2..6).ok_or_else(corrupt)?;
        let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
        let table = n.checked_mul(4).and_then(|t| t.checked_add(6)).ok_or_else(corrupt)?;
        let lengths = stored.get(6..table).ok_or_else(corrupt)?;
        let parts = &stored[table..];
        let total: u64 = lengths.chunks_exact(4).map(|l| u64::from(be32(l))).sum();
        if total != parts.len() as u64 {
            return Err(corrupt());
        }
        Ok(Parted { lengths, parts })
    }

    /// How many parts the value has.
    pub fn count(&self) -> u32 {
        (self.lengths.len() / 4) as u32
    }

    /// Each stored (still sealed) part, in order. In bounds: `new` checked that the
    /// lengths add up to the parts' bytes.
    fn stored_parts(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let mut at = 0usize;
        self.lengths.chunks_exact(4).map(move |len| {
            let len = be32(len) as usize;
            let part = &self.parts[at..at + len];
            at += len;
            part
        })
    }

    /// Part `index` of the value of `key` in `space`, opened.
    pub fn open(
        &self,
        sealer: Option<&Sealer>,
        space: Space,
        key: &[u8],
        index: u32,
    ) -> Result<Vec<u8>, StorageError> {
        let Some(part) = self.stored_parts().nth(index as usize) else {
            return Err(StorageError::Corrupt(format!(
                "a value sealed in parts has no part {index}"
            )));
        };
        open_with(sealer, part_aad(space, key, index), part.to_vec())
    }

    /// Every part opened, in one pass: the value whole, and its parts' lengths.
    pub fn open_all(
        &self,
        sealer: Option<&Sealer>,
        space: Space,
        key: &[u8],
    ) -> Result<(Vec<u8>, Vec<u32>), StorageError> {
        let (mut value, mut lengths) = (Vec::with_capacity(self.parts.len()), Vec::new());
        for (index, part) in self.stored_parts().enumerate() {
            let part = open_with(sealer, part_aad(space, key, index as u32), part.to_vec())?;
            lengths.push(part.len() as u32);
            value.extend_from_slice(&part);
        }
        Ok((value, lengths))
    }
}

fn nonce_of((prefix, counter): (u64, u32)) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&prefix.to_be_bytes());
    nonce[8..].copy_from_slice(&counter.to_be_bytes());
    nonce
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sealed_bound_to_their_key_and_opened_by_the_keys_that_sealed_them() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let old = Sealer::new(&a, &[]).unwrap();
        let sealed = old.seal(Space::Items, b"k1", b"the item").unwrap();
        assert_eq!(sealed.len(), b"the item".len() + 34);
        assert!(!sealed.windows(8).any(|w| w == b"the item"), "no plaintext");
        assert_eq!(old.open(Space::Items, b"k1", sealed.clone()).unwrap(), b"the item");
        // Moved to another key or keyspace, or tampered with: refused.
        assert!(old.open(Space::Items, b"k2", sealed.clone()).is_err());
        assert!(old.open(Space::Kinesis, b"k1", sealed.clone()).is_err());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(old.open(Space::Items, b"k1", bad).is_err());
        // Rotated: the new key seals, the old one still opens what it sealed.
        let rotated = Sealer::new(&b, &[a]).unwrap();
        assert_eq!(rotated.open(Space::Items, b"k1", sealed.clone()).unwrap(), b"the item");
        let again = rotated.seal(Space::Items, b"k1", b"the item").unwrap();
        assert_ne!(again[2..6], sealed[2..6], "another key id");
        assert!(Sealer::new(&b, &[]).unwrap().open(Space::Items, b"k1", sealed.clone()).is_err());
        assert!(open(None, Space::Items, b"k1", sealed).is_err(), "no key: an error, not garbage");
        // Plain values from before the key pass as they are; nonces never repeat.
        assert_eq!(old.open(Space::Items, b"k", b"\x01plain".to_vec()).unwrap(), b"\x01plain");
        let n1 = old.seal(Space::Items, b"k", b"").unwrap();
        let n2 = old.seal(Space::Items, b"k", b"").unwrap();
        assert_ne!(n1[6..18], n2[6..18]);
    }

    #[test]
    fn no_two_seals_share_a_nonce_whether_whole_or_in_parts() {
        let sealer = Sealer::new(&[1u8; 32], &[]).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let stored = sealer.seal_parts(Space::Kinesis, b"k", &[0; 10], &[2, 0, 8]).unwrap();
            let parts = Parted::new(&stored).unwrap();
            assert_eq!(parts.count(), 3);
            let mut at = 6 + 3 * 4;
            for len in [2, 0, 8] {
                assert!(seen.insert(stored[at + 6..at + HEADER].to_vec()));
                at += len + HEADER + TAG;
            }
            let whole = sealer.seal(Space::Kinesis, b"k", b"").unwrap();
            assert!(seen.insert(whole[6..HEADER].to_vec()));
        }
        // A counter about to run out draws a new prefix instead of wrapping.
        *sealer.nonces.lock().unwrap() = (7, u32::MAX - 1);
        let stored = sealer.seal_parts(Space::Kinesis, b"k", &[0; 2], &[1, 1]).unwrap();
        assert_ne!(stored[6 + 8 + 6..6 + 8 + 14], 7u64.to_be_bytes());
        assert_eq!(sealer.nonces.lock().unwrap().1, 1);
    }

    #[test]
    fn key_files_are_32_bytes_or_64_hex_digits() {
        let dir = tempfile::tempdir().unwrap();
        let path = |n: &str| dir.path().join(n).display().to_string();
        std::fs::write(path("raw"), [7u8; 32]).unwrap();
        std::fs::write(path("hex"), format!("{}\n", "0a".repeat(32))).unwrap();
        std::fs::write(path("short"), "abc").unwrap();
        assert_eq!(read_key_file(&path("raw")).unwrap(), [7u8; 32]);
        assert_eq!(read_key_file(&path("hex")).unwrap(), [10u8; 32]);
        assert!(read_key_file(&path("short")).unwrap_err().contains("64 hex digits"));
        assert!(read_key_file(&path("missing")).is_err());
    }
}
