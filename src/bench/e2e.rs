//! The e2e workload: PutItem (at `--rate`) into a table with a DynamoDB stream and a
//! Kinesis destination, read back at once by every path a change takes out of the
//! endpoint — `--consumers` enhanced fan-out consumers (SubscribeToShard over h2c, one
//! subscription per shard each, resubscribed from their continuation when a stream
//! ends), a GetRecords poller per destination shard, and a DynamoDB Streams poller per
//! stream shard. Each item carries its send time (`t`, wall-clock µs), so a reader's
//! latency is its arrival time minus `t`. A path that cannot be set up on a peer is
//! reported unavailable with the error, and the others still run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::cli::E2eArgs;
use super::client::{Client, Failure, error_type};
use super::histogram::Latency;
use super::items::{Items, Op};
use super::load::{Load, MakeRequest, drive, plain};
use super::report::{Delivery, Report};
use super::resources;

/// When readers stop: once every write has been seen, or at the drain deadline.
#[derive(Default)]
struct Control {
    writes_done: AtomicBool,
    written: AtomicU64,
    stop: AtomicBool,
}

impl Control {
    fn finished(&self, delivered: u64) -> bool {
        self.stop.load(Ordering::Relaxed)
            || (self.writes_done.load(Ordering::Relaxed)
                && delivered >= self.written.load(Ordering::Relaxed))
    }
}

/// One delivery path's shared count.
#[derive(Default)]
struct PathCount {
    delivered: AtomicU64,
}

/// What one reader task saw.
#[derive(Default)]
struct Seen {
    latency: Latency,
    last: Option<Instant>,
    errors: BTreeMap<String, u64>,
}

impl Seen {
    fn record(&mut self, change: &Value, count: &PathCount) {
        let now = crate::clock::wall_micros();
        if let Some(sent) = sent_micros(change) {
            self.latency.record_micros((now - sent).max(0) as u64);
            self.last = Some(Instant::now());
            count.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// The send time an item carries, from a change record (DynamoDB Streams or Kinesis form).
pub fn sent_micros(change: &Value) -> Option<i64> {
    change["dynamodb"]["NewImage"]["t"]["N"].as_str().and_then(|t| t.parse().ok())
}

/// A Kinesis record's data decoded as the JSON change record it carries.
pub fn kinesis_change(record: &Value) -> Option<Value> {
    let data = base64::engine::general_purpose::STANDARD.decode(record["Data"].as_str()?).ok()?;
    serde_json::from_slice(&data).ok()
}

type Reader = JoinHandle<Seen>;

/// A delivery path: its name, its count, its reader tasks, why it is unavailable.
type Path = (String, Arc<PathCount>, Vec<Reader>, Option<String>);

pub async fn run(
    client: &Client,
    args: &E2eArgs,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    let table = resources::fresh_name("sluice-bench");
    let dest = format!("{table}-dest");
    let stream_arn = resources::create_table(client, &table, false, true).await?;
    let mut dest_created = false;
    let result =
        measure(client, args, load, report, &table, &dest, stream_arn, &mut dest_created).await;
    if args.common.keep {
        report.notes.push(format!("kept table {table} and stream {dest}"));
    } else {
        report.notes.extend(resources::delete_table(client, &table).await);
        if dest_created {
            report.notes.extend(resources::delete_stream(client, &dest).await);
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    client: &Client,
    args: &E2eArgs,
    load: &Load,
    report: &mut Report,
    table: &str,
    dest: &str,
    stream_arn: Option<String>,
    dest_created: &mut bool,
) -> Result<(), String> {
    let ctl = Arc::new(Control::default());
    let mut paths: Vec<Path> = Vec::new();
    let destination = async {
        let arn = resources::create_stream(client, dest, args.shards).await?;
        *dest_created = true;
        resources::enable_destination(client, table, &arn).await?;
        let shards = resources::shard_ids(client, dest).await?;
        Ok::<_, String>((arn, shards))
    }
    .await;
    match &destination {
        Err(e) => {
            for c in 0..args.consumers {
                paths.push((
                    format!("fanout consumer-{c}"),
                    Default::default(),
                    vec![],
                    Some(e.clone()),
                ));
            }
            paths.push(("kinesis GetRecords".into(), Default::default(), vec![], Some(e.clone())));
        }
        Ok((arn, shards)) => {
            for c in 0..args.consumers {
                let name = format!("consumer-{c}");
                let count = Arc::new(PathCount::default());
                match resources::register_consumer(client, arn, &name).await {
                    Err(e) => paths.push((format!("fanout {name}"), count, vec![], Some(e))),
                    Ok(consumer) => {
                        let readers = shards
                            .iter()
                            .map(|shard| {
                                tokio::spawn(subscribe(
                                    client.clone(),
                                    consumer.clone(),
                                    shard.clone(),
                                    count.clone(),
                                    ctl.clone(),
                                ))
                            })
                            .collect();
                        paths.push((format!("fanout {name}"), count, readers, None));
                    }
                }
            }
            let count = Arc::new(PathCount::default());
            let readers = shards
                .iter()
                .map(|shard| {
                    let stream = json!({"StreamName": dest});
                    tokio::spawn(poll(
                        client.clone(),
                        Api::Kinesis,
                        stream,
                        shard.clone(),
                        count.clone(),
                        ctl.clone(),
                        args.poll_interval,
                    ))
                })
                .collect();
            paths.push(("kinesis GetRecords".into(), count, readers, None));
        }
    }
    match &stream_arn {
        None => paths.push((
            "dynamodb-streams GetRecords".into(),
            Default::default(),
            vec![],
            Some("DescribeTable: no LatestStreamArn".into()),
        )),
        Some(arn) => {
            let count = Arc::new(PathCount::default());
            let manager = tokio::spawn(stream_shards(
                client.clone(),
                arn.clone(),
                count.clone(),
                ctl.clone(),
                args.poll_interval,
            ));
            paths.push(("dynamodb-streams GetRecords".into(), count, vec![manager], None));
        }
    }
    // Subscriptions take a moment to open; records written before are still read, from
    // TRIM_HORIZON, but their latency would include the wait.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let items = Arc::new(Items::new(table, args.common.item_size, args.common.key_space, 0));
    let make: MakeRequest = Arc::new(move |n, rng| items.request(Op::Put, n, rng));
    let started = Instant::now();
    let writes = drive("e2e-writes", client, load, make, Arc::new(plain)).await;
    let written = writes.requests - writes.errors.min(writes.requests);
    ctl.written.store(written, Ordering::Relaxed);
    ctl.writes_done.store(true, Ordering::Relaxed);
    report.measurements.push(writes);

    let deadline = Instant::now() + args.drain;
    while Instant::now() < deadline
        && paths.iter().any(|(_, count, readers, _)| {
            !readers.is_empty() && count.delivered.load(Ordering::Relaxed) < written
        })
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctl.stop.store(true, Ordering::Relaxed);

    let mut fanout_total = None;
    for (path, count, readers, unavailable) in paths {
        let mut all = Seen::default();
        for r in readers {
            if let Ok(seen) = r.await {
                all.latency.merge(&seen.latency);
                all.last = all.last.max(seen.last);
                for (k, n) in seen.errors {
                    *all.errors.entry(k).or_default() += n;
                }
            }
        }
        let delivered = count.delivered.load(Ordering::Relaxed);
        let span = all.last.map_or(0.0, |l| l.saturating_duration_since(started).as_secs_f64());
        let records_per_s = if span > 0.0 { delivered as f64 / span } else { 0.0 };
        if path.starts_with("fanout") && unavailable.is_none() {
            *fanout_total.get_or_insert(0.0) += records_per_s;
        }
        report.deliveries.push(Delivery {
            path,
            delivered,
            written,
            records_per_s,
            latency: all.latency.percentiles(),
            errors_by_type: all.errors,
            unavailable,
        });
    }
    report.fanout_total_records_per_s = fanout_total;
    Ok(())
}

/// The two polling APIs.
#[derive(Debug, Clone, Copy)]
enum Api {
    Kinesis,
    DynamoDbStreams,
}

impl Api {
    fn target(self, op: &str) -> String {
        match self {
            Api::Kinesis => format!("Kinesis_20131202.{op}"),
            Api::DynamoDbStreams => format!("DynamoDBStreams_20120810.{op}"),
        }
    }
}

/// Polls one shard from TRIM_HORIZON with GetRecords until the run is over or the shard
/// is closed and read to its end.
async fn poll(
    client: Client,
    api: Api,
    stream: Value,
    shard: String,
    count: Arc<PathCount>,
    ctl: Arc<Control>,
    interval: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let mut conn = client.conn();
    let mut request = stream;
    request["ShardId"] = json!(shard);
    request["ShardIteratorType"] = json!("TRIM_HORIZON");
    let mut iterator = loop {
        if ctl.finished(count.delivered.load(Ordering::Relaxed)) {
            return seen;
        }
        match conn.call(&api.target("GetShardIterator"), &request).await {
            Ok(v) => break v["ShardIterator"].as_str().map(str::to_string),
            Err(f) => {
                seen.error(f.kind());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    while let Some(it) = iterator.take() {
        if ctl.finished(count.delivered.load(Ordering::Relaxed)) {
            break;
        }
        match conn
            .call(&api.target("GetRecords"), &json!({"ShardIterator": it, "Limit": 1000}))
            .await
        {
            Ok(out) => {
                let records = out["Records"].as_array().cloned().unwrap_or_default();
                for r in &records {
                    match api {
                        Api::Kinesis => match kinesis_change(r) {
                            Some(change) => seen.record(&change, &count),
                            None => seen.error("undecodable record".into()),
                        },
                        Api::DynamoDbStreams => seen.record(r, &count),
                    }
                }
                iterator = out["NextShardIterator"].as_str().map(str::to_string);
                if records.is_empty() {
                    tokio::time::sleep(interval).await;
                }
            }
            Err(f) => {
                seen.error(f.kind());
                tokio::time::sleep(interval.max(Duration::from_millis(100))).await;
                iterator = Some(it);
            }
        }
    }
    seen
}

/// Finds the DynamoDB stream's shards (again every second, for shards that roll over)
/// and polls each new one.
async fn stream_shards(
    client: Client,
    arn: String,
    count: Arc<PathCount>,
    ctl: Arc<Control>,
    interval: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let mut known = BTreeSet::new();
    let mut readers = Vec::new();
    while !ctl.finished(count.delivered.load(Ordering::Relaxed)) {
        match client
            .call("DynamoDBStreams_20120810.DescribeStream", &json!({"StreamArn": arn}))
            .await
        {
            Ok(v) => {
                for shard in v["StreamDescription"]["Shards"].as_array().into_iter().flatten() {
                    let Some(id) = shard["ShardId"].as_str() else { continue };
                    if known.insert(id.to_string()) {
                        let stream = json!({"StreamArn": arn});
                        readers.push(tokio::spawn(poll(
                            client.clone(),
                            Api::DynamoDbStreams,
                            stream,
                            id.to_string(),
                            count.clone(),
                            ctl.clone(),
                            interval,
                        )));
                    }
                }
            }
            Err(f) => seen.error(f.kind()),
        }
        for _ in 0..20 {
            if ctl.finished(count.delivered.load(Ordering::Relaxed)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for r in readers {
        if let Ok(s) = r.await {
            seen.latency.merge(&s.latency);
            seen.last = seen.last.max(s.last);
            for (k, n) in s.errors {
                *seen.errors.entry(k).or_default() += n;
            }
        }
    }
    seen
}

/// Opens a SubscribeToShard over h2c (as the SDKs do), or over HTTP/1.1 once h2c failed
/// (a peer without prior-knowledge HTTP/2).
pub(super) async fn open(
    client: &Client,
    body: &Value,
    h2: bool,
) -> Result<hyper::Response<Incoming>, Failure> {
    let transport = |e: String| Failure::Transport(e);
    let tcp = tokio::net::TcpStream::connect(client.endpoint.addr)
        .await
        .map_err(|e| transport(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let target = "Kinesis_20131202.SubscribeToShard";
    let bytes = body.to_string().into_bytes();
    if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(tcp),
        )
        .await
        .map_err(|e| transport(e.to_string()))?;
        tokio::spawn(conn);
        sender
            .send_request(client.request(target, bytes, true))
            .await
            .map_err(|e| transport(e.to_string()))
    } else {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp))
                .await
                .map_err(|e| transport(e.to_string()))?;
        tokio::spawn(conn);
        let mut request = client.request(target, bytes, false);
        if let Ok(host) = client.endpoint.host.parse() {
            request.headers_mut().insert("host", host);
        }
        sender.send_request(request).await.map_err(|e| transport(e.to_string()))
    }
}

fn header(m: &Message, name: &str) -> String {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok().map(|s| s.as_str().to_string()))
        .unwrap_or_default()
}

/// One consumer's subscription to one shard, renewed until the run is over.
async fn subscribe(
    client: Client,
    consumer: String,
    shard: String,
    count: Arc<PathCount>,
    ctl: Arc<Control>,
) -> Seen {
    let mut seen = Seen::default();
    let mut position = json!({"Type": "TRIM_HORIZON"});
    let mut h2 = true;
    while !ctl.finished(count.delivered.load(Ordering::Relaxed)) {
        let body = json!({"ConsumerARN": consumer, "ShardId": shard, "StartingPosition": position});
        let response = match open(&client, &body, h2).await {
            Ok(r) => r,
            Err(f) => {
                seen.error(format!("SubscribeToShard {}", f.kind()));
                h2 = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let status = response.status().as_u16();
        if status >= 300 {
            let header = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body =
                response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            seen.error(error_type(status, header.as_deref(), &body));
            // A subscription refused while the previous one is still held
            // (ResourceInUseException) clears within seconds.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let mut body = response.into_body();
        let mut decoder = MessageFrameDecoder::new();
        let mut buf = BytesMut::new();
        'stream: while !ctl.finished(count.delivered.load(Ordering::Relaxed)) {
            let frame = match tokio::time::timeout(Duration::from_millis(100), body.frame()).await {
                Err(_) => continue,
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    seen.error(format!("SubscribeToShard stream: {e}"));
                    break;
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else { continue };
            buf.extend_from_slice(&data);
            loop {
                let message = match decoder.decode_frame(&mut buf) {
                    Ok(DecodedFrame::Complete(m)) => m,
                    Ok(DecodedFrame::Incomplete) => break,
                    Err(e) => {
                        seen.error(format!("event stream: {e}"));
                        break 'stream;
                    }
                };
                if header(&message, ":message-type") != "event" {
                    seen.error(header(&message, ":exception-type"));
                    break 'stream;
                }
                if header(&message, ":event-type") != "SubscribeToShardEvent" {
                    continue;
                }
                let Ok(event) = serde_json::from_slice::<Value>(message.payload()) else {
                    seen.error("undecodable event".into());
                    continue;
                };
                for r in event["Records"].as_array().into_iter().flatten() {
                    match kinesis_change(r) {
                        Some(change) => seen.record(&change, &count),
                        None => seen.error("undecodable record".into()),
                    }
                }
                if let Some(next) = event["ContinuationSequenceNumber"].as_str() {
                    position = json!({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": next});
                }
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_come_out_of_both_record_forms() {
        let change = json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "k1"}, "t": {"N": "1700000000000123"}}}});
        assert_eq!(sent_micros(&change), Some(1_700_000_000_000_123));
        let data = base64::engine::general_purpose::STANDARD.encode(change.to_string());
        let record = json!({"Data": data, "PartitionKey": "x"});
        assert_eq!(
            kinesis_change(&record).as_ref().and_then(sent_micros),
            Some(1_700_000_000_000_123)
        );
        assert_eq!(sent_micros(&json!({"dynamodb": {"Keys": {}}})), None);
        assert!(kinesis_change(&json!({"Data": "!!"})).is_none());
    }

    #[test]
    fn readers_stop_when_everything_arrived_or_at_the_deadline() {
        let ctl = Control::default();
        assert!(!ctl.finished(10));
        ctl.written.store(5, Ordering::Relaxed);
        ctl.writes_done.store(true, Ordering::Relaxed);
        assert!(!ctl.finished(4));
        assert!(ctl.finished(5));
        ctl.stop.store(true, Ordering::Relaxed);
        assert!(ctl.finished(0));
    }
}
