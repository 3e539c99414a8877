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
use super::report::Report;
use super::resources;

pub async fn run(
    client: &Client,
    args: &ConnectionsArgs,
    report: &mut Report,
) -> Result<(), String> {
    let metrics = resources::metrics_url(client, args.metrics_url.as_deref());
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
    let (done, failed) = (open.len() as u64, failure.is_some());
    let rss = (start_rss, end_rss, metrics.as_str());
    let per = "idle connection";
    resources::report_cost(report, "connection", per, done, failed, seconds, &latency, rss);
    drop(open);
    failure.map_or(Ok(()), Err)
}
