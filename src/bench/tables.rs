//! The `tables` workload: what idle tables cost the target. It reads the target's
//! `process_resident_memory_bytes`, creates `--count` tables (with `--stream`, each with
//! a DynamoDB stream), reads it again, and reports both and the cost per table; the
//! tables are deleted at the end unless `--keep`. The creations are timed as requests.

use std::time::Instant;

use super::cli::TablesArgs;
use super::client::Client;
use super::histogram::Latency;
use super::report::Report;
use super::resources;

pub async fn run(client: &Client, args: &TablesArgs, report: &mut Report) -> Result<(), String> {
    let metrics = resources::metrics_url(client, args.metrics_url.as_deref());
    let prefix = resources::fresh_name("sluice-bench");
    let start_rss = resources::resident_memory(&metrics, &client.creds).await;
    let mut latency = Latency::new();
    let mut created = Vec::with_capacity(args.count);
    let began = Instant::now();
    let mut failure = None;
    for i in 0..args.count {
        let name = format!("{prefix}-{i}");
        let started = Instant::now();
        match resources::create_table(client, &name, false, args.stream).await {
            Ok(_) => {
                latency.record(started.elapsed());
                created.push(name);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    let end_rss = resources::resident_memory(&metrics, &client.creds).await;
    let (done, failed) = (created.len() as u64, failure.is_some());
    let rss = (start_rss, end_rss, metrics.as_str());
    resources::report_cost(report, "create-table", "table", done, failed, seconds, &latency, rss);
    if args.common.keep {
        report.notes.push(format!("kept {} tables named {prefix}-N", created.len()));
    } else {
        for name in &created {
            report.notes.extend(resources::delete_table(client, name).await);
        }
    }
    failure.map_or(Ok(()), Err)
}
