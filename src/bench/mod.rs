//! `sluice bench`: measures request rate and latency of DynamoDB operations against a
//! running sluice (or any DynamoDB endpoint), next to a bare hyper server that only parses
//! the JSON body and answers — the baseline DESIGN.md's write budget is stated against.
//!
//! Keep-alive HTTP/1.1 connections, each with one request in flight; numbers go to stdout.

mod bridge;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The endpoint under test, e.g. 127.0.0.1:8000.
    pub endpoint: SocketAddr,
    /// Concurrent connections.
    pub connections: usize,
    /// How long to measure.
    pub duration: Duration,
    /// Item payload size in bytes.
    pub item_bytes: usize,
    /// Also measure the bare-hyper baseline.
    pub baseline: bool,
    /// Turn the table's DynamoDB stream and a Kinesis destination on, and measure how
    /// long a change takes from its PutItem to a GetRecords reader of the destination.
    pub bridge: bool,
}

/// One run's results.
#[derive(Debug)]
pub struct BenchResult {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl BenchResult {
    fn print(&self) {
        println!(
            "{:<28} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} requests, {} errors)",
            self.name,
            self.requests as f64 / self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.requests,
            self.errors
        );
    }
}

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";

fn request(addr: SocketAddr, target: &str, body: String) -> Request<Full<Bytes>> {
    let content_type = if target.starts_with("Kinesis") {
        "application/x-amz-json-1.1"
    } else {
        "application/x-amz-json-1.0"
    };
    Request::post("/")
        .header("host", addr.to_string())
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body)))
        .expect("valid request")
}

async fn send_once(addr: SocketAddr, target: &str, body: String) -> Result<(u16, Bytes), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response =
        sender.send_request(request(addr, target, body)).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body))
}

/// Drives `connections` connections of PutItem against `addr` for `duration`.
async fn run_puts(
    name: &str,
    addr: SocketAddr,
    table: &str,
    opts: &BenchOptions,
) -> Result<BenchResult, String> {
    let payload = "x".repeat(opts.item_bytes);
    let deadline = Instant::now() + opts.duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..opts.connections {
        let payload = payload.clone();
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let mut latencies = Vec::new();
            let (mut n, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let t = crate::clock::wall_micros();
                let body = format!(
                    r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"c{conn}-{n}"}},"v":{{"S":"{payload}"}},"n":{{"N":"{n}"}},"t":{{"N":"{t}"}}}}}}"#
                );
                let sent = Instant::now();
                let response = sender
                    .send_request(request(addr, "DynamoDB_20120810.PutItem", body))
                    .await
                    .map_err(|e| e.to_string())?;
                let ok = response.status().is_success();
                response.into_body().collect().await.map_err(|e| e.to_string())?;
                latencies.push(sent.elapsed());
                n += 1;
                errors += u64::from(!ok);
            }
            Ok::<_, String>((n, errors, latencies))
        }));
    }
    let (mut requests, mut errors, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let (n, e, l) = task.await.map_err(|e| e.to_string())??;
        requests += n;
        errors += e;
        latencies.extend(l);
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(BenchResult {
        name: name.to_string(),
        requests,
        errors,
        seconds: started.elapsed().as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// The baseline: a bare hyper server that parses each JSON body and answers `{}`.
async fn start_baseline() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    let parsed: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let answer = if parsed.is_object() {
                        "{}"
                    } else {
                        "{\"__type\":\"SerializationException\"}"
                    };
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from_static(
                        answer.as_bytes(),
                    ))))
                });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(addr)
}

/// Runs the benchmark and prints one line per measurement.
pub async fn run(opts: BenchOptions) -> Result<Vec<BenchResult>, String> {
    let table = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let create = format!(
        r#"{{"TableName":"{table}","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}}]}}"#
    );
    let create = if opts.bridge {
        create.replacen(
            r#""BillingMode""#,
            r#""StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"},"BillingMode""#,
            1,
        )
    } else {
        create
    };
    let (status, body) = send_once(opts.endpoint, "DynamoDB_20120810.CreateTable", create).await?;
    if status != 200 {
        return Err(format!("CreateTable failed: {status} {}", String::from_utf8_lossy(&body)));
    }
    let reader = if opts.bridge {
        Some(bridge::start(opts.endpoint, &table, opts.duration).await?)
    } else {
        None
    };
    println!(
        "sluice bench: {} connections, {:?}, {}-byte items, endpoint {}",
        opts.connections, opts.duration, opts.item_bytes, opts.endpoint
    );
    let mut results = Vec::new();
    if opts.baseline && !opts.bridge {
        let addr = start_baseline().await?;
        let r = run_puts("baseline (bare hyper+json)", addr, &table, &opts).await?;
        r.print();
        results.push(r);
    }
    let r = run_puts("PutItem", opts.endpoint, &table, &opts).await?;
    r.print();
    results.push(r);
    if let Some(reader) = reader {
        let r = reader.await.map_err(|e| e.to_string())??;
        r.print();
        results.push(r);
    }
    if opts.baseline && !opts.bridge && results[0].requests > 0 {
        let ratio = (results[1].requests as f64 / results[1].seconds)
            / (results[0].requests as f64 / results[0].seconds);
        println!("PutItem / baseline rate: {ratio:.2}");
    }
    let _ = send_once(
        opts.endpoint,
        "DynamoDB_20120810.DeleteTable",
        format!(r#"{{"TableName":"{table}"}}"#),
    )
    .await;
    Ok(results)
}
