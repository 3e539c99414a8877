//! A mapping's checkpoints: per shard, the sequence number of the next record to deliver,
//! in the meta keyspace (`keys::mappings`). A shard without one starts at its beginning
//! (or its trim horizon), which is what TRIM_HORIZON asks and what every shard created
//! after the mapping needs; LATEST and AT_TIMESTAMP write one for every shard that exists
//! when the mapping is created, in the same commit as the mapping itself, so a restart
//! never reinterprets a starting position.

use std::collections::HashMap;

use super::record::{MappingRecord, Source, StartingPosition};
use crate::engine::Engine;
use crate::storage::keys::mappings as keys;
use crate::storage::{Mutation, Space, StorageError};

impl Engine {
    /// Every checkpoint of mapping `uuid`, by shard id.
    pub fn mapping_checkpoints(&self, uuid: &str) -> Result<HashMap<String, u64>, StorageError> {
        let mut out = HashMap::new();
        for entry in self.store.scan_prefix(Space::Meta, &keys::checkpoint_prefix(uuid)) {
            let (key, value) = entry?;
            let (_, shard) = keys::checkpoint_parts(&key)?;
            out.insert(shard.to_string(), keys::decode_checkpoint(&value)?);
        }
        Ok(out)
    }

    /// Makes `value` (`keys::encode_checkpoint*`) the checkpoint of mapping `uuid` on
    /// `shard_id`: in the OS's buffers at once, so a killed process keeps it, and on disk
    /// with the next client write's sync. A power cut may take it back to an earlier one,
    /// which delivers some records again (at least once) and skips none.
    pub(super) async fn save_checkpoint(
        &self,
        uuid: &str,
        shard_id: &str,
        value: Vec<u8>,
    ) -> Result<(), StorageError> {
        let m = Mutation::put(Space::Meta, keys::checkpoint(uuid, shard_id), value);
        self.committer.commit_buffered(vec![m]).await
    }

    /// The tumbling window stored with mapping `uuid`'s checkpoint on `shard_id`.
    pub(super) fn saved_window(
        &self,
        uuid: &str,
        shard_id: &str,
    ) -> Result<Option<super::window::Window>, StorageError> {
        let Some(value) = self.store.get(Space::Meta, &keys::checkpoint(uuid, shard_id))? else {
            return Ok(None);
        };
        let Some((start_ms, end_ms, state)) = keys::decode_window(&value)? else {
            return Ok(None);
        };
        let state = serde_json::from_slice(state)
            .map_err(|e| StorageError::Corrupt(format!("tumbling window state: {e}")))?;
        Ok(Some(super::window::Window { start_ms, end_ms, state, terminated_early: false }))
    }

    /// The checkpoints a new mapping starts from, per shard: none for TRIM_HORIZON; for
    /// LATEST the committed tip of every open shard (a write acknowledged before the
    /// mapping existed is not delivered, one after it is) and the end of every closed one;
    /// for AT_TIMESTAMP the first record of each shard that arrived at or after it.
    pub(super) async fn initial_checkpoints(
        &self,
        record: &MappingRecord,
    ) -> Result<Vec<Mutation>, StorageError> {
        let mut positions: Vec<(String, u64)> = Vec::new();
        match (&record.source, record.starting_position) {
            (_, StartingPosition::TrimHorizon) => {}
            (Source::DynamoDb { table, label }, _) => {
                // Boundaries held still: no rollover between the shard list and the tips.
                let _gate = self.hold_shard_boundaries().await;
                if let Some(stream) = self.stream(table, label) {
                    for s in &stream.shards {
                        let at = match s.end_seq {
                            Some(end) => end.saturating_add(1).max(s.start_seq),
                            None => self.next_seq(&stream, s.partition).max(s.start_seq),
                        };
                        positions.push((s.id.clone(), at));
                    }
                }
            }
            (Source::Kinesis { stream_id, .. }, position) => {
                let Some(stream) = self.kinesis.by_id(*stream_id) else { return Ok(Vec::new()) };
                let at_ms = record.starting_position_timestamp.map(|t| (t * 1000.0) as i64);
                for s in stream.meta().shards.iter() {
                    let Some(tip) = stream.shared.tip(s.index) else { continue };
                    let at = match (position, at_ms) {
                        (StartingPosition::AtTimestamp, Some(ms)) => {
                            self.kinesis_seq_at(*stream_id, s.index, ms, tip.first, tip.next)
                                .await?
                        }
                        _ => tip.next,
                    };
                    positions.push((s.id(), at));
                }
            }
        }
        Ok(positions
            .into_iter()
            .map(|(shard, at)| {
                Mutation::put(
                    Space::Meta,
                    keys::checkpoint(&record.uuid, &shard),
                    keys::encode_checkpoint(at),
                )
            })
            .collect())
    }

    /// Deletions of every checkpoint of mapping `uuid`.
    pub(super) fn checkpoint_deletions(&self, uuid: &str) -> Vec<Mutation> {
        self.store
            .scan_prefix(Space::Meta, &keys::checkpoint_prefix(uuid))
            .filter_map(Result::ok)
            .map(|(k, _)| Mutation::delete(Space::Meta, k))
            .collect()
    }

    /// Deletions of the checkpoints of mappings that no longer exist (a checkpoint a
    /// poller wrote while its mapping was being deleted).
    pub(super) fn orphan_checkpoints(&self, exists: impl Fn(&str) -> bool) -> Vec<Mutation> {
        self.store
            .scan_prefix(Space::Meta, keys::CHECKPOINT_PREFIX)
            .filter_map(Result::ok)
            .filter(|(k, _)| keys::checkpoint_parts(k).is_ok_and(|(uuid, _)| !exists(uuid)))
            .map(|(k, _)| Mutation::delete(Space::Meta, k))
            .collect()
    }
}

/// A shard's checkpoint, as `source::eligible` asks for it.
pub(super) fn lookup(checkpoints: &HashMap<String, u64>) -> impl Fn(&str) -> Option<u64> + '_ {
    move |shard: &str| checkpoints.get(shard).copied()
}
