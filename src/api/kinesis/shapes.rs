//! Output shapes several Kinesis operations share: Shard, ChildShard, HashKeyRange,
//! SequenceNumberRange, StreamModeDetails and EnhancedMetrics, built from the engine's
//! metadata.

use serde::{Deserialize, Serialize};

use crate::engine::kinesis::meta::{ShardMeta, StreamMeta, shard_id};
use crate::engine::kinesis::seqno;

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HashKeyRange {
    pub starting_hash_key: String,
    pub ending_hash_key: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjacent_parent_shard_id: Option<String>,
    pub hash_key_range: HashKeyRange,
    pub sequence_number_range: SequenceNumberRange,
}

impl Shard {
    /// A shard of stream `stream_id` as DescribeStream and ListShards show it.
    pub fn of(stream_id: u64, s: &ShardMeta) -> Shard {
        Shard {
            shard_id: s.id(),
            parent_shard_id: s.parent.map(shard_id),
            adjacent_parent_shard_id: s.adjacent_parent.map(shard_id),
            hash_key_range: range(s),
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: seqno::encode(stream_id, s.index, 0),
                // The last sequence number the shard took (its start when it took none).
                ending_sequence_number: s
                    .end_next
                    .map(|next| seqno::encode(stream_id, s.index, next.saturating_sub(1))),
            },
        }
    }
}

fn range(s: &ShardMeta) -> HashKeyRange {
    HashKeyRange {
        starting_hash_key: s.start_hash.to_string(),
        ending_hash_key: s.end_hash.to_string(),
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub hash_key_range: HashKeyRange,
}

/// The children of shard `index`, as GetRecords reports them at the end of a closed shard.
pub fn child_shards(meta: &StreamMeta, index: u32) -> Vec<ChildShard> {
    meta.children_of(index)
        .map(|c| ChildShard {
            shard_id: c.id(),
            parent_shards: [c.parent, c.adjacent_parent]
                .into_iter()
                .flatten()
                .map(shard_id)
                .collect(),
            hash_key_range: range(c),
        })
        .collect()
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetails {
    pub stream_mode: Option<String>,
}

impl StreamModeDetails {
    pub fn of(meta: &StreamMeta) -> StreamModeDetails {
        StreamModeDetails { stream_mode: Some(meta.mode.as_str().to_string()) }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMetrics {
    pub shard_level_metrics: Vec<String>,
}

/// The one-element EnhancedMonitoring list AWS reports.
pub fn enhanced_monitoring(meta: &StreamMeta) -> Vec<EnhancedMetrics> {
    vec![EnhancedMetrics { shard_level_metrics: meta.shard_level_metrics.clone() }]
}

/// The wire encryption type and key of a stream.
pub fn encryption(meta: &StreamMeta) -> (String, Option<String>) {
    match &meta.encryption {
        Some(e) => ("KMS".into(), Some(e.key_id.clone())),
        None => ("NONE".into(), None),
    }
}
