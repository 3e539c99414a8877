//! `sluice bench` end to end: the real binary drives a real daemon with a few workloads
//! (small --requests, --json) and its summary has the documented shape with no errors.
//! No timing is asserted; the figures are for BENCHMARKS.md, measured on a quiet machine.

use std::process::Command;

use serde_json::Value;

use crate::harness::Server;

/// Runs `sluice bench <args>` against `server` and returns its JSON summary.
fn bench(server: &Server, args: &[&str]) -> Value {
    bench_in(server, args, &std::env::temp_dir())
}

/// `bench`, with `tmp` as the bench's temporary directory (TMPDIR).
fn bench_in(server: &Server, args: &[&str], tmp: &std::path::Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("bench")
        .args(args)
        .args(["--endpoint", &server.endpoint, "--json", "--quiet"])
        .env("AWS_ACCESS_KEY_ID", crate::signing::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", crate::signing::SECRET_ACCESS_KEY)
        .env("TMPDIR", tmp)
        .output()
        .expect("run sluice bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{args:?}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

fn assert_clean(m: &Value, name: &str, requests: u64) {
    assert_eq!(m["name"], name, "{m}");
    assert_eq!(m["requests"], requests, "{m}");
    assert_eq!(m["errors"], 0, "{m}");
    assert_eq!(m["errors_by_type"], serde_json::json!({}), "{m}");
    assert!(m["requests_per_s"].as_f64().unwrap() > 0.0, "{m}");
    for p in ["p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms"] {
        assert!(m["latency"][p].as_f64().unwrap() > 0.0, "{p}: {m}");
    }
    assert_eq!(m["latency"]["count"], requests, "{m}");
}

#[tokio::test]
async fn workloads_against_the_daemon_report_json_without_errors() {
    let server = Server::start();

    // A durable PutItem with a stream and a destination, beside the in-process ceiling.
    let put = bench(
        &server,
        &["put-item", "-n", "200", "-c", "4", "--stream", "--destination", "--with-ceiling"],
    );
    assert_eq!(put["workload"], "put-item");
    assert_eq!(put["settings"]["concurrency"], 4);
    assert!(put["settings"].get("secret_key").is_none(), "{put}");
    assert_clean(&put["measurements"][0], "ceiling", 200);
    assert_clean(&put["measurements"][1], "put-item", 200);
    assert!(put["ratio_to_ceiling"].as_f64().unwrap() > 0.0, "{put}");

    let query = bench(
        &server,
        &["query", "-n", "50", "-c", "2", "--key-space", "5", "--items-per-key", "3"],
    );
    assert_clean(&query["measurements"][0], "query", 50);

    // Kinesis batches: records counted apart from requests; the daemon's RSS read from
    // /metrics; the ceiling is sent the same PutRecords bodies.
    let records = bench(
        &server,
        &["put-records", "-n", "20", "-c", "2", "--batch-size", "10", "--with-ceiling"],
    );
    assert_clean(&records["measurements"][0], "ceiling", 20);
    assert_clean(&records["measurements"][1], "put-records", 20);
    assert_eq!(records["measurements"][1]["records"], 200);
    assert!(records["ratio_to_ceiling"].as_f64().unwrap() > 0.0, "{records}");
    assert!(records["target_rss_bytes"]["start"].as_u64().unwrap() > 0, "{records}");
    assert!(records["target_rss_bytes"]["end"].as_u64().unwrap() > 0, "{records}");

    // Every write reaches every path: two fan-out consumers, the destination's
    // GetRecords, the DynamoDB stream's GetRecords.
    let e2e = bench(
        &server,
        &["e2e", "-n", "100", "-c", "2", "--rate", "500", "--consumers", "2", "--drain", "20s"],
    );
    assert_clean(&e2e["measurements"][0], "e2e-writes", 100);
    let paths: Vec<&str> =
        e2e["deliveries"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "fanout consumer-0",
            "fanout consumer-1",
            "kinesis GetRecords",
            "dynamodb-streams GetRecords"
        ]
    );
    for d in e2e["deliveries"].as_array().unwrap() {
        assert_eq!((d["delivered"].as_u64(), d["written"].as_u64()), (Some(100), Some(100)), "{d}");
        assert!(d.get("unavailable").is_none(), "{d}");
        assert_eq!(d["latency"]["count"], 100, "{d}");
        assert_eq!(d["errors_by_type"], serde_json::json!({}), "{d}");
    }
    assert!(e2e["fanout_total_records_per_s"].as_f64().unwrap() > 0.0, "{e2e}");
    // Cleanup ran: nothing the runs created is left.
    let tables = server.post("DynamoDB_20120810.ListTables", b"{}", &[]).await.json();
    assert_eq!(tables["TableNames"], serde_json::json!([]), "{tables}");
}

#[tokio::test]
async fn the_triggers_workload_counts_every_record_each_mapping_delivers() {
    let port = crate::lambda::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_with_config(&format!("[lambda]\nendpoint = \"http://{listen}\"\n"));
    let args = [
        "triggers",
        "-n",
        "150",
        "-c",
        "2",
        "--mappings",
        "2",
        "--backlog",
        "50",
        "--batch-size",
        "10",
        "--handler-listen",
        &listen,
        "--drain",
        "20s",
    ];
    let out = bench(&server, &args);
    assert_clean(&out["measurements"][0], "backlog", 50);
    assert_clean(&out["measurements"][1], "triggers-writes", 150);
    let deliveries = out["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{out}");
    for d in deliveries {
        assert_eq!((d["delivered"].as_u64(), d["written"].as_u64()), (Some(200), Some(200)), "{d}");
        assert_eq!(d["latency"]["count"], 150, "only the measured writes have latencies: {d}");
    }
    let mappings = server.lambda().list_event_source_mappings().send().await.unwrap();
    let states: Vec<_> =
        mappings.event_source_mappings().iter().filter_map(|m| m.state()).collect();
    assert_eq!(states, ["Deleting", "Deleting"], "the run deletes its mappings");
}

#[tokio::test]
async fn the_source_bridge_workload_times_the_drain_and_every_write_to_the_destination() {
    let source = Server::start();
    let destination = Server::start();
    let args = [
        "source-bridge",
        "-n",
        "120",
        "-c",
        "2",
        "--instances",
        "2",
        "--backlog",
        "300",
        "--shards",
        "2",
        "--lease-duration-ms",
        "1000",
        "--poll-interval-ms",
        "20",
        "--destination",
        &destination.endpoint,
        "--drain",
        "30s",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let out = bench_in(&source, &args, tmp.path());
    assert_clean(&out["measurements"][0], "backlog", 300);
    assert_clean(&out["measurements"][1], "source-writes", 120);
    let deliveries = out["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{out}");
    assert_eq!(deliveries[0]["delivered"], 300, "{out}");
    assert!(deliveries[0]["records_per_s"].as_f64().unwrap() > 0.0, "{out}");
    // At least once: every write arrives (a lease moving between the two instances may
    // send a batch twice).
    assert!(deliveries[1]["delivered"].as_u64().unwrap() >= 120, "{out}");
    assert!(deliveries[1]["latency"]["count"].as_u64().unwrap() >= 120, "{out}");
    // Cleaned up: the bench's tables and stream are gone.
    let tables = source.client().list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty(), "{tables:?}");
    // And so are the bridge instances' stores, though each instance ends with SIGKILL.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left in the temporary directory: {left:?}");
}

#[test]
fn the_fsync_probe_times_appends_and_syncs_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["bench", "fsync", "-n", "50", "--write-size", "512", "--json", "--quiet"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("run sluice bench fsync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_clean(&report["measurements"][0], "fsync", 50);
    let notes = report["notes"].as_array().unwrap();
    assert!(notes[0].as_str().unwrap().starts_with("8 writers committing in groups"), "{report}");
    // The probe's file went with its temporary directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn the_tables_workload_reports_what_idle_tables_cost() {
    let server = Server::start();
    let report = bench(&server, &["tables", "--count", "5", "--stream"]);
    assert_clean(&report["measurements"][0], "create-table", 5);
    let rss = &report["target_rss_bytes"];
    assert!(rss["start"].as_u64().unwrap() > 0 && rss["end"].as_u64().unwrap() > 0, "{report}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("KiB of RSS per table"), "{notes}");
    // Deleted at the end.
    let listed = server.client().list_tables().send().await.unwrap();
    assert!(listed.table_names().is_empty(), "{listed:?}");
}

#[tokio::test]
async fn the_connections_workload_reports_what_idle_connections_cost() {
    let server = Server::start();
    let report = bench(&server, &["connections", "--count", "20"]);
    assert_clean(&report["measurements"][0], "connection", 20);
    assert!(report["target_rss_bytes"]["end"].as_u64().unwrap() > 0, "{report}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("KiB of RSS per idle connection"), "{notes}");
}

#[tokio::test]
async fn the_subscriptions_workload_reports_what_unread_subscriptions_cost() {
    let server = Server::start();
    let args = ["subscriptions", "--count", "3", "--backlog-mib", "1", "--settle-seconds", "0"];
    let report = bench(&server, &args);
    assert_clean(&report["measurements"][0], "subscription", 3);
    assert!(report["target_rss_bytes"]["end"].as_u64().unwrap() > 0, "{report}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("KiB of RSS per unread subscription"), "{notes}");
    // The stream and its consumers went at the end.
    let listed = server.kinesis().list_streams().send().await.unwrap();
    assert!(listed.stream_names().is_empty(), "{listed:?}");
}
