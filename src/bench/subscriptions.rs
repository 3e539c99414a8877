//! The `subscriptions` workload: what a SubscribeToShard stream whose reader never reads
//! costs the target. It fills a fresh stream with `--backlog-mib` MiB of records per
//! shard, registers consumers (at most 20 a stream, as AWS allows) and opens `--count`
//! subscriptions at TRIM_HORIZON over h2c, one connection each, as the SDKs do, without
//! ever reading their events. After `--settle` it reads the target's
//! `process_resident_memory_bytes` again and reports the cost per unread subscription:
//! whatever the server holds for a reader that has stopped (the HTTP/2 window it may fill,
//! the event it has encoded, its position), with a backlog far larger than all of it.

use std::time::{Duration, Instant};

use super::cli::SubscriptionsArgs;
use super::client::Client;
use super::histogram::Latency;
use super::report::Report;
use super::resources;

/// Consumers a stream may have.
const CONSUMERS_PER_STREAM: usize = 20;
/// Records per PutRecords of the backlog, and their size.
const BATCH: usize = 500;
const RECORD_BYTES: usize = 1000;

pub async fn run(
    client: &Client,
    args: &SubscriptionsArgs,
    report: &mut Report,
) -> Result<(), String> {
    let metrics = resources::metrics_url(client, args.metrics_url.as_deref());
    let count = args.count.max(1);
    let consumers = count.min(CONSUMERS_PER_STREAM);
    let shards = count.div_ceil(consumers);
    let stream = resources::fresh_name("sluice-bench-subs");
    let arn = resources::create_stream(client, &stream, shards as u32).await?;
    let outcome = subscribe_unread(client, args, &stream, &arn, consumers, shards, &metrics).await;
    let outcome = match outcome {
        Ok(Opened { latency, open, failure, seconds, rss }) => {
            let failed = failure.is_some();
            let rss = (rss.0, rss.1, metrics.as_str());
            let done = open.len() as u64;
            let per = "unread subscription";
            resources::report_cost(
                report,
                "subscription",
                per,
                done,
                failed,
                seconds,
                &latency,
                rss,
            );
            drop(open);
            failure.map_or(Ok(()), Err)
        }
        Err(e) => Err(e),
    };
    if !args.common.keep {
        report.notes.extend(resources::delete_stream(client, &stream).await);
    }
    outcome
}

/// The subscriptions held open, why the next could not be (if one could not), how long
/// opening them took, and the target's RSS before and after.
struct Opened {
    latency: Latency,
    open: Vec<hyper::Response<hyper::body::Incoming>>,
    failure: Option<String>,
    seconds: f64,
    rss: (Option<u64>, Option<u64>),
}

/// Fills the backlog, registers the consumers, reads the RSS, opens the subscriptions,
/// waits `--settle` and reads it again.
async fn subscribe_unread(
    client: &Client,
    args: &SubscriptionsArgs,
    stream: &str,
    arn: &str,
    consumers: usize,
    shards: usize,
    metrics: &str,
) -> Result<Opened, String> {
    fill(client, stream, args.backlog_mib * shards).await?;
    let mut arns = Vec::with_capacity(consumers);
    for i in 0..consumers {
        arns.push(resources::register_consumer(client, arn, &format!("unread-{i}")).await?);
    }
    let shard_ids = resources::shard_ids(client, stream).await?;
    let start_rss = resources::resident_memory(metrics, &client.creds).await;
    let mut latency = Latency::new();
    let mut open = Vec::with_capacity(args.count);
    let mut failure = None;
    let began = Instant::now();
    'all: for shard in &shard_ids {
        for consumer in &arns {
            if open.len() == args.count {
                break 'all;
            }
            let body = serde_json::json!({
                "ConsumerARN": consumer,
                "ShardId": shard,
                "StartingPosition": {"Type": "TRIM_HORIZON"},
            });
            let started = Instant::now();
            match super::e2e::open(client, &body, true).await {
                Ok(response) if response.status().is_success() => {
                    latency.record(started.elapsed());
                    open.push(response);
                }
                Ok(response) => {
                    failure = Some(format!("SubscribeToShard: HTTP {}", response.status()));
                    break 'all;
                }
                Err(f) => {
                    failure = Some(format!("SubscribeToShard: {f}"));
                    break 'all;
                }
            }
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let end_rss = resources::resident_memory(metrics, &client.creds).await;
    Ok(Opened { latency, open, failure, seconds, rss: (start_rss, end_rss) })
}

/// Puts `mib` MiB of records on random partition keys.
async fn fill(client: &Client, stream: &str, mib: usize) -> Result<(), String> {
    let data = super::records::record_data(RECORD_BYTES, false);
    let calls = (mib * 1024 * 1024).div_ceil(BATCH * RECORD_BYTES);
    let mut rng = fastrand::Rng::new();
    let mut conn = client.conn();
    for _ in 0..calls {
        let body = super::records::body(stream, &data, BATCH, 1 << 20, &mut rng);
        let reply = conn
            .send("Kinesis_20131202.PutRecords", body)
            .await
            .map_err(|f| format!("PutRecords: {f}"))?;
        let outcome = super::records::check(&reply);
        if let Some((kind, _)) = outcome.errors.first() {
            return Err(format!("PutRecords: {kind}"));
        }
    }
    Ok(())
}
