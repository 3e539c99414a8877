//! What the console shows, gathered in one answer: each table (items, size, its stream
//! and Kinesis destinations with their lag), each Kinesis stream (shards, retention,
//! fan-out consumers and how far behind they are), each event source mapping (state,
//! last result, iterator age); and two pages on demand: a table's items and a stream's
//! newest records. The AWS-shaped parts come from the operations themselves
//! (`api::handle`), so the console shows what an SDK would see; lag comes from the
//! metrics the dashboards read.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::protocol::{RequestContext, Service};

/// At most this many tables, streams and mappings are listed (the overview stays small
/// and quick however many there are; the rest are counted).
pub const MAX_LISTED: usize = 200;
/// Items per page of the item browser, records in a stream's newest-records view.
pub const PAGE: usize = 25;
/// What is read of one shard for the newest-records view, and what of one record's data
/// is shown: the view stays small whatever the records' size.
const SHARD_READ_BYTES: usize = 64 * 1024;
const SHOWN_DATA_BYTES: usize = 4 * 1024;

fn context(engine: &Engine) -> RequestContext {
    RequestContext::internal(&engine.ns.region, &engine.ns.account, "console")
}

async fn call(engine: &Arc<Engine>, service: Service, op: &str, body: Value) -> Option<Value> {
    api::handle(engine, service, op, &context(engine), body).await.result.ok()
}

/// The overview: tables, Kinesis streams and mappings.
pub async fn overview(engine: &Arc<Engine>, metrics: &Metrics) -> Value {
    let mut names = engine.table_names();
    names.sort();
    let table_count = names.len();
    let mut tables = Vec::new();
    for name in names.into_iter().take(MAX_LISTED) {
        let Some(described) =
            call(engine, Service::DynamoDb, "DescribeTable", json!({"TableName": name})).await
        else {
            continue; // Deleted meanwhile.
        };
        let t = &described["Table"];
        let destinations = call(
            engine,
            Service::DynamoDb,
            "DescribeKinesisStreamingDestination",
            json!({"TableName": name}),
        )
        .await;
        let destinations: Vec<Value> = destinations
            .as_ref()
            .and_then(|d| d["KinesisDataStreamDestinations"].as_array())
            .into_iter()
            .flatten()
            .map(|d| {
                let arn = d["StreamArn"].as_str().unwrap_or_default();
                let stream = arn.rsplit('/').next().unwrap_or_default();
                let lag = metrics
                    .bridge
                    .replication_lag_seconds
                    .get_metric_with_label_values(&[&name, stream]);
                json!({
                    "stream_arn": arn,
                    "status": d["DestinationStatus"],
                    "lag_seconds": lag.map(|g| g.get()).unwrap_or(0.0),
                })
            })
            .collect();
        let stream = t["LatestStreamArn"]
            .as_str()
            .filter(|_| t["StreamSpecification"]["StreamEnabled"].as_bool().unwrap_or(false));
        let stream_lag = metrics.stream_iterator_age_seconds.get_metric_with_label_values(&[&name]);
        tables.push(json!({
            "name": name,
            "status": t["TableStatus"],
            "items": t["ItemCount"],
            "size_bytes": t["TableSizeBytes"],
            "key_schema": t["KeySchema"],
            "stream": stream.map(|arn| json!({
                "arn": arn,
                "view_type": t["StreamSpecification"]["StreamViewType"],
                "iterator_age_seconds": stream_lag.map(|g| g.get()).unwrap_or(0.0),
            })),
            "destinations": destinations,
        }));
    }

    let mut live = engine.kinesis.all();
    live.sort_by(|a, b| a.name().cmp(b.name()));
    let stream_count = live.len();
    let mut streams = Vec::new();
    for s in live.into_iter().take(MAX_LISTED) {
        let name = s.name().to_string();
        let Some(summary) =
            call(engine, Service::Kinesis, "DescribeStreamSummary", json!({"StreamName": name}))
                .await
        else {
            continue;
        };
        let d = &summary["StreamDescriptionSummary"];
        let arn = d["StreamARN"].as_str().unwrap_or_default().to_string();
        let listed = call(
            engine,
            Service::Kinesis,
            "ListStreamConsumers",
            json!({"StreamARN": arn, "MaxResults": 100}),
        )
        .await;
        let consumers: Vec<Value> = listed
            .as_ref()
            .and_then(|c| c["Consumers"].as_array())
            .into_iter()
            .flatten()
            .map(|c| {
                let consumer = c["ConsumerName"].as_str().unwrap_or_default();
                let behind = metrics
                    .fanout
                    .behind_latest_seconds
                    .get_metric_with_label_values(&[&name, consumer]);
                json!({
                    "name": consumer,
                    "status": c["ConsumerStatus"],
                    "behind_latest_seconds": behind.map(|g| g.get()).unwrap_or(0.0),
                })
            })
            .collect();
        let meta = s.meta();
        let shards: Vec<Value> = meta
            .shards
            .iter()
            .map(|sh| {
                let tip = s.shared.tip(sh.index);
                json!({
                    "id": sh.id(),
                    "open": sh.is_open(),
                    "records": tip.map(|t| t.next.saturating_sub(t.first)).unwrap_or(0),
                })
            })
            .collect();
        let age = metrics.kinesis.iterator_age_seconds.get_metric_with_label_values(&[&name]);
        let retained = metrics.kinesis.retained_records.get_metric_with_label_values(&[&name]);
        streams.push(json!({
            "name": name,
            "arn": arn,
            "status": d["StreamStatus"],
            "mode": d["StreamModeDetails"]["StreamMode"],
            "retention_hours": d["RetentionPeriodHours"],
            "retained_records": retained.map(|g| g.get()).unwrap_or(0),
            "iterator_age_seconds": age.map(|g| g.get()).unwrap_or(0.0),
            "shards": shards,
            "consumers": consumers,
        }));
    }

    let call = crate::protocol::rest::RestCall::internal("ListEventSourceMappings");
    let listed = api::lambda::mappings::list(engine, &call).await.unwrap_or_default();
    let mappings: Vec<Value> = listed["EventSourceMappings"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_LISTED)
        .map(|m| {
            let uuid = m["UUID"].as_str().unwrap_or_default();
            let function = m["FunctionArn"].as_str().unwrap_or_default();
            let short = function.rsplit(':').next().unwrap_or_default();
            let age = metrics.esm.iterator_age_seconds.get_metric_with_label_values(&[uuid, short]);
            json!({
                "uuid": uuid,
                "function": short,
                "source_arn": m["EventSourceArn"],
                "state": m["State"],
                "last_result": m["LastProcessingResult"],
                "batch_size": m["BatchSize"],
                "iterator_age_seconds": age.map(|g| g.get()).unwrap_or(0.0),
            })
        })
        .collect();
    json!({
        "region": engine.ns.region,
        "account": engine.ns.account,
        "tables": tables,
        "table_count": table_count,
        "streams": streams,
        "stream_count": stream_count,
        "mappings": mappings,
    })
}

/// One page of a table's items: a Scan of [`PAGE`] items from `start` (a
/// LastEvaluatedKey as the previous page gave it). `Err` is the AWS error's message.
pub async fn items(
    engine: &Arc<Engine>,
    table: &str,
    start: Option<Value>,
) -> Result<Value, String> {
    let mut body = json!({"TableName": table, "Limit": PAGE});
    if let Some(start) = start {
        body["ExclusiveStartKey"] = start;
    }
    let handled = api::handle(engine, Service::DynamoDb, "Scan", &context(engine), body).await;
    let out = handled.result.map_err(|e| {
        format!("table {table}: {}", e.message.unwrap_or_else(|| e.code.to_string()))
    })?;
    Ok(json!({"items": out["Items"], "next": out["LastEvaluatedKey"]}))
}

/// A stream's newest records, newest first: the last [`PAGE`] of each open shard (closed
/// ones take no more writes), merged by arrival. Data that is UTF-8 JSON is shown
/// decoded, anything else as base64; past [`SHOWN_DATA_BYTES`] it is cut (`truncated`).
pub async fn records(engine: &Arc<Engine>, stream: &str) -> Result<Value, String> {
    let live = engine.kinesis.get(stream).ok_or_else(|| format!("Stream {stream} not found"))?;
    let (stream_id, meta) = (live.id(), live.meta());
    // (arrival, shard index, shard id, sequence, partition key, shown data, cut)
    let mut all = Vec::new();
    for shard in meta.shards.iter().filter(|s| s.is_open()) {
        let Some(tip) = live.shared.tip(shard.index) else { continue };
        // The last PAGE records, read forward in bounded pieces (a read stops at
        // SHARD_READ_BYTES, so big records take several), each cut as it is read.
        let mut at = tip.next.saturating_sub(PAGE as u64).max(tip.first);
        while at < tip.next {
            let read = engine
                .kinesis_read(stream_id, shard.index, at, PAGE, SHARD_READ_BYTES)
                .await
                .map_err(|e| e.to_string())?;
            if read.records.is_empty() {
                break;
            }
            at = read.next;
            for r in read.records {
                let mut data = r.record.data;
                let cut = data.len() > SHOWN_DATA_BYTES;
                data.truncate(SHOWN_DATA_BYTES);
                let record = (r.record.arrival_ms, shard.index, shard.id(), r.seq);
                all.push((record, r.record.partition_key, data, cut));
            }
        }
    }
    all.sort_by_key(|r| std::cmp::Reverse((r.0.0, r.0.3)));
    let shown: Vec<Value> = all
        .into_iter()
        .take(PAGE)
        .map(|((arrival, index, shard, seq), partition_key, data, truncated)| {
            let decoded = (!truncated)
                .then(|| std::str::from_utf8(&data).ok())
                .flatten()
                .and_then(|t| serde_json::from_str::<Value>(t).ok());
            json!({
                "shard": shard,
                "sequence": seq,
                "sequence_number": crate::engine::kinesis::seqno::encode(stream_id, index, seq),
                "partition_key": partition_key,
                "arrival_ms": arrival,
                "base64": decoded.is_none().then(|| base64::engine::general_purpose::STANDARD.encode(&data)),
                "json": decoded,
                "truncated": truncated,
            })
        })
        .collect();
    Ok(json!({"records": shown}))
}
