//! Creating, updating and deleting mappings, recovering them at start and starting their
//! pollers. Changes are serialized (`Triggers::control`), persisted, then published to
//! the mapping's pollers through its record's `watch`.
//!
//! Deleting is a transition too: the record stays (state `Deleting`) while the poller
//! stops, then goes with its checkpoints. A restart in between finishes the job, and
//! checkpoints left by a mapping that no longer exists are removed at start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::record::{
    MappingRecord, RECORD_VERSION, Settings, Source, StartingPosition, State, Transition,
};
use super::{Mapping, poller};
use crate::engine::Engine;
use crate::storage::keys::mappings as keys;
use crate::storage::{Mutation, Space, StorageError};

/// The source a Create names, parsed from its ARN (in this region and account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    DynamoDb {
        table: String,
        label: String,
    },
    /// A Kinesis stream, or one of its enhanced fan-out consumers (its name, and the
    /// registration second its ARN carries).
    Kinesis {
        name: String,
        consumer: Option<(String, i64)>,
    },
}

/// A new mapping, validated.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    pub event_source_arn: String,
    pub source: SourceRef,
    pub starting_position: StartingPosition,
    pub starting_position_timestamp: Option<f64>,
    pub settings: Settings,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
}

/// A change of a mapping's settings and wish, applied under the control lock.
pub type MappingUpdate<'a> = Box<dyn FnOnce(&mut Settings, &mut bool) + Send + 'a>;

/// Why a mapping change was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MappingError {
    /// The source stream does not exist (or not here).
    #[error("Stream not found: {0}")]
    StreamNotFound(String),
    /// The function already has a mapping on the source.
    #[error(
        "The event source arn (\" {arn} \") and function (\" {function} \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}"
    )]
    Conflict { arn: String, function: String, uuid: String },
    #[error("The resource you requested does not exist.")]
    NotFound,
    /// In a transitional state: `update` or `delete` must wait.
    #[error("Cannot {0} the event source mapping because it is in use.")]
    InUse(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Engine {
    fn transition(&self, state: State, now: i64, shown: Option<Settings>) -> Transition {
        let until_ms = now.saturating_add(self.config.lambda.mapping_transition_ms as i64);
        Transition { state, until_ms, shown }
    }

    /// Another live mapping of the same function on the same source.
    fn duplicate(&self, arn: &str, function_arn: &str, except: &str) -> Option<Arc<MappingRecord>> {
        self.triggers.all().into_iter().map(|m| m.record()).find(|r| {
            r.uuid != except
                && !r.deleting()
                && r.event_source_arn == arn
                && r.settings.function_arn == function_arn
        })
    }

    /// Creates a mapping (state `Creating`); its poller starts at once once triggers run.
    pub async fn create_mapping(
        self: &Arc<Self>,
        spec: MappingSpec,
    ) -> Result<Arc<MappingRecord>, MappingError> {
        let _guard = self.triggers.control.lock().await;
        let arn = spec.event_source_arn.clone();
        let source = match spec.source {
            SourceRef::DynamoDb { table, label } => {
                self.stream(&table, &label)
                    .ok_or_else(|| MappingError::StreamNotFound(arn.clone()))?;
                Source::DynamoDb { table, label }
            }
            SourceRef::Kinesis { name, consumer } => {
                let stream = self
                    .kinesis
                    .get(&name)
                    .ok_or_else(|| MappingError::StreamNotFound(arn.clone()))?;
                if let Some((c, created_secs)) = &consumer {
                    let meta = stream.meta();
                    let now = self.clock.now_millis();
                    // The ARN names one registration: an older consumer of the same name
                    // is another consumer.
                    let live = meta.consumer(c, now, self.consumer_delays());
                    if live.is_none_or(|(m, _)| m.created_secs() != *created_secs) {
                        return Err(MappingError::StreamNotFound(arn.clone()));
                    }
                }
                let consumer = consumer.map(|(c, _)| c);
                Source::Kinesis { name, stream_id: stream.id(), consumer }
            }
        };
        if let Some(other) = self.duplicate(&arn, &spec.settings.function_arn, "") {
            return Err(MappingError::Conflict {
                arn,
                function: spec.settings.function_name.clone(),
                uuid: other.uuid.clone(),
            });
        }
        let now = self.clock.now_millis();
        let record = MappingRecord {
            version: RECORD_VERSION,
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn: arn,
            source,
            starting_position: spec.starting_position,
            starting_position_timestamp: spec.starting_position_timestamp,
            settings: spec.settings,
            enabled: spec.enabled,
            tags: spec.tags,
            created_ms: now,
            modified_ms: now,
            transition: Some(self.transition(State::Creating, now, None)),
        };
        let mut batch = self.initial_checkpoints(&record).await?;
        batch.push(put_record(&self.ns_key, &record)?);
        self.committer.commit(batch, 0).await?;
        let mapping = Mapping::new(record);
        self.triggers.insert(mapping.clone());
        if self.triggers.started() {
            poller::spawn(self, &mapping);
        }
        Ok(mapping.record())
    }

    /// Applies `change` to mapping `uuid` (state `Updating`, or `Enabling`/`Disabling`
    /// when the wish changed); a change of function is checked for duplicates.
    pub async fn update_mapping(
        &self,
        uuid: &str,
        change: MappingUpdate<'_>,
    ) -> Result<Arc<MappingRecord>, MappingError> {
        let _guard = self.triggers.control.lock().await;
        let mapping = self.triggers.get(uuid).ok_or(MappingError::NotFound)?;
        let current = mapping.record();
        let now = self.clock.now_millis();
        if current.transition_at(now).is_some() || current.deleting() {
            return Err(MappingError::InUse("update"));
        }
        let mut next = (*current).clone();
        change(&mut next.settings, &mut next.enabled);
        if next.settings.function_arn != current.settings.function_arn
            && let Some(other) =
                self.duplicate(&next.event_source_arn, &next.settings.function_arn, uuid)
        {
            return Err(MappingError::Conflict {
                arn: next.event_source_arn.clone(),
                function: next.settings.function_name.clone(),
                uuid: other.uuid.clone(),
            });
        }
        let state = match (current.enabled, next.enabled) {
            (false, true) => State::Enabling,
            (true, false) => State::Disabling,
            _ => State::Updating,
        };
        next.transition = Some(self.transition(state, now, Some(current.settings.clone())));
        next.modified_ms = now;
        self.committer.commit(vec![put_record(&self.ns_key, &next)?], 0).await?;
        if next.settings.function_name != current.settings.function_name
            && let Some(old) = crate::lambda::name::parse(&current.settings.function_name)
        {
            // The series of the function it no longer invokes.
            self.metrics.esm.forget(uuid, &[old.name.as_str()]);
        }
        Ok(mapping.publish(next))
    }

    /// Deletes mapping `uuid`: `Deleting` at once (its poller stops), gone with its
    /// checkpoints once the transition ends and the poller has stopped.
    pub async fn delete_mapping(
        self: &Arc<Self>,
        uuid: &str,
    ) -> Result<Arc<MappingRecord>, MappingError> {
        let _guard = self.triggers.control.lock().await;
        let mapping = self.triggers.get(uuid).ok_or(MappingError::NotFound)?;
        let current = mapping.record();
        let now = self.clock.now_millis();
        if current.transition_at(now).is_some() || current.deleting() {
            return Err(MappingError::InUse("delete"));
        }
        let mut next = (*current).clone();
        next.transition = Some(self.transition(State::Deleting, now, None));
        next.modified_ms = now;
        self.committer.commit(vec![put_record(&self.ns_key, &next)?], 0).await?;
        let record = mapping.publish(next);
        self.finish_deletion(mapping);
        Ok(record)
    }

    /// Removes a deleting mapping once its transition has ended and its poller stopped.
    fn finish_deletion(self: &Arc<Self>, mapping: Arc<Mapping>) {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let record = mapping.record();
            let left = record.transition.as_ref().map_or(0, |t| t.until_ms)
                - engine.upgrade().map_or(0, |e| e.clock.now_millis());
            tokio::time::sleep(Duration::from_millis(left.max(0) as u64)).await;
            let poller = mapping.poller.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(poller) = poller {
                let _ = poller.await;
            }
            let Some(engine) = engine.upgrade() else { return };
            let _guard = engine.triggers.control.lock().await;
            let mut batch = engine.checkpoint_deletions(&record.uuid);
            batch.push(Mutation::delete(
                Space::Meta,
                keys::mapping_record(&engine.ns_key, &record.uuid),
            ));
            if let Err(e) = engine.committer.commit(batch, 0).await {
                // The record stays `Deleting`; the next start removes it.
                tracing::error!(mapping = %record.uuid, "cannot remove the deleted mapping: {e}");
                return;
            }
            engine.triggers.remove(&record.uuid);
            let functions = [record.settings.function_name.as_str()];
            let names: Vec<String> = functions
                .iter()
                .filter_map(|f| crate::lambda::name::parse(f).map(|f| f.name))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            engine.metrics.esm.forget(&record.uuid, &names);
        });
    }

    /// Loads the persisted mappings (at open). Their pollers start with
    /// `start_triggers`.
    pub(crate) fn load_mappings(&self) -> Result<(), StorageError> {
        for entry in self.store.scan_prefix(Space::Meta, &keys::mapping_prefix(&self.ns_key)) {
            let (_, bytes) = entry?;
            let record: MappingRecord = serde_json::from_slice(&bytes)
                .map_err(|e| StorageError::Corrupt(format!("event source mapping record: {e}")))?;
            self.triggers.insert(Mapping::new(record));
        }
        Ok(())
    }

    /// Starts the pollers of every mapping, after the functions they invoke are up;
    /// finishes the deletions a restart interrupted and removes checkpoints no mapping
    /// owns.
    ///
    /// On the default namespace's engine, first opens the other namespaces the store
    /// holds and starts theirs too: checkpoints are global (by mapping UUID), so an
    /// orphan is one no namespace's mapping owns.
    pub async fn start_triggers(self: &Arc<Self>) -> Result<(), StorageError> {
        let others = match self.is_default() {
            true => {
                self.open_stored_namespaces()?;
                self.other_namespaces()
            }
            false => Vec::new(),
        };
        let _guard = self.triggers.control.lock().await;
        if self.is_default() {
            let owned = |uuid: &str| {
                self.triggers.get(uuid).is_some()
                    || others.iter().any(|e| e.triggers.get(uuid).is_some())
            };
            let orphans = self.orphan_checkpoints(owned);
            if !orphans.is_empty() {
                self.committer.commit(orphans, 0).await?;
            }
        }
        for other in &others {
            Box::pin(other.start_triggers()).await?;
        }
        self.triggers.started.store(true, std::sync::atomic::Ordering::Release);
        for mapping in self.triggers.all() {
            if mapping.record().deleting() {
                self.finish_deletion(mapping);
            } else {
                poller::spawn(self, &mapping);
            }
        }
        Ok(())
    }
}

fn put_record(ns: &[u8], record: &MappingRecord) -> Result<Mutation, StorageError> {
    let bytes = serde_json::to_vec(record).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    Ok(Mutation::put(Space::Meta, keys::mapping_record(ns, &record.uuid), bytes))
}
