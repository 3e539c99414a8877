//! A Kinesis destination outside sluice: a SECOND sluice process plays the remote
//! endpoint (another account and region), named in the first one's `[[bridge.remotes]]`.
//! Changes arrive there in AWS's record format through signed PutRecords; while the
//! remote is down nothing is lost and lag builds; when it returns (same directory, same
//! port, now enforcing Kinesis's per-shard limits) every change arrives, throttled
//! entries retried. A remote that never answers can still be disabled; a remote
//! destination keeps forwarding across restarts while the config names it, and turns
//! ENABLE_FAILED when a restart's config no longer does.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DestinationStatus};
use aws_sdk_kinesis::types::ShardIteratorType;
use serde_json::{Value, json};

use crate::harness::{Server, create_table};

/// The remote's identity: not the first sluice's account and region.
const REMOTE_ARN: &str = "arn:aws:kinesis:eu-west-1:111122223333:stream/feed";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn remote_config(port: u16, enforce_limits: bool) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[aws]\naccount_id = \"111122223333\"\nregion = \"eu-west-1\"\n[kinesis]\nenforce_limits = {enforce_limits}\n"
    )
}

/// The first sluice's config: `arn` forwarded to `endpoint`, retried quickly. One
/// partition per table, so a backlog goes out in as few PutRecords calls as possible.
fn bridge_config(arn: &str, endpoint: &str) -> String {
    format!(
        "[dynamodb]\npartitions_per_table = 1\n[bridge]\nretry_initial_ms = 20\nretry_max_ms = 200\n[[bridge.remotes]]\nstream_arn = \"{arn}\"\nendpoint = \"{endpoint}\"\nregion = \"eu-west-1\"\naccess_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n"
    )
}

/// The value of the bridge series `name` for table `table` (0 when absent).
async fn metric(server: &Server, name: &str, table: &str) -> f64 {
    let text = server.metrics().await;
    let label = format!("table=\"{table}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Polls until `check` holds (or a minute passes; the caller's assertion then says why).
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Every record of the remote's stream "feed" (one shard), or None when the remote
/// refused a read (it enforces Kinesis's 5 reads per second per shard).
async fn read_feed(k: &aws_sdk_kinesis::Client) -> Option<Vec<Value>> {
    let shards = k.list_shards().stream_name("feed").send().await.ok()?;
    let shard = shards.shards().first()?.shard_id().to_string();
    let mut it = k
        .get_shard_iterator()
        .stream_name("feed")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .ok()?
        .shard_iterator?;
    let mut out = Vec::new();
    loop {
        let r = k.get_records().shard_iterator(&it).send().await.ok()?;
        for rec in r.records() {
            out.push(serde_json::from_slice(rec.data().as_ref()).ok()?);
        }
        // Caught up after one call in these tests (a call returns up to 10,000 records);
        // asking again at once would only be throttled by the read limit.
        match r.next_shard_iterator {
            Some(next) if r.millis_behind_latest != Some(0) && !r.records().is_empty() => it = next,
            _ => return Some(out),
        }
    }
}

/// The remote stream's records, polled (gently: reads are rate-limited) until it holds
/// at least `n`, or a minute passed.
async fn remote_records(remote: &Server, n: usize) -> Vec<Value> {
    let k = remote.kinesis_in("eu-west-1");
    let mut got = Vec::new();
    for _ in 0..120 {
        if let Some(all) = read_feed(&k).await {
            got = all;
            if got.len() >= n {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    got
}

fn count_by_key(got: &[Value]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in got {
        let key = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap_or_default().to_string();
        *seen.entry(key).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn a_remote_destination_gets_every_change_across_an_outage() {
    let remote_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let remote = Server::start_in_listening(remote_dir.path(), &remote_config(port, false));
    crate::kinesis::create(&remote.kinesis_in("eu-west-1"), "feed", 1).await;
    let local = Server::start_with_config(&bridge_config(REMOTE_ARN, &remote.endpoint));
    let client = local.client();
    create_table(&client, "orders", false).await;
    let out = client
        .enable_kinesis_streaming_destination()
        .table_name("orders")
        .stream_arn(REMOTE_ARN)
        .send()
        .await
        .unwrap();
    assert_eq!(out.destination_status(), Some(&DestinationStatus::Enabling));
    let described =
        client.describe_kinesis_streaming_destination().table_name("orders").send().await.unwrap();
    let d = &described.kinesis_data_stream_destinations()[0];
    assert_eq!(d.destination_status(), Some(&DestinationStatus::Active));
    assert_eq!(d.stream_arn(), Some(REMOTE_ARN));
    // No stream on the forwarding side: the records go to the remote.
    assert!(local.kinesis().list_streams().send().await.unwrap().stream_names().is_empty());

    let put = |pk: &str, v: &str| {
        client.put_item().table_name("orders").item("pk", s(pk)).item("v", s(v)).send()
    };
    put("a", "1").await.unwrap();
    put("a", "2").await.unwrap();
    client.delete_item().table_name("orders").key("pk", s("a")).send().await.unwrap();
    let got = remote_records(&remote, 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let names: Vec<&str> = got.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    let modify = &got[1];
    assert_eq!(modify["awsRegion"], "us-east-1", "the table's region, not the stream's");
    assert_eq!(modify["tableName"], "orders");
    assert_eq!(modify["recordFormat"], "application/json");
    assert_eq!(modify["eventSource"], "aws:dynamodb");
    assert_eq!(modify["userIdentity"], Value::Null);
    assert_eq!(modify["eventID"].as_str().unwrap().len(), 36);
    assert_eq!(modify["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
    assert_eq!(modify["dynamodb"]["OldImage"], json!({"pk": {"S": "a"}, "v": {"S": "1"}}));
    assert_eq!(modify["dynamodb"]["NewImage"], json!({"pk": {"S": "a"}, "v": {"S": "2"}}));
    assert!(modify["dynamodb"]["SizeBytes"].as_u64().unwrap() > 0);
    // Partition key: one item, one 32-hex-digit key.
    let k = remote.kinesis_in("eu-west-1");
    let shard = k.list_shards().stream_name("feed").send().await.unwrap();
    let it = crate::kinesis_records::iterator(
        &k,
        "feed",
        shard.shards()[0].shard_id(),
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let raw = k.get_records().shard_iterator(it).send().await.unwrap();
    let keys: Vec<&str> = raw.records().iter().map(|r| r.partition_key()).collect();
    assert!(keys.iter().all(|k| k.len() == 32 && *k == keys[0]), "{keys:?}");

    // Every change so far is acknowledged and its cursor committed before the remote
    // goes away, so nothing is in flight at the kill: no duplicate can arise below.
    let l = &local;
    let forwarded = "sluice_bridge_forwarded_records_total";
    assert!(eventually(|| async move { metric(l, forwarded, "orders").await >= 3.0 }).await);
    remote.kill();

    // Writers are not held up by the dead remote. 400 changes of 3 KB: when the remote
    // returns, they go out in one PutRecords call of 1.2 MB, past the 1 MiB a shard
    // takes at once, so the remote throttles the last entries (deterministically).
    let mut tasks = Vec::new();
    for w in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let pk = format!("w{w}-{i}");
                let blob = s(&"x".repeat(3000));
                let put = client.put_item().table_name("orders").item("pk", s(&pk));
                put.item("blob", blob).send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let errors = "sluice_bridge_remote_errors_total";
    assert!(eventually(|| async move { metric(l, errors, "orders").await > 0.0 }).await);
    let lag = "sluice_bridge_replication_lag_seconds";
    assert!(eventually(|| async move { metric(l, lag, "orders").await > 0.0 }).await);
    assert_eq!(metric(l, forwarded, "orders").await, 3.0, "nothing moved while it was down");

    // Back on the same directory and port, now enforcing Kinesis's per-shard limits.
    let remote = Server::start_in_listening(remote_dir.path(), &remote_config(port, true));
    let got = remote_records(&remote, 403).await;
    let seen = count_by_key(&got);
    assert_eq!(seen.len(), 401, "every item's changes arrived");
    assert_eq!(seen["a"], 3);
    let twice: Vec<_> = seen.iter().filter(|(k, n)| k.as_str() != "a" && **n != 1).collect();
    assert!(twice.is_empty(), "no duplicates: {twice:?}");
    assert_eq!(got.len(), 403);
    let throttled = metric(&local, "sluice_bridge_throttled_puts_total", "orders").await;
    assert!(throttled > 0.0, "the returning remote throttled some entries");
    assert!(eventually(|| async move { metric(l, lag, "orders").await == 0.0 }).await);
    assert_eq!(metric(l, forwarded, "orders").await, 403.0);
    // Caught up, and still exactly one record per change.
    assert_eq!(remote_records(&remote, 403).await.len(), 403);
}

#[tokio::test]
async fn a_remote_that_never_answers_builds_lag_and_can_be_disabled() {
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/nowhere";
    let local = Server::start_with_config(&bridge_config(
        arn,
        &format!("http://127.0.0.1:{}", free_port()),
    ));
    let client = local.client();
    create_table(&client, "tab", false).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("tab")
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    for i in 0..20 {
        client.put_item().table_name("tab").item("pk", s(&i.to_string())).send().await.unwrap();
    }
    let l = &local;
    let errors = "sluice_bridge_remote_errors_total";
    assert!(eventually(|| async move { metric(l, errors, "tab").await > 1.0 }).await, "retried");
    let lag = "sluice_bridge_replication_lag_seconds";
    assert!(eventually(|| async move { metric(l, lag, "tab").await > 0.0 }).await, "lag builds");
    assert_eq!(metric(&local, "sluice_bridge_forwarded_records_total", "tab").await, 0.0);

    // The stuck forwarder lets go when the destination is disabled, and a new one works.
    client
        .disable_kinesis_streaming_destination()
        .table_name("tab")
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    let k = local.kinesis();
    crate::kinesis::create(&k, "here", 1).await;
    let here = "arn:aws:kinesis:us-east-1:000000000000:stream/here";
    client
        .enable_kinesis_streaming_destination()
        .table_name("tab")
        .stream_arn(here)
        .send()
        .await
        .unwrap();
    client.put_item().table_name("tab").item("pk", s("after")).send().await.unwrap();
    let got = crate::bridge::wait_for(&k, "here", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["dynamodb"]["Keys"]["pk"]["S"], "after");
    let described =
        client.describe_kinesis_streaming_destination().table_name("tab").send().await.unwrap();
    let statuses: Vec<_> = described
        .kinesis_data_stream_destinations()
        .iter()
        .map(|d| d.destination_status().unwrap().as_str().to_string())
        .collect();
    assert_eq!(statuses, ["DISABLED", "ACTIVE"]);
}

#[tokio::test]
async fn remote_destinations_survive_restarts_while_the_config_names_them() {
    let remote_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let remote = Server::start_in_listening(remote_dir.path(), &remote_config(port, false));
    crate::kinesis::create(&remote.kinesis_in("eu-west-1"), "feed", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = bridge_config(REMOTE_ARN, &remote.endpoint);
    let local = Server::start_in_with(dir.path(), &config);
    let client = local.client();
    create_table(&client, "orders", false).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("orders")
        .stream_arn(REMOTE_ARN)
        .send()
        .await
        .unwrap();
    client.put_item().table_name("orders").item("pk", s("before")).send().await.unwrap();
    assert_eq!(remote_records(&remote, 1).await.len(), 1);

    // Restarted with the same config: still ACTIVE, still forwarding.
    local.kill();
    let local = Server::start_in_with(dir.path(), &config);
    let client = local.client();
    client.put_item().table_name("orders").item("pk", s("after")).send().await.unwrap();
    let got = remote_records(&remote, 2).await;
    let seen = count_by_key(&got);
    assert!(seen.contains_key("before") && seen.contains_key("after"), "{got:?}");

    // Restarted without the remote: the destination cannot forward, and says why.
    local.kill();
    let local = Server::start_in_with(dir.path(), "");
    let client = local.client();
    client.put_item().table_name("orders").item("pk", s("orphan")).send().await.unwrap();
    let failed = eventually(|| {
        let client = client.clone();
        async move {
            let out = client
                .describe_kinesis_streaming_destination()
                .table_name("orders")
                .send()
                .await
                .unwrap();
            let d = &out.kinesis_data_stream_destinations()[0];
            d.destination_status() == Some(&DestinationStatus::EnableFailed)
                && d.destination_status_description().is_some_and(|t| t.contains(REMOTE_ARN))
        }
    })
    .await;
    assert!(failed, "ENABLE_FAILED with a description naming the stream");
}

#[tokio::test]
async fn a_remote_answering_server_errors_throttles_and_slowly_gets_every_change_once() {
    // The remote sluice itself plays the misbehaving endpoint, through its own fault
    // injection: its next PutRecords calls answer 500 InternalFailure, then
    // ProvisionedThroughputExceededException (whole call), then answer only after a delay.
    let remote = Server::start_with_config(&remote_config(free_port(), false));
    crate::kinesis::create(&remote.kinesis_in("eu-west-1"), "feed", 1).await;
    let rules = [
        json!({"service": "kinesis", "operation": "PutRecords", "resource": "feed",
               "error": "InternalFailure", "count": 6}),
        json!({"service": "kinesis", "operation": "PutRecords", "resource": REMOTE_ARN,
               "error": "ProvisionedThroughputExceededException", "count": 6}),
        json!({"service": "kinesis", "operation": "PutRecords", "latency_ms": 200, "count": 2}),
    ];
    for rule in rules {
        let (status, body) = crate::faults::add_rule(&remote, rule).await;
        assert_eq!(status, 200, "{body}");
    }
    let local = Server::start_with_config(&bridge_config(REMOTE_ARN, &remote.endpoint));
    let client = local.client();
    create_table(&client, "orders", false).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("orders")
        .stream_arn(REMOTE_ARN)
        .send()
        .await
        .unwrap();
    // Writers are never held up by the remote's answers.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let pk = format!("w{w}-{i}");
                client.put_item().table_name("orders").item("pk", s(&pk)).send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = remote_records(&remote, 200).await;
    let seen = count_by_key(&got);
    assert_eq!(seen.len(), 200, "every change arrived");
    // A failed call wrote nothing, a slow one answered within the request timeout: so
    // exactly once here, not merely at least once.
    assert_eq!(got.len(), 200, "no duplicates: {:?}", seen.iter().filter(|(_, n)| **n > 1));
    let l = &local;
    let lag = "sluice_bridge_replication_lag_seconds";
    assert!(eventually(|| async move { metric(l, lag, "orders").await == 0.0 }).await);
    assert_eq!(metric(l, "sluice_bridge_forwarded_records_total", "orders").await, 200.0);
    assert!(metric(l, "sluice_bridge_throttled_puts_total", "orders").await > 0.0);
    assert!(metric(l, "sluice_bridge_remote_errors_total", "orders").await >= 6.0);
    // Every injected fault was used: the bridge retried through all of them.
    let listed = crate::faults::rules(&remote).await;
    let applied: Vec<u64> = listed.iter().map(|r| r["applied"].as_u64().unwrap()).collect();
    assert_eq!(applied, [6, 6, 2]);

    // A long outage, cheaply: every call fails (a rule without a count) while 300 more
    // changes are written; the backlog stays in the change log (the forwarder holds one
    // chunk at a time), the pause stays capped, and once the rule is cleared all of it
    // arrives, each change once.
    let errors_before = metric(l, "sluice_bridge_remote_errors_total", "orders").await;
    let (status, _) = crate::faults::add_rule(
        &remote,
        json!({"service": "kinesis", "operation": "PutRecords", "error": "InternalFailure"}),
    )
    .await;
    assert_eq!(status, 200);
    for i in 0..300 {
        client
            .put_item()
            .table_name("orders")
            .item("pk", s(&format!("late{i}")))
            .send()
            .await
            .unwrap();
    }
    let errors = "sluice_bridge_remote_errors_total";
    let more = errors_before + 5.0;
    assert!(eventually(|| async move { metric(l, errors, "orders").await >= more }).await);
    assert!(metric(l, lag, "orders").await > 0.0, "lag builds while the remote fails");
    assert_eq!(metric(l, "sluice_bridge_forwarded_records_total", "orders").await, 200.0);
    let r = remote.admin("DELETE", "/_sluice/faults", &[], b"").await;
    assert_eq!(r.status, 200);
    let got = remote_records(&remote, 500).await;
    assert_eq!((got.len(), count_by_key(&got).len()), (500, 500), "all arrived, once each");
    assert!(eventually(|| async move { metric(l, lag, "orders").await == 0.0 }).await);
}
