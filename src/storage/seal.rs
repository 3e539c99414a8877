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

use std::sync::Mutex;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Space, StorageError};

const MARKER: [u8; 2] = [0xE7, 0x5E];
const HEADER: usize = 2 + 4 + 12;
const TAG: usize = 16;

/// A 256-bit key and its id.
struct Key {
    id: [u8; 4],
    aead: LessSafeKey,
}

/// Seals and opens values.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
    nonces: Mutex<(u64, u32)>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer {{ key id {:02x?}, {} previous }}", self.current.id, self.previous.len())
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

impl Sealer {
    /// A sealer sealing with `current` and opening with it and `previous`.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Result<Sealer, String> {
        let random = SystemRandom::new();
        let sealer = Sealer {
            current: key(current)?,
            previous: previous.iter().map(key).collect::<Result<_, _>>()?,
            nonces: Mutex::new((0, u32::MAX)),
            random,
        };
        Ok(sealer)
    }

    /// The key id values are sealed with now.
    pub fn key_id(&self) -> [u8; 4] {
        self.current.id
    }

    fn nonce(&self) -> Result<[u8; 12], StorageError> {
        let mut state = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if state.1 == u32::MAX {
            let mut prefix = [0u8; 8];
            self.random
                .fill(&mut prefix)
                .map_err(|_| StorageError::Fjall("no randomness for a nonce".into()))?;
            *state = (u64::from_be_bytes(prefix), 0);
        } else {
            state.1 += 1;
        }
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&state.0.to_be_bytes());
        nonce[8..].copy_from_slice(&state.1.to_be_bytes());
        Ok(nonce)
    }

    /// `value` of `key` in `space`, sealed.
    pub fn seal(&self, space: Space, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StorageError> {
        let nonce = self.nonce()?;
        let mut out = Vec::with_capacity(HEADER + value.len() + TAG);
        out.extend_from_slice(&MARKER);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let tag = self
            .current
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(space, key)),
                &mut out[HEADER..],
            )
            .map_err(|_| StorageError::Fjall("sealing a value failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a stored value of `key` in `space` ([`open`] with this sealer).
    pub fn open(&self, space: Space, key: &[u8], stored: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        open(Some(self), space, key, stored)
    }
}

/// Whether a stored value is sealed (else it is read as it is).
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.len() >= HEADER + TAG && stored[..2] == MARKER
}

/// Opens a stored value: a sealed one with the key that sealed it, a plain one as it is.
/// A sealed value no given key sealed, or one that fails authentication, is an error:
/// never read as if it were plain.
pub fn open(
    sealer: Option<&Sealer>,
    space: Space,
    key: &[u8],
    stored: Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    if !is_sealed(&stored) {
        return Ok(stored);
    }
    let Some(sealer) = sealer else {
        return Err(StorageError::Corrupt(
            "a value is encrypted and sluice has no storage.encryption_key_file".into(),
        ));
    };
    let id = &stored[2..6];
    let k = std::iter::once(&sealer.current)
        .chain(&sealer.previous)
        .find(|k| k.id == id)
        .ok_or_else(|| {
            StorageError::Corrupt(format!(
                "a value is encrypted with key {id:02x?}, which no configured key file holds"
            ))
        })?;
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&stored[6..HEADER]);
    // Opened where it lies (the plaintext moved to the front): no second buffer.
    let mut stored = stored;
    let aad = Aad::from(aad(space, key));
    let len = k
        .aead
        .open_within(Nonce::assume_unique_for_key(nonce), aad, &mut stored, HEADER..)
        .map_err(|_| StorageError::Corrupt("an encrypted value failed authentication".into()))?
        .len();
    stored.truncate(len);
    Ok(stored)
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
