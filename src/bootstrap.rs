//! Declarative bootstrap: the `[bootstrap]` section of the config names Kinesis streams,
//! DynamoDB tables (with indexes, stream and Kinesis destination), fan-out consumers and
//! Lambda event source mappings that sluice creates at start when they are missing and leaves alone when they exist, so starting twice
//! gives the same state. Everything goes through the API handlers, so a bootstrap entry
//! is checked exactly as the same request from a client would be.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api;
use crate::config::{BootstrapIndex, BootstrapKey, BootstrapMapping, BootstrapTable, Config};
use crate::engine::Engine;
use crate::protocol::{RequestContext, Service};

fn context(config: &Config) -> RequestContext {
    RequestContext::internal(&config.aws.region, &config.aws.account_id, "bootstrap")
}

async fn call(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    service: Service,
    op: &str,
    body: Value,
) -> Result<Value, String> {
    let handled = api::handle(engine, service, op, ctx, body).await;
    handled.result.map_err(|e| format!("{op}: {}: {}", e.code, e.message.unwrap_or_default()))
}

fn definitions(keys: &[&BootstrapKey]) -> Vec<Value> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for k in keys {
        if !seen.contains(&k.name.as_str()) {
            seen.push(&k.name);
            out.push(json!({"AttributeName": k.name, "AttributeType": k.ty}));
        }
    }
    out
}

fn key_schema(hash: &BootstrapKey, range: Option<&BootstrapKey>) -> Vec<Value> {
    std::iter::once(json!({"AttributeName": hash.name, "KeyType": "HASH"}))
        .chain(range.map(|r| json!({"AttributeName": r.name, "KeyType": "RANGE"})))
        .collect()
}

fn index_json(i: &BootstrapIndex) -> Value {
    let mut projection = json!({"ProjectionType": i.projection});
    if !i.non_key_attributes.is_empty() {
        projection["NonKeyAttributes"] = json!(i.non_key_attributes);
    }
    json!({"IndexName": i.name, "KeySchema": key_schema(&i.hash_key, i.range_key.as_ref()), "Projection": projection})
}

/// The CreateTable request of a bootstrap table.
fn create_table_request(t: &BootstrapTable) -> Value {
    let mut keys = vec![&t.hash_key];
    keys.extend(t.range_key.as_ref());
    for i in &t.indexes {
        keys.push(&i.hash_key);
        keys.extend(i.range_key.as_ref());
    }
    let mut body = json!({
        "TableName": t.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": definitions(&keys),
        "KeySchema": key_schema(&t.hash_key, t.range_key.as_ref()),
    });
    let (gsis, lsis): (Vec<_>, Vec<_>) = t.indexes.iter().partition(|i| i.global);
    if !gsis.is_empty() {
        body["GlobalSecondaryIndexes"] = gsis.into_iter().map(index_json).collect();
    }
    if !lsis.is_empty() {
        body["LocalSecondaryIndexes"] = lsis.into_iter().map(index_json).collect();
    }
    if let Some(view) = &t.stream {
        body["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": view});
    }
    body
}

/// Creates what the config declares and is missing. Returns a line per thing created.
pub async fn run(engine: &Arc<Engine>, config: &Config) -> Result<Vec<String>, String> {
    let ctx = context(config);
    let mut created = Vec::new();
    for s in &config.bootstrap.kinesis_streams {
        if engine.kinesis.get(&s.name).is_some() {
            continue;
        }
        let mut body = json!({"StreamName": s.name, "StreamModeDetails": {"StreamMode": s.mode}});
        if s.mode != "ON_DEMAND" {
            body["ShardCount"] = json!(s.shards);
        }
        call(engine, &ctx, Service::Kinesis, "CreateStream", body).await?;
        if s.retention_hours > 24 {
            call(
                engine,
                &ctx,
                Service::Kinesis,
                "IncreaseStreamRetentionPeriod",
                json!({"StreamName": s.name, "RetentionPeriodHours": s.retention_hours}),
            )
            .await?;
        }
        created.push(format!("Kinesis stream {}", s.name));
    }
    for t in &config.bootstrap.tables {
        if engine.table(&t.name).is_none() {
            call(engine, &ctx, Service::DynamoDb, "CreateTable", create_table_request(t)).await?;
            created.push(format!("table {}", t.name));
        }
        let Some(stream) = &t.kinesis_destination else { continue };
        let forwarding =
            engine.table(&t.name).and_then(|live| live.meta().forwarding_destination().cloned());
        if forwarding.is_none() {
            let arn = format!("arn:aws:kinesis:{}:{}:stream/{stream}", ctx.region, ctx.account_id);
            call(
                engine,
                &ctx,
                Service::DynamoDb,
                "EnableKinesisStreamingDestination",
                json!({"TableName": t.name, "StreamArn": arn}),
            )
            .await?;
            created.push(format!("destination {} -> {stream}", t.name));
        }
    }
    for c in &config.bootstrap.consumers {
        let arn = format!("arn:aws:kinesis:{}:{}:stream/{}", ctx.region, ctx.account_id, c.stream);
        let body = json!({"StreamARN": arn, "ConsumerName": c.name});
        let handled =
            api::handle(engine, Service::Kinesis, "RegisterStreamConsumer", &ctx, body).await;
        match handled.result {
            Ok(_) => created.push(format!("consumer {} of {}", c.name, c.stream)),
            // Registered already: leave it (and its ARN) as it is.
            Err(e) if e.code == "ResourceInUseException" => {}
            Err(e) => {
                return Err(format!(
                    "RegisterStreamConsumer: {}: {}",
                    e.code,
                    e.message.unwrap_or_default()
                ));
            }
        }
    }
    for m in &config.bootstrap.event_source_mappings {
        let body = mapping_request(engine, &ctx, m)?;
        let call = crate::protocol::rest::RestCall {
            operation: "CreateEventSourceMapping",
            function_name: None,
            uuid: None,
            query: Vec::new(),
            headers: Vec::new(),
            body: body.to_string().into(),
        };
        match api::lambda::mappings::create(engine, &call).await {
            Ok(v) => created.push(format!(
                "event source mapping {} of {} on {}",
                v["UUID"].as_str().unwrap_or_default(),
                m.function,
                body["EventSourceArn"].as_str().unwrap_or_default()
            )),
            // The function has a mapping on that source already: leave it as it is.
            Err(api::lambda::LambdaError::ResourceConflict(_)) => {}
            Err(e) => {
                let w = e.to_wire();
                return Err(format!(
                    "CreateEventSourceMapping: {}: {}",
                    w.code,
                    w.message.unwrap_or_default()
                ));
            }
        }
    }
    Ok(created)
}

/// The CreateEventSourceMapping body of a bootstrap mapping.
fn mapping_request(
    engine: &Engine,
    ctx: &RequestContext,
    m: &BootstrapMapping,
) -> Result<Value, String> {
    let arn = match (&m.table, &m.kinesis_stream, &m.event_source_arn) {
        (Some(table), None, None) => {
            let live = engine
                .table(table)
                .ok_or_else(|| format!("mapping of {}: no table {table}", m.function))?;
            let meta = live.meta();
            let label = meta
                .latest_stream_label
                .as_ref()
                .filter(|_| meta.stream.as_ref().is_some_and(|s| s.enabled))
                .ok_or_else(|| format!("mapping of {}: table {table} has no stream", m.function))?;
            format!("{}/stream/{label}", meta.arn(&ctx.region, &ctx.account_id))
        }
        (None, Some(stream), None) => {
            format!("arn:aws:kinesis:{}:{}:stream/{stream}", ctx.region, ctx.account_id)
        }
        (None, None, Some(arn)) => arn.clone(),
        _ => {
            return Err(format!(
                "mapping of {}: name exactly one of table, kinesis_stream and event_source_arn",
                m.function
            ));
        }
    };
    let mut body = json!({
        "FunctionName": m.function,
        "EventSourceArn": arn,
        "StartingPosition": m.starting_position,
    });
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            body[key] = v;
        }
    };
    set("StartingPositionTimestamp", m.starting_position_timestamp.map(|t| json!(t)));
    set("Enabled", m.enabled.map(|v| json!(v)));
    set("BatchSize", m.batch_size.map(|v| json!(v)));
    set("MaximumBatchingWindowInSeconds", m.maximum_batching_window_in_seconds.map(|v| json!(v)));
    set("ParallelizationFactor", m.parallelization_factor.map(|v| json!(v)));
    set("MaximumRecordAgeInSeconds", m.maximum_record_age_in_seconds.map(|v| json!(v)));
    set("MaximumRetryAttempts", m.maximum_retry_attempts.map(|v| json!(v)));
    set("BisectBatchOnFunctionError", m.bisect_batch_on_function_error.map(|v| json!(v)));
    set("TumblingWindowInSeconds", m.tumbling_window_in_seconds.map(|v| json!(v)));
    set(
        "FunctionResponseTypes",
        (!m.function_response_types.is_empty()).then(|| json!(m.function_response_types)),
    );
    set(
        "FilterCriteria",
        (!m.filter_patterns.is_empty()).then(|| {
            let filters: Vec<Value> =
                m.filter_patterns.iter().map(|p| json!({"Pattern": p})).collect();
            json!({"Filters": filters})
        }),
    );
    set(
        "DestinationConfig",
        m.on_failure_destination.as_ref().map(|d| json!({"OnFailure": {"Destination": d}})),
    );
    Ok(body)
}
