//! Event source mappings: CreateEventSourceMapping, GetEventSourceMapping,
//! ListEventSourceMappings, UpdateEventSourceMapping and DeleteEventSourceMapping, on
//! DynamoDB stream, Kinesis stream and Kinesis consumer ARNs of this sluice.
//!
//! The model's constraints are checked first (`mapping_input`), then what depends on the
//! source, in the order AWS's recorded answers show (docs/lambda-event-source-mappings.md
//! §5): the starting position against the source type, the timestamp against the
//! position, the other cross-member rules, the function, then the stream and duplicates
//! (under the engine's control lock). Messages AWS was not seen to send are marked
//! "chosen" in docs/lambda.md.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::error::LambdaError;
use super::mapping_input::{self, Members, Op};
use crate::engine::Engine;
use crate::engine::triggers::filter::{self, SourceKind};
use crate::engine::triggers::{
    Mapping, MappingError, MappingRecord, MappingSpec, Settings, Source, SourceRef,
    StartingPosition,
};
use crate::lambda::InvokeError;
use crate::lambda::name::{self, FunctionRef};
use crate::protocol::rest::RestCall;

/// ListEventSourceMappings answers at most this many per page, whatever MaxItems asks
/// ("returns a maximum of 100 items in each response").
const MAX_PAGE: usize = 100;

/// CreateEventSourceMapping: 202 and the new mapping, `Creating`.
pub async fn create(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let m = mapping_input::read(&call.body, Op::Create)?;
    let arn = m.event_source_arn.clone().ok_or_else(unrecognized)?;
    let source = source_ref(engine, &arn)?;
    let dynamodb = matches!(source, SourceRef::DynamoDb { .. });
    let position = match m.starting_position.as_deref() {
        None => {
            return Err(LambdaError::InvalidParameterValue(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."
                    .into(),
            ));
        }
        Some(p) => StartingPosition::parse(p).unwrap_or(StartingPosition::Latest),
    };
    if dynamodb && position == StartingPosition::AtTimestamp {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Unsupported starting position for arn type: {arn}"
        )));
    }
    match (position, m.starting_position_timestamp) {
        (StartingPosition::AtTimestamp, None) => {
            return Err(LambdaError::InvalidParameterValue(
                "StartingPositionTimestamp must be provided with StartingPosition AT_TIMESTAMP"
                    .into(),
            ));
        }
        (StartingPosition::AtTimestamp, Some(t)) if t < 0.0 => {
            return Err(LambdaError::InvalidParameterValue(
                "Received Exception while reading from provided stream. class java.lang.Long can not be converted to a Timestamp"
                    .into(),
            ));
        }
        (StartingPosition::AtTimestamp, Some(t))
            if t * 1000.0 > engine.clock.now_millis() as f64 =>
        {
            return Err(LambdaError::InvalidParameterValue(
                "StartingPositionTimestamp cannot be in the future".into(),
            ));
        }
        (StartingPosition::AtTimestamp, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(LambdaError::InvalidParameterValue(
                "Timestamp only valid with StartingPosition AT_TIMESTAMP".into(),
            ));
        }
    }
    cross_checks(&m, if dynamodb { SourceKind::DynamoDb } else { SourceKind::Kinesis })?;
    // `read` refused a Create without a valid FunctionName already.
    let (given, f) = m.function.clone().ok_or_else(|| {
        LambdaError::constraint("null", "functionName", "Member must not be null")
    })?;
    let function_arn = existing_function(engine, &f).await?;
    let mut settings = defaults(given, function_arn);
    apply(&mut settings, &m);
    let spec = MappingSpec {
        event_source_arn: arn,
        source,
        starting_position: position,
        starting_position_timestamp: m.starting_position_timestamp,
        settings,
        enabled: m.enabled.unwrap_or(true),
        tags: m.tags.unwrap_or_default(),
    };
    let record = engine.create_mapping(spec).await.map_err(mapping_error)?;
    let mapping = engine.triggers.get(&record.uuid).ok_or_else(not_found)?;
    Ok(render(engine, &mapping))
}

/// GetEventSourceMapping.
pub async fn get(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let mapping = engine.triggers.get(&uuid(call)?).ok_or_else(not_found)?;
    Ok(render(engine, &mapping))
}

/// ListEventSourceMappings: by UUID, filtered by EventSourceArn and FunctionName, pages
/// of MaxItems (at most 100), `Marker` the UUID the next page starts at.
pub async fn list(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let page = match call.query("MaxItems") {
        None => MAX_PAGE,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 1 => {
                return Err(LambdaError::constraint(
                    text,
                    "maxItems",
                    "Member must have value greater than or equal to 1",
                ));
            }
            Ok(n) if n > 10_000 => {
                return Err(LambdaError::constraint(
                    text,
                    "maxItems",
                    "Member must have value less than or equal to 10000",
                ));
            }
            Ok(n) => (n as usize).min(MAX_PAGE),
            Err(_) => {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Invalid value for MaxItems: {text}"
                )));
            }
        },
    };
    let function = match call.query("FunctionName") {
        None => None,
        Some(given) => Some(name::parse(given).ok_or_else(|| {
            LambdaError::constraint(
                given,
                "functionName",
                "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
            )
        })?),
    };
    let source = call.query("EventSourceArn");
    let marker = call.query("Marker").unwrap_or_default();
    let matching: Vec<Arc<Mapping>> = engine
        .triggers
        .all()
        .into_iter()
        .filter(|m| {
            let r = m.record();
            r.uuid.as_str() >= marker
                && source.is_none_or(|s| r.event_source_arn == s)
                && function.as_ref().is_none_or(|f| same_function(engine, f, &r.settings))
        })
        .collect();
    let mut out = json!({
        "EventSourceMappings":
            matching.iter().take(page).map(|m| render(engine, m)).collect::<Vec<_>>()
    });
    if let Some(next) = matching.get(page) {
        out["NextMarker"] = json!(next.record().uuid);
    }
    Ok(out)
}

/// UpdateEventSourceMapping: 202 and the mapping, `Updating` (or `Enabling`,
/// `Disabling`), showing its former settings until the update completes.
pub async fn update(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let uuid = uuid(call)?;
    let m = mapping_input::read(&call.body, Op::Update)?;
    let mapping = engine.triggers.get(&uuid).ok_or_else(not_found)?;
    let kind = match mapping.record().source {
        Source::DynamoDb { .. } => SourceKind::DynamoDb,
        Source::Kinesis { .. } => SourceKind::Kinesis,
    };
    cross_checks(&m, kind)?;
    let function = match &m.function {
        Some((given, f)) => Some((given.clone(), existing_function(engine, f).await?)),
        None => None,
    };
    let change = Box::new(move |settings: &mut Settings, enabled: &mut bool| {
        if let Some((given, arn)) = function {
            settings.function_name = given;
            settings.function_arn = arn;
        }
        apply(settings, &m);
        if let Some(e) = m.enabled {
            *enabled = e;
        }
    });
    engine.update_mapping(&uuid, change).await.map_err(mapping_error)?;
    Ok(render(engine, &mapping))
}

/// DeleteEventSourceMapping: 202 and the mapping, `Deleting`.
pub async fn delete(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let uuid = uuid(call)?;
    let mapping = engine.triggers.get(&uuid).ok_or_else(not_found)?;
    engine.delete_mapping(&uuid).await.map_err(mapping_error)?;
    Ok(render(engine, &mapping))
}

/// The `{UUID}` label: exactly 36 characters (the model's UUIDString).
fn uuid(call: &RestCall) -> Result<String, LambdaError> {
    let given = call.uuid.clone().unwrap_or_default();
    let n = given.chars().count();
    if n < 36 {
        return Err(LambdaError::constraint(
            &given,
            "uUID",
            "Member must have length greater than or equal to 36",
        ));
    }
    if n > 36 {
        return Err(LambdaError::constraint(
            &given,
            "uUID",
            "Member must have length less than or equal to 36",
        ));
    }
    Ok(given)
}

fn not_found() -> LambdaError {
    LambdaError::ResourceNotFound("The resource you requested does not exist.".into())
}

/// An EventSourceArn that names no source kind sluice reads (chosen wording, after AWS's
/// older "Unrecognized event source, must be kinesis or dynamodb stream").
fn unrecognized() -> LambdaError {
    LambdaError::InvalidParameterValue(
        "Unrecognized event source, must be kinesis, dynamodb stream or sqs.".into(),
    )
}

/// The source an EventSourceArn names in this region and account. A well-formed ARN of
/// another region or account names a stream that does not exist here.
fn source_ref(engine: &Engine, arn: &str) -> Result<SourceRef, LambdaError> {
    let aws = &engine.ns;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, region, account, resource] = parts.as_slice() else {
        return Err(unrecognized());
    };
    let here = *region == aws.region && *account == aws.account;
    let missing = || LambdaError::InvalidParameterValue(format!("Stream not found: {arn}"));
    match *service {
        "dynamodb" => {
            let (table, label) =
                crate::engine::streams::parse_stream_arn(arn).ok_or_else(unrecognized)?;
            if !here {
                return Err(missing());
            }
            Ok(SourceRef::DynamoDb { table: table.into(), label: label.into() })
        }
        "kinesis" => {
            if let Some(c) = crate::engine::kinesis::consumers::parse_consumer_arn(arn) {
                if !here {
                    return Err(missing());
                }
                return Ok(SourceRef::Kinesis {
                    name: c.stream.into(),
                    consumer: Some((c.consumer.into(), c.created_secs)),
                });
            }
            let name =
                resource.strip_prefix("stream/").filter(|n| !n.is_empty() && !n.contains('/'));
            let name = name.ok_or_else(unrecognized)?;
            if !here {
                return Err(missing());
            }
            Ok(SourceRef::Kinesis { name: name.into(), consumer: None })
        }
        "sqs" | "kafka" | "mq" | "rds" | "docdb" => Err(LambdaError::InvalidParameterValue(
            format!("sluice reads DynamoDB streams and Kinesis streams only, not {arn}"),
        )),
        _ => Err(unrecognized()),
    }
}

/// The rules across members that Create and Update share.
fn cross_checks(m: &Members, kind: SourceKind) -> Result<(), LambdaError> {
    if let Some(age) = m.maximum_record_age_seconds
        && (0..60).contains(&age)
    {
        return Err(LambdaError::InvalidParameterValue(
            "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800".into(),
        ));
    }
    if let Some(d) = &m.destination {
        if d.on_success {
            return Err(LambdaError::InvalidParameterValue(
                "Unsupported DestinationConfig parameter for given event source mapping type."
                    .into(),
            ));
        }
        if let Some(arn) = d.on_failure.as_deref().filter(|a| !a.is_empty())
            && !["sqs", "sns", "s3", "kinesis", "dynamodb"]
                .iter()
                .any(|s| arn.starts_with(&format!("arn:aws:{s}:")))
        {
            return Err(LambdaError::InvalidParameterValue(format!(
                "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={arn})) is invalid."
            )));
        }
    }
    if let Some(criteria) = &m.filter_criteria {
        filter::compile(criteria, kind)
            .map_err(|e| LambdaError::InvalidParameterValue(e.to_string()))?;
    }
    Ok(())
}

/// The ARN of the function `f` names, if it exists (declared, or at the endpoint).
async fn existing_function(engine: &Engine, f: &FunctionRef) -> Result<String, LambdaError> {
    match engine.lambda.get(f, f.qualifier.as_deref()).await {
        Ok(_) => Ok(engine.lambda.arn(f)),
        Err(InvokeError::NotFound(_)) => {
            Err(LambdaError::InvalidParameterValue("Function does not exist".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a FunctionName filter names a mapping's function: the same name in the same
/// region and account, and the same qualifier when the filter has one.
fn same_function(engine: &Engine, f: &FunctionRef, settings: &Settings) -> bool {
    let Some(mine) = name::parse(&settings.function_arn) else { return false };
    let unqualified =
        |r: &FunctionRef| engine.lambda.arn(&FunctionRef { qualifier: None, ..r.clone() });
    unqualified(f) == unqualified(&mine)
        && f.qualifier.as_ref().is_none_or(|q| mine.qualifier.as_ref() == Some(q))
}

/// A new mapping's settings: AWS's defaults for stream sources (§3).
fn defaults(function_name: String, function_arn: String) -> Settings {
    Settings {
        function_name,
        function_arn,
        batch_size: 100,
        maximum_batching_window_seconds: 0,
        parallelization_factor: 1,
        maximum_record_age_seconds: -1,
        maximum_retry_attempts: -1,
        bisect_batch_on_function_error: false,
        tumbling_window_seconds: 0,
        function_response_types: Vec::new(),
        on_failure_destination: None,
        filter_criteria: None,
        kms_key_arn: None,
        metrics_config: None,
    }
}

/// Applies the members given; absent ones keep their value.
fn apply(s: &mut Settings, m: &Members) {
    let set = |slot: &mut u32, v: Option<u32>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut s.batch_size, m.batch_size);
    set(&mut s.maximum_batching_window_seconds, m.maximum_batching_window_seconds);
    set(&mut s.parallelization_factor, m.parallelization_factor);
    set(&mut s.tumbling_window_seconds, m.tumbling_window_seconds);
    if let Some(v) = m.maximum_record_age_seconds {
        s.maximum_record_age_seconds = v;
    }
    if let Some(v) = m.maximum_retry_attempts {
        s.maximum_retry_attempts = v;
    }
    if let Some(v) = m.bisect_batch_on_function_error {
        s.bisect_batch_on_function_error = v;
    }
    if let Some(v) = &m.function_response_types {
        s.function_response_types = v.clone();
    }
    if let Some(d) = &m.destination {
        // An OnFailure without a destination (or none at all) clears it.
        s.on_failure_destination = d.on_failure.clone().filter(|a| !a.is_empty());
    }
    if let Some(c) = &m.filter_criteria {
        // `{}` or no filters removes them.
        let any = c.get("Filters").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        s.filter_criteria = any.then(|| c.clone());
    }
    if let Some(k) = &m.kms_key_arn {
        s.kms_key_arn = Some(k.clone()).filter(|k| !k.is_empty());
    }
    if let Some(mc) = &m.metrics_config {
        s.metrics_config = Some(mc.clone());
    }
}

fn mapping_error(e: MappingError) -> LambdaError {
    match e {
        MappingError::StreamNotFound(_) => LambdaError::InvalidParameterValue(e.to_string()),
        MappingError::Conflict { .. } => LambdaError::ResourceConflict(e.to_string()),
        MappingError::NotFound => not_found(),
        MappingError::InUse(_) => LambdaError::ResourceInUse(e.to_string()),
        MappingError::Storage(e) => {
            LambdaError::Service(format!("The mapping could not be stored: {e}"))
        }
    }
}

/// Epoch seconds with milliseconds, as rest-json writes a timestamp.
fn epoch_seconds(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// The EventSourceMappingConfiguration of a mapping: the members AWS shows for stream
/// sources (§3), the optional ones only when set.
pub fn render(engine: &Engine, mapping: &Mapping) -> Value {
    let r: Arc<MappingRecord> = mapping.record();
    let now = engine.clock.now_millis();
    let s = r.shown_settings(now);
    let aws = &engine.ns;
    let mut on_failure = Map::new();
    if let Some(d) = &s.on_failure_destination {
        on_failure.insert("Destination".into(), json!(d));
    }
    let mut out = json!({
        "UUID": r.uuid,
        "StartingPosition": r.starting_position.as_str(),
        "BatchSize": s.batch_size,
        "MaximumBatchingWindowInSeconds": s.maximum_batching_window_seconds,
        "ParallelizationFactor": s.parallelization_factor,
        "EventSourceArn": r.event_source_arn,
        "FunctionArn": s.function_arn,
        "LastModified": epoch_seconds(r.last_modified_ms(now)),
        "LastProcessingResult": mapping.last_processing_result(),
        "State": r.state(now).as_str(),
        "StateTransitionReason": "User action",
        "DestinationConfig": {"OnFailure": on_failure},
        "MaximumRecordAgeInSeconds": s.maximum_record_age_seconds,
        "BisectBatchOnFunctionError": s.bisect_batch_on_function_error,
        "MaximumRetryAttempts": s.maximum_retry_attempts,
        "TumblingWindowInSeconds": s.tumbling_window_seconds,
        "FunctionResponseTypes": s.function_response_types,
        "EventSourceMappingArn": r.arn(&aws.region, &aws.account),
    });
    if let Some(t) = r.starting_position_timestamp {
        out["StartingPositionTimestamp"] = json!(t);
    }
    if let Some(f) = &s.filter_criteria {
        out["FilterCriteria"] = f.clone();
    }
    if let Some(k) = &s.kms_key_arn {
        out["KMSKeyArn"] = json!(k);
    }
    if let Some(m) = &s.metrics_config {
        out["MetricsConfig"] = m.clone();
    }
    out
}
