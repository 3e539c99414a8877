//! Table metadata as the engine keeps and persists it (not the wire shape: the api layer
//! renders DescribeTable from it).

use serde::{Deserialize, Serialize};

use crate::model::{AttributeValue, Item};

/// The current version of the persisted table record.
pub const TABLE_RECORD_VERSION: u32 = 1;

/// A scalar key attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    /// Whether `value` is of this type.
    pub fn matches(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (ScalarType::S, AttributeValue::S(_))
                | (ScalarType::N, AttributeValue::N(_))
                | (ScalarType::B, AttributeValue::B(_))
        )
    }
}

/// One key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    pub ty: ScalarType,
}

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
}

impl KeySchema {
    /// The key attribute names, hash first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash.name.as_str()).chain(self.range.as_ref().map(|r| r.name.as_str()))
    }

    /// Whether `name` is a key attribute.
    pub fn is_key(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }

    /// The key attributes of `item` (which must hold them).
    pub fn key_of(&self, item: &Item) -> Item {
        self.names().filter_map(|n| item.get(n).map(|v| (n.to_string(), v.clone()))).collect()
    }
}

/// Provisioned throughput as DescribeTable reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Throughput {
    pub read: i64,
    pub write: i64,
    pub last_increase_ms: Option<i64>,
    pub last_decrease_ms: Option<i64>,
    pub decreases_today: i64,
}

/// The table's stream settings, stored for the Streams issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    pub enabled: bool,
    pub view_type: Option<String>,
}

/// The table's Time to Live setting (UpdateTimeToLive / DescribeTimeToLive).
///
/// Disabling forgets the attribute name, as AWS does: DescribeTimeToLive of a disabled
/// table shows no AttributeName.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TimeToLive {
    /// The TTL attribute while TTL is enabled; `None` while it is disabled.
    pub attribute: Option<String>,
    /// When TTL was last enabled or disabled: AWS refuses another change for a while.
    pub changed_ms: Option<i64>,
}

/// Everything persisted about a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub version: u32,
    /// Internal id: prefix of the table's storage keys; never reused.
    pub id: u64,
    pub name: String,
    /// The TableId AWS reports (a UUID).
    pub uuid: String,
    pub created_ms: i64,
    pub key_schema: KeySchema,
    /// AttributeDefinitions in request order.
    pub attribute_definitions: Vec<KeyAttribute>,
    /// `PROVISIONED` or `PAY_PER_REQUEST`.
    pub billing_mode: String,
    pub billing_mode_updated_ms: Option<i64>,
    pub throughput: Throughput,
    pub stream: Option<StreamSettings>,
    pub tags: Vec<(String, String)>,
    pub deletion_protection: bool,
    pub table_class: Option<String>,
    /// Writer partitions, fixed at creation so routing never changes under stored data.
    pub partitions: u32,
    /// Added after version 1 shipped: absent in older records, which load as disabled.
    #[serde(default)]
    pub ttl: TimeToLive,
}

impl TableMeta {
    /// The table ARN.
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:dynamodb:{region}:{account}:table/{}", self.name)
    }
}
