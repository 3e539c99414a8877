//! The exact JSON AWS writes into a Kinesis record for each table change ("Kinesis Data
//! Streams for DynamoDB", spec §2.4), and the record's partition key.
//!
//! Key order is AWS's (awsRegion, eventID, eventName, userIdentity, recordFormat,
//! tableName, dynamodb, eventSource), so the JSON is written by hand rather than through a
//! map that would sort it. Both images are always sent: a destination has no view type.

use crate::engine::WriteOrigin;
use crate::engine::catalog::KeySchema;
use crate::engine::changelog::{ChangeRecord, EventName};
use crate::model::{Item, value};
use crate::storage::keys;

/// How ApproximateCreationDateTime is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    Millisecond,
    Microsecond,
}

impl Precision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Millisecond => "MILLISECOND",
            Precision::Microsecond => "MICROSECOND",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "MILLISECOND" => Some(Precision::Millisecond),
            "MICROSECOND" => Some(Precision::Microsecond),
            _ => None,
        }
    }
}

/// A change as the encoder reads it: a change record's fields with borrowed images, so
/// a table writer forwarding its own commit encodes without cloning the items.
#[derive(Debug, Clone, Copy)]
pub struct ChangeView<'a> {
    pub created_ms: i64,
    pub event: EventName,
    pub origin: WriteOrigin,
    pub event_id: [u8; 16],
    pub old: Option<&'a Item>,
    pub new: Option<&'a Item>,
}

impl ChangeView<'_> {
    /// The item the change is about (the new image, or the old one for a removal).
    fn item(&self) -> &Item {
        static EMPTY: std::sync::OnceLock<Item> = std::sync::OnceLock::new();
        self.new.or(self.old).unwrap_or_else(|| EMPTY.get_or_init(Item::new))
    }
}

impl ChangeRecord {
    /// This record as the encoder reads it.
    pub fn view(&self) -> ChangeView<'_> {
        ChangeView {
            created_ms: self.created_ms,
            event: self.event,
            origin: self.origin,
            event_id: self.event_id,
            old: self.old.as_ref(),
            new: self.new.as_ref(),
        }
    }
}

/// The record's `Data`: compact JSON in AWS's key order, written straight into one buffer
/// (every change of every forwarded table goes through here).
pub fn data(
    record: &ChangeView<'_>,
    schema: &KeySchema,
    table: &str,
    region: &str,
    precision: Option<Precision>,
) -> Vec<u8> {
    data_with_keys(record, &schema.key_of(record.item()), table, region, precision)
}

/// [`data`] for a change whose key attributes are given apart from its images (a change
/// read from an external stream, whose view may carry no image).
pub fn data_with_keys(
    record: &ChangeView<'_>,
    keys: &Item,
    table: &str,
    region: &str,
    precision: Option<Precision>,
) -> Vec<u8> {
    use std::io::Write;
    let user_identity = match record.origin {
        WriteOrigin::TtlExpiry => r#"{"type":"Service","principalId":"dynamodb.amazonaws.com"}"#,
        WriteOrigin::Client => "null",
    };
    let (time, precision_field) = match precision {
        Some(Precision::Microsecond) => (
            record.created_ms.saturating_mul(1000),
            r#","ApproximateCreationDateTimePrecision":"MICROSECOND""#,
        ),
        Some(Precision::Millisecond) => {
            (record.created_ms, r#","ApproximateCreationDateTimePrecision":"MILLISECOND""#)
        }
        None => (record.created_ms, ""),
    };
    let new = record.new.filter(|_| record.event != EventName::Remove);
    let old = record.old.filter(|_| record.event != EventName::Insert);
    let size =
        value::item_size(keys) + new.map_or(0, value::item_size) + old.map_or(0, value::item_size);
    let mut out = Vec::with_capacity(320 + 2 * size);
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::from_bytes(record.event_id).hyphenated().encode_lower(&mut id);
    out.extend_from_slice(br#"{"awsRegion":"#);
    json(&mut out, &region);
    let _ = write!(out, r#","eventID":"{id}","eventName":"{}""#, record.event.as_str());
    let _ = write!(out, r#","userIdentity":{user_identity},"recordFormat":"application/json""#);
    out.extend_from_slice(br#","tableName":"#);
    json(&mut out, &table);
    let _ = write!(out, r#","dynamodb":{{"ApproximateCreationDateTime":{time},"Keys":"#);
    json(&mut out, &value::ItemJson(keys));
    if let Some(new) = new {
        out.extend_from_slice(br#","NewImage":"#);
        json(&mut out, &value::ItemJson(new));
    }
    if let Some(old) = old {
        out.extend_from_slice(br#","OldImage":"#);
        json(&mut out, &value::ItemJson(old));
    }
    let _ = write!(out, r#","SizeBytes":{size}{precision_field}}},"eventSource":"aws:dynamodb"}}"#);
    out
}

/// Appends `v`'s JSON to `out`.
fn json(out: &mut Vec<u8>, v: &impl serde::Serialize) {
    // Strings and attribute maps always serialize, and a Vec never fails to grow.
    let _ = serde_json::to_writer(out, v);
}

/// The record's partition key: uppercase hex MD5 of the item key's canonical bytes (the
/// storage encoding, where "1" and "1.0" are one key), so one item always maps to one
/// shard and its changes stay in commit order.
pub fn partition_key(record: &ChangeView<'_>, schema: &KeySchema) -> String {
    partition_key_of(record.item(), schema)
}

/// [`partition_key`] of the item whose attributes (its key ones at least) are `item`.
pub fn partition_key_of(item: &Item, schema: &KeySchema) -> String {
    let canonical = match item.get(&schema.hash.name) {
        Some(hash) => {
            let range = schema.range.as_ref().and_then(|r| item.get(&r.name));
            keys::item_key(0, hash, range)
        }
        None => Vec::new(),
    };
    let digest = md5::compute(canonical.get(8..).unwrap_or_default());
    let mut hex = String::with_capacity(32);
    crate::hex::push_upper(&mut hex, &digest.0);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{KeyAttribute, ScalarType};
    use crate::model::AttributeValue;

    fn schema() -> KeySchema {
        KeySchema::new(KeyAttribute { name: "id".into(), ty: ScalarType::S }, None)
    }

    fn record(event: EventName, origin: WriteOrigin) -> ChangeRecord {
        let item = |v: &str| {
            Item::from([
                ("id".to_string(), AttributeValue::S("k1".into())),
                ("v".to_string(), AttributeValue::S(v.into())),
            ])
        };
        ChangeRecord {
            seq: 1,
            created_ms: 1_719_347_890_250,
            event,
            origin,
            event_id: [0x5a; 16],
            old: (event != EventName::Insert).then(|| item("old")),
            new: (event != EventName::Remove).then(|| item("new")),
        }
    }

    #[test]
    fn insert_matches_aws_layout_byte_for_byte() {
        let r = record(EventName::Insert, WriteOrigin::Client);
        let got = String::from_utf8(data(&r.view(), &schema(), "t", "us-east-1", None)).unwrap();
        assert_eq!(
            got,
            r#"{"awsRegion":"us-east-1","eventID":"5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a","eventName":"INSERT","userIdentity":null,"recordFormat":"application/json","tableName":"t","dynamodb":{"ApproximateCreationDateTime":1719347890250,"Keys":{"id":{"S":"k1"}},"NewImage":{"id":{"S":"k1"},"v":{"S":"new"}},"SizeBytes":12},"eventSource":"aws:dynamodb"}"#
        );
    }

    #[test]
    fn modify_has_both_images_and_ttl_deletes_name_the_service() {
        let r = record(EventName::Modify, WriteOrigin::Client);
        let v: serde_json::Value = serde_json::from_slice(&data(
            &r.view(),
            &schema(),
            "t",
            "eu-west-1",
            Some(Precision::Microsecond),
        ))
        .unwrap();
        assert!(v["dynamodb"]["NewImage"].is_object() && v["dynamodb"]["OldImage"].is_object());
        assert_eq!(v["dynamodb"]["ApproximateCreationDateTime"], 1_719_347_890_250_000i64);
        assert_eq!(v["dynamodb"]["ApproximateCreationDateTimePrecision"], "MICROSECOND");
        let r = record(EventName::Remove, WriteOrigin::TtlExpiry);
        let v: serde_json::Value =
            serde_json::from_slice(&data(&r.view(), &schema(), "t", "eu-west-1", None)).unwrap();
        assert_eq!(
            v["userIdentity"],
            serde_json::json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        );
        assert!(v["dynamodb"].get("NewImage").is_none() && v["dynamodb"]["OldImage"].is_object());
    }

    #[test]
    fn partition_keys_are_per_item_uppercase_md5() {
        let a = record(EventName::Insert, WriteOrigin::Client);
        let mut b = record(EventName::Modify, WriteOrigin::Client);
        assert_eq!(partition_key(&a.view(), &schema()), partition_key(&b.view(), &schema()));
        let pk = partition_key(&a.view(), &schema());
        assert_eq!(pk.len(), 32);
        assert!(pk.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        b.new.as_mut().unwrap().insert("id".into(), AttributeValue::S("k2".into()));
        assert_ne!(partition_key(&a.view(), &schema()), partition_key(&b.view(), &schema()));
    }
}
