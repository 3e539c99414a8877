//! The awsJson bridge on fixtures: request bodies built byte by byte the way the Java
//! SDK (Jackson's CBOR generator) writes them, decoded to the JSON a handler expects,
//! and handler JSON encoded to the exact bytes the SDK must read. Plus the generated
//! model table and property round trips through it.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::json;

use super::kinesis_shapes::{BLOB_MEMBERS, OPERATIONS, TIMESTAMP_MEMBERS};
use super::tests_codec::hex;
use super::{Error, Shape, decode_to_json, encode_input, encode_output, encode_plain};

#[test]
fn put_record_data_byte_string_becomes_base64() {
    // Jackson writes structures as indefinite-length maps, members in model order. These
    // bytes, and the tag-1 timestamp form below, are what jackson-dataformat-cbor's
    // CBORGenerator wrote for the SDK's call sequence (checked with Debian's 2.7.8 build),
    // and its CBORParser read the GetRecords bytes below as embedded binary and a LONG.
    let body =
        hex("bf 6a 'StreamName' 66 'stream' 64 'Data' 45 'hello' 6c 'PartitionKey' 63 'key' ff");
    let want = json!({"StreamName": "stream", "Data": "aGVsbG8=", "PartitionKey": "key"});
    assert_eq!(decode_to_json(&body), Ok(want));
    // Chunked byte and text strings (Jackson chunks long ones) join before conversion.
    let body = hex("bf 64 'Data' 5f 42 'he' 43 'llo' ff 7f 63 'Par' 69 'titionKey' ff 60 ff");
    assert_eq!(decode_to_json(&body), Ok(json!({"Data": "aGVsbG8=", "PartitionKey": ""})));
}

#[test]
fn put_records_entries_and_binary_data() {
    let body = hex(concat!(
        "bf 67 'Records' 9f",
        "   bf 64 'Data' 47 fafbfcfdfeff00 6c 'PartitionKey' 61 'a' ff",
        "   bf 64 'Data' 40 6c 'PartitionKey' 61 'b' ff",
        "   ff",
        "   6a 'StreamName' 61 's'",
        "ff",
    ));
    let want = json!({"Records": [
        {"Data": "+vv8/f7/AA==", "PartitionKey": "a"},
        {"Data": "", "PartitionKey": "b"},
    ], "StreamName": "s"});
    assert_eq!(decode_to_json(&body), Ok(want));
}

#[test]
fn get_shard_iterator_at_timestamp_tag_1_millis_becomes_epoch_seconds() {
    // `writeTag(1); writeNumber(long)`: a long past 2^31 is written with an 8-byte head.
    let at = |millis: &str| {
        let head = concat!(
            "bf 6a 'StreamName' 66 'stream'",
            "   67 'ShardId' 74 'shardId-000000000000'",
            "   71 'ShardIteratorType' 6c 'AT_TIMESTAMP'",
            "   69 'Timestamp' c1",
        );
        hex(&format!("{head} {millis} ff"))
    };
    let want = |seconds: serde_json::Value| {
        json!({"StreamName": "stream", "ShardId": "shardId-000000000000",
            "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": seconds})
    };
    assert_eq!(decode_to_json(&at("1b 0000018bcfe56800")), Ok(want(json!(1_700_000_000))));
    assert_eq!(decode_to_json(&at("1b 0000018bcfe5687b")), Ok(want(json!(1_700_000_000.123))));
    // A float of milliseconds (tag 1 allows it) and a pre-1970 instant.
    assert_eq!(decode_to_json(&at("fb 4278bcfe5687b000")), Ok(want(json!(1_700_000_000.123))));
    assert_eq!(decode_to_json(&at("39 03e7")), Ok(want(json!(-1))));
}

#[test]
fn get_records_output_encodes_blobs_and_timestamps_exactly() {
    // Keys in serde_json's (sorted) order, which is also the order written here.
    let output = json!({
        "MillisBehindLatest": 0,
        "NextShardIterator": "AAAA",
        "Records": [{
            "ApproximateArrivalTimestamp": 1_700_000_000.123,
            "Data": "aGVsbG8=",
            "PartitionKey": "key",
            "SequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        }],
    });
    let want = hex(concat!(
        "a3 72 'MillisBehindLatest' 00",
        "   71 'NextShardIterator' 64 'AAAA'",
        "   67 'Records' 81 a4",
        "      78 1b 'ApproximateArrivalTimestamp' c1 1b 0000018bcfe5687b",
        "      64 'Data' 45 'hello'",
        "      6c 'PartitionKey' 63 'key'",
        "      6e 'SequenceNumber'",
        "      78 38 '49590338271490256608559692538361571095921575989136588898'",
    ));
    assert_eq!(encode_output("GetRecords", &output), Ok(want.clone()));
    // And back: the SDK's view of it is the handler's JSON again.
    assert_eq!(decode_to_json(&want), Ok(output));
}

#[test]
fn describe_stream_summary_output_encodes_the_creation_timestamp_exactly() {
    let output = json!({"StreamDescriptionSummary": {
        "OpenShardCount": 1,
        "RetentionPeriodHours": 24,
        "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        "StreamCreationTimestamp": 1_700_000_000,
        "StreamName": "s",
        "StreamStatus": "ACTIVE",
    }});
    let want = hex(concat!(
        "a1 78 18 'StreamDescriptionSummary' a6",
        "   6e 'OpenShardCount' 01",
        "   74 'RetentionPeriodHours' 18 18",
        "   69 'StreamARN' 78 2f 'arn:aws:kinesis:us-east-1:000000000000:stream/s'",
        "   77 'StreamCreationTimestamp' c1 1b 0000018bcfe56800",
        "   6a 'StreamName' 61 's'",
        "   6c 'StreamStatus' 66 'ACTIVE'",
    ));
    assert_eq!(encode_output("DescribeStreamSummary", &output), Ok(want));
}

#[test]
fn members_are_typed_by_their_structure_not_their_name() {
    // `Data` and `Timestamp` outside the structures that model them stay strings: an
    // unmodelled member, and a tag map's user-chosen keys.
    let output = json!({"Records": [], "Extra": {"Data": "x!", "Timestamp": "noon"}});
    let want = hex("a2 65 'Extra' a2 64 'Data' 62 'x!' 69 'Timestamp' 64 'noon' 67 'Records' 80");
    assert_eq!(encode_output("GetRecords", &output), Ok(want));
    let input = json!({"StreamName": "s", "Tags": {"Data": "not base64!"}});
    assert_eq!(encode_input("CreateStream", &input).map(|b| decode_to_json(&b)), Ok(Ok(input)));
    // A shard filter's timestamp is typed two levels down; nulls need no typing.
    let input = json!({"ShardFilter": {"Timestamp": 1_700_000_000.5, "Type": "AT_TIMESTAMP"},
        "StreamCreationTimestamp": null});
    let body = encode_input("ListShards", &input).unwrap();
    assert!(body.windows(10).any(|w| w == hex("c1 1b 0000018bcfe569f4")));
    assert_eq!(decode_to_json(&body), Ok(input));
}

#[test]
fn outputs_that_break_the_model_are_errors() {
    let shape_error = |output| match encode_output("GetRecords", &output) {
        Err(Error::Shape { member, .. }) => member,
        other => panic!("{other:?}"),
    };
    assert_eq!(shape_error(json!({"Records": [{"Data": "%%%"}]})), "Data");
    assert_eq!(shape_error(json!({"Records": [{"Data": 5}]})), "Data");
    assert_eq!(
        shape_error(json!({"Records": [{"ApproximateArrivalTimestamp": "x"}]})),
        "ApproximateArrivalTimestamp"
    );
    assert_eq!(
        shape_error(json!({"Records": [{"ApproximateArrivalTimestamp": 1e300}]})),
        "ApproximateArrivalTimestamp"
    );
    assert_eq!(shape_error(json!({"Records": {}})), "Records");
    assert!(matches!(encode_output("GetRecords", &json!([])), Err(Error::Shape { .. })));
}

#[test]
fn cbor_without_a_json_form_is_rejected() {
    for (body, why) in [
        ("a1 01 02", "map key"),
        ("a1 61 61 f9 7e00", "NaN or infinity"),
        ("a1 61 61 3b ffffffffffffffff", "integer"),
        ("a1 61 61 f0", "simple value"),
        ("a1 61 61 c1 61 78", "tag 1 on a non-number"),
        ("a1 61 61 c1 1b ffffffffffffffff", "timestamp"),
    ] {
        assert_eq!(decode_to_json(&hex(body)), Err(Error::NoJson(why)), "{body}");
    }
    // Undefined reads as null; other tags leave their item as is.
    assert_eq!(decode_to_json(&hex("82 f7 c0 61 78")), Ok(json!([null, "x"])));
}

#[test]
fn error_bodies_encode_as_plain_maps() {
    let body = json!({"__type": "UnknownOperationException", "message": "no"});
    let want = hex("a2 66 '__type' 78 19 'UnknownOperationException' 67 'message' 62 'no'");
    assert_eq!(encode_plain(&body), want);
    // kinesalite's canned error reads as the JSON error it stands for.
    let canned = hex("bf 66 '__type' 76 'SerializationException' ff");
    assert_eq!(decode_to_json(&canned), Ok(json!({"__type": "SerializationException"})));
}

/// Every (member, leaf) reachable from the operations' shapes.
fn leaves(shape: &Shape, member: &'static str, out: &mut Vec<(&'static str, bool)>) {
    match shape {
        Shape::Blob => out.push((member, true)),
        Shape::Timestamp => out.push((member, false)),
        Shape::List(item) => leaves(item, member, out),
        Shape::Structure(members) => members.iter().for_each(|(m, s)| leaves(s, m, out)),
    }
}

#[test]
fn the_generated_table_holds_the_members_the_bridge_relies_on() {
    assert_eq!(BLOB_MEMBERS, ["Data"]);
    for name in [
        "ApproximateArrivalTimestamp",
        "StreamCreationTimestamp",
        "Timestamp",
        "ConsumerCreationTimestamp",
    ] {
        assert!(TIMESTAMP_MEMBERS.contains(&name), "{name}");
    }
    let mut found = Vec::new();
    for (_, input, output) in OPERATIONS {
        input.iter().chain(output).for_each(|shape| leaves(shape, "", &mut found));
    }
    // The per-structure tables and the flat lists describe the same members.
    let (mut blobs, mut stamps): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, blob)| *blob);
    let names = |v: &mut Vec<(&'static str, bool)>| {
        let mut n: Vec<&str> = v.iter().map(|(m, _)| *m).collect();
        n.sort();
        n.dedup();
        n
    };
    assert_eq!(names(&mut blobs), BLOB_MEMBERS);
    assert_eq!(names(&mut stamps), TIMESTAMP_MEMBERS);
    for op in [
        "GetRecords",
        "PutRecord",
        "PutRecords",
        "GetShardIterator",
        "DescribeStream",
        "ListStreams",
    ] {
        assert!(OPERATIONS.iter().any(|(name, _, _)| *name == op), "{op}");
    }
}

proptest! {
    #[test]
    fn get_records_outputs_round_trip(
        records in vec((vec(any::<u8>(), 0..40), 0i64..(1 << 45)), 0..5),
    ) {
        use base64::Engine as _;
        let records: Vec<_> = records
            .into_iter()
            .map(|(data, millis)| {
                let seconds = if millis % 1000 == 0 {
                    json!(millis / 1000)
                } else {
                    json!(millis as f64 / 1000.0)
                };
                let data = base64::engine::general_purpose::STANDARD.encode(data);
                json!({"ApproximateArrivalTimestamp": seconds, "Data": data, "PartitionKey": "k"})
            })
            .collect();
        let output = json!({"MillisBehindLatest": 7, "Records": records});
        let body = encode_output("GetRecords", &output).unwrap();
        prop_assert_eq!(decode_to_json(&body), Ok(output));
    }
}
