//! `sluice torture --bridge-source`: several sluice instances share, through a lease
//! table, the forwarding of a table served by another sluice (the "external" source,
//! never killed) into a Kinesis stream of a third (the destination). Every cycle one
//! bridge instance, chosen at random, is killed with SIGKILL while writes go on, and
//! started again a moment later; the check after each cycle reads the source's table and
//! stream and the destination, and wants every change there at least once, each item's
//! changes in order by their last copy, with the source's eventIDs.

use std::time::Duration;

use serde_json::json;

use super::daemon::{self, Daemon, Spec};
use super::http::Http;
use super::workload::{self, Client, Shared, Write};
use super::{TortureOptions, TortureReport, add, feeds, read_destination, verify};

const TABLE: &str = "torture_source";
const STREAM: &str = "torture_source_feed";
const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/torture_source_feed";
/// Short, so a killed instance's shards move within the cycle.
const LEASE_MS: u64 = 1000;

fn source_config() -> String {
    "[storage]\ndurability = \"fsync\"\n[dynamodb]\npartitions_per_table = 4\n[streams]\nshard_rollover_seconds = 2\nmaintenance_interval_ms = 200\n[log]\nlevel = \"warn\"\n".into()
}

fn destination_config() -> String {
    "[storage]\ndurability = \"fsync\"\n[log]\nlevel = \"warn\"\n".into()
}

fn bridge_config(i: usize, source: &Daemon, destination: &Daemon) -> String {
    let (s, d) = (source.addr, destination.addr);
    format!(
        "[log]\nlevel = \"warn\"\n[bridge]\nworker_id = \"b{i}\"\nlease_duration_ms = {LEASE_MS}\nretry_initial_ms = 20\nretry_max_ms = 200\nrequest_timeout_ms = 2000\n\
         [[bridge.remotes]]\nstream_arn = \"{ARN}\"\nendpoint = \"http://{d}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIDTORTURE\"\nsecret_access_key = \"torture\"\n\
         [[bridge.sources]]\nname = \"torture\"\nendpoint = \"http://{s}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIDTORTURE\"\nsecret_access_key = \"torture\"\n\
         table = \"{TABLE}\"\ndestination = \"{ARN}\"\nlease_table = \"torture_leases\"\nlease_endpoint = \"http://{s}\"\npoll_interval_ms = 20\n"
    )
}

/// Runs the torture with `instances` bridge instances.
pub async fn run(opts: TortureOptions, instances: usize) -> Result<TortureReport, String> {
    let temp;
    let root = match &opts.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().map_err(|e| e.to_string())?;
            temp.path().to_path_buf()
        }
    };
    let exe = daemon::this_binary()?;
    let spec = |dir: &str, config: String| Spec {
        exe: exe.clone(),
        dir: root.join(dir),
        config,
        port: Some(0),
    };
    let source = spec("source", source_config()).start()?;
    let destination = spec("destination", destination_config()).start()?;
    let mut http = Http::new(source.addr);
    let create = json!({
        "TableName": TABLE,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    });
    http.ok("DynamoDB_20120810.CreateTable", create).await?;
    let stream = json!({"StreamName": STREAM, "ShardCount": 4});
    Http::new(destination.addr).ok("Kinesis_20131202.CreateStream", stream).await?;
    let specs: Vec<Spec> = (0..instances)
        .map(|i| spec(&format!("bridge{i}"), bridge_config(i, &source, &destination)))
        .collect();
    let mut bridges: Vec<Option<Daemon>> =
        specs.iter().map(|s| s.start().map(Some)).collect::<Result<_, _>>()?;
    println!(
        "sluice torture --bridge-source: seed {}, {} bridge instances, {} cycles of {:?}, {} clients, data in {}",
        opts.seed,
        instances,
        opts.cycles,
        opts.cycle,
        opts.clients,
        root.display()
    );

    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut clients: Vec<Client> = (0..opts.clients)
        .map(|id| Client { id, rng: fastrand::Rng::with_seed(rng.u64(..)) })
        .collect();
    let shared = std::sync::Arc::new(Shared {
        tables: vec![TABLE.to_string()],
        versions: std::sync::atomic::AtomicU64::new(1),
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    let mut writes: Vec<Write> = Vec::new();
    let (mut cycles, mut kills, mut failed_checks) = (0, 0, 0);
    for cycle in 0..opts.cycles {
        shared.stop.store(false, std::sync::atomic::Ordering::SeqCst);
        let tasks: Vec<_> = clients
            .drain(..)
            .map(|c| tokio::spawn(workload::run(c, source.addr, shared.clone())))
            .collect();
        // A random instance dies at a random moment, and comes back a little later.
        let cycle_ms = opts.cycle.as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(rng.u64(cycle_ms / 4..=cycle_ms / 2 + 1))).await;
        let victim = rng.usize(..instances);
        if let Some(b) = bridges[victim].take() {
            b.kill();
            kills += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(20..=cycle_ms / 2 + 20))).await;
        bridges[victim] = Some(specs[victim].start()?);
        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for task in tasks {
            let (client, log) = task.await.map_err(|e| e.to_string())?;
            clients.push(client);
            writes.extend(log);
        }
        cycles = cycle + 1;
        let report = check(source.addr, destination.addr, &writes, opts.settle).await?;
        let bad = report.violations();
        let d = report.remote_destination.as_ref().map_or(0, |t| t.records);
        println!(
            "cycle {}: {} writes so far; {} records forwarded; violations {bad}",
            cycle + 1,
            report.writes_checked,
            d
        );
        if bad > 0 {
            failed_checks += 1;
            report.print();
        }
    }
    let mut report = check(source.addr, destination.addr, &writes, opts.settle).await?;
    (report.cycles, report.kills) = (cycles, kills);
    report.failed_checks = failed_checks + u32::from(report.violations() > 0);
    drop((bridges, source, destination));
    Ok(report)
}

/// Every write against the source's table and stream, and the destination against them.
async fn check(
    source: std::net::SocketAddr,
    destination: std::net::SocketAddr,
    writes: &[Write],
    settle: Duration,
) -> Result<TortureReport, String> {
    let mut http = Http::new(source);
    let mine: Vec<&Write> = writes.iter().collect();
    let items = feeds::items(&mut http, TABLE).await?;
    let (stream, shards) = feeds::dynamodb_stream(&mut http, TABLE).await?;
    let (t, chains) = verify::table(&mine, &items, &stream);
    let want: usize = chains.values().map(Vec::len).sum();
    let events = read_destination(destination, "us-east-1", STREAM, want, settle).await?;
    let mut report = TortureReport { stream_shards: shards, ..TortureReport::default() };
    add(&mut report, &t);
    report.remote_destination = Some(verify::destination(&chains, &events));
    report.bridged = true;
    Ok(report)
}
