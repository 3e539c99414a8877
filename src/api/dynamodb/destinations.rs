//! Kinesis streaming destinations: EnableKinesisStreamingDestination,
//! DisableKinesisStreamingDestination, DescribeKinesisStreamingDestination and
//! UpdateKinesisStreamingDestination (spec §2.1–2.2).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DynamoError;
use super::tables::resolve_table_name;
use crate::api::kinesis::input::parse_arn;
use crate::api::validate::Validator;
use crate::engine::Engine;
use crate::engine::bridge::control::DestinationError;
use crate::engine::bridge::{Destination, Precision};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct StreamingConfiguration {
    pub approximate_creation_date_time_precision: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationInput {
    pub table_name: Option<String>,
    pub stream_arn: Option<String>,
    pub enable_kinesis_streaming_configuration: Option<StreamingConfiguration>,
    pub update_kinesis_streaming_configuration: Option<StreamingConfiguration>,
}

/// The output of Enable, Disable and Update.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationOutput {
    pub table_name: String,
    pub stream_arn: String,
    pub destination_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_kinesis_streaming_configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_kinesis_streaming_configuration: Option<Value>,
}

impl From<DestinationError> for DynamoError {
    fn from(e: DestinationError) -> Self {
        match e {
            DestinationError::InvalidState(m) => DynamoError::Validation(m),
            DestinationError::Engine(e) => e.into(),
        }
    }
}

/// TableName (a name or a table ARN) and StreamArn, checked as AWS's model constrains
/// them; returns (table name, stream ARN, stream name).
fn check<'a>(
    input: &'a DestinationInput,
    config_member: Option<(&str, Option<&StreamingConfiguration>)>,
) -> Result<(&'a str, &'a str, &'a str), DynamoError> {
    let mut v = Validator::new();
    v.not_null(input.table_name.as_ref(), "tableName");
    v.length(input.table_name.as_deref(), "tableName", 1, 1024);
    v.not_null(input.stream_arn.as_ref(), "streamArn");
    v.length(input.stream_arn.as_deref(), "streamArn", 37, 1024);
    if let Some((path, config)) = config_member {
        v.one_of(
            config.and_then(|c| c.approximate_creation_date_time_precision.as_deref()),
            &format!("{path}.approximateCreationDateTimePrecision"),
            &["MILLISECOND", "MICROSECOND"],
        );
    }
    v.finish().map_err(DynamoError::Validation)?;
    let table = resolve_table_name(input.table_name.as_deref().unwrap_or_default());
    let arn = input.stream_arn.as_deref().unwrap_or_default();
    let (_, _, stream) = parse_arn(arn)
        .ok_or_else(|| DynamoError::validation(format!("Invalid StreamArn: {arn}")))?;
    Ok((table, arn, stream))
}

fn precision_of(config: Option<&StreamingConfiguration>) -> Option<Precision> {
    config
        .and_then(|c| c.approximate_creation_date_time_precision.as_deref())
        .and_then(Precision::parse)
}

fn config_json(precision: Option<Precision>) -> Option<Value> {
    precision.map(|p| json!({"ApproximateCreationDateTimePrecision": p.as_str()}))
}

fn table_exists(engine: &Engine, table: &str) -> Result<(), DynamoError> {
    engine.table(table).map(|_| ()).ok_or_else(|| DynamoError::table_not_found(table))
}

/// EnableKinesisStreamingDestination: answers ENABLING; the destination is ACTIVE at
/// once, or ENABLE_FAILED when the stream is missing or in another account or region
/// (unless `[[bridge.remotes]]` names its ARN: then it is ACTIVE and forwarded there).
pub async fn enable(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: DestinationInput,
) -> Result<DestinationOutput, DynamoError> {
    let config = input.enable_kinesis_streaming_configuration.as_ref();
    let (table, arn, stream) =
        check(&input, Some(("enableKinesisStreamingConfiguration", config)))?;
    table_exists(engine, table)?;
    let (region, account, _) = parse_arn(arn).unwrap_or_default();
    // A stream the config names as remote is forwarded to its endpoint, whatever its
    // account and region. Otherwise destinations must be in the table's account and
    // region: another one is a stream sluice cannot see, so it fails like a missing one.
    let remote = engine.config.bridge.remote(arn).is_some();
    let local = region == ctx.region && account == ctx.account_id;
    let stream = if local || remote { stream } else { "" };
    let precision = precision_of(config);
    engine.enable_destination(table, arn, stream, remote, precision).await?;
    Ok(DestinationOutput {
        table_name: table.to_string(),
        stream_arn: arn.to_string(),
        destination_status: "ENABLING",
        enable_kinesis_streaming_configuration: config_json(precision),
        update_kinesis_streaming_configuration: None,
    })
}

/// DisableKinesisStreamingDestination: answers DISABLING; the destination is DISABLED
/// at once.
pub async fn disable(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: DestinationInput,
) -> Result<DestinationOutput, DynamoError> {
    let (table, arn, _) = check(&input, None)?;
    table_exists(engine, table)?;
    let destination = engine.disable_destination(table, arn).await?;
    Ok(DestinationOutput {
        table_name: table.to_string(),
        stream_arn: arn.to_string(),
        destination_status: "DISABLING",
        enable_kinesis_streaming_configuration: config_json(destination.precision),
        update_kinesis_streaming_configuration: None,
    })
}

/// UpdateKinesisStreamingDestination: the precision; answers UPDATING, ACTIVE at once.
pub async fn update(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: DestinationInput,
) -> Result<DestinationOutput, DynamoError> {
    let config = input.update_kinesis_streaming_configuration.as_ref();
    let (table, arn, _) = check(&input, Some(("updateKinesisStreamingConfiguration", config)))?;
    table_exists(engine, table)?;
    let Some(precision) = precision_of(config) else {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: UpdateKinesisStreamingConfiguration must specify ApproximateCreationDateTimePrecision",
        ));
    };
    engine.update_destination(table, arn, precision).await?;
    Ok(DestinationOutput {
        table_name: table.to_string(),
        stream_arn: arn.to_string(),
        destination_status: "UPDATING",
        enable_kinesis_streaming_configuration: None,
        update_kinesis_streaming_configuration: config_json(Some(precision)),
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    pub table_name: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    pub table_name: String,
    pub kinesis_data_stream_destinations: Vec<Value>,
}

fn describe_one(d: &Destination) -> Value {
    let mut v = json!({"StreamArn": d.stream_arn, "DestinationStatus": d.status.as_str()});
    if let Some(description) = &d.description {
        v["DestinationStatusDescription"] = json!(description);
    }
    if let Some(p) = d.precision {
        v["ApproximateCreationDateTimePrecision"] = json!(p.as_str());
    }
    v
}

/// DescribeKinesisStreamingDestination: every destination the table has had.
pub async fn describe(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: DescribeInput,
) -> Result<DescribeOutput, DynamoError> {
    let mut v = Validator::new();
    v.not_null(input.table_name.as_ref(), "tableName");
    v.length(input.table_name.as_deref(), "tableName", 1, 1024);
    v.finish().map_err(DynamoError::Validation)?;
    let table = resolve_table_name(input.table_name.as_deref().unwrap_or_default());
    let live = engine.table(table).ok_or_else(|| DynamoError::table_not_found(table))?;
    let destinations = live.meta().destinations.iter().map(describe_one).collect();
    Ok(DescribeOutput {
        table_name: table.to_string(),
        kinesis_data_stream_destinations: destinations,
    })
}
