//! ListStreams and DescribeStream: shapes, paging, errors, and the life of a stream
//! through enable, disable, re-enable and table deletion.

use aws_sdk_dynamodbstreams::types::{KeyType, ShardIteratorType, StreamStatus, StreamViewType};

use super::*;
use crate::harness::{Server, create_table, error_of};

const FORMED_ARN: &str =
    "arn:aws:dynamodb:us-east-1:000000000000:table/nope/stream/2026-01-01T00:00:00.000";

#[tokio::test]
async fn streams_enabled_by_create_and_update_table_are_listed_and_described() {
    let server = Server::start();
    let (client, streams) = (server.client(), server.streams());
    create_table(&client, "plain", true).await;
    let created = create_with_stream(&client, "created", "NEW_AND_OLD_IMAGES").await;
    let updated = enable(&client, "plain", "KEYS_ONLY").await;
    assert!(created.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/created/stream/"));

    let all = streams.list_streams().send().await.unwrap();
    let listed: Vec<(&str, &str)> =
        all.streams().iter().map(|s| (s.table_name().unwrap(), s.stream_arn().unwrap())).collect();
    assert_eq!(listed, [("created", created.as_str()), ("plain", updated.as_str())]);
    assert_eq!(all.last_evaluated_stream_arn(), None);
    let one = streams.list_streams().table_name("plain").send().await.unwrap();
    let stream = &one.streams()[0];
    assert_eq!(one.streams().len(), 1);
    assert_eq!(stream.stream_arn(), Some(updated.as_str()));
    assert!(updated.ends_with(&format!("/stream/{}", stream.stream_label().unwrap())));

    // Paging by one: the ARN of the last one listed resumes the list.
    let first = streams.list_streams().limit(1).send().await.unwrap();
    assert_eq!(first.streams()[0].stream_arn(), Some(created.as_str()));
    assert_eq!(first.last_evaluated_stream_arn(), Some(created.as_str()));
    let second =
        streams.list_streams().limit(1).exclusive_start_stream_arn(&created).send().await.unwrap();
    assert_eq!(second.streams()[0].stream_arn(), Some(updated.as_str()));
    assert_eq!(second.last_evaluated_stream_arn(), None);

    let d = streams.describe_stream().stream_arn(&updated).send().await.unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.stream_arn(), Some(updated.as_str()));
    assert_eq!(d.stream_status(), Some(&StreamStatus::Enabled));
    assert_eq!(d.stream_view_type(), Some(&StreamViewType::KeysOnly));
    assert_eq!(d.table_name(), Some("plain"));
    assert_eq!(d.stream_label(), stream.stream_label());
    let keys: Vec<(&str, &KeyType)> =
        d.key_schema().iter().map(|k| (k.attribute_name(), k.key_type())).collect();
    assert_eq!(keys, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    let created_at = d.creation_request_date_time().expect("creation time").as_secs_f64();
    assert!((now_secs_f64() - created_at).abs() < 60.0, "{created_at}");
    // One open shard per partition (4 by default), in shard id order.
    let ids: Vec<&str> = d.shards().iter().map(|s| s.shard_id().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for shard in d.shards() {
        let id = shard.shard_id().unwrap();
        assert!(id.starts_with("shardId-") && id.len() == 37, "{id}");
        let range = shard.sequence_number_range().unwrap();
        let start = range.starting_sequence_number().unwrap();
        assert!(start.len() >= 21 && start.bytes().all(|b| b.is_ascii_digit()), "{start}");
        assert_eq!(range.ending_sequence_number(), None);
        assert_eq!(shard.parent_shard_id(), None);
    }
    assert_eq!(d.last_evaluated_shard_id(), None);

    // Shard pages: Limit, LastEvaluatedShardId, ExclusiveStartShardId.
    let page = streams.describe_stream().stream_arn(&updated).limit(3).send().await.unwrap();
    let page = page.stream_description().unwrap();
    assert_eq!(page.shards().len(), 3);
    assert_eq!(page.last_evaluated_shard_id(), Some(ids[2]));
    let rest = streams
        .describe_stream()
        .stream_arn(&updated)
        .limit(3)
        .exclusive_start_shard_id(ids[2])
        .send()
        .await
        .unwrap();
    let rest = rest.stream_description().unwrap();
    assert_eq!(rest.shards().iter().map(|s| s.shard_id().unwrap()).collect::<Vec<_>>(), [ids[3]]);
    assert_eq!(rest.last_evaluated_shard_id(), None);
    let past = streams
        .describe_stream()
        .stream_arn(&updated)
        .exclusive_start_shard_id(ids[3])
        .send()
        .await
        .unwrap();
    assert!(past.stream_description().unwrap().shards().is_empty());
}

#[tokio::test]
async fn list_and_describe_errors_are_aws_s() {
    let server = Server::start();
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let missing = error_of(streams.list_streams().table_name("absent").send().await);
    assert_eq!(
        missing,
        (
            "ResourceNotFoundException".into(),
            "Requested resource not found: Table: absent not found".into()
        )
    );
    let e = error_of(streams.list_streams().limit(101).send().await);
    assert_eq!(
        e,
        (
            "ValidationException".into(),
            "One or more parameter values were invalid: Limit cannot be greater than the maximum allowed size: 100".into()
        )
    );
    let e = error_of(streams.list_streams().limit(0).send().await);
    assert_eq!(
        e.1,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let e =
        error_of(streams.list_streams().exclusive_start_stream_arn("x".repeat(40)).send().await);
    assert_eq!(e.0, "ValidationException");

    let e = error_of(streams.describe_stream().stream_arn(FORMED_ARN).send().await);
    assert_eq!(
        e,
        (
            "ResourceNotFoundException".into(),
            format!("Requested resource not found: Stream: {FORMED_ARN} not found")
        )
    );
    // The same stream's ARN in another region or account names nothing here.
    let elsewhere = arn.replace("us-east-1", "eu-west-1");
    let e = error_of(streams.describe_stream().stream_arn(&elsewhere).send().await);
    assert_eq!(e.0, "ResourceNotFoundException");
    let e = error_of(streams.describe_stream().stream_arn("x".repeat(50)).send().await);
    assert_eq!(e, ("ValidationException".into(), "Invalid StreamArn".into()));
    let e = error_of(streams.describe_stream().stream_arn(&arn).limit(101).send().await);
    assert_eq!(
        e.1,
        "One or more parameter values were invalid: Limit cannot be greater than the maximum: 100"
    );
    let e = error_of(
        streams.describe_stream().stream_arn(&arn).exclusive_start_shard_id("short").send().await,
    );
    assert_eq!(
        e.1,
        "1 validation error detected: Value 'short' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 28"
    );
}

#[tokio::test]
async fn disabled_streams_stay_listed_and_readable_and_reenabling_makes_a_new_one() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let first = create_with_stream(&client, "tbl", "NEW_IMAGE").await;
    put(&client, "tbl", "a", "1").await;
    disable(&client, "tbl").await;
    put(&client, "tbl", "b", "1").await; // no stream: in no stream

    let d = streams.describe_stream().stream_arn(&first).send().await.unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.stream_status(), Some(&StreamStatus::Disabled));
    let range = d.shards()[0].sequence_number_range().unwrap();
    assert!(range.ending_sequence_number().is_some(), "disabling closes the shard");
    // Readable to its end, which has no next iterator.
    let shard = d.shards()[0].shard_id().unwrap();
    let it = iterator(&streams, &first, shard, ShardIteratorType::TrimHorizon, None).await;
    let page = streams.get_records().shard_iterator(it).send().await.unwrap();
    assert_eq!(events(page.records()), [("INSERT".to_string(), "a".to_string())]);
    assert_eq!(page.next_shard_iterator(), None);

    let second = enable(&client, "tbl", "KEYS_ONLY").await;
    assert_ne!(second, first);
    put(&client, "tbl", "c", "1").await;
    let listed = streams.list_streams().table_name("tbl").send().await.unwrap();
    let arns: Vec<&str> = listed.streams().iter().map(|s| s.stream_arn().unwrap()).collect();
    assert_eq!(arns, [second.as_str(), first.as_str()], "newest first");
    assert_eq!(
        events(&read_stream(&streams, &second).await),
        [("INSERT".to_string(), "c".to_string())]
    );
    assert_eq!(
        events(&read_stream(&streams, &first).await),
        [("INSERT".to_string(), "a".to_string())]
    );
    let table = client.describe_table().table_name("tbl").send().await.unwrap();
    assert_eq!(table.table().unwrap().latest_stream_arn(), Some(second.as_str()));
}

#[tokio::test]
async fn deleting_the_table_disables_its_stream() {
    let server = Server::start();
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "OLD_IMAGE").await;
    put(&client, "tbl", "a", "1").await;
    delete(&client, "tbl", "a").await;
    client.delete_table().table_name("tbl").send().await.unwrap();

    let d = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.stream_status(), Some(&StreamStatus::Disabled));
    assert!(
        d.shards().iter().all(|s| s
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_some())
    );
    let records = read_stream(&streams, &arn).await;
    assert_eq!(
        events(&records),
        [("INSERT".to_string(), "a".to_string()), ("REMOVE".to_string(), "a".to_string())]
    );
    let all = streams.list_streams().send().await.unwrap();
    assert_eq!(all.streams().len(), 1, "still listed for the retention period");
    let e = error_of(streams.list_streams().table_name("tbl").send().await);
    assert_eq!(e.0, "ResourceNotFoundException");
}

#[tokio::test]
async fn malformed_requests_get_aws_s_framework_errors() {
    let server = Server::start();
    let cases: [(&str, &str, &str); 6] = [
        ("ListStreams", r#"{"Limit": "x"}"#, "SerializationException"),
        ("DescribeStream", r#"{"StreamArn": 5}"#, "SerializationException"),
        (
            "DescribeStream",
            r#"{"StreamArn": "arn", "ShardFilter": "CHILD_SHARDS"}"#,
            "SerializationException",
        ),
        ("GetShardIterator", r#"{"Timestamp": "yesterday"}"#, "SerializationException"),
        ("GetRecords", "[]", "SerializationException"),
        ("PutItem", "{}", "UnknownOperationException"),
    ];
    for (op, body, code) in cases {
        let target = format!("DynamoDBStreams_20120810.{op}");
        let r = server.post(&target, body.as_bytes(), &[]).await;
        assert_eq!(r.status, 400, "{op} {body}: {}", r.text());
        let kind = r.json()["__type"].as_str().unwrap().to_string();
        assert!(kind.ends_with(&format!("#{code}")), "{op} {body}: {kind}");
    }
    // Every required member missing at once, in one framework message.
    let r = server.post("DynamoDBStreams_20120810.GetShardIterator", b"{}", &[]).await;
    assert_eq!(
        r.json()["message"],
        "3 validation errors detected: Value null at 'streamArn' failed to satisfy constraint: Member must not be null; Value null at 'shardId' failed to satisfy constraint: Member must not be null; Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn with_status_delay_ms_a_stream_passes_through_enabling_and_disabling() {
    let server = Server::start_with_config("[streams]\nstatus_delay_ms = 700\n");
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "phases", "KEYS_ONLY").await;
    let status = || async {
        let d = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
        d.stream_description().unwrap().stream_status().cloned().unwrap()
    };
    assert_eq!(status().await, StreamStatus::Enabling);
    // Captured from the enabling on.
    put(&client, "phases", "a", "1").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(status().await, StreamStatus::Enabled);
    assert_eq!(read_stream(&streams, &arn).await.len(), 1);
    disable(&client, "phases").await;
    assert_eq!(status().await, StreamStatus::Disabling);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(status().await, StreamStatus::Disabled);
}

/// Every record's sequence number is its own in the whole stream, so each shard's
/// StartingSequenceNumber is its own first record's; a shard refuses another shard's
/// numbers, and takes the 21-digit numbers of earlier releases (consumers' checkpoints).
#[tokio::test]
async fn sequence_numbers_are_unique_across_a_streams_shards() {
    let server = Server::start();
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "spread", "KEYS_ONLY").await;
    for i in 0..40 {
        put(&client, "spread", &format!("k{i}"), "1").await;
    }
    let all = shards(&streams, &arn).await;
    assert_eq!(all.len(), 4);
    let mut seen = std::collections::HashSet::new();
    let mut starts = std::collections::HashSet::new();
    for shard in &all {
        let id = shard.shard_id().unwrap();
        let start = shard.sequence_number_range().unwrap().starting_sequence_number().unwrap();
        assert!(starts.insert(start.to_string()), "two shards start at {start}");
        let it = iterator(&streams, &arn, id, ShardIteratorType::TrimHorizon, None).await;
        let (records, _) = drain(&streams, it).await;
        assert!(!records.is_empty(), "40 keys leave no shard of 4 empty");
        assert_eq!(seq(&records[0]), start, "{id}");
        for r in &records {
            assert!(seen.insert(seq(r)), "{} twice", seq(r));
        }
        // Another shard's number names no place in this one.
        let other = all.iter().find(|s| s.shard_id() != Some(id)).unwrap();
        let theirs = other.sequence_number_range().unwrap().starting_sequence_number().unwrap();
        let e = error_of(
            streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(theirs)
                .send()
                .await,
        );
        assert_eq!(
            e,
            ("ValidationException".into(), "Invalid SequenceNumber for the shard".into())
        );
        // A number as earlier releases wrote it: `1`, then the 20-digit sequence.
        let legacy = format!("1{}", &start[4..]);
        assert_eq!(legacy.len(), 21);
        let it = iterator(&streams, &arn, id, ShardIteratorType::AtSequenceNumber, Some(&legacy));
        let (again, _) = drain(&streams, it.await).await;
        assert_eq!(
            again.iter().map(seq).collect::<Vec<_>>(),
            records.iter().map(seq).collect::<Vec<_>>()
        );
    }
    assert_eq!(seen.len(), 40);
}
