//! `sluice bench <workload>`: a load generator that speaks the AWS wire protocol (awsJson,
//! signed with SigV4 like the SDKs) to any DynamoDB/Kinesis-compatible endpoint — sluice,
//! DynamoDB Local, LocalStack, moto, kinesalite — and reports throughput, latency
//! percentiles from an HDR histogram and errors by `__type`, for people or as JSON.
//!
//! `cli` holds the flags, `client` the signed HTTP client, `load` the driver (with `pace`
//! for --rate and --requests), `histogram` and `report` the results, `resources` the
//! tables and streams a run creates, `items`, `records`, `e2e` and `triggers` the
//! workloads, and
//! `ceiling` the in-process HTTP+JSON server the endpoint is compared with.

pub mod ceiling;
pub mod cli;
pub mod client;
pub mod connections;
pub mod e2e;
pub mod fsync;
pub mod histogram;
pub mod items;
pub mod load;
pub mod pace;
pub mod records;
pub mod report;
pub mod resources;
pub mod source;
pub mod subscriptions;
pub mod tables;
pub mod triggers;

use std::sync::Arc;
use std::time::Duration;

use cli::{Common, Workload};
use client::{Client, Credentials, Endpoint};
use items::{Items, Op};
use load::{Load, MakeRequest, drive, plain};
use report::{Measurement, Report};

/// How a run is driven, from the common flags.
pub fn load_of(c: &Common) -> Load {
    Load {
        concurrency: c.concurrency.max(1),
        // --requests alone ends the run; a day stands in for "no deadline".
        duration: if c.requests.is_some() { Duration::from_secs(86_400) } else { c.duration },
        requests: c.requests,
        rate: c.rate.filter(|r| *r > 0.0),
        progress: !c.quiet,
    }
}

fn client_of(c: &Common, endpoint: &str) -> Result<Client, String> {
    Ok(Client::new(
        Endpoint::parse(endpoint)?,
        Credentials {
            access_key: c.access_key.clone(),
            secret_key: c.secret_key.clone(),
            region: c.region.clone(),
        },
    ))
}

/// The ceiling phase: the in-process server driven with the workload's own request
/// bodies (PutRecords batches for put-records, PutItem bodies for the rest), never
/// rate-limited (a ceiling under a cap would make the ratio meaningless).
async fn ceiling(c: &Common, load: &Load, workload: &Workload) -> Result<Measurement, String> {
    let load = &Load { rate: None, ..load.clone() };
    let addr = ceiling::start().await?;
    let client = client_of(c, &addr.to_string())?;
    let make: MakeRequest = match workload {
        Workload::PutRecords(p) => records::maker("ceiling", p),
        _ => {
            let items = Arc::new(Items::new("ceiling", c.item_size, c.key_space, 0));
            Arc::new(move |n, rng| items.request(Op::Put, n, rng))
        }
    };
    Ok(drive("ceiling", &client, load, make, Arc::new(plain)).await)
}

/// Runs `workload` and returns its report (the caller prints it).
pub async fn run(workload: Workload) -> Result<Report, String> {
    let c = workload.common().clone();
    let client = client_of(&c, &c.endpoint)?;
    let load = load_of(&c);
    let mut report = Report {
        workload: workload.name().to_string(),
        endpoint: match &workload {
            Workload::Ceiling(_) => "in-process ceiling server".into(),
            Workload::Fsync(f) => format!("fdatasync in {}", f.dir),
            _ => c.endpoint.clone(),
        },
        settings: workload.settings(),
        ..Default::default()
    };
    if c.with_ceiling || matches!(workload, Workload::Ceiling(_)) {
        report.measurements.push(ceiling(&c, &load, &workload).await?);
    }
    let name = workload.name();
    match &workload {
        Workload::Ceiling(_) => {}
        Workload::PutItem(t) => {
            items::run(&client, Op::Put, name, t, 0, &load, &mut report).await?
        }
        Workload::UpdateItem(t) => {
            items::run(&client, Op::Update, name, t, 0, &load, &mut report).await?
        }
        Workload::GetItem(t) => {
            items::run(&client, Op::Get, name, t, 0, &load, &mut report).await?
        }
        Workload::Query(q) => {
            items::run(
                &client,
                Op::Query,
                name,
                &q.table,
                q.items_per_key.max(1),
                &load,
                &mut report,
            )
            .await?
        }
        Workload::Mixed(m) => {
            let ratio = m.read_ratio.clamp(0.0, 1.0);
            items::run(&client, Op::Mixed(ratio), name, &m.table, 0, &load, &mut report).await?
        }
        Workload::PutRecords(p) => records::run(&client, p, &load, &mut report).await?,
        Workload::E2e(e) => e2e::run(&client, e, &load, &mut report).await?,
        Workload::Triggers(t) => triggers::run(&client, t, &load, &mut report).await?,
        Workload::Fsync(f) => fsync::run(f, &mut report)?,
        Workload::Tables(t) => tables::run(&client, t, &mut report).await?,
        Workload::Connections(c) => connections::run(&client, c, &mut report).await?,
        Workload::Subscriptions(s) => subscriptions::run(&client, s, &mut report).await?,
        Workload::SourceBridge(s) => {
            let destination = client_of(&c, &s.destination)?;
            source::run(&client, &destination, s, &load, &mut report).await?
        }
    }
    // Only batch workloads report records separately from requests.
    if !matches!(workload, Workload::PutRecords(_)) {
        for m in &mut report.measurements {
            m.records = None;
            m.records_per_s = None;
        }
    }
    report.compute_ratio();
    Ok(report)
}
