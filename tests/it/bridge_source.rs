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

    // The lease: held by w1, checkpointed at the last record, counted in the metrics;
    // beside it, w1's heartbeat.
    let leases = bridge.client().scan().table_name("sluice-leases").send().await.unwrap();
    let (lease, beat): (Vec<_>, Vec<_>) =
        leases.items().iter().partition(|i| i.contains_key("shardId"));
    assert_eq!((lease.len(), beat.len()), (1, 1), "{leases:?}");
    assert_eq!(beat[0]["leaseKey"], s("orders/_worker/w1"));
    let lease = lease[0];
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

/// A bridge instance sharing `leases`' lease table, forwarding to `destination`'s stream
/// `changes` as a remote.
fn shared_config(source: &Server, leases: &str, destination: &Server, worker: &str) -> String {
    format!(
        "[bridge]\nworker_id = \"{worker}\"\nlease_duration_ms = {LEASE_MS}\nretry_initial_ms = 20\nretry_max_ms = 200\n\
         [[bridge.remotes]]\nstream_arn = \"{ARN}changes\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n\
         [[bridge.sources]]\nname = \"orders\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n\
         table = \"orders\"\ndestination = \"{ARN}changes\"\nlease_table = \"sluice-leases\"\n\
         lease_endpoint = \"{leases}\"\npoll_interval_ms = 20\n",
        destination.endpoint, source.endpoint
    )
}

const LEASE_MS: u64 = 1000;

/// Every lease: (key, owner, checkpoint); the instances' heartbeat items left out.
async fn leases(at: &Server) -> Vec<(String, String, String)> {
    let out = at.client().scan().table_name("sluice-leases").consistent_read(true).send().await;
    let Ok(out) = out else { return Vec::new() };
    out.items()
        .iter()
        .filter(|i| i.contains_key("shardId"))
        .map(|i| {
            let s = |n: &str| i.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            (s("leaseKey"), s("leaseOwner"), s("checkpoint"))
        })
        .collect()
}

/// How many leases each worker holds.
fn shares(leases: &[(String, String, String)]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (_, owner, _) in leases {
        *out.entry(owner.clone()).or_default() += 1;
    }
    out
}

/// Sequence numbers compare as numbers (decimal strings of any length).
fn seq_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// (pk, value) of each record in `records`, in stream order.
fn changes(records: &[Value]) -> Vec<(String, i64)> {
    records
        .iter()
        .filter_map(|r| {
            let image = &r["dynamodb"]["NewImage"];
            let v = image["v"]["N"].as_str()?.parse().ok()?;
            Some((image["pk"]["S"].as_str()?.to_string(), v))
        })
        .collect()
}

/// Writes `count` changes over 20 items, numbered in order, a few milliseconds apart.
async fn write_changes(ddb: aws_sdk_dynamodb::Client, from: i64, count: i64) {
    for i in from..from + count {
        let pk = format!("k{}", i % 20);
        let put = ddb.put_item().table_name("orders").item("pk", s(&pk));
        put.item("v", AttributeValue::N(i.to_string())).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Nothing written is missing, and each item's values, by their last copy, are in the
/// order they were written (an earlier copy is a duplicate at-least-once delivery
/// allows); the number of duplicates.
fn assert_complete_and_ordered(got: &[(String, i64)], written: i64) -> usize {
    let mut last_at: HashMap<(String, i64), usize> = HashMap::new();
    for (at, change) in got.iter().enumerate() {
        last_at.insert(change.clone(), at);
    }
    for i in 0..written {
        let key = (format!("k{}", i % 20), i);
        assert!(last_at.contains_key(&key), "change {key:?} lost");
    }
    let mut by_item: HashMap<&str, Vec<(usize, i64)>> = HashMap::new();
    for ((pk, v), at) in &last_at {
        by_item.entry(pk).or_default().push((*at, *v));
    }
    for (pk, mut seen) in by_item {
        seen.sort();
        let values: Vec<i64> = seen.iter().map(|(_, v)| *v).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{pk} out of order: {values:?}");
    }
    got.len() - last_at.len()
}

#[tokio::test]
async fn three_instances_share_the_shards_and_take_over_from_one_killed_under_load() {
    // Six stream shards; the lease table lives beside the source; a third sluice is the
    // shared destination.
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 6\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let destination = Server::start();
    let k = destination.kinesis();
    crate::kinesis::create(&k, "changes", 4).await;
    let config = |w: &str| shared_config(&source, &source.endpoint, &destination, w);
    let b1 = Server::start_with_config(&config("w1"));
    let b2 = Server::start_with_config(&config("w2"));
    let b3 = Server::start_with_config(&config("w3"));

    // The six leases spread two by two.
    let balanced = crate::streams::poll(Duration::from_secs(30), || async {
        let l = leases(&source).await;
        let s = shares(&l);
        (l.len() == 6 && ["w1", "w2", "w3"].iter().all(|w| s.get(*w) == Some(&2))).then_some(l)
    })
    .await;
    assert_eq!(balanced.len(), 6);

    // Under load, w2 is killed; checkpoints are watched all along.
    let writer = tokio::spawn(write_changes(ddb.clone(), 0, 600));
    let watcher = tokio::spawn({
        let endpoint = source.client();
        async move {
            let mut highest: HashMap<String, String> = HashMap::new();
            for _ in 0..400 {
                let out = endpoint.scan().table_name("sluice-leases").consistent_read(true);
                if let Ok(out) = out.send().await {
                    for item in out.items().iter().filter(|i| i.contains_key("shardId")) {
                        let key = item["leaseKey"].as_s().unwrap().clone();
                        let c = item["checkpoint"].as_s().unwrap().clone();
                        if c == "TRIM_HORIZON" || c == "LATEST" || c == "SHARD_END" {
                            continue;
                        }
                        if let Some(h) = highest.get(&key) {
                            assert_ne!(
                                seq_order(&c, h),
                                std::cmp::Ordering::Less,
                                "{key} went back from {h} to {c}"
                            );
                        }
                        highest.insert(key, c);
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let killed_at = std::time::Instant::now();
    b2.kill();
    // Its two leases go to the others once a lease duration passed without renewal.
    let moved = crate::streams::poll(Duration::from_secs(30), || async {
        let s = shares(&leases(&source).await);
        (!s.contains_key("w2") && s.values().sum::<usize>() == 6).then_some(s)
    })
    .await;
    let took = killed_at.elapsed();
    eprintln!("w2's leases moved in {took:?} (lease duration {LEASE_MS} ms): {moved:?}");
    assert!(took < Duration::from_millis(6 * LEASE_MS), "{took:?}");
    writer.await.unwrap();
    watcher.await.unwrap();

    // Every change arrives; per item in order by last copy; duplicates only for what was
    // in flight when w2 died (at most one GetRecords batch per shard it held).
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        let all = (0..600).all(|i| got.contains(&(format!("k{}", i % 20), i)));
        all.then_some(got)
    })
    .await;
    let duplicates = assert_complete_and_ordered(&got, 600);
    eprintln!("{} records for 600 changes: {duplicates} duplicates", got.len());
    assert!(duplicates <= 2 * 1000, "{duplicates}");
    drop((b1, b3));
}

/// A TCP proxy to `upstream` that can be cut: then every connection through it is
/// dropped and new ones are closed at once (a network partition of whoever uses it).
struct Proxy {
    endpoint: String,
    cut: tokio::sync::watch::Sender<bool>,
}

async fn proxy(upstream: std::net::SocketAddr) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (cut, watch) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut watch = watch.clone();
            if *watch.borrow() {
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = watch.wait_for(|cut| *cut) => {}
                }
            });
        }
    });
    Proxy { endpoint, cut }
}

#[tokio::test]
async fn an_instance_cut_off_from_the_lease_table_stops_before_another_takes_over() {
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 2\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let destination = Server::start();
    let k = destination.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    // w1 reaches the lease table through a proxy that will be cut; w2 directly.
    let cut_off = proxy(source.addr).await;
    let b1 =
        Server::start_with_config(&shared_config(&source, &cut_off.endpoint, &destination, "w1"));
    let b2 =
        Server::start_with_config(&shared_config(&source, &source.endpoint, &destination, "w2"));
    let label = "source=\"orders\"";
    let held = "sluice_source_leases_held";
    crate::streams::poll(Duration::from_secs(30), || async {
        let s = shares(&leases(&source).await);
        let settled =
            metric(&b1, held, label).await == 1.0 && metric(&b2, held, label).await == 1.0;
        (s.get("w1") == Some(&1) && s.get("w2") == Some(&1) && settled).then_some(())
    })
    .await;

    // Changes keep coming; w1's lease renewals fail from now on.
    let writer = tokio::spawn(write_changes(ddb.clone(), 0, 500));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let forwarded = "sluice_source_records_forwarded_total";
    cut_off.cut.send(true).unwrap();
    let cut_at = std::time::Instant::now();
    // Until w2 holds both leases, note when w1 last forwarded anything.
    let mut w1_count = metric(&b1, forwarded, label).await;
    let mut w1_last_change = cut_at;
    let taken_at = loop {
        let now = metric(&b1, forwarded, label).await;
        if now != w1_count {
            (w1_count, w1_last_change) = (now, std::time::Instant::now());
        }
        // The takeover is w2's conditional write of the lease table.
        if shares(&leases(&source).await).get("w2") == Some(&2) {
            break std::time::Instant::now();
        }
        assert!(cut_at.elapsed() < Duration::from_secs(30), "w2 never took w1's lease");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!(
        "w1 last forwarded {:?} after the cut; w2 took over {:?} after it",
        w1_last_change - cut_at,
        taken_at - cut_at
    );
    assert!(w1_last_change < taken_at, "w1 forwarded after w2 took its shard");
    // w1 forwards nothing more (its lease is gone), and every change arrives.
    writer.await.unwrap();
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        (0..500).all(|i| got.contains(&(format!("k{}", i % 20), i))).then_some(got)
    })
    .await;
    assert_complete_and_ordered(&got, 500);
    assert_eq!(metric(&b1, forwarded, label).await, w1_count, "w1 stopped for good");
    assert_eq!(metric(&b1, held, label).await, 0.0);
}

#[tokio::test]
async fn a_stream_of_more_shards_than_one_describe_stream_page_is_read_whole() {
    // 120 stream shards: DescribeStream answers them in two pages of at most 100.
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 120\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    // 120 idle shards polled every 20 ms would be 6,000 GetRecords a second: the default
    // lease duration and poll interval here.
    let config = bridge_config(&source, "w1", 10_000)
        .replace("poll_interval_ms = 20", "poll_interval_ms = 250");
    let bridge = Server::start_with_config(&config);
    let k = bridge.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    for i in 0..240 {
        let put = ddb.put_item().table_name("orders").item("pk", s(&format!("k{i}")));
        put.item("v", AttributeValue::N(i.to_string())).send().await.unwrap();
    }
    let got = crate::streams::poll(Duration::from_secs(60), || async {
        let got = changes(&records(&k, "changes").await);
        (got.len() >= 240).then_some(got)
    })
    .await;
    assert_complete_and_ordered_keys(&got, 240);
    assert_eq!(leases(&bridge).await.len(), 120);
}

/// Every `k{i}` written once with value `i` arrived, once.
fn assert_complete_and_ordered_keys(got: &[(String, i64)], n: i64) {
    let mut seen: Vec<(String, i64)> = got.to_vec();
    seen.sort();
    let mut want: Vec<(String, i64)> = (0..n).map(|i| (format!("k{i}"), i)).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn throttled_trimmed_and_expired_answers_are_retried_counted_and_lose_nothing() {
    // The source answers its first GetShardIterator with TrimmedDataAccessException, then
    // three GetRecords with LimitExceededException and two with ExpiredIteratorException.
    let rule = |op: &str, error: &str, count: u32| {
        format!(
            "[[faults.rules]]\nservice = \"dynamodbstreams\"\noperation = \"{op}\"\nerror = \"{error}\"\ncount = {count}\n"
        )
    };
    let config = [
        "[dynamodb]\npartitions_per_table = 1\n[faults]\n".to_string(),
        rule("GetShardIterator", "TrimmedDataAccessException", 1),
        rule("GetRecords", "LimitExceededException", 3),
        rule("GetRecords", "ExpiredIteratorException", 2),
    ]
    .concat();
    let source = Server::start_with_config(&config);
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    for i in 0..20 {
        let put = ddb.put_item().table_name("orders").item("pk", s(&format!("k{i}")));
        put.item("v", AttributeValue::N(i.to_string())).send().await.unwrap();
    }
    let bridge = Server::start_with_config(&bridge_config(&source, "w1", 1000));
    let k = bridge.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        (got.len() >= 20).then_some(got)
    })
    .await;
    assert_complete_and_ordered_keys(&got, 20);
    let label = "source=\"orders\"";
    assert_eq!(metric(&bridge, "sluice_source_trimmed_gaps_total", label).await, 1.0);
    assert!(metric(&bridge, "sluice_source_read_throttles_total", label).await >= 3.0);
    assert!(bridge.log().contains("trimmed from the source stream before they were forwarded"));
}

#[tokio::test]
async fn a_re_enabled_stream_is_followed_after_the_old_one_is_read_out() {
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 1\n");
    let ddb = source.client();
    let first = crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let bridge = Server::start_with_config(&bridge_config(&source, "w1", 1000));
    let k = bridge.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    let put = |i: i64| {
        let put = ddb.put_item().table_name("orders").item("pk", s("same"));
        put.item("v", AttributeValue::N(i.to_string())).send()
    };
    for i in 0..5 {
        put(i).await.unwrap();
    }
    crate::streams::poll(Duration::from_secs(30), || async {
        (records(&k, "changes").await.len() >= 5).then_some(())
    })
    .await;
    // The stream is turned off (its last changes are still to read) and on again: a new
    // stream, whose changes come after the old one's.
    put(5).await.unwrap();
    crate::streams::disable(&ddb, "orders").await;
    put(6).await.unwrap(); // no stream: no record anywhere
    let second = crate::streams::enable(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    assert_ne!(first, second);
    for i in 7..10 {
        put(i).await.unwrap();
    }
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        (got.len() >= 9).then_some(got)
    })
    .await;
    let values: Vec<i64> = got.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, [0, 1, 2, 3, 4, 5, 7, 8, 9]);
    // Leases of both streams; the old one's read to its end.
    let l = leases(&bridge).await;
    assert_eq!(l.len(), 2, "{l:?}");
    let old = l.iter().find(|(key, _, _)| key.contains(first.rsplit('/').next().unwrap()));
    assert_eq!(old.map(|(_, _, c)| c.as_str()), Some("SHARD_END"), "{l:?}");
}

#[tokio::test]
async fn a_clean_shutdown_hands_its_leases_back_at_once() {
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 4\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let destination = Server::start();
    let k = destination.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    // A ten-second lease duration: a takeover within it is a hand-back, not an expiry.
    let config = |w: &str| {
        shared_config(&source, &source.endpoint, &destination, w)
            .replace(&format!("lease_duration_ms = {LEASE_MS}"), "lease_duration_ms = 10000")
    };
    let b1 = Server::start_with_config(&config("w1"));
    let b2 = Server::start_with_config(&config("w2"));
    crate::streams::poll(Duration::from_secs(30), || async {
        let s = shares(&leases(&source).await);
        (s.get("w1") == Some(&2) && s.get("w2") == Some(&2)).then_some(())
    })
    .await;
    let writer = tokio::spawn(write_changes(ddb.clone(), 0, 300));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped_at = std::time::Instant::now();
    let status = b2.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status}");
    crate::streams::poll(Duration::from_secs(5), || async {
        (shares(&leases(&source).await).get("w1") == Some(&4)).then_some(())
    })
    .await;
    let took = stopped_at.elapsed();
    eprintln!("w2's leases handed to w1 {took:?} after SIGTERM (lease duration 10 s)");
    writer.await.unwrap();
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        (0..300).all(|i| got.contains(&(format!("k{}", i % 20), i))).then_some(got)
    })
    .await;
    // Handed back after its last checkpoint: nothing forwarded twice.
    assert_eq!(assert_complete_and_ordered(&got, 300), 0);
    drop(b1);
}

#[tokio::test]
async fn a_lease_table_at_an_https_endpoint_is_reached_over_tls() {
    // The lease table lives in a sluice serving TLS with a certificate from a test CA;
    // the bridge trusts that CA (`tls.ca_file`), and every source call goes through the
    // same client.
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = crate::remote_tls::test_ca(dir.path());
    let leases_at =
        Server::start_with_config(&format!("[server]\ntls_cert = {cert:?}\ntls_key = {key:?}\n"));
    let https = format!("https://localhost:{}", leases_at.addr.port());
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 1\n");
    let ddb = source.client();
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let config = format!(
        "[tls]\nca_file = {ca:?}\n{}lease_endpoint = \"{https}\"\n",
        bridge_config(&source, "w1", 1000)
    );
    let bridge = Server::start_with_config(&config);
    let k = bridge.kinesis();
    crate::kinesis::create(&k, "changes", 1).await;
    for i in 0..5 {
        let put = ddb.put_item().table_name("orders").item("pk", s(&format!("k{i}")));
        put.item("v", AttributeValue::N(i.to_string())).send().await.unwrap();
    }
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = changes(&records(&k, "changes").await);
        (got.len() >= 5).then_some(got)
    })
    .await;
    assert_complete_and_ordered_keys(&got, 5);
    assert_eq!(metric(&bridge, "sluice_source_leases_held", "source=\"orders\"").await, 1.0);
}
