//! Kinesis streams through the SDK: create, describe, list, delete, addressing by name or
//! ARN, and the errors of each.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};

use crate::harness::{Server, error_of};

pub const ACCOUNT: &str = "000000000000";

/// The ARN of stream `name` in the tests' region and account.
pub fn arn(name: &str) -> String {
    format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}")
}

/// Creates a provisioned stream with `shards` shards.
pub async fn create(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
}

#[tokio::test]
async fn create_describe_list_delete() {
    let server = Server::start();
    let k = server.kinesis();
    k.create_stream()
        .stream_name("orders")
        .shard_count(3)
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    let d = k.describe_stream().stream_name("orders").send().await.unwrap();
    let d = d.stream_description.unwrap();
    assert_eq!(d.stream_status, StreamStatus::Active);
    assert_eq!(d.stream_arn, arn("orders"));
    assert_eq!(d.retention_period_hours, 24);
    assert!(!d.has_more_shards);
    let ids: Vec<&str> = d.shards.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]);
    let r = d.shards[0].hash_key_range.as_ref().unwrap();
    assert_eq!(
        (r.starting_hash_key.as_str(), r.ending_hash_key.as_str()),
        ("0", "113427455640312821154458202477256070484")
    );
    let seq = d.shards[0].sequence_number_range.as_ref().unwrap();
    assert_eq!(seq.starting_sequence_number.len(), 56);
    assert!(seq.ending_sequence_number.is_none());
    assert_eq!(d.stream_mode_details.unwrap().stream_mode, StreamMode::Provisioned);

    // Paged DescribeStream.
    let page = k.describe_stream().stream_name("orders").limit(2).send().await.unwrap();
    let page = page.stream_description.unwrap();
    assert_eq!((page.shards.len(), page.has_more_shards), (2, true));
    let rest = k
        .describe_stream()
        .stream_arn(arn("orders"))
        .exclusive_start_shard_id("shardId-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.stream_description.unwrap().shards[0].shard_id, "shardId-000000000002");

    let s = k.describe_stream_summary().stream_arn(arn("orders")).send().await.unwrap();
    let s = s.stream_description_summary.unwrap();
    assert_eq!(
        (s.open_shard_count, s.consumer_count, s.max_record_size_in_kib),
        (3, Some(0), Some(1024))
    );

    // On-demand streams start with 4 shards.
    k.create_stream()
        .stream_name("auto")
        .stream_mode_details(
            StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let s = k.describe_stream_summary().stream_name("auto").send().await.unwrap();
    let s = s.stream_description_summary.unwrap();
    assert_eq!(
        (s.open_shard_count, s.stream_mode_details.unwrap().stream_mode),
        (4, StreamMode::OnDemand)
    );

    for name in ["c1", "c2", "c3"] {
        create(&k, name, 1).await;
    }
    let all = k.list_streams().send().await.unwrap();
    assert_eq!(all.stream_names, ["auto", "c1", "c2", "c3", "orders"]);
    assert!(!all.has_more_streams);
    assert_eq!(all.stream_summaries().len(), 5);
    let first = k.list_streams().limit(2).send().await.unwrap();
    assert_eq!(
        (first.stream_names.clone(), first.has_more_streams),
        (vec!["auto".to_string(), "c1".into()], true)
    );
    let next =
        k.list_streams().next_token(first.next_token.unwrap()).limit(2).send().await.unwrap();
    assert_eq!(next.stream_names, ["c2", "c3"]);
    let after = k.list_streams().exclusive_start_stream_name("c3").send().await.unwrap();
    assert_eq!(after.stream_names, ["orders"]);

    k.delete_stream().stream_arn(arn("c1")).send().await.unwrap();
    let (code, message) = error_of(k.describe_stream().stream_name("c1").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, format!("Stream c1 under account {ACCOUNT} not found."));
    // A stream of the same name can be created again, empty.
    create(&k, "c1", 2).await;
    let d = k.describe_stream_summary().stream_name("c1").send().await.unwrap();
    assert_eq!(d.stream_description_summary.unwrap().open_shard_count, 2);
}

#[tokio::test]
async fn control_plane_errors() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let (code, message) = error_of(k.create_stream().stream_name("s").shard_count(1).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceInUseException", "Stream s under account 000000000000 already exists.")
    );
    let (code, message) =
        error_of(k.create_stream().stream_name("bad name").shard_count(1).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("Value 'bad name' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"), "{message}");
    let (code, message) = error_of(k.create_stream().stream_name("z").shard_count(0).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"), "{message}");
    let (code, _) = error_of(k.create_stream().stream_name("z").shard_count(501).send().await);
    assert_eq!(code, "LimitExceededException");
    let (code, message) = error_of(k.delete_stream().stream_name("nope").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
    );
    let (code, _) = error_of(k.describe_stream_summary().send().await);
    assert_eq!(code, "InvalidArgumentException");
    // An ARN from another account or region names no stream here.
    let other = "arn:aws:kinesis:eu-west-1:000000000000:stream/s";
    let (code, _) = error_of(k.describe_stream_summary().stream_arn(other).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = error_of(k.describe_stream().stream_name("s").limit(0).send().await);
    assert_eq!(code, "ValidationException");
    let (code, _) = error_of(k.list_streams().next_token("garbage").send().await);
    assert_eq!(code, "InvalidArgumentException");
}

#[tokio::test]
async fn creating_streams_report_creating_until_the_delay_passes() {
    let server = Server::start_with_config("[kinesis]\ncreate_stream_delay_ms = 400\n");
    let k = server.kinesis();
    create(&k, "slow", 1).await;
    let d = k.describe_stream_summary().stream_name("slow").send().await.unwrap();
    assert_eq!(d.stream_description_summary.unwrap().stream_status, StreamStatus::Creating);
    let (code, _) = error_of(
        k.put_record()
            .stream_name("slow")
            .partition_key("a")
            .data(aws_sdk_kinesis::primitives::Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, message) = error_of(
        k.increase_stream_retention_period()
            .stream_name("slow")
            .retention_period_hours(48)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(
        message,
        "Stream slow under account 000000000000 not ACTIVE, instead in state CREATING"
    );
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    let d = k.describe_stream_summary().stream_name("slow").send().await.unwrap();
    assert_eq!(d.stream_description_summary.unwrap().stream_status, StreamStatus::Active);
}
