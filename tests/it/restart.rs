//! Durability across restarts: every acknowledged write survives a SIGKILL, and SIGTERM
//! is a clean shutdown (exit code 0) that loses nothing either.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, ProvisionedThroughput, Tag};

use crate::harness::{Server, create_table, error_of};

const WRITERS: usize = 8;
const PER_WRITER: usize = 25;

/// Writes `WRITERS * PER_WRITER` items concurrently (so they share group commits), then
/// overwrites some and deletes others; returns what the table must hold.
async fn write_workload(client: &Client, table: &str) -> HashMap<String, String> {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let client = client.clone();
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let pk = format!("w{w}-{i}");
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(pk.clone()))
                    .item("v", AttributeValue::S(format!("first {pk}")))
                    .send()
                    .await
                    .expect("acknowledged put");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut expected: HashMap<String, String> = (0..WRITERS)
        .flat_map(|w| (0..PER_WRITER).map(move |i| format!("w{w}-{i}")))
        .map(|pk| (pk.clone(), format!("first {pk}")))
        .collect();
    for i in 0..PER_WRITER {
        let pk = format!("w0-{i}");
        client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("v", AttributeValue::S(format!("second {pk}")))
            .send()
            .await
            .unwrap();
        expected.insert(pk.clone(), format!("second {pk}"));
        let gone = format!("w1-{i}");
        client
            .delete_item()
            .table_name(table)
            .key("pk", AttributeValue::S(gone.clone()))
            .send()
            .await
            .unwrap();
        expected.remove(&gone);
    }
    expected
}

/// Checks that `table` holds exactly `expected` (and that deleted keys stay deleted).
async fn assert_holds(client: &Client, table: &str, expected: &HashMap<String, String>) {
    let t = client.describe_table().table_name(table).send().await.unwrap().table.unwrap();
    assert_eq!(t.item_count(), Some(expected.len() as i64), "ItemCount after restart");
    for w in 0..WRITERS {
        for i in 0..PER_WRITER {
            let pk = format!("w{w}-{i}");
            let got = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk.clone()))
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            let value = got.item().map(|item| item["v"].as_s().unwrap().clone());
            assert_eq!(value.as_ref(), expected.get(&pk), "{pk}");
        }
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    create_table(&client, "durable", false).await;
    client
        .create_table()
        .table_name("meta")
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(3)
                .write_capacity_units(4)
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    create_table(&client, "dropped", false).await;
    client.delete_table().table_name("dropped").send().await.unwrap();
    let before = client.describe_table().table_name("meta").send().await.unwrap().table.unwrap();
    let expected = write_workload(&client, "durable").await;
    let size_before = client
        .describe_table()
        .table_name("durable")
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .table_size_bytes();
    // The instant the last write was acknowledged: no shutdown, no flush.
    server.kill();

    let server = Server::start_in(dir.path());
    let client = server.client();
    assert_holds(&client, "durable", &expected).await;
    let t = client.describe_table().table_name("durable").send().await.unwrap().table.unwrap();
    assert_eq!(t.table_size_bytes(), size_before);
    let after = client.describe_table().table_name("meta").send().await.unwrap().table.unwrap();
    assert_eq!(after.table_id(), before.table_id());
    assert_eq!(after.creation_date_time(), before.creation_date_time());
    assert_eq!(after.key_schema(), before.key_schema());
    assert_eq!(after.provisioned_throughput(), before.provisioned_throughput());
    let tags = client
        .list_tags_of_resource()
        .resource_arn(after.table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [Tag::builder().key("k").value("v").build().unwrap()]);
    let (code, _) = error_of(client.describe_table().table_name("dropped").send().await);
    assert_eq!(code, "ResourceNotFoundException", "a deleted table stays deleted");
    let mut names = client.list_tables().send().await.unwrap().table_names().to_vec();
    names.sort();
    assert_eq!(names, ["durable", "meta"]);

    // The restarted daemon keeps working on the recovered table.
    client
        .put_item()
        .table_name("durable")
        .item("pk", AttributeValue::S("after".into()))
        .send()
        .await
        .unwrap();
    let t = client.describe_table().table_name("durable").send().await.unwrap().table.unwrap();
    assert_eq!(t.item_count(), Some(expected.len() as i64 + 1));
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    create_table(&client, "graceful", false).await;
    let expected = write_workload(&client, "graceful").await;
    client
        .update_table()
        .table_name("graceful")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(2)
                .write_capacity_units(2)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let exit = server.terminate(Duration::from_secs(15));
    assert_eq!(exit.code(), Some(0), "exit status {exit}");

    let server = Server::start_in(dir.path());
    let client = server.client();
    assert_holds(&client, "graceful", &expected).await;
    let t = client.describe_table().table_name("graceful").send().await.unwrap().table.unwrap();
    assert_eq!(t.billing_mode_summary().unwrap().billing_mode(), Some(&BillingMode::Provisioned));
    assert_eq!(t.provisioned_throughput().unwrap().read_capacity_units(), Some(2));
    // And it shuts down cleanly again with nothing in flight.
    assert_eq!(server.terminate(Duration::from_secs(15)).code(), Some(0));
}
