//! A change record rendered as AWS's stream `Record`: top-level members lowerCamel
//! (`eventID`, `eventName`, ...), the `dynamodb` StreamRecord PascalCase, images projected
//! through the stream's view type. SDKs parse this with the service model's names, so
//! `userIdentity` carries `PrincipalId`/`Type` (the Lambda event's lowercase spelling is
//! a different convention).

use serde::Serialize;
use serde_json::Value;

use crate::engine::WriteOrigin;
use crate::engine::changelog::ChangeRecord;
use crate::engine::streams::{StreamMeta, approximate_creation, project, wire_seq};
use crate::model::value;

/// One record of a GetRecords response.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(rename = "awsRegion")]
    pub aws_region: String,
    pub dynamodb: StreamRecord,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName")]
    pub event_name: &'static str,
    #[serde(rename = "eventSource")]
    pub event_source: &'static str,
    #[serde(rename = "eventVersion")]
    pub event_version: &'static str,
    #[serde(rename = "userIdentity", skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<Identity>,
}

/// The `dynamodb` member.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRecord {
    /// Epoch seconds, rounded down to the second as AWS documents.
    pub approximate_creation_date_time: Value,
    pub keys: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Value>,
    pub sequence_number: String,
    pub size_bytes: u64,
    pub stream_view_type: &'static str,
}

/// Who made a change that no client made (Time to Live deletes).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identity {
    pub principal_id: &'static str,
    #[serde(rename = "Type")]
    pub kind: &'static str,
}

/// Renders `change`, a record of partition `partition`'s shards, as a record of `stream`,
/// in `region`.
pub fn render(change: &ChangeRecord, partition: u32, stream: &StreamMeta, region: &str) -> Record {
    let p = project(change, stream);
    Record {
        aws_region: region.to_string(),
        dynamodb: StreamRecord {
            approximate_creation_date_time: approximate_creation(change.created_ms),
            keys: value::item_to_json(&p.keys),
            new_image: p.new.map(value::item_to_json),
            old_image: p.old.map(value::item_to_json),
            sequence_number: wire_seq(partition, change.seq),
            size_bytes: p.size_bytes,
            stream_view_type: stream.view_type.as_str(),
        },
        event_id: change.event_id_hex(),
        event_name: change.event.as_str(),
        event_source: "aws:dynamodb",
        event_version: "1.1",
        user_identity: match change.origin {
            WriteOrigin::Client => None,
            WriteOrigin::TtlExpiry => {
                Some(Identity { principal_id: "dynamodb.amazonaws.com", kind: "Service" })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType};
    use crate::engine::changelog::EventName;
    use crate::engine::streams::ViewType;
    use crate::model::{AttributeValue, Item};
    use serde_json::json;

    fn stream(view: ViewType) -> StreamMeta {
        StreamMeta {
            table_name: "Forum".into(),
            table_id: 1,
            label: "2026-01-01T00:00:00.000".into(),
            view_type: view,
            created_ms: 0,
            disabled_ms: None,
            key_schema: KeySchema::new(
                KeyAttribute { name: "ForumName".into(), ty: ScalarType::S },
                Some(KeyAttribute { name: "Subject".into(), ty: ScalarType::S }),
            ),
            shards: Vec::new(),
        }
    }

    fn item(extra: &str) -> Item {
        Item::from([
            ("ForumName".to_string(), AttributeValue::S("DynamoDB".into())),
            ("Subject".to_string(), AttributeValue::S("DynamoDB Thread 3".into())),
            ("x".to_string(), AttributeValue::S(extra.into())),
        ])
    }

    fn change(event: EventName, origin: WriteOrigin) -> ChangeRecord {
        let (old, new) = match event {
            EventName::Insert => (None, Some(item("new"))),
            EventName::Modify => (Some(item("old")), Some(item("new"))),
            EventName::Remove => (Some(item("old")), None),
        };
        ChangeRecord {
            seq: 7,
            created_ms: 1_464_806_460_999,
            event,
            origin,
            event_id: [0xab; 16],
            old,
            new,
        }
    }

    #[test]
    fn keys_only_matches_aws_example() {
        let r = render(
            &change(EventName::Insert, WriteOrigin::Client),
            0,
            &stream(ViewType::KeysOnly),
            "us-west-2",
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "awsRegion": "us-west-2",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1464806460.0,
                    "Keys": {"ForumName": {"S": "DynamoDB"}, "Subject": {"S": "DynamoDB Thread 3"}},
                    "SequenceNumber": "100000000000000000000007",
                    "SizeBytes": 41,
                    "StreamViewType": "KEYS_ONLY"
                },
                "eventID": "ab".repeat(16),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "eventVersion": "1.1"
            })
        );
        assert!(
            serde_json::to_string(&r)
                .unwrap()
                .contains("\"ApproximateCreationDateTime\":1464806460.0")
        );
    }

    #[test]
    fn images_follow_view_type_and_event() {
        let images = |event, view| {
            let r = render(&change(event, WriteOrigin::Client), 0, &stream(view), "r");
            (r.dynamodb.new_image.is_some(), r.dynamodb.old_image.is_some(), r.dynamodb.size_bytes)
        };
        // 41 bytes of keys, 45 per image ("x" and "new"/"old" add 4).
        assert_eq!(
            images(EventName::Modify, ViewType::NewAndOldImages),
            (true, true, 41 + 45 + 45)
        );
        assert_eq!(images(EventName::Modify, ViewType::NewImage), (true, false, 86));
        assert_eq!(images(EventName::Modify, ViewType::OldImage), (false, true, 86));
        assert_eq!(images(EventName::Modify, ViewType::KeysOnly), (false, false, 41));
        assert_eq!(images(EventName::Insert, ViewType::NewAndOldImages), (true, false, 86));
        assert_eq!(images(EventName::Remove, ViewType::NewAndOldImages), (false, true, 86));
        assert_eq!(images(EventName::Insert, ViewType::OldImage), (false, false, 41));
    }

    #[test]
    fn ttl_deletes_name_the_service() {
        let r = render(
            &change(EventName::Remove, WriteOrigin::TtlExpiry),
            0,
            &stream(ViewType::KeysOnly),
            "r",
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["userIdentity"],
            json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"})
        );
        assert_eq!(v["eventName"], "REMOVE");
        let r = render(
            &change(EventName::Remove, WriteOrigin::Client),
            0,
            &stream(ViewType::KeysOnly),
            "r",
        );
        assert!(serde_json::to_value(&r).unwrap().get("userIdentity").is_none());
    }
}
