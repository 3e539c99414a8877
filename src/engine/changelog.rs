//! The change log: one record per data-changing write, committed in the same storage
//! batch as the item. DynamoDB Streams are windows on it; the Kinesis bridge reads it too.
//!
//! Records live in the `changes` keyspace under `<table id> <partition> <seq>`
//! (`storage::keys::change_key`). Each partition writer assigns its sequence numbers:
//! dense (every record takes the next one), strictly increasing, never reused (the last
//! one is persisted with the partition's statistics, so trimming every record and
//! restarting does not rewind it). Records keep full old and new images; readers project
//! them through a stream's view type.

use crate::engine::WriteOrigin;
use crate::model::{Item, value};
use crate::storage::StorageError;

/// Version of the persisted record encoding.
const RECORD_VERSION: u8 = 1;

/// INSERT, MODIFY or REMOVE, decided from the real old and new items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }

    fn tag(self) -> u8 {
        match self {
            EventName::Insert => 1,
            EventName::Modify => 2,
            EventName::Remove => 3,
        }
    }

    fn from_tag(tag: u8) -> Option<EventName> {
        match tag {
            1 => Some(EventName::Insert),
            2 => Some(EventName::Modify),
            3 => Some(EventName::Remove),
            _ => None,
        }
    }

    /// The event a change from `old` to `new` is; `None` when nothing changed.
    pub fn of(old: Option<&Item>, new: Option<&Item>) -> Option<EventName> {
        match (old, new) {
            (None, Some(_)) => Some(EventName::Insert),
            (Some(o), Some(n)) if o != n => Some(EventName::Modify),
            (Some(_), None) => Some(EventName::Remove),
            _ => None,
        }
    }
}

/// One change of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// The partition's sequence number of this record.
    pub seq: u64,
    /// When the change was committed, in epoch milliseconds.
    pub created_ms: i64,
    pub event: EventName,
    pub origin: WriteOrigin,
    /// A random id, fixed when the record is written (the wire `eventID`).
    pub event_id: [u8; 16],
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// A change record's fields other than its images: the writer encodes a record from it
/// and the images' stored forms (`value::encode_item`), which it has anyway, instead of
/// cloning both images into a `ChangeRecord`.
#[derive(Debug, Clone, Copy)]
pub struct RecordHead {
    pub seq: u64,
    pub created_ms: i64,
    pub event: EventName,
    pub origin: WriteOrigin,
    pub event_id: [u8; 16],
}

impl RecordHead {
    /// The persisted record with these images (each `value::encode_item` of an item).
    pub fn encode(&self, old: Option<&[u8]>, new: Option<&[u8]>) -> Vec<u8> {
        let images = [old, new].iter().map(|i| i.map_or(1, |b| 5 + b.len())).sum::<usize>();
        let mut out = Vec::with_capacity(1 + 8 + 8 + 2 + 16 + images);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out.push(self.event.tag());
        out.push(match self.origin {
            WriteOrigin::Client => 0,
            WriteOrigin::TtlExpiry => 1,
        });
        out.extend_from_slice(&self.event_id);
        for image in [old, new] {
            match image {
                Some(bytes) => {
                    out.push(1);
                    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
                None => out.push(0),
            }
        }
        out
    }
}

impl ChangeRecord {
    /// The wire `eventID`: 32 lowercase hex characters.
    pub fn event_id_hex(&self) -> String {
        crate::hex::lower(&self.event_id)
    }

    /// The item the change is about (the new image, or the old one for a REMOVE).
    pub fn item(&self) -> &Item {
        static EMPTY: std::sync::OnceLock<Item> = std::sync::OnceLock::new();
        self.new.as_ref().or(self.old.as_ref()).unwrap_or_else(|| EMPTY.get_or_init(Item::new))
    }

    /// The persisted form (the writer encodes through [`RecordHead::encode`], from the
    /// images' stored forms it already has; tests build records whole).
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        let old = self.old.as_ref().map(value::encode_item);
        let new = self.new.as_ref().map(value::encode_item);
        RecordHead {
            seq: self.seq,
            created_ms: self.created_ms,
            event: self.event,
            origin: self.origin,
            event_id: self.event_id,
        }
        .encode(old.as_deref(), new.as_deref())
    }

    /// Decodes a persisted record; never panics on corrupt input.
    pub fn decode(bytes: &[u8]) -> Result<ChangeRecord, StorageError> {
        let bad = |what: &str| StorageError::Corrupt(format!("change record: {what}"));
        let mut r = Reader { bytes, at: 0 };
        if r.take(1)?[0] != RECORD_VERSION {
            return Err(bad("unknown version"));
        }
        let seq = u64::from_be_bytes(r.array()?);
        let created_ms = i64::from_be_bytes(r.array()?);
        let event = EventName::from_tag(r.take(1)?[0]).ok_or_else(|| bad("event"))?;
        let origin = match r.take(1)?[0] {
            0 => WriteOrigin::Client,
            1 => WriteOrigin::TtlExpiry,
            _ => return Err(bad("origin")),
        };
        let event_id = r.array()?;
        let mut images = [None, None];
        for image in &mut images {
            if r.take(1)?[0] == 1 {
                let len = u32::from_be_bytes(r.array()?) as usize;
                let item = value::decode_item(r.take(len)?).map_err(|e| bad(e.message()))?;
                *image = Some(item);
            }
        }
        let [old, new] = images;
        Ok(ChangeRecord { seq, created_ms, event, origin, event_id, old, new })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| StorageError::Corrupt("change record: truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StorageError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

/// A fresh random event id (one per change: drawn without a getrandom call, which was one
/// system call per write).
pub fn new_event_id() -> [u8; 16] {
    crate::ids::uuid_v4_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttributeValue;

    fn item(v: &str) -> Item {
        Item::from([("pk".to_string(), AttributeValue::S(v.into()))])
    }

    #[test]
    fn records_round_trip_and_corruption_is_an_error() {
        let r = ChangeRecord {
            seq: 42,
            created_ms: 1_700_000_000_123,
            event: EventName::Modify,
            origin: WriteOrigin::TtlExpiry,
            event_id: [7; 16],
            old: Some(item("a")),
            new: Some(item("b")),
        };
        let bytes = r.encode();
        assert_eq!(ChangeRecord::decode(&bytes).unwrap(), r);
        // As the writer encodes an INSERT: from the head and the new image's stored form.
        let insert = ChangeRecord { event: EventName::Insert, old: None, ..r.clone() };
        let head = RecordHead {
            seq: 42,
            created_ms: 1_700_000_000_123,
            event: EventName::Insert,
            origin: WriteOrigin::TtlExpiry,
            event_id: [7; 16],
        };
        let stored = value::encode_item(&item("b"));
        assert_eq!(ChangeRecord::decode(&head.encode(None, Some(&stored))).unwrap(), insert);
        for cut in 0..bytes.len() {
            assert!(ChangeRecord::decode(&bytes[..cut]).is_err());
        }
        assert_eq!(r.event_id_hex(), "07".repeat(16));
    }

    #[test]
    fn events_follow_the_real_old_item() {
        let (a, b) = (item("a"), item("b"));
        assert_eq!(EventName::of(None, Some(&a)), Some(EventName::Insert));
        assert_eq!(EventName::of(Some(&a), Some(&b)), Some(EventName::Modify));
        assert_eq!(EventName::of(Some(&a), Some(&a)), None);
        assert_eq!(EventName::of(Some(&a), None), Some(EventName::Remove));
        assert_eq!(EventName::of(None, None), None);
    }
}
