//! `[[bridge.sources]]`: a sluice following the DynamoDB stream of a table served
//! elsewhere (here another sluice, which serves the same APIs as AWS), forwarding every
//! change into a Kinesis stream in AWS's record format, with its leases and checkpoints
//! in a lease table. The record JSON is compared with what the source's own built-in
//! Kinesis destination writes for the same changes.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::bridge::{enable, records, wait_for};
use crate::harness::Server;

const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A bridge instance's config: `source` followed into stream `changes` here, leases in
/// this sluice, a short lease duration and poll interval.
pub fn bridge_config(source: &Server, worker: &str, lease_ms: u64) -> String {
    format!(
        "[bridge]\nworker_id = \"{worker}\"\nlease_duration_ms = {lease_ms}\n\
         [[bridge.sources]]\nname = \"orders\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n\
         table = \"orders\"\ndestination = \"{ARN}changes\"\nlease_table = \"sluice-leases\"\n\
         poll_interval_ms = 20\n",
        source.endpoint
    )
}

/// The value of series `name` with label `label` (0 when absent).
pub async fn metric(server: &Server, name: &str, label: &str) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A record's fields that both paths write alike: all but the creation time, which a
/// DynamoDB stream gives in whole seconds (compared to the second).
fn comparable(record: &Value) -> (Value, i64) {
    let mut r = record.clone();
    let t = r["dynamodb"]
        .as_object_mut()
        .and_then(|d| d.remove("ApproximateCreationDateTime"))
        .and_then(|t| t.as_i64())
        .unwrap_or_default();
    (r, t / 1000)
}

#[tokio::test]
async fn a_tables_changes_arrive_through_the_bridge_as_awss_destination_writes_them() {
    // The source: one stream shard (one partition), and its own Kinesis destination for
    // reference.
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 1\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    crate::kinesis::create(&source.kinesis(), "builtin", 1).await;
    enable(&ddb, "orders", "builtin", None).await;

    let bridge = Server::start_with_config(&bridge_config(&source, "w1", 1000));
    let k = bridge.kinesis();
    crate::kinesis::create(&k, "changes", 2).await;

    for i in 0..20 {
        let pk = format!("item-{}", i % 5);
        let put = ddb.put_item().table_name("orders").item("pk", s(&pk));
        put.item("v", AttributeValue::N(format!("{i}.50"))).send().await.unwrap();
    }
    ddb.delete_item().table_name("orders").key("pk", s("item-3")).send().await.unwrap();
    let want = wait_for(&source.kinesis(), "builtin", 21).await;
    assert_eq!(want.len(), 21);

    let got = wait_for(&k, "changes", 21).await;
    assert_eq!(got.len(), 21, "every change once: {got:?}");
    // Per item, the same records in the same order (the two shards of `changes` split
    // items between them; each item's changes stay on one).
    let per_item = |records: &[Value]| {
        let mut items: HashMap<String, Vec<(Value, i64)>> = HashMap::new();
        for r in records {
            let pk = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
            items.entry(pk).or_default().push(comparable(r));
        }
        items
    };
    let (want, got) = (per_item(&want), per_item(&got));
    assert_eq!(want.keys().len(), 5);
    for (pk, changes) in &want {
        let bridged = &got[pk];
        assert_eq!(bridged.len(), changes.len(), "{pk}");
        for ((w, wt), (g, gt)) in changes.iter().zip(bridged) {
            // eventID included: derived from the stream record's, which is the change's.
            assert_eq!(g, w, "{pk}");
            assert_eq!(gt, wt, "{pk}: creation time to the second");
        }
    }

    // The lease: held by w1, checkpointed at the last record, counted in the metrics.
    let leases = bridge.client().scan().table_name("sluice-leases").send().await.unwrap();
    let lease = &leases.items()[0];
    assert_eq!(leases.items().len(), 1);
    assert_eq!(lease["leaseOwner"], s("w1"));
    assert_eq!(lease["source"], s("orders"));
    let checkpoint = lease["checkpoint"].as_s().unwrap();
    let last = crate::streams::read_stream(
        &source.streams(),
        &ddb.describe_table()
            .table_name("orders")
            .send()
            .await
            .unwrap()
            .table
            .unwrap()
            .latest_stream_arn
            .unwrap(),
    )
    .await;
    assert_eq!(Some(checkpoint.as_str()), last.last().map(crate::streams::seq).as_deref());
    let label = "source=\"orders\"";
    assert_eq!(metric(&bridge, "sluice_source_records_forwarded_total", label).await, 21.0);
    assert_eq!(metric(&bridge, "sluice_source_records_read_total", label).await, 21.0);
    assert_eq!(metric(&bridge, "sluice_source_leases_held", label).await, 1.0);

    // Later changes follow within the poll interval.
    ddb.put_item().table_name("orders").item("pk", s("late")).send().await.unwrap();
    let got = wait_for(&k, "changes", 22).await;
    assert_eq!(got.len(), 22);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(records(&k, "changes").await.len(), 22, "nothing twice");
}
