//! `sluice bench --bridge`: a Kinesis destination on the benchmark table and a reader
//! polling it with GetRecords, measuring each change's time from its PutItem being sent
//! to the reader seeing it (the item carries its send time in `t`, wall-clock µs).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{BenchResult, send_once};

async fn call(addr: SocketAddr, target: &str, body: Value) -> Result<Value, String> {
    let (status, bytes) = send_once(addr, target, body.to_string()).await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{target}: {status} {v}"));
    }
    Ok(v)
}

/// Creates the destination stream, enables it on `table`, and starts the reader, which
/// runs for `duration` plus a grace second and returns the latencies it saw.
pub async fn start(
    addr: SocketAddr,
    table: &str,
    duration: Duration,
) -> Result<JoinHandle<Result<BenchResult, String>>, String> {
    let stream = format!("{table}-changes");
    call(addr, "Kinesis_20131202.CreateStream", json!({"StreamName": stream, "ShardCount": 4}))
        .await?;
    let arn = format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}");
    call(
        addr,
        "DynamoDB_20120810.EnableKinesisStreamingDestination",
        json!({"TableName": table, "StreamArn": arn}),
    )
    .await?;
    let shards = call(addr, "Kinesis_20131202.ListShards", json!({"StreamName": stream})).await?;
    let mut iterators = Vec::new();
    for shard in shards["Shards"].as_array().cloned().unwrap_or_default() {
        let it = call(
            addr,
            "Kinesis_20131202.GetShardIterator",
            json!({"StreamName": stream, "ShardId": shard["ShardId"], "ShardIteratorType": "LATEST"}),
        )
        .await?;
        iterators.push(it["ShardIterator"].as_str().unwrap_or_default().to_string());
    }
    Ok(tokio::spawn(async move {
        let deadline = Instant::now() + duration + Duration::from_secs(1);
        let started = Instant::now();
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            let mut idle = true;
            for it in &mut iterators {
                let out =
                    call(addr, "Kinesis_20131202.GetRecords", json!({"ShardIterator": it})).await?;
                let now = crate::clock::wall_micros();
                for r in out["Records"].as_array().into_iter().flatten() {
                    idle = false;
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(r["Data"].as_str().unwrap_or_default())
                        .map_err(|e| e.to_string())?;
                    let change: Value = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
                    let sent = change["dynamodb"]["NewImage"]["t"]["N"]
                        .as_str()
                        .and_then(|t| t.parse::<i64>().ok());
                    if let Some(sent) = sent {
                        latencies.push(Duration::from_micros((now - sent).max(0) as u64));
                    }
                }
                if let Some(next) = out["NextShardIterator"].as_str() {
                    *it = next.to_string();
                }
            }
            if idle {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        latencies.sort();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Ok(BenchResult {
            name: "PutItem -> Kinesis reader".into(),
            requests: latencies.len() as u64,
            errors: 0,
            seconds: started.elapsed().as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        })
    }))
}
