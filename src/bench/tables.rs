//! The `tables` workload: what idle tables cost the target. It reads the target's
//! `process_resident_memory_bytes`, creates `--count` tables (with `--stream`, each with
//! a DynamoDB stream), reads it again, and reports both and the cost per table; the
//! tables are deleted at the end unless `--keep`. The creations are timed as requests.

use std::time::Instant;

use super::cli::TablesArgs;
use super::client::Client;
use super::histogram::Latency;
use super::report::{Measurement, Report, Rss};
use super::resources;

pub async fn run(client: &Client, args: &TablesArgs, report: &mut Report) -> Result<(), String> {
    let metrics = args
        .metrics_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/metrics", client.endpoint.host));
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
    let done = created.len() as u64;
    report.measurements.push(Measurement {
        name: "create-table".into(),
        requests: done,
        errors: u64::from(failure.is_some()),
        seconds,
        requests_per_s: done as f64 / seconds.max(1e-9),
        latency: latency.percentiles(),
        ..Measurement::default()
    });
    match (start_rss, end_rss) {
        (Some(start), Some(end)) if !created.is_empty() => {
            report.target_rss_bytes = Some(Rss { start: Some(start), end: Some(end) });
            let per_table = end.saturating_sub(start) as f64 / created.len() as f64 / 1024.0;
            report.notes.push(format!("{per_table:.1} KiB of RSS per table"));
        }
        _ => report.notes.push(format!("no process_resident_memory_bytes at {metrics}")),
    }
    if args.common.keep {
        report.notes.push(format!("kept {} tables named {prefix}-N", created.len()));
    } else {
        for name in &created {
            report.notes.extend(resources::delete_table(client, name).await);
        }
    }
    failure.map_or(Ok(()), Err)
}
