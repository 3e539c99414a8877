//! The triggers workload: PutItem (at `--rate`) into a table with a DynamoDB stream that
//! `--mappings` Lambda event source mappings read, each invoking its own function. The
//! functions are a no-op Invoke-API server this process runs on `--handler-listen`; the
//! endpoint under test must send invocations there (start sluice with
//! `SLUICE_LAMBDA_ENDPOINT=http://<handler-listen>`). Each item carries its send time
//! (`t`), so every record a function receives gives one write→handler latency. With
//! `--backlog N`, N items are written first (unmeasured) and the mappings start at
//! TRIM_HORIZON: their drain rate is the delivery throughput while writes continue.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::cli::TriggersArgs;
use super::client::Client;
use super::histogram::Latency;
use super::items::{Items, Op};
use super::load::{Load, MakeRequest, drive, plain};
use super::report::{Delivery, Report};
use super::resources;

/// The most of an invocation the handler reads: Lambda's 6 MiB payload limit and a
/// little more.
const MAX_EVENT: usize = 6 * 1024 * 1024 + 1024;

/// What one function received.
#[derive(Default)]
struct Received {
    latency: Latency,
    records: u64,
    invocations: u64,
    last: Option<Instant>,
    /// When its records first reached the backlog's size.
    backlog_done: Option<Instant>,
}

/// Every function's counts, and the send time before which latencies are not recorded
/// (the backlog's).
struct Handler {
    functions: Mutex<BTreeMap<String, Received>>,
    measure_from_micros: std::sync::atomic::AtomicI64,
    /// Items written before the mappings.
    backlog: std::sync::atomic::AtomicU64,
}

pub async fn run(
    client: &Client,
    args: &TriggersArgs,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    let handler = Arc::new(Handler {
        functions: Mutex::new(BTreeMap::new()),
        measure_from_micros: i64::MAX.into(),
        backlog: 0.into(),
    });
    let listen: SocketAddr =
        args.handler_listen.parse().map_err(|e| format!("--handler-listen: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("--handler-listen {listen}: {e}"))?;
    let server = tokio::spawn(serve(listener, handler.clone()));
    let table = resources::fresh_name("sluice-bench");
    let result = async {
        let arn = resources::create_table(client, &table, false, true)
            .await?
            .ok_or("the table has no LatestStreamArn")?;
        measure(client, args, load, report, &table, &arn, &handler).await
    }
    .await;
    server.abort();
    if args.common.keep {
        report.notes.push(format!("kept table {table}"));
    } else {
        report.notes.extend(resources::delete_table(client, &table).await);
    }
    result
}

async fn measure(
    client: &Client,
    args: &TriggersArgs,
    load: &Load,
    report: &mut Report,
    table: &str,
    arn: &str,
    handler: &Arc<Handler>,
) -> Result<(), String> {
    let items = Arc::new(Items::new(table, args.common.item_size, args.common.key_space, 0));
    let mut backlog_written = 0;
    if args.backlog > 0 {
        let backlog = Load { requests: Some(args.backlog), rate: None, ..load.clone() };
        let items = items.clone();
        let make: MakeRequest = Arc::new(move |n, rng| items.request(Op::Put, n, rng));
        let m = drive("backlog", client, &backlog, make, Arc::new(plain)).await;
        backlog_written = m.requests - m.errors.min(m.requests);
        handler.backlog.store(backlog_written, std::sync::atomic::Ordering::Relaxed);
        report.measurements.push(m);
    }
    let mut uuids = Vec::new();
    for i in 0..args.mappings {
        let body = json!({
            "FunctionName": format!("sluice-bench-fn-{i}"),
            "EventSourceArn": arn,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": args.batch_size,
            "MaximumBatchingWindowInSeconds": args.batching_window,
        });
        let out = client
            .lambda("POST", "/2015-03-31/event-source-mappings/", Some(&body))
            .await
            .map_err(|e| format!("CreateEventSourceMapping: {}", e.kind()))?;
        uuids.push(out["UUID"].as_str().unwrap_or_default().to_string());
    }
    let started = Instant::now();
    handler
        .measure_from_micros
        .store(crate::clock::wall_micros(), std::sync::atomic::Ordering::Relaxed);
    let make: MakeRequest = Arc::new(move |n, rng| items.request(Op::Put, n, rng));
    let writes = drive("triggers-writes", client, load, make, Arc::new(plain)).await;
    let written = backlog_written + writes.requests - writes.errors.min(writes.requests);
    report.measurements.push(writes);

    let deadline = Instant::now() + args.drain;
    let behind = || {
        let functions = handler.functions.lock().unwrap_or_else(|e| e.into_inner());
        (0..args.mappings).any(|i| {
            functions.get(&format!("sluice-bench-fn-{i}")).is_none_or(|f| f.records < written)
        })
    };
    while Instant::now() < deadline && behind() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let functions =
        std::mem::take(&mut *handler.functions.lock().unwrap_or_else(|e| e.into_inner()));
    for i in 0..args.mappings {
        let name = format!("sluice-bench-fn-{i}");
        let got = functions.get(&name);
        let delivered = got.map_or(0, |f| f.records);
        let span = got
            .and_then(|f| f.last)
            .map_or(0.0, |l| l.saturating_duration_since(started).as_secs_f64());
        let invocations = got.map_or(0, |f| f.invocations);
        report.notes.push(format!(
            "{name}: {invocations} invocations, {:.1} records each",
            delivered as f64 / invocations.max(1) as f64
        ));
        if let Some(at) = got.and_then(|f| f.backlog_done) {
            let secs = at.saturating_duration_since(started).as_secs_f64();
            report.notes.push(format!(
                "{name}: the backlog's {backlog_written} records delivered in {secs:.2} s: {:.0} records/s while the writes went on",
                backlog_written as f64 / secs.max(1e-9)
            ));
        }
        report.deliveries.push(Delivery {
            path: format!("mapping {i} -> {name}"),
            delivered,
            written,
            records_per_s: if span > 0.0 { delivered as f64 / span } else { 0.0 },
            latency: got.map(|f| f.latency.percentiles()).unwrap_or_default(),
            errors_by_type: BTreeMap::new(),
            unavailable: None,
        });
    }
    for uuid in uuids {
        let path = format!("/2015-03-31/event-source-mappings/{uuid}");
        // A mapping still in a transition (Creating) cannot be deleted yet.
        let mut tries = 0;
        loop {
            match client.lambda("DELETE", &path, None).await {
                Err(e) if e.kind() == "ResourceInUseException" && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    report.notes.push(format!("DeleteEventSourceMapping {uuid}: {}", e.kind()));
                    break;
                }
                Ok(_) => break,
            }
        }
    }
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, handler: Arc<Handler>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(answer(req, &handler).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Where `needle` next occurs in `hay` from `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

fn occurrences(hay: &[u8], needle: &[u8]) -> u64 {
    let (mut n, mut at) = (0, 0);
    while let Some(i) = find(hay, needle, at) {
        n += 1;
        at = i + needle.len();
    }
    n
}

/// GetFunction: a plain 404, so the function is taken to exist (as behind a Runtime
/// Interface Emulator). Invoke: counts the records and their latency, answers `{}`.
async fn answer(req: Request<Incoming>, handler: &Handler) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some(name) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .filter(|_| req.method() == hyper::Method::POST)
        .map(str::to_string)
    else {
        let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
        return r;
    };
    let body = match Limited::new(req.into_body(), MAX_EVENT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    // A no-op handler should cost next to nothing, so the event is scanned, not parsed:
    // one `eventID` per record, and the send time in each NewImage.
    let now = crate::clock::wall_micros();
    let from = handler.measure_from_micros.load(std::sync::atomic::Ordering::Relaxed);
    let mut functions = handler.functions.lock().unwrap_or_else(|e| e.into_inner());
    let f = functions.entry(name).or_default();
    f.invocations += 1;
    f.records += occurrences(&body, b"\"eventID\":");
    let mut at = 0;
    while let Some(image) = find(&body, b"\"NewImage\":{", at) {
        at = image + 12;
        let Some(t) = find(&body, b"\"t\":{\"N\":\"", at) else { break };
        at = t + 10;
        let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let sent =
            std::str::from_utf8(&body[at..at + digits]).ok().and_then(|d| d.parse::<i64>().ok());
        if let Some(sent) = sent.filter(|t| *t >= from) {
            f.latency.record_micros((now - sent).max(0) as u64);
        }
    }
    f.last = Some(Instant::now());
    let backlog = handler.backlog.load(std::sync::atomic::Ordering::Relaxed);
    if backlog > 0 && f.records >= backlog && f.backlog_done.is_none() {
        f.backlog_done = f.last;
    }
    drop(functions);
    let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
    r.headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    r
}
