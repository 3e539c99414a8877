//! The metrics catalog as users see it: `/metrics` parses, every family docs/metrics.md
//! lists is exported (and nothing undocumented is), every metric the
//! Grafana dashboard queries exists, so the dashboard never silently goes blank, and a
//! little traffic of each kind shows up in its series.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::Server;

/// Families named by `# HELP` lines (every registered family has one).
fn families(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every `sluice_*` / `process_*` name in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(['s', 'p']) {
        let rest = &text[i..];
        if !(rest.starts_with("sluice_") || rest.starts_with("process_")) {
            continue;
        }
        if i > 0 && text.as_bytes()[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let name: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        out.insert(name);
    }
    out
}

/// A histogram's series are `<family>_bucket`, `_sum` and `_count`.
fn family_of(name: &str, known: &BTreeSet<String>) -> Option<String> {
    if known.contains(name) {
        return Some(name.to_string());
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| known.contains(*base))
        .map(str::to_string)
}

/// Checks the exposition parses: comments, or `name{labels} value` with a numeric value.
fn assert_parses(metrics: &str) {
    for line in metrics.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "bad sample line: {line}"
        );
        let name_end = line.find(['{', ' ']).unwrap();
        assert!(line[..name_end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
    }
}

#[tokio::test]
async fn readme_dashboard_and_exposition_agree() {
    let server = Server::start();
    let metrics = server.metrics().await;
    assert_parses(&metrics);
    let exported = families(&metrics);

    let table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let documented: BTreeSet<String> =
        names_in(&table).into_iter().filter(|n| n.starts_with("sluice_")).collect();
    let ours: BTreeSet<String> =
        exported.iter().filter(|n| n.starts_with("sluice_")).cloned().collect();
    assert_eq!(
        documented.difference(&ours).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented in docs/metrics.md but not exported"
    );
    assert_eq!(
        ours.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "exported but missing from docs/metrics.md"
    );

    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grafana/dashboards/sluice.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queried.extend(names_in(target["expr"].as_str().unwrap()));
        }
    }
    assert!(queried.len() > 20, "{queried:?}");
    let missing: Vec<&String> =
        queried.iter().filter(|n| family_of(n, &exported).is_none()).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics sluice does not export: {missing:?}"
    );
}

#[tokio::test]
async fn a_little_traffic_of_each_kind_shows_in_the_series() {
    let server = Server::start();
    let client = server.client();
    crate::harness::create_table(&client, "obs", false).await;
    client
        .put_item()
        .table_name("obs")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    let k = server.kinesis();
    crate::kinesis::create(&k, "obs-s", 1).await;
    k.put_record()
        .stream_name("obs-s")
        .partition_key("p")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    let metrics = server.metrics().await;
    for sample in [
        "sluice_requests_total{operation=\"PutItem\",service=\"dynamodb\",status=\"200\"} 1",
        "sluice_table_items{table=\"obs\"} 1",
        "sluice_kinesis_incoming_records_total{stream=\"obs-s\"} 1",
        "sluice_storage_write_batches_total{durability=\"fsync\"}",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(sample), "{sample} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn per_shard_series_only_when_configured() {
    for (config, expect) in [("", false), ("[metrics]\nper_shard = true\n", true)] {
        let server = Server::start_with_config(config);
        let k = server.kinesis();
        crate::kinesis::create(&k, "ps", 1).await;
        k.put_record()
            .stream_name("ps")
            .partition_key("p")
            .data(aws_sdk_kinesis::primitives::Blob::new("x"))
            .send()
            .await
            .unwrap();
        let metrics = server.metrics().await;
        let sample = "sluice_kinesis_shard_incoming_records_total{shard=\"shardId-000000000000\",stream=\"ps\"} 1";
        assert_eq!(metrics.contains(sample), expect, "{config:?}:\n{metrics}");
        // A PutRecords of three is counted once per group and series, in full.
        let entry = |pk: &str| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key(pk)
                .data(aws_sdk_kinesis::primitives::Blob::new("ab"))
                .build()
                .unwrap()
        };
        k.put_records()
            .stream_name("ps")
            .records(entry("q"))
            .records(entry("r"))
            .records(entry("s"))
            .send()
            .await
            .unwrap();
        let metrics = server.metrics().await;
        for sample in [
            "sluice_kinesis_incoming_records_total{stream=\"ps\"} 4",
            // Data and partition key: 1 + 1, then 3 × (2 + 1).
            "sluice_kinesis_incoming_bytes_total{stream=\"ps\"} 11",
        ] {
            assert!(metrics.contains(sample), "{sample} missing:\n{metrics}");
        }
        let sample = "sluice_kinesis_shard_incoming_records_total{shard=\"shardId-000000000000\",stream=\"ps\"} 4";
        assert_eq!(metrics.contains(sample), expect, "{config:?}:\n{metrics}");
    }
}

/// The counters of rare events exist at 0 from the moment their table, stream or
/// destination does, so a dashboard shows 0 for them, not "No data".
#[tokio::test]
async fn rare_event_counters_exist_at_zero_from_the_start() {
    let server = Server::start();
    let client = server.client();
    crate::harness::create_table(&client, "quiet", false).await;
    let k = server.kinesis();
    crate::kinesis::create(&k, "quiet-s", 1).await;
    let stream_arn = k
        .describe_stream_summary()
        .stream_name("quiet-s")
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_string();
    client
        .enable_kinesis_streaming_destination()
        .table_name("quiet")
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap();
    let want = [
        "sluice_ttl_deleted_items_total{table=\"quiet\"} 0",
        "sluice_kinesis_throttled_requests_total{operation=\"PutRecords\",stream=\"quiet-s\"} 0",
        "sluice_kinesis_throttled_requests_total{operation=\"GetRecords\",stream=\"quiet-s\"} 0",
        "sluice_bridge_failed_records_total{stream=\"quiet-s\",table=\"quiet\"} 0",
        "sluice_bridge_throttled_puts_total{stream=\"quiet-s\",table=\"quiet\"} 0",
        "sluice_bridge_remote_errors_total{stream=\"quiet-s\",table=\"quiet\"} 0",
    ];
    // The destination's series appear once its forwarder has started.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = server.metrics().await;
        if want.iter().all(|w| metrics.contains(w)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let missing: Vec<_> = want.iter().filter(|w| !metrics.contains(*w)).collect();
    panic!("missing {missing:?} from:\n{metrics}");
}

/// The store's write buffers show in a gauge once something is written: refreshed by the
/// maintenance tick (every second by default), so this polls for a few seconds.
#[tokio::test]
async fn the_write_buffers_bytes_follow_the_writes() {
    let server = Server::start();
    let client = server.client();
    let gauge = |metrics: &str| -> Option<i64> {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("sluice_storage_write_buffer_bytes "))
            .and_then(|v| v.trim().parse().ok())
    };
    assert!(gauge(&server.metrics().await).is_some(), "the gauge is there from the start");
    crate::harness::create_table(&client, "wbuf", false).await;
    for i in 0..20 {
        client
            .put_item()
            .table_name("wbuf")
            .item("pk", AttributeValue::S(format!("item-{i}")))
            .item("v", AttributeValue::S("x".repeat(1000)))
            .send()
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let bytes = gauge(&server.metrics().await).unwrap_or(0);
        // Twenty items of over 1,000 bytes each are in the buffers (nothing flushes them
        // this early: they are far below storage.memtable_bytes).
        if bytes >= 20_000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "write buffers at {bytes} bytes");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
