//! The entries byte for byte against AWS's recorded and documented events.

use super::*;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType};
use crate::engine::changelog::EventName;
use crate::engine::streams::ViewType;
use crate::model::{AttributeValue, Item};

fn stream(view: ViewType) -> StreamMeta {
    StreamMeta {
        table_name: "t".into(),
        table_id: 1,
        label: "2025-02-22T00:00:00.000".into(),
        view_type: view,
        created_ms: 0,
        disabled_ms: None,
        key_schema: KeySchema::new(
            KeyAttribute { name: "my_partition_key".into(), ty: ScalarType::S },
            None,
        ),
        shards: Vec::new(),
    }
}

fn cx() -> EventContext {
    EventContext {
        region: "us-east-1".into(),
        source_arn:
            "arn:aws:dynamodb:us-east-1:111111111111:table/t/stream/2025-02-22T00:00:00.000".into(),
        invoke_identity_arn: "arn:aws:iam::111111111111:role/sluice".into(),
    }
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn change(
    event: EventName,
    origin: WriteOrigin,
    old: Option<Item>,
    new: Option<Item>,
) -> ChangeRecord {
    ChangeRecord {
        seq: 3,
        created_ms: 1_739_000_000_123,
        event,
        origin,
        event_id: [0xc9; 16],
        old,
        new,
    }
}

#[test]
fn a_dynamodb_insert_is_the_recorded_entry() {
    // LS-ddb `test_dynamodb_event_source_mapping`: `hello world` and `b"foobar"` under
    // NEW_IMAGE, SizeBytes 70.
    let new = item(&[
        ("my_partition_key", AttributeValue::S("hello world".into())),
        ("binary_key", AttributeValue::B(b"foobar".to_vec())),
    ]);
    let c = change(EventName::Insert, WriteOrigin::Client, None, Some(new));
    let entry = dynamodb(&c, 0, &stream(ViewType::NewImage), &cx());
    let expected = concat!(
        r#"{"eventID":"c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9","eventName":"INSERT","eventVersion":"1.1","#,
        r#""eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{"#,
        r#""ApproximateCreationDateTime":1739000000.0,"Keys":{"my_partition_key":{"S":"hello world"}},"#,
        r#""NewImage":{"binary_key":{"B":"Zm9vYmFy"},"my_partition_key":{"S":"hello world"}},"#,
        r#""SequenceNumber":"100000000000000000000003","SizeBytes":70,"StreamViewType":"NEW_IMAGE"},"#,
        r#""eventSourceARN":"arn:aws:dynamodb:us-east-1:111111111111:table/t/stream/2025-02-22T00:00:00.000"}"#,
    );
    assert_eq!(String::from_utf8(entry).unwrap(), expected);
}

#[test]
fn a_modify_carries_both_images_in_order_and_recorded_sizes_hold() {
    let s = |v: &str| AttributeValue::S(v.into());
    let mut st = stream(ViewType::NewAndOldImages);
    st.key_schema.hash.name = "id".into();
    let old = item(&[("id", s("id_value"))]);
    let new = item(&[("id", s("id_value")), ("id2", s("id2_new_value"))]);
    // Recorded: 20 for the insert of {id}, 46 for the MODIFY to {id, id2}.
    let insert = change(EventName::Insert, WriteOrigin::Client, None, Some(old.clone()));
    let v: Value = serde_json::from_slice(&dynamodb(&insert, 0, &st, &cx())).unwrap();
    assert_eq!(v["dynamodb"]["SizeBytes"], 20);
    let modify = change(EventName::Modify, WriteOrigin::Client, Some(old), Some(new));
    let text = String::from_utf8(dynamodb(&modify, 0, &st, &cx())).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["dynamodb"]["SizeBytes"], 46);
    let keys = ["\"Keys\"", "\"NewImage\"", "\"OldImage\"", "\"SequenceNumber\"", "\"SizeBytes\""];
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(v["eventName"], "MODIFY");
}

#[test]
fn ttl_deletes_name_the_service_in_camel_case_before_the_source_arn() {
    let old = item(&[("my_partition_key", AttributeValue::S("k".into()))]);
    let c = change(EventName::Remove, WriteOrigin::TtlExpiry, Some(old), None);
    let text = String::from_utf8(dynamodb(&c, 0, &stream(ViewType::KeysOnly), &cx())).unwrap();
    assert!(
        text.contains(
            r#"},"userIdentity":{"principalId":"dynamodb.amazonaws.com","type":"Service"},"eventSourceARN":"#
        ),
        "{text}"
    );
    let by_client = change(EventName::Remove, WriteOrigin::Client, c.old.clone(), None);
    let text =
        String::from_utf8(dynamodb(&by_client, 0, &stream(ViewType::KeysOnly), &cx())).unwrap();
    assert!(!text.contains("userIdentity"), "{text}");
}

#[test]
fn a_kinesis_entry_is_the_documented_example() {
    // DG-kin "Example Kinesis record event", compacted.
    let cx = EventContext {
        region: "us-east-2".into(),
        source_arn: "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream".into(),
        invoke_identity_arn: "arn:aws:iam::123456789012:role/lambda-role".into(),
    };
    let seq = "49590338271490256608559692538361571095921575989136588898";
    let entry = kinesis(
        "shardId-000000000006",
        seq,
        "1",
        b"Hello, this is a test.",
        1_545_084_650_987,
        &cx,
    );
    let expected = concat!(
        r#"{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"1","#,
        r#""sequenceNumber":"49590338271490256608559692538361571095921575989136588898","#,
        r#""data":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==","approximateArrivalTimestamp":1545084650.987},"#,
        r#""eventSource":"aws:kinesis","eventVersion":"1.0","#,
        r#""eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898","#,
        r#""eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/lambda-role","#,
        r#""awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}"#,
    );
    assert_eq!(String::from_utf8(entry).unwrap(), expected);
    // A whole second still has a decimal part, as Lambda's numbers do.
    let whole = kinesis("shardId-000000000000", "1", "p", b"", 1_545_084_650_000, &cx);
    assert!(
        String::from_utf8(whole).unwrap().contains("\"approximateArrivalTimestamp\":1545084650.0}")
    );
}
