//! The members of CreateEventSourceMapping and UpdateEventSourceMapping, read from the
//! JSON body and checked against the botocore `lambda` model's constraints (ranges,
//! enums, lengths, patterns), every violation gathered into one ValidationException as
//! AWS's validator words it (docs/lambda-event-source-mappings.md §2 and §5). What
//! depends on the source or on other members is checked by `mappings`, after this.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::LambdaError;
use crate::lambda::name::{self, FunctionRef};

/// The model's EventSourceArn pattern, quoted in its message.
const ARN_PATTERN: &str = r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)";

/// The model's FunctionName pattern, quoted in its message.
const FUNCTION_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";

/// Every member either operation takes, as given (absent: `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Members {
    /// FunctionName as given, and parsed.
    pub function: Option<(String, FunctionRef)>,
    pub event_source_arn: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<u32>,
    pub maximum_batching_window_seconds: Option<u32>,
    pub parallelization_factor: Option<u32>,
    pub starting_position: Option<String>,
    /// Epoch seconds.
    pub starting_position_timestamp: Option<f64>,
    pub destination: Option<DestinationInput>,
    pub maximum_record_age_seconds: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub maximum_retry_attempts: Option<i64>,
    pub tumbling_window_seconds: Option<u32>,
    pub function_response_types: Option<Vec<String>>,
    /// `FilterCriteria` as given.
    pub filter_criteria: Option<Value>,
    pub kms_key_arn: Option<String>,
    pub metrics_config: Option<Value>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// `DestinationConfig` as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestinationInput {
    /// `OnFailure.Destination`; `Some("")` or an OnFailure without one clears it.
    pub on_failure: Option<String>,
    /// Whether `OnSuccess` was given (not supported for stream sources).
    pub on_success: bool,
}

/// Which operation the body belongs to: Update takes no source, starting position or
/// tags, and FunctionName is optional there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
}

/// Reads the body of `op`.
pub fn read(body: &[u8], op: Op) -> Result<Members, LambdaError> {
    let json: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| unparsable(&e.to_string()))?
    };
    let Value::Object(map) = json else {
        return Err(unparsable("the request body is not a JSON object"));
    };
    let mut r = Reader { map: &map, violations: Vec::new() };
    let mut m = Members {
        enabled: r.boolean("Enabled")?,
        batch_size: r.int("BatchSize", "batchSize", 1, 10_000)?.map(|n| n as u32),
        maximum_batching_window_seconds: r
            .int("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300)?
            .map(|n| n as u32),
        parallelization_factor: r
            .int("ParallelizationFactor", "parallelizationFactor", 1, 10)?
            .map(|n| n as u32),
        maximum_record_age_seconds: r.int(
            "MaximumRecordAgeInSeconds",
            "maximumRecordAgeInSeconds",
            -1,
            604_800,
        )?,
        bisect_batch_on_function_error: r.boolean("BisectBatchOnFunctionError")?,
        maximum_retry_attempts: r.int(
            "MaximumRetryAttempts",
            "maximumRetryAttempts",
            -1,
            10_000,
        )?,
        tumbling_window_seconds: r
            .int("TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900)?
            .map(|n| n as u32),
        function_response_types: r.response_types()?,
        filter_criteria: r.filter_criteria()?,
        destination: r.destination()?,
        kms_key_arn: r.string("KMSKeyArn")?,
        metrics_config: r.map.get("MetricsConfig").filter(|v| !v.is_null()).cloned(),
        ..Members::default()
    };
    m.function = r.function(op)?;
    if op == Op::Create {
        m.event_source_arn = r.event_source_arn()?;
        m.starting_position = r.starting_position()?;
        m.starting_position_timestamp = r.timestamp("StartingPositionTimestamp")?;
        m.tags = r.tags()?;
    }
    if !r.violations.is_empty() {
        let n = r.violations.len();
        let s = if n == 1 { "" } else { "s" };
        return Err(LambdaError::Validation(format!(
            "{n} validation error{s} detected: {}",
            r.violations.join("; ")
        )));
    }
    Ok(m)
}

/// A body that is not the JSON its operation takes.
fn unparsable(what: &str) -> LambdaError {
    LambdaError::InvalidRequestContent(format!("Could not parse request body into json: {what}"))
}

struct Reader<'a> {
    map: &'a Map<String, Value>,
    violations: Vec<String>,
}

impl<'a> Reader<'a> {
    fn get(&self, member: &str) -> Option<&'a Value> {
        self.map.get(member).filter(|v| !v.is_null())
    }

    fn violation(&mut self, value: &str, member: &str, constraint: &str) {
        self.violations.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn boolean(&self, member: &str) -> Result<Option<bool>, LambdaError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(unparsable(&format!("{member} must be a boolean, not {v}"))),
        }
    }

    fn string(&self, member: &str) -> Result<Option<String>, LambdaError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(unparsable(&format!("{member} must be a string, not {v}"))),
        }
    }

    /// An integer member within the model's range (a violation otherwise).
    fn int(
        &mut self,
        member: &str,
        wire: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, LambdaError> {
        let Some(v) = self.get(member) else { return Ok(None) };
        let n = v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| unparsable(&format!("{member} must be an integer, not {v}")))?;
        if n < min {
            self.violation(
                &n.to_string(),
                wire,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.violation(
                &n.to_string(),
                wire,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
        Ok(Some(n))
    }

    /// A timestamp: epoch seconds (a JSON number), as rest-json writes one.
    fn timestamp(&self, member: &str) -> Result<Option<f64>, LambdaError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| unparsable(&format!("{member} must be epoch seconds, not {v}"))),
        }
    }

    fn function(&mut self, op: Op) -> Result<Option<(String, FunctionRef)>, LambdaError> {
        let Some(given) = self.string("FunctionName")? else {
            if op == Op::Create {
                self.violations.push(
                    "Value null at 'functionName' failed to satisfy constraint: Member must not be null"
                        .into(),
                );
            }
            return Ok(None);
        };
        if given.is_empty() {
            self.violation(
                &given,
                "functionName",
                "Member must have length greater than or equal to 1",
            );
            return Ok(None);
        }
        if given.len() > name::MAX_FUNCTION_NAME {
            self.violation(
                &given,
                "functionName",
                "Member must have length less than or equal to 256",
            );
            return Ok(None);
        }
        match name::parse(&given) {
            Some(f) => Ok(Some((given, f))),
            None => {
                let constraint =
                    format!("Member must satisfy regular expression pattern: {FUNCTION_PATTERN}");
                self.violation(&given, "functionName", &constraint);
                Ok(None)
            }
        }
    }

    fn event_source_arn(&mut self) -> Result<Option<String>, LambdaError> {
        let Some(arn) = self.string("EventSourceArn")? else { return Ok(None) };
        if arn.len() > 10_000 {
            self.violation(
                &arn,
                "eventSourceArn",
                "Member must have length less than or equal to 10000",
            );
        } else if !arn_shaped(&arn) {
            let constraint =
                format!("Member must satisfy regular expression pattern: {ARN_PATTERN}");
            self.violation(&arn, "eventSourceArn", &constraint);
        }
        Ok(Some(arn))
    }

    fn starting_position(&mut self) -> Result<Option<String>, LambdaError> {
        let Some(p) = self.string("StartingPosition")? else { return Ok(None) };
        if !matches!(p.as_str(), "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP") {
            self.violation(
                &p,
                "startingPosition",
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            );
        }
        Ok(Some(p))
    }

    fn response_types(&mut self) -> Result<Option<Vec<String>>, LambdaError> {
        let Some(v) = self.get("FunctionResponseTypes") else { return Ok(None) };
        let types: Vec<String> = serde_json::from_value(v.clone())
            .map_err(|_| unparsable("FunctionResponseTypes must be a list of strings"))?;
        let shown = format!("[{}]", types.join(", "));
        if types.len() > 1 {
            self.violation(
                &shown,
                "functionResponseTypes",
                "Member must have length less than or equal to 1",
            );
        } else if types.iter().any(|t| t != "ReportBatchItemFailures") {
            self.violation(
                &shown,
                "functionResponseTypes",
                "Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]",
            );
        }
        Ok(Some(types))
    }

    /// `{"Filters": [{"Pattern": "..."}]}`: the shape and the patterns' lengths; the
    /// patterns themselves are compiled by the caller.
    fn filter_criteria(&mut self) -> Result<Option<Value>, LambdaError> {
        let Some(v) = self.get("FilterCriteria") else { return Ok(None) };
        let bad = || unparsable("FilterCriteria must be {\"Filters\": [{\"Pattern\": string}]}");
        let obj = v.as_object().ok_or_else(bad)?;
        if let Some(filters) = obj.get("Filters").filter(|f| !f.is_null()) {
            let filters = filters.as_array().ok_or_else(bad)?;
            for (i, f) in filters.iter().enumerate() {
                let f = f.as_object().ok_or_else(bad)?;
                match f.get("Pattern") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(p)) if p.chars().count() > 4096 => self.violation(
                        p,
                        &format!("filterCriteria.filters.{}.member.pattern", i + 1),
                        "Member must have length less than or equal to 4096",
                    ),
                    Some(Value::String(_)) => {}
                    Some(_) => return Err(bad()),
                }
            }
        }
        Ok(Some(v.clone()))
    }

    fn destination(&mut self) -> Result<Option<DestinationInput>, LambdaError> {
        let Some(v) = self.get("DestinationConfig") else { return Ok(None) };
        let bad =
            || unparsable("DestinationConfig must be {\"OnFailure\": {\"Destination\": string}}");
        let obj = v.as_object().ok_or_else(bad)?;
        let mut out = DestinationInput {
            on_success: obj.get("OnSuccess").is_some_and(|s| !s.is_null()),
            on_failure: None,
        };
        if let Some(f) = obj.get("OnFailure").filter(|f| !f.is_null()) {
            let f = f.as_object().ok_or_else(bad)?;
            let destination = match f.get("Destination") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(d)) => d.clone(),
                Some(_) => return Err(bad()),
            };
            if destination.len() > 350 {
                self.violation(
                    &destination,
                    "destinationConfig.onFailure.destination",
                    "Member must have length less than or equal to 350",
                );
            }
            out.on_failure = Some(destination);
        }
        Ok(Some(out))
    }

    fn tags(&self) -> Result<Option<BTreeMap<String, String>>, LambdaError> {
        let Some(v) = self.get("Tags") else { return Ok(None) };
        serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|_| unparsable("Tags must be a map of strings to strings"))
    }
}

/// The model's ARN pattern: `arn:aws…:<service>:<region or empty>:<account or empty>:…`.
fn arn_shaped(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, _region, account, _rest] = parts.as_slice() else {
        return false;
    };
    *arn_ == "arn"
        && partition.starts_with("aws")
        && partition[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !service.is_empty()
        && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (account.is_empty()
            || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> Result<Members, LambdaError> {
        read(body.to_string().as_bytes(), Op::Create)
    }

    fn message(r: Result<Members, LambdaError>) -> String {
        match r {
            Err(LambdaError::Validation(m)) => m,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn ranges_and_enums_are_reported_together_in_awss_words() {
        let m =
            message(create(json!({"FunctionName": "f", "BatchSize": 0, "StartingPosition": "0"})));
        assert_eq!(
            m,
            "2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
        );
        let m =
            message(create(json!({"FunctionName": "f", "MaximumBatchingWindowInSeconds": 301})));
        assert_eq!(
            m,
            "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"
        );
        assert!(message(create(json!({}))).contains("Value null at 'functionName'"));
        assert!(
            message(create(json!({"FunctionName": "f", "FunctionResponseTypes": ["X"]})))
                .contains("enum value set: [ReportBatchItemFailures]")
        );
        assert!(message(create(json!({"FunctionName": "f", "EventSourceArn": "nope"})))
            .contains("at 'eventSourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern"));
        let long = "x".repeat(4097);
        assert!(
            message(create(
                json!({"FunctionName": "f", "FilterCriteria": {"Filters": [{"Pattern": long}]}})
            ))
            .contains("at 'filterCriteria.filters.1.member.pattern'")
        );
    }

    #[test]
    fn members_read_as_given() {
        let m = create(json!({
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f:prod",
            "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "BatchSize": 10000, "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1700000000.5, "MaximumRetryAttempts": -1,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}},
            "Tags": {"a": "b"}
        }))
        .unwrap();
        let (given, f) = m.function.unwrap();
        assert_eq!((given.len(), f.name.as_str(), f.qualifier.as_deref()), (53, "f", Some("prod")));
        assert_eq!(m.batch_size, Some(10_000));
        assert_eq!(m.starting_position_timestamp, Some(1_700_000_000.5));
        assert_eq!(
            m.destination.unwrap().on_failure.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
        assert_eq!(m.tags.unwrap()["a"], "b");
    }

    #[test]
    fn update_bodies_ignore_create_only_members_and_need_no_function() {
        let m = read(br#"{"StartingPosition": "0", "BatchSize": 5}"#, Op::Update).unwrap();
        assert_eq!((m.starting_position, m.batch_size, m.function), (None, Some(5), None));
        assert_eq!(read(b"", Op::Update).unwrap(), Members::default());
    }

    #[test]
    fn bodies_that_are_not_the_json_asked_for_are_invalid_content() {
        for body in [
            &b"{"[..],
            b"[]",
            br#"{"BatchSize": "ten"}"#,
            br#"{"Enabled": 1}"#,
            br#"{"BatchSize": 1.5}"#,
        ] {
            assert!(
                matches!(read(body, Op::Create), Err(LambdaError::InvalidRequestContent(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn arns_follow_the_models_pattern() {
        assert!(arn_shaped("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"));
        assert!(arn_shaped("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1"));
        assert!(arn_shaped("arn:aws-cn:sqs::123456789012:q"));
        assert!(!arn_shaped("arn:aws:kinesis:us-east-1:1234:stream/s"));
        assert!(!arn_shaped("arn:gcp:kinesis:us-east-1:123456789012:stream/s"));
        assert!(!arn_shaped("kinesis"));
    }
}
