//! On-demand backups: a table's items and settings kept under a backup ARN until the
//! backup is deleted (deleting the table keeps them, as on AWS), and restored into a new
//! table. A backup is taken from one storage snapshot, so it is the table as of one
//! instant; its items are stored in their own encoding in chunks of about 1 MiB (sealed
//! like every stored value when encryption at rest is on), and a restore writes them
//! back through the new table's partition writers, which make its index entries and
//! counts as any write does.

use std::ops::Bound;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::catalog::TableMeta;
use super::changelog::ChangeRecord;
use super::{Engine, EngineError, WriteOrigin};
use crate::engine::read::prefix_end;
use crate::model::{Item, value};
use crate::storage::keys;
use crate::storage::{Mutation, Space, StorageError};

/// Most bytes of items in one stored chunk.
const CHUNK_BYTES: usize = 1024 * 1024;
/// Items written at once while restoring.
const RESTORE_WINDOW: usize = 256;

/// Everything kept about a backup but its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRecord {
    pub arn: String,
    pub name: String,
    /// The table as it was, with its ARN's region and account.
    pub table: TableMeta,
    pub table_arn: String,
    pub created_ms: i64,
    pub item_count: u64,
    pub size_bytes: u64,
    pub chunks: u32,
}

fn record_key(arn: &str) -> Vec<u8> {
    let mut k = b"backup\0".to_vec();
    k.extend_from_slice(arn.as_bytes());
    k
}

fn chunk_key(arn: &str, chunk: u32) -> Vec<u8> {
    let mut k = b"backupdata\0".to_vec();
    k.extend_from_slice(arn.as_bytes());
    k.push(0);
    k.extend_from_slice(&chunk.to_be_bytes());
    k
}

fn corrupt(e: impl std::fmt::Display) -> EngineError {
    EngineError::Storage(StorageError::Corrupt(format!("backup: {e}")))
}

impl Engine {
    /// Backs up table `name` as backup `backup_name`, under `arn`.
    pub async fn create_backup(
        &self,
        name: &str,
        backup_name: &str,
        arn: String,
        table_arn: String,
    ) -> Result<BackupRecord, EngineError> {
        let table = self.table(name).ok_or(EngineError::TableNotFound)?;
        let meta = table.meta();
        let view = self.store.read_view();
        let prefix = keys::table_items_prefix(meta.id);
        let mut chunk = Vec::new();
        let mut chunks = 0u32;
        let (mut item_count, mut size_bytes) = (0u64, 0u64);
        let mut pending = Vec::new();
        for pair in view.range(Space::Items, Bound::Included(prefix.clone()), prefix_end(&prefix)) {
            let (_, bytes) = pair?;
            let item = value::decode_item(&bytes).map_err(corrupt)?;
            item_count += 1;
            size_bytes += value::item_size(&item) as u64;
            chunk.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&bytes);
            if chunk.len() >= CHUNK_BYTES {
                pending.push(Mutation::put(
                    Space::Meta,
                    chunk_key(&arn, chunks),
                    std::mem::take(&mut chunk),
                ));
                chunks += 1;
                if pending.len() >= 8 {
                    self.committer.commit(std::mem::take(&mut pending), 1).await?;
                }
            }
        }
        if !chunk.is_empty() {
            pending.push(Mutation::put(Space::Meta, chunk_key(&arn, chunks), chunk));
            chunks += 1;
        }
        let record = BackupRecord {
            arn: arn.clone(),
            name: backup_name.to_string(),
            table: (*meta).clone(),
            table_arn,
            created_ms: self.clock.now_millis(),
            item_count,
            size_bytes,
            chunks,
        };
        let bytes = serde_json::to_vec(&record).map_err(corrupt)?;
        // The record last: a backup is listed only once all of it is stored.
        pending.push(Mutation::put(Space::Meta, record_key(&arn), bytes));
        self.committer.commit(pending, 1).await?;
        Ok(record)
    }

    /// Whether `arn` names a backup of this engine's namespace (backups are stored by
    /// ARN, which carries the region and account).
    fn ours(&self, arn: &str) -> bool {
        arn.strip_prefix("arn:aws:dynamodb:")
            .and_then(|rest| rest.strip_prefix(self.ns.region.as_str()))
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.strip_prefix(self.ns.account.as_str()))
            .is_some_and(|rest| rest.starts_with(':'))
    }

    /// The backup stored under `arn`, if it is this namespace's.
    pub fn backup(&self, arn: &str) -> Result<Option<BackupRecord>, EngineError> {
        if !self.ours(arn) {
            return Ok(None);
        }
        match self.store.get(Space::Meta, &record_key(arn))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(corrupt),
            None => Ok(None),
        }
    }

    /// Every backup, in ARN order.
    pub fn backups(&self) -> Result<Vec<BackupRecord>, EngineError> {
        let prefix = b"backup\0".to_vec();
        let view = self.store.read_view();
        let mut out = Vec::new();
        for pair in view.range(Space::Meta, Bound::Included(prefix.clone()), prefix_end(&prefix)) {
            let (_, bytes) = pair?;
            let record: BackupRecord = serde_json::from_slice(&bytes).map_err(corrupt)?;
            if self.ours(&record.arn) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Deletes a backup; returns what it was.
    pub async fn delete_backup(&self, arn: &str) -> Result<Option<BackupRecord>, EngineError> {
        let Some(record) = self.backup(arn)? else { return Ok(None) };
        let mut mutations = vec![Mutation::delete(Space::Meta, record_key(arn))];
        mutations
            .extend((0..record.chunks).map(|c| Mutation::delete(Space::Meta, chunk_key(arn, c))));
        self.committer.commit(mutations, 1).await?;
        Ok(Some(record))
    }

    /// Creates table `meta` (a backup's settings under its new name) and writes the
    /// backup's items into it; returns the new table's metadata once every item is in.
    pub async fn restore_backup(
        &self,
        record: &BackupRecord,
        meta: TableMeta,
    ) -> Result<Arc<TableMeta>, EngineError> {
        let created = self.create_table(meta).await?;
        for c in 0..record.chunks {
            let chunk = self
                .store
                .get(Space::Meta, &chunk_key(&record.arn, c))?
                .ok_or_else(|| corrupt(format!("chunk {c} of {} is missing", record.arn)))?;
            let mut items = Vec::new();
            let mut rest = chunk.as_slice();
            while !rest.is_empty() {
                let (len, tail) = rest.split_at_checked(4).ok_or_else(|| corrupt("short chunk"))?;
                let len = u32::from_be_bytes(len.try_into().map_err(corrupt)?) as usize;
                let (bytes, tail) =
                    tail.split_at_checked(len).ok_or_else(|| corrupt("short chunk"))?;
                rest = tail;
                items.push(value::decode_item(bytes).map_err(corrupt)?);
            }
            self.fill_table(&created.name, items).await?;
        }
        let table = self.table(&created.name).ok_or(EngineError::TableNotFound)?;
        Ok(table.meta())
    }

    /// Writes `items` into table `name` through its partition writers (index entries and
    /// counts as for any write), [`RESTORE_WINDOW`] at a time.
    pub async fn fill_table(&self, name: &str, items: Vec<Item>) -> Result<(), EngineError> {
        let table = self.table(name).ok_or(EngineError::TableNotFound)?;
        let meta = table.meta();
        let schema = &meta.key_schema;
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut writes = Vec::with_capacity(RESTORE_WINDOW);
            for item in items.by_ref().take(RESTORE_WINDOW) {
                let hash = item
                    .get(&schema.hash.name)
                    .cloned()
                    .ok_or_else(|| corrupt("an item without its key"))?;
                let range = schema.range.as_ref().and_then(|r| item.get(&r.name).cloned());
                let key = Engine::storage_key(&meta, &hash, range.as_ref());
                let table = table.clone();
                writes.push(async move {
                    let put: super::Mutator = Box::new(move |_| Ok(Some(item)));
                    self.write_as(&table, &hash, key, put, WriteOrigin::Client).await
                });
            }
            for outcome in futures_util::future::join_all(writes).await {
                outcome.map_err(|e| corrupt(format!("restoring an item: {e:?}")))?;
            }
        }
        Ok(())
    }

    /// The items of table `meta` as they were at `at_ms`: today's, with every item
    /// changed since put back as its first later change found it (its old image), read
    /// from one snapshot of the items and the change log (committed together).
    pub fn items_at(&self, meta: &TableMeta, at_ms: i64) -> Result<Vec<Item>, EngineError> {
        let view = self.store.read_view();
        let prefix = keys::table_items_prefix(meta.id);
        let mut items = std::collections::BTreeMap::new();
        for pair in view.range(Space::Items, Bound::Included(prefix.clone()), prefix_end(&prefix)) {
            let (key, bytes) = pair?;
            items.insert(key, value::decode_item(&bytes).map_err(corrupt)?);
        }
        let mut before: std::collections::HashMap<Vec<u8>, Option<Item>> = Default::default();
        let schema = &meta.key_schema;
        for partition in 0..meta.partitions {
            let prefix = keys::change_prefix(meta.id, partition);
            let range = (Bound::Included(prefix.clone()), prefix_end(&prefix));
            for pair in view.range(Space::Changes, range.0, range.1) {
                let (_, bytes) = pair?;
                let record = ChangeRecord::decode(&bytes)?;
                if record.created_ms <= at_ms {
                    continue;
                }
                let Some(image) = record.old.as_ref().or(record.new.as_ref()) else { continue };
                let Some(hash) = image.get(&schema.hash.name) else { continue };
                let range = schema.range.as_ref().and_then(|r| image.get(&r.name));
                let key = Engine::storage_key(meta, hash, range);
                before.entry(key).or_insert(record.old);
            }
        }
        for (key, old) in before {
            match old {
                Some(item) => items.insert(key, item),
                None => items.remove(&key),
            };
        }
        Ok(items.into_values().collect())
    }
}
