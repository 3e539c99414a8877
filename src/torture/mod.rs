//! `sluice torture`: a crash harness. Concurrent clients write unique, versioned items
//! to tables with a DynamoDB stream and a Kinesis destination (one into a stream of the
//! same sluice, and with `--remote` one into a second sluice playing a remote Kinesis
//! endpoint); sluice is killed with SIGKILL at a random moment of every cycle (the remote
//! now and then too) and started again on its data; after every restart everything is
//! read back and checked (`verify`): every acknowledged write present, the DynamoDB
//! stream and the local destination holding every change exactly once in per-item order,
//! the remote destination every change at least once in order, and every unknown write
//! wholly present or wholly absent.

pub mod bridge_source;
pub mod daemon;
mod feeds;
mod http;
mod verify;
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

pub use daemon::command as daemon_command;
use daemon::{Daemon, Spec};
use http::Http;
use verify::{FeedTally, TableCheck};
use workload::{Client, Shared, Write};

/// What to run.
#[derive(Debug, Clone)]
pub struct TortureOptions {
    pub cycles: u32,
    /// How long writers run in a cycle; the kill comes at a random moment of it.
    pub cycle: Duration,
    pub clients: usize,
    pub seed: u64,
    /// Also forward a table to a second sluice (a remote Kinesis endpoint).
    pub remote: bool,
    /// Where the daemons keep their data (kept afterwards); None: a temporary directory.
    pub dir: Option<PathBuf>,
    /// How long a check waits for a lagging destination to catch up.
    pub settle: Duration,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct TortureReport {
    pub cycles: u32,
    pub kills: u32,
    pub remote_kills: u32,
    /// Writes checked: acknowledged plus unknown, over the whole run.
    pub writes_checked: usize,
    pub acked: usize,
    pub refused: usize,
    pub unknown: usize,
    pub unknown_applied: usize,
    pub unknown_absent: usize,
    pub unknown_noop: usize,
    /// DynamoDB stream shards read, closed ones included.
    pub stream_shards: usize,
    pub items_checked: usize,
    pub items_wrong: usize,
    pub stream: FeedTally,
    pub local_destination: FeedTally,
    pub remote_destination: Option<FeedTally>,
    /// Checks (one per restart, and the last) that found a violation.
    pub failed_checks: u32,
    /// A `--bridge-source` run: the remote destination is fed by the source bridge, and
    /// the killed daemons are bridge instances.
    pub bridged: bool,
}

impl TortureReport {
    /// Acknowledged writes lost, or changes lost or duplicated where sluice promises
    /// exactly once, or anything out of order: what must be zero.
    pub fn violations(&self) -> usize {
        self.items_wrong
            + self.stream.violations(true)
            + self.local_destination.violations(true)
            + self.remote_destination.as_ref().map_or(0, |r| r.violations(false))
    }

    pub fn print(&self) {
        match self.bridged {
            true => {
                println!("cycles run: {}, kills of bridge instances: {}", self.cycles, self.kills)
            }
            false => println!(
                "cycles run: {}, kills of sluice: {}, kills of the remote: {}",
                self.cycles, self.kills, self.remote_kills
            ),
        }
        println!(
            "writes checked: {} (acknowledged {}, unknown at a kill {}: applied {}, absent {}, deletes of nothing {}; refused {})",
            self.writes_checked,
            self.acked,
            self.unknown,
            self.unknown_applied,
            self.unknown_absent,
            self.unknown_noop,
            self.refused
        );
        println!("items checked: {}, wrong or lost: {}", self.items_checked, self.items_wrong);
        let feed = |name: &str, t: &FeedTally| {
            println!(
                "{name:<36} records {}, lost {}, duplicated {} (with another eventID {}), out of order {}, unexpected {}",
                t.records, t.lost, t.duplicated, t.duplicated_new_id, t.out_of_order, t.unexpected
            );
            for e in &t.examples {
                println!("    {e}");
            }
        };
        feed(&format!("dynamodb stream ({} shards):", self.stream_shards), &self.stream);
        if !self.bridged {
            feed("local kinesis destination:", &self.local_destination);
        }
        if let Some(r) = &self.remote_destination {
            feed(
                if self.bridged {
                    "bridged kinesis stream:"
                } else {
                    "remote kinesis destination:"
                },
                r,
            );
            println!(
                "    (at least once: a change whose delivery was in flight at a kill is sent again, with its eventID)"
            );
        }
        println!("checks failed: {}, violations: {}", self.failed_checks, self.violations());
    }
}

const LOCAL_TABLE: &str = "torture_local";
const REMOTE_TABLE: &str = "torture_remote";
const LOCAL_STREAM: &str = "torture_feed";
const REMOTE_ARN: &str = "arn:aws:kinesis:eu-west-1:111122223333:stream/torture_remote_feed";
/// The remote sink's own region (its default namespace, where the forwarder writes).
const REMOTE_REGION: &str = "eu-west-1";
const REMOTE_STREAM: &str = "torture_remote_feed";

fn main_config(remote_port: Option<u16>) -> String {
    let mut config = String::from(
        "[storage]\ndurability = \"fsync\"\n[dynamodb]\npartitions_per_table = 2\n[streams]\nshard_rollover_seconds = 2\nmaintenance_interval_ms = 200\n[log]\nlevel = \"warn\"\n[bridge]\nretry_initial_ms = 20\nretry_max_ms = 200\nrequest_timeout_ms = 2000\n",
    );
    if let Some(port) = remote_port {
        config.push_str(&format!(
            "[[bridge.remotes]]\nstream_arn = \"{REMOTE_ARN}\"\nendpoint = \"http://127.0.0.1:{port}\"\naccess_key_id = \"AKIDTORTURE\"\nsecret_access_key = \"torture\"\n"
        ));
    }
    config
}

fn remote_config(port: u16) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\ndurability = \"fsync\"\n[aws]\naccount_id = \"111122223333\"\nregion = \"eu-west-1\"\n[log]\nlevel = \"warn\"\n"
    )
}

/// Creates the tables, streams and destinations on fresh daemons.
async fn set_up(main: SocketAddr, remote: Option<SocketAddr>) -> Result<(), String> {
    let mut http = Http::new(main);
    let kinesis = |name: &str| json!({"StreamName": name, "ShardCount": 2});
    http.ok("Kinesis_20131202.CreateStream", kinesis(LOCAL_STREAM)).await?;
    if let Some(remote) = remote {
        let mut remote = Http::in_region(remote, REMOTE_REGION);
        remote.ok("Kinesis_20131202.CreateStream", kinesis(REMOTE_STREAM)).await?;
    }
    let local_arn = format!("arn:aws:kinesis:us-east-1:000000000000:stream/{LOCAL_STREAM}");
    let mut tables = vec![(LOCAL_TABLE, local_arn)];
    if remote.is_some() {
        tables.push((REMOTE_TABLE, REMOTE_ARN.to_string()));
    }
    for (table, arn) in tables {
        let create = json!({
            "TableName": table,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        });
        http.ok("DynamoDB_20120810.CreateTable", create).await?;
        let enable = json!({"TableName": table, "StreamArn": arn});
        http.ok("DynamoDB_20120810.EnableKinesisStreamingDestination", enable).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = http
                .ok(
                    "DynamoDB_20120810.DescribeKinesisStreamingDestination",
                    json!({"TableName": table}),
                )
                .await?;
            if d["KinesisDataStreamDestinations"][0]["DestinationStatus"] == "ACTIVE" {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the destination of {table} never became ACTIVE: {d}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// The running daemons and how to restart them.
struct Daemons {
    main_spec: Spec,
    main: Option<Daemon>,
    remote_spec: Option<Spec>,
    remote: Option<Daemon>,
}

/// Reads a destination until it holds at least `want` distinct changes (a bridge may
/// still be catching up after a restart) or `settle` passed.
async fn read_destination(
    addr: SocketAddr,
    region: &str,
    stream: &str,
    want: usize,
    settle: Duration,
) -> Result<Vec<feeds::Event>, String> {
    let deadline = Instant::now() + settle;
    let mut http = Http::in_region(addr, region);
    loop {
        let events = feeds::kinesis_stream(&mut http, stream).await?;
        if verify::distinct(&events) >= want || Instant::now() > deadline {
            return Ok(events);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads everything back and checks it against every write made so far.
async fn check(
    daemons: &Daemons,
    writes: &[Write],
    settle: Duration,
) -> Result<TortureReport, String> {
    let main = daemons.main.as_ref().map(|d| d.addr).ok_or("sluice is not running")?;
    let mut http = Http::new(main);
    let mut report = TortureReport::default();
    let mut tables = vec![LOCAL_TABLE];
    if daemons.remote_spec.is_some() {
        tables.push(REMOTE_TABLE);
    }
    for table in tables {
        let mine: Vec<&Write> = writes.iter().filter(|w| w.table == table).collect();
        let items = feeds::items(&mut http, table).await?;
        let (stream, shards) = feeds::dynamodb_stream(&mut http, table).await?;
        report.stream_shards += shards;
        let (t, chains) = verify::table(&mine, &items, &stream);
        let want: usize = chains.values().map(Vec::len).sum();
        let destination = if table == LOCAL_TABLE {
            let events = read_destination(main, "us-east-1", LOCAL_STREAM, want, settle).await?;
            verify::destination(&chains, &events)
        } else {
            let remote =
                daemons.remote.as_ref().map(|d| d.addr).ok_or("the remote is not running")?;
            let events =
                read_destination(remote, REMOTE_REGION, REMOTE_STREAM, want, settle).await?;
            verify::destination(&chains, &events)
        };
        add(&mut report, &t);
        if table == LOCAL_TABLE {
            report.local_destination = destination;
        } else {
            report.remote_destination = Some(destination);
        }
    }
    Ok(report)
}

fn add(report: &mut TortureReport, t: &TableCheck) {
    report.acked += t.writes_acked;
    report.refused += t.writes_refused;
    report.unknown += t.writes_unknown;
    report.writes_checked += t.writes_acked + t.writes_unknown;
    report.unknown_applied += t.unknown_applied;
    report.unknown_absent += t.unknown_absent;
    report.unknown_noop += t.unknown_noop;
    report.items_checked += t.items_checked;
    report.items_wrong += t.items_wrong;
    let s = &mut report.stream;
    s.records += t.stream.records;
    s.lost += t.stream.lost;
    s.duplicated += t.stream.duplicated;
    s.duplicated_new_id += t.stream.duplicated_new_id;
    s.out_of_order += t.stream.out_of_order;
    s.unexpected += t.stream.unexpected;
    s.examples.extend(t.stream.examples.iter().cloned());
    s.examples.extend(t.item_examples.iter().cloned());
}

/// Lets the writers run, and kills sluice (SIGKILL) at a random moment in the second half
/// of the cycle, while writes are in flight; in about a third of the cycles the remote
/// is killed (and started again) before.
async fn kill_while_writing(
    daemons: &mut Daemons,
    rng: &mut fastrand::Rng,
    cycle: Duration,
    tally: &mut TortureReport,
) -> Result<(), String> {
    let cycle_ms = cycle.as_millis() as u64;
    let kill_at = Duration::from_millis(cycle_ms / 2 + rng.u64(..=cycle_ms / 2));
    if daemons.remote.is_some() && rng.u32(..3) == 0 {
        tokio::time::sleep(kill_at / 2).await;
        if let Some(r) = daemons.remote.take() {
            r.kill();
        }
        tally.remote_kills += 1;
        tokio::time::sleep(Duration::from_millis(rng.u64(20..200))).await;
        daemons.remote = daemons.remote_spec.as_ref().map(Spec::start).transpose()?;
        tokio::time::sleep(kill_at / 2).await;
    } else {
        tokio::time::sleep(kill_at).await;
    }
    if let Some(m) = daemons.main.take() {
        m.kill();
    }
    tally.kills += 1;
    Ok(())
}

/// Runs the torture and returns its report (Err when the harness itself could not run).
pub async fn run(opts: TortureOptions) -> Result<TortureReport, String> {
    let temp;
    let root = match &opts.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().map_err(|e| e.to_string())?;
            temp.path().to_path_buf()
        }
    };
    let remote_port = if opts.remote { Some(daemon::free_port()?) } else { None };
    let exe = daemon::this_binary()?;
    let remote_spec = remote_port.map(|port| Spec {
        exe: exe.clone(),
        dir: root.join("remote"),
        config: remote_config(port),
        port: None,
    });
    let main_spec =
        Spec { exe, dir: root.join("sluice"), config: main_config(remote_port), port: Some(0) };
    let remote = remote_spec.as_ref().map(Spec::start).transpose()?;
    let main = main_spec.start()?;
    set_up(main.addr, remote.as_ref().map(|d| d.addr)).await?;
    let mut daemons = Daemons { main_spec, main: Some(main), remote_spec, remote };
    println!(
        "sluice torture: seed {}, {} cycles of {:?}, {} clients, data in {}",
        opts.seed,
        opts.cycles,
        opts.cycle,
        opts.clients,
        root.display()
    );

    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut clients: Vec<Client> = (0..opts.clients)
        .map(|id| Client { id, rng: fastrand::Rng::with_seed(rng.u64(..)) })
        .collect();
    let mut tables = vec![LOCAL_TABLE.to_string()];
    if opts.remote {
        tables.push(REMOTE_TABLE.to_string());
    }
    let shared =
        Arc::new(Shared { tables, versions: AtomicU64::new(1), stop: AtomicBool::new(false) });
    let mut writes: Vec<Write> = Vec::new();
    let mut tally = TortureReport::default();
    for cycle in 0..opts.cycles {
        let addr = daemons.main.as_ref().map(|d| d.addr).ok_or("sluice is not running")?;
        shared.stop.store(false, Ordering::SeqCst);
        let tasks: Vec<_> = clients
            .drain(..)
            .map(|c| tokio::spawn(workload::run(c, addr, shared.clone())))
            .collect();
        kill_while_writing(&mut daemons, &mut rng, opts.cycle, &mut tally).await?;
        shared.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            let (client, log) = task.await.map_err(|e| e.to_string())?;
            clients.push(client);
            writes.extend(log);
        }
        daemons.main = Some(daemons.main_spec.start()?);
        // Now and then a second kill while the restarted sluice recovers (its bridge
        // catching up on what the first kill left).
        if rng.u32(..4) == 0 {
            tokio::time::sleep(Duration::from_millis(rng.u64(..100))).await;
            if let Some(m) = daemons.main.take() {
                m.kill();
            }
            tally.kills += 1;
            daemons.main = Some(daemons.main_spec.start()?);
        }
        tally.cycles = cycle + 1;
        let mut report = check(&daemons, &writes, opts.settle).await?;
        let bad = report.violations();
        println!(
            "cycle {}: {} writes so far, {} unknown; {} records in the stream; violations {bad}",
            cycle + 1,
            report.writes_checked,
            report.unknown,
            report.stream.records
        );
        if bad > 0 {
            tally.failed_checks += 1;
            (report.cycles, report.kills, report.remote_kills) =
                (tally.cycles, tally.kills, tally.remote_kills);
            report.failed_checks = tally.failed_checks;
            report.print();
        }
    }
    // The last cycle's check read the same state; this one is the report.
    let mut report = check(&daemons, &writes, opts.settle).await?;
    (report.cycles, report.kills, report.remote_kills) =
        (tally.cycles, tally.kills, tally.remote_kills);
    report.failed_checks = tally.failed_checks + u32::from(report.violations() > 0);
    drop(daemons);
    Ok(report)
}
