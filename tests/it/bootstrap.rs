//! Declarative bootstrap: a config naming Kinesis streams and tables (with an index, a
//! stream and a Kinesis destination) brings up a working pipeline at start, and starting
//! again on the same data changes nothing.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::Server;

const CONFIG: &str = r#"
[[bootstrap.kinesis_streams]]
name = "orders-changes"
shards = 2
retention_hours = 48

[[bootstrap.tables]]
name = "orders"
hash_key = { name = "id", type = "S" }
range_key = { name = "ts", type = "N" }
stream = "NEW_AND_OLD_IMAGES"
kinesis_destination = "orders-changes"

[[bootstrap.tables.indexes]]
name = "by-customer"
hash_key = { name = "customer", type = "S" }
projection = "KEYS_ONLY"

[[bootstrap.consumers]]
stream = "orders-changes"
name = "analytics"
"#;

/// (tables, their destinations, Kinesis streams with retention and consumer ARNs) as
/// the APIs describe them.
async fn state(server: &Server) -> (Vec<String>, Vec<String>, Vec<(String, i32, Vec<String>)>) {
    let client = server.client();
    let tables = client.list_tables().send().await.unwrap().table_names;
    let destinations = client
        .describe_kinesis_streaming_destination()
        .table_name("orders")
        .send()
        .await
        .unwrap()
        .kinesis_data_stream_destinations()
        .iter()
        .map(|d| {
            format!("{} {}", d.stream_arn().unwrap(), d.destination_status().unwrap().as_str())
        })
        .collect();
    let k = server.kinesis();
    let mut streams = Vec::new();
    for name in k.list_streams().send().await.unwrap().stream_names() {
        let d = k.describe_stream_summary().stream_name(name).send().await.unwrap();
        let summary = d.stream_description_summary().unwrap();
        let consumers =
            k.list_stream_consumers().stream_arn(summary.stream_arn()).send().await.unwrap();
        let arns = consumers.consumers().iter().map(|c| c.consumer_arn().to_string()).collect();
        streams.push((name.clone(), summary.retention_period_hours(), arns));
    }
    (tables.unwrap_or_default(), destinations, streams)
}

#[tokio::test]
async fn config_brings_up_a_pipeline_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), CONFIG);
    let first = state(&server).await;
    assert_eq!(first.0, ["orders"]);
    assert_eq!(first.1, ["arn:aws:kinesis:us-east-1:000000000000:stream/orders-changes ACTIVE"]);
    assert_eq!(first.2.len(), 1);
    assert_eq!((first.2[0].0.as_str(), first.2[0].1), ("orders-changes", 48));
    assert!(first.2[0].2[0].contains(":stream/orders-changes/consumer/analytics:"), "{first:?}");
    let t =
        server.client().describe_table().table_name("orders").send().await.unwrap().table.unwrap();
    assert_eq!(t.global_secondary_indexes().len(), 1);
    assert!(t.latest_stream_arn().is_some());
    let label = t.latest_stream_label().unwrap().to_string();

    // The pipeline works: a write lands in the Kinesis stream.
    server
        .client()
        .put_item()
        .table_name("orders")
        .item("id", AttributeValue::S("o1".into()))
        .item("ts", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let k = server.kinesis();
    let mut seen = 0;
    for _ in 0..100 {
        seen = 0;
        for shard in k.list_shards().stream_name("orders-changes").send().await.unwrap().shards() {
            let it = crate::kinesis_records::iterator(
                &k,
                "orders-changes",
                shard.shard_id(),
                aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon,
                None,
            )
            .await;
            seen += k.get_records().shard_iterator(it).send().await.unwrap().records().len();
        }
        if seen == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 1);

    // Starting again on the same data: same state, same stream, nothing re-created.
    server.kill();
    let server = Server::start_in_with(dir.path(), CONFIG);
    assert_eq!(state(&server).await, first);
    let t =
        server.client().describe_table().table_name("orders").send().await.unwrap().table.unwrap();
    assert_eq!(t.latest_stream_label(), Some(label.as_str()));
    assert_eq!(t.item_count(), Some(1));
}

#[tokio::test]
async fn a_bad_bootstrap_entry_stops_the_daemon_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[bootstrap.tables]]\nname = \"x\"\nhash_key = { name = \"id\", type = \"S\" }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--port", "0", "--in-memory", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bootstrap") && stderr.contains("at 'tableName' failed to satisfy"),
        "{stderr}"
    );
}
