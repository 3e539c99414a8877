//! The `connections` workload: what idle keep-alive connections cost the target. It
//! reads the target's `process_resident_memory_bytes`, opens `--count` HTTP/1.1
//! connections, each answering one ListTables (so the server has set it up whole), holds
//! them all open and idle, reads it again, and reports both and the cost per connection.
//! The connections (connect plus first answer) are timed as requests.

use std::time::Instant;

use serde_json::json;

use super::cli::ConnectionsArgs;
use super::client::Client;
use super::histogram::Latency;
use super::report::{Measurement, Report, Rss};
use super::resources;

pub async fn run(
    client: &Client,
    args: &ConnectionsArgs,
    report: &mut Report,
) -> Result<(), String> {
    let metrics = args
        .metrics_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/metrics", client.endpoint.host));
    let start_rss = resources::resident_memory(&metrics, &client.creds).await;
    let mut latency = Latency::new();
    let mut open = Vec::with_capacity(args.count);
    let mut failure = None;
    let began = Instant::now();
    for i in 0..args.count {
        let mut conn = client.conn();
        let started = Instant::now();
        match conn.call("DynamoDB_20120810.ListTables", &json!({"Limit": 1})).await {
            Ok(_) => {
                latency.record(started.elapsed());
                open.push(conn);
            }
            Err(f) => {
                failure = Some(format!("connection {i}: {f}"));
                break;
            }
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    let end_rss = resources::resident_memory(&metrics, &client.creds).await;
    let done = open.len() as u64;
    report.measurements.push(Measurement {
        name: "connection".into(),
        requests: done,
        errors: u64::from(failure.is_some()),
        seconds,
        requests_per_s: done as f64 / seconds.max(1e-9),
        latency: latency.percentiles(),
        ..Measurement::default()
    });
    match (start_rss, end_rss) {
        (Some(start), Some(end)) if done > 0 => {
            report.target_rss_bytes = Some(Rss { start: Some(start), end: Some(end) });
            let each = end.saturating_sub(start) as f64 / done as f64 / 1024.0;
            report.notes.push(format!("{each:.1} KiB of RSS per idle connection"));
        }
        _ => report.notes.push(format!("no process_resident_memory_bytes at {metrics}")),
    }
    drop(open);
    failure.map_or(Ok(()), Err)
}
