//! The tables and streams a run creates: created with a fresh name, waited on until
//! ACTIVE (peers create asynchronously), deleted at the end unless `--keep`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Client, Failure};
use crate::engine::bridge::remote::sigv4::{self, Signer};

const WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);

/// A name no earlier run used: `sluice-bench-<8 hex>`.
pub fn fresh_name(prefix: &str) -> String {
    format!("{prefix}-{:08x}", fastrand::u32(..))
}

fn setup_error(what: &str, f: Failure) -> String {
    format!("{what}: {f}")
}

/// Polls `describe` until `status_of` its answer is ACTIVE.
async fn wait_active(
    client: &Client,
    what: &str,
    target: &str,
    body: Value,
    status_of: impl Fn(&Value) -> Option<String>,
) -> Result<Value, String> {
    let start = Instant::now();
    loop {
        let answer = client.call(target, &body).await.map_err(|f| setup_error(what, f))?;
        let status = status_of(&answer);
        if status.as_deref() == Some("ACTIVE") {
            return Ok(answer);
        }
        if start.elapsed() > WAIT {
            return Err(format!("{what}: still {status:?} after {WAIT:?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The benchmark table: `pk` (S) as hash key, `sk` (S) as range key when `sort_key`,
/// on-demand, with a NEW_AND_OLD_IMAGES DynamoDB stream when `stream`. Returns its
/// LatestStreamArn (None without a stream).
pub async fn create_table(
    client: &Client,
    name: &str,
    sort_key: bool,
    stream: bool,
) -> Result<Option<String>, String> {
    let mut attrs = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
    let mut keys = vec![json!({"AttributeName": "pk", "KeyType": "HASH"})];
    if sort_key {
        attrs.push(json!({"AttributeName": "sk", "AttributeType": "S"}));
        keys.push(json!({"AttributeName": "sk", "KeyType": "RANGE"}));
    }
    let mut body = json!({
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attrs,
        "KeySchema": keys,
    });
    if stream {
        body["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    }
    client
        .call("DynamoDB_20120810.CreateTable", &body)
        .await
        .map_err(|f| setup_error("CreateTable", f))?;
    let table = wait_active(
        client,
        "DescribeTable",
        "DynamoDB_20120810.DescribeTable",
        json!({"TableName": name}),
        |v| v["Table"]["TableStatus"].as_str().map(str::to_string),
    )
    .await?;
    Ok(table["Table"]["LatestStreamArn"].as_str().map(str::to_string))
}

/// A Kinesis stream of `shards` shards, waited on until ACTIVE; returns its ARN.
pub async fn create_stream(client: &Client, name: &str, shards: u32) -> Result<String, String> {
    client
        .call("Kinesis_20131202.CreateStream", &json!({"StreamName": name, "ShardCount": shards}))
        .await
        .map_err(|f| setup_error("CreateStream", f))?;
    let described = wait_active(
        client,
        "DescribeStreamSummary",
        "Kinesis_20131202.DescribeStreamSummary",
        json!({"StreamName": name}),
        |v| v["StreamDescriptionSummary"]["StreamStatus"].as_str().map(str::to_string),
    )
    .await?;
    described["StreamDescriptionSummary"]["StreamARN"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "DescribeStreamSummary: no StreamARN".to_string())
}

/// The stream's shard ids (first page of ListShards is enough for a fresh stream).
pub async fn shard_ids(client: &Client, stream: &str) -> Result<Vec<String>, String> {
    let out = client
        .call("Kinesis_20131202.ListShards", &json!({"StreamName": stream}))
        .await
        .map_err(|f| setup_error("ListShards", f))?;
    Ok(out["Shards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
        .collect())
}

/// Turns on the table's Kinesis streaming destination and waits until it is ACTIVE.
pub async fn enable_destination(
    client: &Client,
    table: &str,
    stream_arn: &str,
) -> Result<(), String> {
    client
        .call(
            "DynamoDB_20120810.EnableKinesisStreamingDestination",
            &json!({"TableName": table, "StreamArn": stream_arn}),
        )
        .await
        .map_err(|f| setup_error("EnableKinesisStreamingDestination", f))?;
    wait_active(
        client,
        "DescribeKinesisStreamingDestination",
        "DynamoDB_20120810.DescribeKinesisStreamingDestination",
        json!({"TableName": table}),
        |v| {
            v["KinesisDataStreamDestinations"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["StreamArn"] == stream_arn)
                .and_then(|d| d["DestinationStatus"].as_str().map(str::to_string))
        },
    )
    .await
    .map(|_| ())
}

/// Registers an enhanced fan-out consumer and waits until it is ACTIVE; returns its ARN.
pub async fn register_consumer(
    client: &Client,
    stream_arn: &str,
    name: &str,
) -> Result<String, String> {
    let out = client
        .call(
            "Kinesis_20131202.RegisterStreamConsumer",
            &json!({"StreamARN": stream_arn, "ConsumerName": name}),
        )
        .await
        .map_err(|f| setup_error("RegisterStreamConsumer", f))?;
    let arn = out["Consumer"]["ConsumerARN"].as_str().unwrap_or_default().to_string();
    wait_active(
        client,
        "DescribeStreamConsumer",
        "Kinesis_20131202.DescribeStreamConsumer",
        json!({"ConsumerARN": arn}),
        |v| v["ConsumerDescription"]["ConsumerStatus"].as_str().map(str::to_string),
    )
    .await?;
    Ok(arn)
}

/// Deletes what a run created; failures are notes, not errors of the run.
pub async fn delete_table(client: &Client, name: &str) -> Option<String> {
    client
        .call("DynamoDB_20120810.DeleteTable", &json!({"TableName": name}))
        .await
        .err()
        .map(|f| format!("DeleteTable {name}: {f}"))
}

pub async fn delete_stream(client: &Client, name: &str) -> Option<String> {
    client
        .call(
            "Kinesis_20131202.DeleteStream",
            &json!({"StreamName": name, "EnforceConsumerDeletion": true}),
        )
        .await
        .err()
        .map(|f| format!("DeleteStream {name}: {f}"))
}

/// Where the target's Prometheus text is: `given` (`--metrics-url`), or its `/metrics`.
pub fn metrics_url(client: &Client, given: Option<&str>) -> String {
    given.map_or_else(|| format!("http://{}/metrics", client.endpoint.host), str::to_string)
}

/// The target's `process_resident_memory_bytes` from its Prometheus text at `url`
/// (`http://host:port/metrics`), or None when it serves no such thing. Signed with the
/// run's credentials: a sluice enforcing signatures serves `/metrics` on its API port to
/// its configured keys only.
pub async fn resident_memory(url: &str, creds: &super::client::Credentials) -> Option<u64> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) =
        rest.split_once('/').map_or((rest, "/metrics".to_string()), |(h, p)| (h, format!("/{p}")));
    let endpoint = super::client::Endpoint::parse(host).ok()?;
    let tcp =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(endpoint.addr))
            .await
            .ok()?
            .ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.ok()?;
    tokio::spawn(conn);
    let date = sigv4::amz_date(crate::clock::wall_micros() / 1000);
    let signed = [("host", host), ("x-amz-date", date.as_str())];
    let canonical =
        sigv4::Request { method: "GET", path: &path, query: "", headers: &signed, payload: b"" };
    let signer = Signer {
        access_key_id: &creds.access_key,
        secret_access_key: &creds.secret_key,
        region: &creds.region,
        service: "dynamodb",
    };
    let request = hyper::Request::get(path.as_str())
        .header("host", host)
        .header("x-amz-date", date.as_str())
        .header("authorization", signer.authorization(&canonical, &date))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .ok()?;
    let response = tokio::time::timeout(Duration::from_secs(5), sender.send_request(request))
        .await
        .ok()?
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = http_body_util::BodyExt::collect(response.into_body()).await.ok()?.to_bytes();
    parse_resident_memory(&String::from_utf8_lossy(&body))
}

/// Reports `done` units created one after another in `seconds` (each one's time in
/// `latency`) as measurement `name`, and the target's RSS before and after them with the
/// cost of one unit (`per`, as in "KiB of RSS per {per}") in the notes.
#[allow(clippy::too_many_arguments)] // one measurement's whole record
pub fn report_cost(
    report: &mut super::report::Report,
    name: &str,
    per: &str,
    done: u64,
    failed: bool,
    seconds: f64,
    latency: &super::histogram::Latency,
    rss: (Option<u64>, Option<u64>, &str),
) {
    report.measurements.push(super::report::Measurement {
        name: name.into(),
        requests: done,
        errors: u64::from(failed),
        seconds,
        requests_per_s: done as f64 / seconds.max(1e-9),
        latency: latency.percentiles(),
        ..Default::default()
    });
    match rss {
        (Some(start), Some(end), _) if done > 0 => {
            report.target_rss_bytes =
                Some(super::report::Rss { start: Some(start), end: Some(end) });
            let each = end.saturating_sub(start) as f64 / done as f64 / 1024.0;
            report.notes.push(format!("{each:.1} KiB of RSS per {per}"));
        }
        (_, _, url) => report.notes.push(format!("no process_resident_memory_bytes at {url}")),
    }
}

/// The value of `process_resident_memory_bytes` in Prometheus text.
pub fn parse_resident_memory(text: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes"))
        .and_then(|rest| rest.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_from_prometheus_text() {
        let text = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                    # TYPE process_resident_memory_bytes gauge\n\
                    process_resident_memory_bytes 5.1707904e+07\nprocess_open_fds 12\n";
        assert_eq!(parse_resident_memory(text), Some(51_707_904));
        assert_eq!(parse_resident_memory("up 1\n"), None);
        assert!(fresh_name("sluice-bench").starts_with("sluice-bench-"));
    }
}
