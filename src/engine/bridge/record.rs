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

/// The key attributes of the changed item.
fn keys_of(record: &ChangeRecord, schema: &KeySchema) -> Item {
    schema.key_of(record.item())
}

/// The record's `Data`: compact JSON in AWS's key order.
pub fn data(
    record: &ChangeRecord,
    schema: &KeySchema,
    table: &str,
    region: &str,
    precision: Option<Precision>,
) -> Vec<u8> {
    let json = |v: &serde_json::Value| v.to_string();
    let string = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let keys = keys_of(record, schema);
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
    let mut dynamodb = format!(
        r#"{{"ApproximateCreationDateTime":{time},"Keys":{}"#,
        json(&value::item_to_json(&keys))
    );
    let new = record.new.as_ref().filter(|_| record.event != EventName::Remove);
    let old = record.old.as_ref().filter(|_| record.event != EventName::Insert);
    if let Some(new) = new {
        dynamodb.push_str(&format!(r#","NewImage":{}"#, json(&value::item_to_json(new))));
    }
    if let Some(old) = old {
        dynamodb.push_str(&format!(r#","OldImage":{}"#, json(&value::item_to_json(old))));
    }
    let size =
        value::item_size(&keys) + new.map_or(0, value::item_size) + old.map_or(0, value::item_size);
    dynamodb.push_str(&format!(r#","SizeBytes":{size}{precision_field}}}"#));
    format!(
        r#"{{"awsRegion":{},"eventID":{},"eventName":{},"userIdentity":{user_identity},"recordFormat":"application/json","tableName":{},"dynamodb":{dynamodb},"eventSource":"aws:dynamodb"}}"#,
        string(region),
        string(&uuid::Uuid::from_bytes(record.event_id).to_string()),
        string(record.event.as_str()),
        string(table),
    )
    .into_bytes()
}

/// The record's partition key: uppercase hex MD5 of the item key's canonical bytes (the
/// storage encoding, where "1" and "1.0" are one key), so one item always maps to one
/// shard and its changes stay in commit order.
pub fn partition_key(record: &ChangeRecord, schema: &KeySchema) -> String {
    let item = record.item();
    let canonical = match item.get(&schema.hash.name) {
        Some(hash) => {
            let range = schema.range.as_ref().and_then(|r| item.get(&r.name));
            keys::item_key(0, hash, range)
        }
        None => Vec::new(),
    };
    format!("{:X}", md5::compute(&canonical[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{KeyAttribute, ScalarType};
    use crate::model::AttributeValue;

    fn schema() -> KeySchema {
        KeySchema { hash: KeyAttribute { name: "id".into(), ty: ScalarType::S }, range: None }
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
        let got = String::from_utf8(data(&r, &schema(), "t", "us-east-1", None)).unwrap();
        assert_eq!(
            got,
            r#"{"awsRegion":"us-east-1","eventID":"5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a","eventName":"INSERT","userIdentity":null,"recordFormat":"application/json","tableName":"t","dynamodb":{"ApproximateCreationDateTime":1719347890250,"Keys":{"id":{"S":"k1"}},"NewImage":{"id":{"S":"k1"},"v":{"S":"new"}},"SizeBytes":12},"eventSource":"aws:dynamodb"}"#
        );
    }

    #[test]
    fn modify_has_both_images_and_ttl_deletes_name_the_service() {
        let r = record(EventName::Modify, WriteOrigin::Client);
        let v: serde_json::Value = serde_json::from_slice(&data(
            &r,
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
            serde_json::from_slice(&data(&r, &schema(), "t", "eu-west-1", None)).unwrap();
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
        assert_eq!(partition_key(&a, &schema()), partition_key(&b, &schema()));
        let pk = partition_key(&a, &schema());
        assert_eq!(pk.len(), 32);
        assert!(pk.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        b.new.as_mut().unwrap().insert("id".into(), AttributeValue::S("k2".into()));
        assert_ne!(partition_key(&a, &schema()), partition_key(&b, &schema()));
    }
}
