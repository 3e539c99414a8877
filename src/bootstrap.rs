//! Declarative bootstrap: the `[bootstrap]` section of the config names Kinesis streams,
//! DynamoDB tables (with indexes, stream and Kinesis destination) and fan-out consumers
//! that sluice creates
//! at start when they are missing and leaves alone when they exist, so starting twice
//! gives the same state. Everything goes through the API handlers, so a bootstrap entry
//! is checked exactly as the same request from a client would be.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api;
use crate::config::{BootstrapIndex, BootstrapKey, BootstrapTable, Config};
use crate::engine::Engine;
use crate::protocol::{RequestContext, Service};

fn context(config: &Config) -> RequestContext {
    RequestContext {
        region: config.aws.region.clone(),
        account_id: config.aws.account_id.clone(),
        request_id: "bootstrap".into(),
        host: None,
    }
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
    Ok(created)
}
