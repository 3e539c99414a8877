//! Shards over time, with short intervals from the config file: rollover closes a shard
//! and opens a child naming it as parent; trimming moves TRIM_HORIZON and refuses
//! positions behind it; a disabled stream disappears once past the retention period.

use aws_sdk_dynamodbstreams::types::{ShardFilter, ShardFilterType};

use super::*;
use crate::harness::{Server, error_of};

fn ev(name: &str, pk: &str) -> (String, String) {
    (name.to_string(), pk.to_string())
}

fn ending(shard: &Shard) -> Option<&str> {
    shard.sequence_number_range().unwrap().ending_sequence_number()
}

fn starting(shard: &Shard) -> &str {
    shard.sequence_number_range().unwrap().starting_sequence_number().unwrap()
}

#[tokio::test]
async fn rollover_closes_shards_and_children_name_their_parents() {
    let config = format!(
        "{ONE_SHARD}[streams]\nshard_rollover_seconds = 1\nmaintenance_interval_ms = 100\n"
    );
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let first = open_shard(&streams, &arn).await;
    let first_id = first.shard_id().unwrap().to_string();
    put(&client, "tbl", "a", "1").await;
    let it = iterator(&streams, &arn, &first_id, ShardIteratorType::TrimHorizon, None).await;

    // Within a rollover interval (and a maintenance pass) the shard closes.
    let all = poll(Duration::from_secs(3), || async {
        let all = shards(&streams, &arn).await;
        (all.len() >= 2).then_some(all)
    })
    .await;
    let parent = all.iter().find(|s| s.shard_id() == Some(first_id.as_str())).unwrap();
    let end = ending(parent).expect("the parent is closed").to_string();
    let child = all.iter().find(|s| s.parent_shard_id() == Some(first_id.as_str())).unwrap();
    let child_id = child.shard_id().unwrap().to_string();
    assert!(starting(child) > end.as_str(), "{} after {end}", starting(child));
    put(&client, "tbl", "b", "1").await;

    // The parent reads to its end, then has no next iterator.
    let page = streams.get_records().shard_iterator(&it).send().await.unwrap();
    assert_eq!(events(page.records()), [ev("INSERT", "a")]);
    assert_eq!(seq(&page.records()[0]), end, "the parent ends at its last record");
    assert_eq!(page.next_shard_iterator(), None);
    // LATEST on a closed shard is its end: nothing to read, no next iterator.
    let latest = iterator(&streams, &arn, &first_id, ShardIteratorType::Latest, None).await;
    let page = streams.get_records().shard_iterator(latest).send().await.unwrap();
    assert!(page.records().is_empty());
    assert_eq!(page.next_shard_iterator(), None);

    // b went to the open shard of the latest generation; every shard reads in order.
    let mut seen = Vec::new();
    for shard in shards(&streams, &arn).await {
        let it = iterator(
            &streams,
            &arn,
            shard.shard_id().unwrap(),
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
        seen.extend(events(&drain(&streams, it).await.0));
    }
    assert_eq!(seen, [ev("INSERT", "a"), ev("INSERT", "b")]);

    // ShardFilter CHILD_SHARDS lists the children of one shard.
    let filter =
        ShardFilter::builder().r#type(ShardFilterType::ChildShards).shard_id(&first_id).build();
    let d = streams.describe_stream().stream_arn(&arn).shard_filter(filter).send().await.unwrap();
    let children: Vec<&str> =
        d.stream_description().unwrap().shards().iter().map(|s| s.shard_id().unwrap()).collect();
    assert_eq!(children, [child_id.as_str()]);
    assert_eq!(
        d.stream_description().unwrap().shards()[0].parent_shard_id(),
        Some(first_id.as_str())
    );
}

#[tokio::test]
async fn trimming_moves_the_horizon_and_refuses_older_positions() {
    let config =
        format!("{ONE_SHARD}[streams]\nretention_seconds = 1\nmaintenance_interval_ms = 100\n");
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let id = open_shard(&streams, &arn).await.shard_id().unwrap().to_string();
    put(&client, "tbl", "a", "1").await;
    let old = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
    let (records, _) = drain(&streams, old.clone()).await;
    let s_a = seq(&records[0]);

    // Past the retention period the record is trimmed and TRIM_HORIZON moves past it.
    poll(Duration::from_secs(4), || async {
        let it = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
        // The trimmer may pass between the two calls: that iterator is then trimmed.
        let page = streams.get_records().shard_iterator(it).send().await.ok()?;
        page.records().is_empty().then_some(())
    })
    .await;
    let e = error_of(streams.get_records().shard_iterator(&old).send().await);
    assert_eq!(
        e,
        (
            "TrimmedDataAccessException".into(),
            "The data you are trying to access has been trimmed.".into()
        )
    );
    let e = error_of(
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&s_a)
            .send()
            .await,
    );
    assert_eq!(e.0, "TrimmedDataAccessException");
    let horizon = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
    put(&client, "tbl", "b", "1").await;
    assert_eq!(events(&drain(&streams, horizon).await.0), [ev("INSERT", "b")]);
}

#[tokio::test]
async fn a_disabled_stream_disappears_after_the_retention_period() {
    let config =
        format!("{ONE_SHARD}[streams]\nretention_seconds = 1\nmaintenance_interval_ms = 100\n");
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    put(&client, "tbl", "a", "1").await;
    disable(&client, "tbl").await;
    assert_eq!(streams.list_streams().send().await.unwrap().streams().len(), 1);
    poll(Duration::from_secs(4), || async {
        streams.list_streams().send().await.unwrap().streams().is_empty().then_some(())
    })
    .await;
    let e = error_of(streams.describe_stream().stream_arn(&arn).send().await);
    assert_eq!(e.0, "ResourceNotFoundException");
}
