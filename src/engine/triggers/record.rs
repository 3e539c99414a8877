//! One event source mapping as it is persisted (JSON under `keys::mappings::mapping_record`,
//! versioned) and its state machine.
//!
//! A mapping's state is derived, not stored as such: the user's `enabled` wish plus, after
//! each change, a transition (`Creating`, `Enabling`, `Disabling`, `Updating`,
//! `Deleting`) that lasts `lambda.mapping_transition_ms`. AWS's transitional states last
//! seconds; clients poll through them and Update or Delete are refused meanwhile
//! (ResourceInUseException), so sluice keeps them visible for a short, configurable time.
//! AWS documents that an update's settings "aren't reflected in the output until the
//! process completes": the transition keeps the settings shown until it ends, while the
//! pollers already use the new ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the persisted record.
pub const RECORD_VERSION: u32 = 1;

/// Where a mapping reads from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// One DynamoDB stream of a table (a label: enabling again makes another stream).
    DynamoDb { table: String, label: String },
    /// A Kinesis stream of this sluice; the id pins it, so a stream deleted and created
    /// again under the same name is not read from the old checkpoints. With `consumer`,
    /// the mapping reads as that enhanced fan-out consumer (the ARN named it): the same
    /// records, pushed from the same committed log.
    Kinesis {
        name: String,
        stream_id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consumer: Option<String>,
    },
}

/// Where a mapping starts reading a shard it has no checkpoint for, at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtTimestamp,
}

impl StartingPosition {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
            StartingPosition::Latest => "LATEST",
            StartingPosition::AtTimestamp => "AT_TIMESTAMP",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<StartingPosition> {
        match s {
            "TRIM_HORIZON" => Some(StartingPosition::TrimHorizon),
            "LATEST" => Some(StartingPosition::Latest),
            "AT_TIMESTAMP" => Some(StartingPosition::AtTimestamp),
            _ => None,
        }
    }
}

/// What Create sets and Update may change. The members sluice does not apply yet
/// (docs/lambda.md) are kept as given, so they read back as set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// FunctionName as the caller gave it (messages quote it; endpoints are given it).
    pub function_name: String,
    /// The function's ARN, with the qualifier the name carried.
    pub function_arn: String,
    pub batch_size: u32,
    pub maximum_batching_window_seconds: u32,
    pub parallelization_factor: u32,
    /// -1 (no limit) or 60 to 604800.
    pub maximum_record_age_seconds: i64,
    /// -1 (until the records expire) or 0 to 10000.
    pub maximum_retry_attempts: i64,
    pub bisect_batch_on_function_error: bool,
    pub tumbling_window_seconds: u32,
    pub function_response_types: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure_destination: Option<String>,
    /// `FilterCriteria` as given (`{"Filters": [{"Pattern": "..."}]}`).
    pub filter_criteria: Option<serde_json::Value>,
    pub kms_key_arn: Option<String>,
    /// `MetricsConfig` as given.
    pub metrics_config: Option<serde_json::Value>,
}

/// The states the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
}

impl State {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "Creating",
            State::Enabling => "Enabling",
            State::Enabled => "Enabled",
            State::Disabling => "Disabling",
            State::Disabled => "Disabled",
            State::Updating => "Updating",
            State::Deleting => "Deleting",
        }
    }
}

/// A change in progress: its state until `until_ms`, and the settings shown meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub state: State,
    pub until_ms: i64,
    /// The settings before an update, shown until it completes.
    pub shown: Option<Settings>,
}

/// Everything persisted about one mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingRecord {
    pub version: u32,
    /// Lowercase 8-4-4-4-12.
    pub uuid: String,
    /// As the caller gave it (validated to name `source` in this region and account).
    pub event_source_arn: String,
    pub source: Source,
    pub starting_position: StartingPosition,
    /// Epoch seconds, as given (AT_TIMESTAMP only).
    pub starting_position_timestamp: Option<f64>,
    pub settings: Settings,
    /// The user's wish: invoke or not.
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    /// The last change a user made.
    pub modified_ms: i64,
    pub transition: Option<Transition>,
}

impl MappingRecord {
    /// The transition still in progress at `now_ms`.
    pub fn transition_at(&self, now_ms: i64) -> Option<&Transition> {
        self.transition.as_ref().filter(|t| now_ms < t.until_ms)
    }

    /// Whether Delete was called (the record goes once `Deleting` ends).
    pub fn deleting(&self) -> bool {
        self.transition.as_ref().is_some_and(|t| t.state == State::Deleting)
    }

    /// The state reported at `now_ms`.
    pub fn state(&self, now_ms: i64) -> State {
        match self.transition_at(now_ms) {
            Some(t) => t.state,
            None if self.deleting() => State::Deleting,
            None if self.enabled => State::Enabled,
            None => State::Disabled,
        }
    }

    /// The settings reported at `now_ms` (an update's old ones until it completes).
    pub fn shown_settings(&self, now_ms: i64) -> &Settings {
        self.transition_at(now_ms).and_then(|t| t.shown.as_ref()).unwrap_or(&self.settings)
    }

    /// `LastModified`: "the date that the event source mapping was last updated or that
    /// its state changed" (a transition's end is a state change).
    pub fn last_modified_ms(&self, now_ms: i64) -> i64 {
        match &self.transition {
            Some(t) if t.until_ms <= now_ms => t.until_ms,
            _ => self.modified_ms,
        }
    }

    /// Whether the pollers should invoke: enabled and not being deleted.
    pub fn active(&self) -> bool {
        self.enabled && !self.deleting()
    }

    /// `arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{}", self.uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            function_name: "f".into(),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
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

    fn record(enabled: bool, transition: Option<Transition>) -> MappingRecord {
        MappingRecord {
            version: RECORD_VERSION,
            uuid: "a1b2c3d4-0000-4000-8000-0123456789ab".into(),
            event_source_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s".into(),
            source: Source::Kinesis { name: "s".into(), stream_id: 1, consumer: None },
            starting_position: StartingPosition::Latest,
            starting_position_timestamp: None,
            settings: settings(),
            enabled,
            tags: BTreeMap::new(),
            created_ms: 1000,
            modified_ms: 1000,
            transition,
        }
    }

    #[test]
    fn transitions_end_in_the_wished_state_and_show_old_settings_meanwhile() {
        let creating = Transition { state: State::Creating, until_ms: 1500, shown: None };
        let r = record(true, Some(creating.clone()));
        assert_eq!(r.state(1499), State::Creating);
        assert_eq!(r.state(1500), State::Enabled);
        assert_eq!((r.last_modified_ms(1499), r.last_modified_ms(1500)), (1000, 1500));
        assert_eq!(record(false, Some(creating)).state(2000), State::Disabled);

        let mut old = settings();
        old.batch_size = 7;
        let updating = Transition { state: State::Updating, until_ms: 3000, shown: Some(old) };
        let r = record(true, Some(updating));
        assert_eq!(
            (r.shown_settings(2999).batch_size, r.shown_settings(3000).batch_size),
            (7, 100)
        );

        let deleting = Transition { state: State::Deleting, until_ms: 3000, shown: None };
        let r = record(true, Some(deleting));
        assert!(!r.active());
        assert_eq!(r.state(9999), State::Deleting, "until the record is gone");
        assert_eq!(
            r.arn("us-east-1", "000000000000"),
            "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:a1b2c3d4-0000-4000-8000-0123456789ab"
        );
    }

    #[test]
    fn records_round_trip_as_json() {
        let r = record(true, None);
        let json = serde_json::to_vec(&r).unwrap();
        assert_eq!(serde_json::from_slice::<MappingRecord>(&json).unwrap(), r);
        for p in ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] {
            assert_eq!(StartingPosition::parse(p).unwrap().as_str(), p);
        }
        assert_eq!(StartingPosition::parse("0"), None);
    }
}
