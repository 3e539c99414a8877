//! The on-failure invocation record: what a mapping sends its `DestinationConfig.OnFailure`
//! destination for each batch it discards, byte for byte as AWS's
//! (docs/lambda-event-source-mappings.md §17): the request and response contexts, then the
//! batch's positions (`DDBStreamBatchInfo` or `KinesisBatchInfo`), never its records.
//!
//! Where AWS is silent, sluice chose (docs/lambda.md, "On-failure destinations"):
//! `requestId` is a fresh UUID; `responseContext` is always present, with
//! `functionError: "Unhandled"` when an invocation of the batch reached the function
//! (which, without partial-batch responses, always failed) and `null` when none did
//! (records too old or expired before any attempt, a record too large, a function that
//! could not be reached).

use serde::Serialize;
use tokio::sync::watch;

use super::batch::EventRecord;
use super::destination::{self, Delivery};
use super::record::{MappingRecord, Source};
use super::retry::Condition;
use crate::engine::Engine;
use crate::engine::streams::civil_from_days;
use crate::metrics::esm::EsmSeries;

/// Which stream the batch came from: it names the batch info and the arrival format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    DynamoDb,
    Kinesis,
}

/// The facts one on-failure record carries.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub request_id: &'a str,
    pub function_arn: &'a str,
    pub condition: Condition,
    /// Invocations of the batch that reached the function.
    pub invocations: u32,
    /// The function error of the last answer (`Unhandled`), if any.
    pub function_error: Option<&'a str>,
    /// When the record is made (epoch ms).
    pub now_ms: i64,
    pub kind: StreamKind,
    pub shard_id: &'a str,
    /// Wire sequence numbers of the batch's first and last records.
    pub start_sequence_number: &'a str,
    pub end_sequence_number: &'a str,
    /// Arrival times (epoch ms) of the first and last records.
    pub first_arrival_ms: i64,
    pub last_arrival_ms: i64,
    pub batch_size: usize,
    /// The stream's ARN (a DynamoDB stream ARN, or a Kinesis stream ARN).
    pub stream_arn: &'a str,
}

#[derive(Serialize)]
struct Record<'a> {
    #[serde(rename = "requestContext")]
    request_context: RequestContext<'a>,
    #[serde(rename = "responseContext")]
    response_context: ResponseContext<'a>,
    version: &'static str,
    timestamp: String,
    #[serde(rename = "DDBStreamBatchInfo", skip_serializing_if = "Option::is_none")]
    ddb: Option<BatchInfo<'a>>,
    #[serde(rename = "KinesisBatchInfo", skip_serializing_if = "Option::is_none")]
    kinesis: Option<BatchInfo<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    request_id: &'a str,
    function_arn: &'a str,
    condition: &'static str,
    approximate_invoke_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseContext<'a> {
    status_code: u16,
    executed_version: &'static str,
    /// Present as `null` when there is none (recorded).
    function_error: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchInfo<'a> {
    shard_id: &'a str,
    start_sequence_number: &'a str,
    end_sequence_number: &'a str,
    approximate_arrival_of_first_record: String,
    approximate_arrival_of_last_record: String,
    batch_size: usize,
    stream_arn: &'a str,
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of epoch milliseconds `ms`, and its milliseconds.
fn civil(ms: i64) -> (String, i64) {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let text =
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    (text, ms.rem_euclid(1000))
}

/// ISO-8601 UTC with milliseconds: `2019-11-14T00:38:04.835Z`.
pub fn iso_millis(ms: i64) -> String {
    let (text, millis) = civil(ms);
    format!("{text}.{millis:03}Z")
}

/// ISO-8601 UTC in whole seconds (rounded down): `2019-11-14T00:13:19Z`.
pub fn iso_seconds(ms: i64) -> String {
    format!("{}Z", civil(ms).0)
}

/// The record, as JSON in AWS's key order.
pub fn render(f: &Failure<'_>) -> Vec<u8> {
    // DynamoDB arrivals are whole seconds, Kinesis's have milliseconds (recorded).
    let arrival = match f.kind {
        StreamKind::DynamoDb => iso_seconds,
        StreamKind::Kinesis => iso_millis,
    };
    let info = BatchInfo {
        shard_id: f.shard_id,
        start_sequence_number: f.start_sequence_number,
        end_sequence_number: f.end_sequence_number,
        approximate_arrival_of_first_record: arrival(f.first_arrival_ms),
        approximate_arrival_of_last_record: arrival(f.last_arrival_ms),
        batch_size: f.batch_size,
        stream_arn: f.stream_arn,
    };
    let (ddb, kinesis) = match f.kind {
        StreamKind::DynamoDb => (Some(info), None),
        StreamKind::Kinesis => (None, Some(info)),
    };
    let record = Record {
        request_context: RequestContext {
            request_id: f.request_id,
            function_arn: f.function_arn,
            condition: f.condition.as_str(),
            approximate_invoke_count: f.invocations,
        },
        response_context: ResponseContext {
            status_code: 200,
            executed_version: crate::lambda::invocation::LATEST,
            function_error: f.function_error,
        },
        version: "1.0",
        timestamp: iso_millis(f.now_ms),
        ddb,
        kinesis,
    };
    // Plain strings and numbers: serializing cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Sends the on-failure record of `records` (one shard's, in order, discarded for
/// `condition` after `invocations` invocations reached the function) to `mapping`'s
/// destination, if it has one; `wire_seq` gives a record's wire sequence number. A
/// delivery that fails is logged and counted, and the mapping moves on. `false` when
/// sluice is shutting down before it is done: the caller keeps its checkpoint, so the
/// batch and its record go again after the restart (at least once).
#[allow(clippy::too_many_arguments)]
pub async fn report(
    engine: &Engine,
    mapping: &MappingRecord,
    shard_id: &str,
    condition: Condition,
    records: &[EventRecord],
    invocations: u32,
    function_error: Option<&str>,
    series: &EsmSeries,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let Some(destination) = mapping.settings.on_failure_destination.as_deref() else {
        return true;
    };
    let (Some(first), Some(last)) = (records.first(), records.last()) else { return true };
    let kind = match mapping.source {
        Source::DynamoDb { .. } => StreamKind::DynamoDb,
        Source::Kinesis { .. } => StreamKind::Kinesis,
    };
    let request_id = crate::lambda::new_request_id();
    let (start, end) = (&first.sequence_number, &last.sequence_number);
    let failure = Failure {
        request_id: &request_id,
        function_arn: &mapping.settings.function_arn,
        condition,
        invocations,
        function_error,
        now_ms: engine.clock.now_millis(),
        kind,
        shard_id,
        start_sequence_number: start,
        end_sequence_number: end,
        first_arrival_ms: first.arrival_ms,
        last_arrival_ms: last.arrival_ms,
        batch_size: records.len(),
        stream_arn: stream_arn_of(&mapping.event_source_arn),
    };
    let json = render(&failure);
    match destination::deliver(engine, destination, &mapping.uuid, &request_id, &json, shutdown)
        .await
    {
        Delivery::Delivered => {
            series.on_failure_records.inc();
            true
        }
        Delivery::Stopped => false,
        Delivery::Failed(why) => {
            series.on_failure_delivery_failures.inc();
            tracing::error!(
                mapping = %mapping.uuid, shard = %shard_id, destination,
                condition = condition.as_str(), start_sequence = %start, end_sequence = %end,
                "cannot deliver the on-failure record of a discarded batch: {why}; moving on"
            );
            true
        }
    }
}

/// The stream ARN an on-failure record names for a mapping on `event_source_arn`: a
/// Kinesis fan-out consumer's ARN names its stream (`.../stream/<s>/consumer/<c>:<t>`).
pub fn stream_arn_of(event_source_arn: &str) -> &str {
    match event_source_arn.find("/consumer/") {
        Some(at) if event_source_arn.starts_with("arn:aws:kinesis:") => &event_source_arn[..at],
        _ => event_source_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2019-11-14T00:13:19.000Z and friends, the DG examples' times.
    const T_19: i64 = 1_573_690_399_000;

    fn failure(kind: StreamKind) -> Failure<'static> {
        Failure {
            request_id: "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
            function_arn: "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            condition: Condition::RetryAttemptsExhausted,
            invocations: 1,
            function_error: Some("Unhandled"),
            now_ms: T_19 + 30_717,
            kind,
            shard_id: "",
            start_sequence_number: "",
            end_sequence_number: "",
            first_arrival_ms: T_19 + 123,
            last_arrival_ms: T_19 + 999,
            batch_size: 1,
            stream_arn: "",
        }
    }

    #[test]
    fn a_dynamodb_record_is_aws_s_byte_for_byte() {
        let f = Failure {
            shard_id: "shardId-00000001573689847184-864758bb",
            start_sequence_number: "800000000003126276362",
            end_sequence_number: "800000000003126276362",
            stream_arn: "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388",
            ..failure(StreamKind::DynamoDb)
        };
        let expected = concat!(
            r#"{"requestContext":{"requestId":"c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5","#,
            r#""functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction","#,
            r#""condition":"RetryAttemptsExhausted","approximateInvokeCount":1},"#,
            r#""responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"#,
            r#""version":"1.0","timestamp":"2019-11-14T00:13:49.717Z","#,
            r#""DDBStreamBatchInfo":{"shardId":"shardId-00000001573689847184-864758bb","#,
            r#""startSequenceNumber":"800000000003126276362","endSequenceNumber":"800000000003126276362","#,
            r#""approximateArrivalOfFirstRecord":"2019-11-14T00:13:19Z","#,
            r#""approximateArrivalOfLastRecord":"2019-11-14T00:13:19Z","batchSize":1,"#,
            r#""streamArn":"arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"}}"#
        );
        assert_eq!(String::from_utf8(render(&f)).unwrap(), expected);
    }

    #[test]
    fn a_kinesis_record_has_millisecond_arrivals_and_a_null_error_when_never_invoked() {
        let f = Failure {
            condition: Condition::RecordAgeExceeded,
            invocations: 0,
            function_error: None,
            shard_id: "shardId-000000000001",
            start_sequence_number: "49601189658422359378836298521827638475320189012309704722",
            end_sequence_number: "49601189658422359378836298522902373528957594348623495186",
            batch_size: 500,
            stream_arn: "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
            ..failure(StreamKind::Kinesis)
        };
        let expected = concat!(
            r#"{"requestContext":{"requestId":"c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5","#,
            r#""functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction","#,
            r#""condition":"RecordAgeExceeded","approximateInvokeCount":0},"#,
            r#""responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":null},"#,
            r#""version":"1.0","timestamp":"2019-11-14T00:13:49.717Z","#,
            r#""KinesisBatchInfo":{"shardId":"shardId-000000000001","#,
            r#""startSequenceNumber":"49601189658422359378836298521827638475320189012309704722","#,
            r#""endSequenceNumber":"49601189658422359378836298522902373528957594348623495186","#,
            r#""approximateArrivalOfFirstRecord":"2019-11-14T00:13:19.123Z","#,
            r#""approximateArrivalOfLastRecord":"2019-11-14T00:13:19.999Z","batchSize":500,"#,
            r#""streamArn":"arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}"#
        );
        assert_eq!(String::from_utf8(render(&f)).unwrap(), expected);
    }

    #[test]
    fn times_and_consumer_arns() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_seconds(999), "1970-01-01T00:00:00Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            stream_arn_of("arn:aws:kinesis:us-east-1:000000000000:stream/k/consumer/c:1700000000"),
            "arn:aws:kinesis:us-east-1:000000000000:stream/k"
        );
        let ddb = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000";
        assert_eq!(stream_arn_of(ddb), ddb);
    }
}
