//! The source-bridge workload: `--endpoint` is the source (a sluice, or any DynamoDB and
//! DynamoDB Streams endpoint), `--destination` a Kinesis endpoint (a sluice). The bench
//! creates a table with a stream there and a stream here, writes `--backlog` items, then
//! starts `--instances` sluice bridge instances (this binary, each on an unsynced store in
//! a temporary directory, sharing a lease table at the source) and times how fast they
//! forward the backlog (the drain rate),
//! then writes at `--rate` for `--duration` while a reader polls the destination's
//! shards: write→destination latency (each item carries its send time `t`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::cli::SourceArgs;
use super::client::Client;
use super::e2e::{kinesis_change, sent_micros};
use super::histogram::Latency;
use super::items::{Items, Op};
use super::load::{Load, MakeRequest, drive, plain};
use super::report::{Delivery, Report};
use super::resources;
use crate::torture::daemon::{Daemon, Spec, this_binary};

/// What the destination reader saw.
#[derive(Default)]
struct Seen {
    records: AtomicU64,
    /// Latencies of items sent at or after this (wall micros; none until it is set).
    measure_from: AtomicI64,
    latency: std::sync::Mutex<Latency>,
    /// When the reader saw the first record, and the backlog's last.
    first: std::sync::Mutex<Option<Instant>>,
    backlog_done: std::sync::Mutex<Option<Instant>>,
    stop: AtomicBool,
}

/// A bridge instance's config. Its store is on disk in the run's temporary directory,
/// unsynced, not in memory: the instances end with SIGKILL, which would leave an
/// in-memory store's directory behind in the system's temporary directory.
fn bridge_config(args: &SourceArgs, i: usize, table: &str, arn: &str, leases: &str) -> String {
    let c = &args.common;
    format!(
        "[storage]\ndurability = \"none\"\n[log]\nlevel = \"warn\"\n[bridge]\nworker_id = \"bench-{i}\"\nlease_duration_ms = {lease}\n\
         [[bridge.remotes]]\nstream_arn = \"{arn}\"\nendpoint = \"{dest}\"\nregion = \"{region}\"\naccess_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\n\
         [[bridge.sources]]\nname = \"bench\"\nendpoint = \"{source}\"\nregion = \"{region}\"\naccess_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\n\
         table = \"{table}\"\ndestination = \"{arn}\"\nlease_table = \"{leases}\"\nlease_endpoint = \"{source}\"\npoll_interval_ms = {poll}\n",
        lease = args.lease_duration_ms,
        dest = args.destination,
        region = c.region,
        key = c.access_key,
        secret = c.secret_key,
        source = c.endpoint,
        poll = args.poll_interval_ms,
    )
}

pub async fn run(
    client: &Client,
    destination: &Client,
    args: &SourceArgs,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    let table = resources::fresh_name("sluice-bench");
    let stream = format!("{table}-changes");
    let leases = format!("{table}-leases");
    resources::create_table(client, &table, false, true).await?;
    let result = async {
        let arn = resources::create_stream(destination, &stream, args.shards).await?;
        measure(client, destination, args, load, report, (&table, &stream, &arn, &leases)).await
    }
    .await;
    if args.common.keep {
        report.notes.push(format!("kept table {table}, lease table {leases}, stream {stream}"));
    } else {
        report.notes.extend(resources::delete_table(client, &table).await);
        report.notes.extend(resources::delete_table(client, &leases).await);
        report.notes.extend(resources::delete_stream(destination, &stream).await);
    }
    result
}

async fn measure(
    client: &Client,
    destination: &Client,
    args: &SourceArgs,
    load: &Load,
    report: &mut Report,
    (table, stream, arn, leases): (&str, &str, &str, &str),
) -> Result<(), String> {
    let items = Arc::new(Items::new(table, args.common.item_size, args.common.key_space, 0));
    let mut backlog = 0;
    if args.backlog > 0 {
        // The count alone ends the backlog, however long it takes.
        let day = Duration::from_secs(86_400);
        let l = Load { requests: Some(args.backlog), rate: None, duration: day, ..load.clone() };
        let make = unique_puts(items.clone());
        let m = drive("backlog", client, &l, make, Arc::new(plain)).await;
        backlog = m.requests - m.errors.min(m.requests);
        report.measurements.push(m);
    }
    let seen = Arc::new(Seen { measure_from: AtomicI64::new(i64::MAX), ..Seen::default() });
    let shards = resources::shard_ids(destination, stream).await?;
    let readers: Vec<_> = shards
        .into_iter()
        .map(|shard| {
            tokio::spawn(read(
                destination.clone(),
                stream.to_string(),
                shard,
                seen.clone(),
                backlog,
            ))
        })
        .collect();

    // The bridges, started once the backlog is in.
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = this_binary()?;
    let started = Instant::now();
    let mut bridges: Vec<Daemon> = Vec::new();
    for i in 0..args.instances {
        let spec = Spec {
            exe: exe.clone(),
            dir: root.path().join(format!("bridge{i}")),
            config: bridge_config(args, i, table, arn, leases),
            port: Some(0),
        };
        bridges.push(spec.start()?);
    }
    if backlog > 0 {
        let deadline = Instant::now() + args.drain;
        while seen.backlog_done.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let first = *seen.first.lock().unwrap_or_else(|e| e.into_inner());
        let done = *seen.backlog_done.lock().unwrap_or_else(|e| e.into_inner());
        let got = seen.records.load(Ordering::Relaxed);
        match (first, done) {
            (Some(first), Some(done)) => {
                let secs = done.saturating_duration_since(first).as_secs_f64().max(1e-9);
                let whole = done.saturating_duration_since(started).as_secs_f64();
                report.deliveries.push(Delivery {
                    path: format!("backlog drain, {} instances", args.instances),
                    delivered: got.min(backlog),
                    written: backlog,
                    records_per_s: backlog as f64 / secs,
                    ..Delivery::default()
                });
                report.notes.push(format!(
                    "the backlog's {backlog} changes forwarded in {secs:.2} s from the first record ({whole:.2} s from starting {} instances): {:.0} changes/s",
                    args.instances,
                    backlog as f64 / secs
                ));
            }
            _ => report
                .notes
                .push(format!("the backlog was not drained in time: {got} of {backlog}")),
        }
    }

    // Paced writes, each one's latency to the destination.
    seen.measure_from.store(crate::clock::wall_micros(), Ordering::Relaxed);
    let before = seen.records.load(Ordering::Relaxed);
    let writes = drive("source-writes", client, load, unique_puts(items), Arc::new(plain)).await;
    let written = writes.requests - writes.errors.min(writes.requests);
    let writes_secs = writes.seconds;
    report.measurements.push(writes);
    let deadline = Instant::now() + args.drain;
    while seen.records.load(Ordering::Relaxed) < before + written && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    let delivered = seen.records.load(Ordering::Relaxed).saturating_sub(before);
    let latency = seen.latency.lock().unwrap_or_else(|e| e.into_inner()).percentiles();
    report.deliveries.push(Delivery {
        path: format!("write -> destination, {} instances", args.instances),
        delivered,
        written,
        records_per_s: delivered as f64 / writes_secs.max(1e-9),
        latency,
        ..Delivery::default()
    });
    for b in bridges {
        b.kill();
    }
    Ok(())
}

/// PutItems that each change their item (a number `u` no other carries), so every write
/// makes exactly one stream record: two puts of one key in the same microsecond would
/// otherwise be the same item, and the second no change at all.
fn unique_puts(items: Arc<Items>) -> MakeRequest {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    Arc::new(move |n, rng| {
        let (target, body) = items.request(Op::Put, n, rng);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let body = String::from_utf8_lossy(&body).replacen(
            r#""Item":{"#,
            &format!(r#""Item":{{"u":{{"N":"{unique}"}},"#),
            1,
        );
        (target, body.into_bytes())
    })
}

/// Reads one destination shard from its start until told to stop, counting records and
/// recording the latency of those sent after `measure_from`.
async fn read(client: Client, stream: String, shard: String, seen: Arc<Seen>, backlog: u64) {
    let body = json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
    let Ok(out) = client.call("Kinesis_20131202.GetShardIterator", &body).await else { return };
    let mut iterator = out["ShardIterator"].as_str().map(str::to_string);
    while let Some(it) = iterator.take() {
        if seen.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(out) = client
            .call("Kinesis_20131202.GetRecords", &json!({"ShardIterator": it, "Limit": 10000}))
            .await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            iterator = Some(it);
            continue;
        };
        let records = out["Records"].as_array().map_or(&[][..], Vec::as_slice);
        let now = crate::clock::wall_micros();
        let from = seen.measure_from.load(Ordering::Relaxed);
        if !records.is_empty() {
            let mut latency = seen.latency.lock().unwrap_or_else(|e| e.into_inner());
            for r in records {
                if let Some(sent) =
                    kinesis_change(r).as_ref().and_then(sent_micros).filter(|t| *t >= from)
                {
                    latency.record_micros((now - sent).max(0) as u64);
                }
            }
            drop(latency);
            seen.first.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Instant::now);
            let total = seen.records.fetch_add(records.len() as u64, Ordering::Relaxed)
                + records.len() as u64;
            if backlog > 0 && total >= backlog {
                seen.backlog_done
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(Instant::now);
            }
        }
        iterator = out["NextShardIterator"].as_str().map(str::to_string);
        if records.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
