//! A DynamoDB Streams record read from a source becomes the Kinesis record AWS's Kinesis
//! destination would have written for that change, through the built-in bridge's own
//! encoder (`bridge::record`): the same key order, partition key and precision rules.
//!
//! The eventID is derived from the source record's, so a change forwarded twice (at
//! least once delivery) carries the same eventID both times and consumers can drop the
//! copy.

use serde_json::Value;

use crate::engine::WriteOrigin;
use crate::engine::bridge::record;
use crate::engine::catalog::KeySchema;
use crate::engine::changelog::{ChangeRecord, EventName};
use crate::engine::kinesis::NewRecord;
use crate::model::value::item_from_json;

/// One change, ready to forward.
#[derive(Debug)]
pub struct Change {
    /// The source's sequence number (the checkpoint once forwarded).
    pub seq: String,
    pub created_ms: i64,
    pub record: NewRecord,
}

/// The Kinesis record of stream record `r` of `table`.
pub fn change(
    r: &Value,
    schema: &KeySchema,
    table: &str,
    region: &str,
    precision: Option<record::Precision>,
) -> Result<Change, String> {
    let d = &r["dynamodb"];
    let seq = d["SequenceNumber"].as_str().ok_or("a record without a SequenceNumber")?;
    let event = match r["eventName"].as_str() {
        Some("INSERT") => EventName::Insert,
        Some("MODIFY") => EventName::Modify,
        Some("REMOVE") => EventName::Remove,
        other => return Err(format!("a record with eventName {other:?}")),
    };
    let image = |name: &str| match d.get(name) {
        Some(v) if v.is_object() => item_from_json(v).map(Some).map_err(|e| format!("{name}: {e}")),
        _ => Ok(None),
    };
    let keys = image("Keys")?.ok_or("a record without Keys")?;
    // ApproximateCreationDateTime is epoch seconds (whole on AWS).
    let created_ms = d["ApproximateCreationDateTime"].as_f64().map_or(0, |s| (s * 1000.0) as i64);
    let origin = match r["userIdentity"]["type"].as_str() {
        Some("Service") => WriteOrigin::TtlExpiry,
        _ => WriteOrigin::Client,
    };
    let change = ChangeRecord {
        seq: 0,
        created_ms,
        event,
        origin,
        event_id: event_id(r["eventID"].as_str().unwrap_or(seq)),
        old: image("OldImage")?,
        new: image("NewImage")?,
    };
    let region = r["awsRegion"].as_str().filter(|s| !s.is_empty()).unwrap_or(region);
    let data = record::data_with_keys(&change.view(), &keys, table, region, precision);
    let key = record::partition_key_of(&keys, schema);
    Ok(Change { seq: seq.to_string(), created_ms, record: NewRecord::keyed(key, data) })
}

/// The 16 bytes of a source's eventID: itself when it is 32 hex digits or a UUID (AWS's
/// and DynamoDB Local's forms), else its MD5.
fn event_id(id: &str) -> [u8; 16] {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let mut bytes = [0u8; 16];
    let parsed = hex.len() == 32
        && (0..16).all(|i| match u8::from_str_radix(&hex[2 * i..2 * i + 2], 16) {
            Ok(b) => {
                bytes[i] = b;
                true
            }
            Err(_) => false,
        });
    if parsed { bytes } else { md5::compute(id.as_bytes()).0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{KeyAttribute, ScalarType};
    use serde_json::json;

    fn schema() -> KeySchema {
        KeySchema::new(KeyAttribute { name: "id".into(), ty: ScalarType::S }, None)
    }

    #[test]
    fn a_stream_record_becomes_awss_destination_record() {
        let r = json!({
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_719_347_890.0,
                "Keys": {"id": {"S": "k1"}},
                "NewImage": {"id": {"S": "k1"}, "v": {"N": "2.50"}},
                "OldImage": {"id": {"S": "k1"}, "v": {"N": "1"}},
                "SequenceNumber": "111",
                "SizeBytes": 30,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        });
        let c = change(&r, &schema(), "orders", "us-east-1", None).unwrap();
        assert_eq!((c.seq.as_str(), c.created_ms), ("111", 1_719_347_890_000));
        assert_eq!(
            String::from_utf8(c.record.data).unwrap(),
            r#"{"awsRegion":"eu-west-1","eventID":"c81e728d-9d4c-2f63-6f06-7f89cc14862c","eventName":"MODIFY","userIdentity":null,"recordFormat":"application/json","tableName":"orders","dynamodb":{"ApproximateCreationDateTime":1719347890000,"Keys":{"id":{"S":"k1"}},"NewImage":{"id":{"S":"k1"},"v":{"N":"2.5"}},"OldImage":{"id":{"S":"k1"},"v":{"N":"1"}},"SizeBytes":19},"eventSource":"aws:dynamodb"}"#
        );
        // The same item always has the same partition key, whatever the event.
        let mut removed = r.clone();
        removed["eventName"] = json!("REMOVE");
        removed["dynamodb"].as_object_mut().unwrap().remove("NewImage");
        let d = change(&removed, &schema(), "orders", "us-east-1", None).unwrap();
        assert_eq!(d.record.partition_key, c.record.partition_key);
        // A KEYS_ONLY stream's record still names its item.
        let keys_only = json!({"eventID": "x", "eventName": "INSERT",
            "dynamodb": {"Keys": {"id": {"S": "k1"}}, "SequenceNumber": "5"}});
        let k = change(&keys_only, &schema(), "orders", "us-east-1", None).unwrap();
        assert_eq!(k.record.partition_key, c.record.partition_key);
        assert!(change(&json!({"eventName": "INSERT"}), &schema(), "t", "r", None).is_err());
    }

    #[test]
    fn event_ids_are_kept_or_hashed_the_same_every_time() {
        assert_eq!(event_id("c81e728d9d4c2f636f067f89cc14862c")[0], 0xc8);
        assert_eq!(event_id("5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a"), [0x5a; 16]);
        assert_eq!(event_id("1"), event_id("1"));
        assert_ne!(event_id("1"), event_id("2"));
    }
}
