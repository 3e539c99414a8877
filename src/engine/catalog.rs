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

/// A table's primary key, or an index's key.
///
/// A global secondary index may have multi-attribute keys (AWS, November 2025): up to
/// four partition key attributes and up to four sort key attributes. The first of each
/// is `hash` / `range`; the others follow in `more_hash` / `more_range`, which are empty
/// for tables, LSIs and every record written before multi-attribute keys existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_hash: Vec<KeyAttribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_range: Vec<KeyAttribute>,
}

impl KeySchema {
    /// A key of one partition key attribute and at most one sort key attribute.
    pub fn new(hash: KeyAttribute, range: Option<KeyAttribute>) -> KeySchema {
        KeySchema { hash, range, more_hash: vec![], more_range: vec![] }
    }

    /// The partition key attributes, in key-schema order.
    pub fn hash_attrs(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.hash).chain(&self.more_hash)
    }

    /// The sort key attributes, in key-schema order (none without a sort key).
    pub fn range_attrs(&self) -> impl Iterator<Item = &KeyAttribute> {
        self.range.iter().chain(&self.more_range)
    }

    /// Every key attribute with whether it is a partition key attribute, partition key
    /// attributes first.
    pub fn attrs(&self) -> impl Iterator<Item = (&KeyAttribute, bool)> {
        self.hash_attrs().map(|a| (a, true)).chain(self.range_attrs().map(|a| (a, false)))
    }

    /// Whether the key has more than one partition or sort key attribute.
    pub fn multi_attribute(&self) -> bool {
        !self.more_hash.is_empty() || !self.more_range.is_empty()
    }

    /// The key attribute names, partition key attributes first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attrs().map(|(a, _)| a.name.as_str())
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
    /// The label of the table's most recent stream (DescribeTable's LatestStreamLabel).
    #[serde(default)]
    pub latest_stream_label: Option<String>,
    pub tags: Vec<(String, String)>,
    pub deletion_protection: bool,
    pub table_class: Option<String>,
    /// Writer partitions, fixed at creation so routing never changes under stored data.
    pub partitions: u32,
    /// Secondary indexes, in creation order (LSIs first, as CreateTable lists them).
    #[serde(default)]
    pub indexes: Vec<IndexMeta>,
    /// The id the next index gets: ids prefix index storage keys and are never reused.
    #[serde(default = "first_index_id")]
    pub next_index_id: u32,
    /// Every Kinesis streaming destination the table has had (the bridge).
    #[serde(default)]
    pub destinations: Vec<crate::engine::bridge::Destination>,
    /// Added after version 1 shipped: absent in older records, which load as disabled.
    #[serde(default)]
    pub ttl: TimeToLive,
    /// SSESpecification Enabled at creation: the KMS key named (or AWS's managed key's
    /// alias), reported as SSEDescription. Accepted only when the store seals values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_kms_key: Option<String>,
    /// Point-in-time recovery, while enabled: the table then logs its changes, and keeps
    /// them for the recovery period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<Pitr>,
}

/// Point-in-time recovery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pitr {
    /// When it was enabled: the earliest time it restores to.
    pub enabled_ms: i64,
    /// How far back it restores (AWS: 1 to 35 days).
    pub recovery_period_days: u32,
}

impl Pitr {
    /// The earliest time a restore may ask for at `now_ms`.
    pub fn earliest_ms(&self, now_ms: i64) -> i64 {
        self.enabled_ms.max(now_ms - i64::from(self.recovery_period_days) * 86_400_000)
    }
}

fn first_index_id() -> u32 {
    1
}

/// Which attributes an index copies from the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectionKind {
    All,
    KeysOnly,
    Include(Vec<String>),
}

impl ProjectionKind {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProjectionKind::All => "ALL",
            ProjectionKind::KeysOnly => "KEYS_ONLY",
            ProjectionKind::Include(_) => "INCLUDE",
        }
    }
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Pinned within the table; prefixes the index's storage keys.
    pub id: u32,
    pub name: String,
    /// A GSI (true) or an LSI (false).
    pub global: bool,
    pub key_schema: KeySchema,
    pub projection: ProjectionKind,
    /// GSIs of provisioned tables carry their own throughput.
    pub throughput: Option<Throughput>,
    /// True while a GSI added by UpdateTable is being filled from existing items.
    pub backfilling: bool,
}

impl IndexMeta {
    /// The item as this index stores it: its projection, always with the table's and
    /// the index's key attributes. `None` when the item lacks an index key attribute.
    pub fn entry(&self, table_keys: &KeySchema, item: &Item) -> Option<Item> {
        // Sparse: an item is in the index only with every key attribute, each typed.
        for (attr, _) in self.key_schema.attrs() {
            if !attr.ty.matches(item.get(&attr.name)?) {
                return None;
            }
        }
        Some(match &self.projection {
            ProjectionKind::All => item.clone(),
            ProjectionKind::KeysOnly | ProjectionKind::Include(_) => {
                let extra: &[String] = match &self.projection {
                    ProjectionKind::Include(names) => names,
                    _ => &[],
                };
                item.iter()
                    .filter(|(name, _)| {
                        table_keys.is_key(name)
                            || self.key_schema.is_key(name)
                            || extra.contains(name)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
        })
    }

    /// The index ARN.
    pub fn arn(&self, table_arn: &str) -> String {
        format!("{table_arn}/index/{}", self.name)
    }
}

impl TableMeta {
    /// Whether writes must produce change records: a stream is enabled, or a Kinesis
    /// destination is forwarding.
    pub fn logs_changes(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.enabled)
            || self.forwarding_destination().is_some()
            || self.pitr.is_some()
    }

    /// The destination changes are forwarded to, if any.
    pub fn forwarding_destination(&self) -> Option<&crate::engine::bridge::Destination> {
        self.destinations.iter().find(|d| d.status.forwarding())
    }

    /// A table record with every optional setting at its default (billing on demand, no
    /// stream, index, tags or TTL); `id` is assigned by `Engine::create_table`.
    pub fn new(name: &str, key_schema: KeySchema, partitions: u32) -> TableMeta {
        let attribute_definitions =
            std::iter::once(key_schema.hash.clone()).chain(key_schema.range.clone()).collect();
        TableMeta {
            version: TABLE_RECORD_VERSION,
            id: 0,
            name: name.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            created_ms: 0,
            key_schema,
            attribute_definitions,
            billing_mode: "PAY_PER_REQUEST".into(),
            billing_mode_updated_ms: None,
            throughput: Throughput::default(),
            stream: None,
            latest_stream_label: None,
            tags: vec![],
            deletion_protection: false,
            table_class: None,
            partitions,
            indexes: vec![],
            next_index_id: first_index_id(),
            ttl: TimeToLive::default(),
            destinations: vec![],
            sse_kms_key: None,
            pitr: None,
        }
    }

    /// An index by name.
    pub fn index(&self, name: &str) -> Option<&IndexMeta> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The table ARN.
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:dynamodb:{region}:{account}:table/{}", self.name)
    }
}
