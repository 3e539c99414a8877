//! Adding and removing a GSI on a live table. A new index is in the table's metadata
//! before it is filled, so every write from then on maintains it; the backfill then
//! sends each existing item through its partition writer, ordered with that item's own
//! writes. A removed index leaves the metadata first, then its entries are purged.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::catalog::{IndexMeta, TableMeta};
use super::writer::{BackfillRequest, WriterMsg};
use super::{Engine, EngineError, purge};
use crate::model::value;
use crate::storage::{Mutation, Space, keys};

/// Items read per backfill step; their writes are awaited before the next step.
const BACKFILL_CHUNK: usize = 256;

impl Engine {
    /// Adds `index` (its id assigned here) to table `name` and starts filling it.
    pub async fn add_index<E: From<EngineError>>(
        self: &Arc<Self>,
        name: &str,
        mut index: IndexMeta,
        prepare: impl FnOnce(&mut TableMeta) -> Result<(), E>,
    ) -> Result<Arc<TableMeta>, E> {
        let meta = self
            .update_table(name, |meta: &mut TableMeta| {
                prepare(meta)?;
                index.id = meta.next_index_id;
                index.backfilling = true;
                meta.next_index_id += 1;
                meta.indexes.push(index.clone());
                Ok::<(), E>(())
            })
            .await?;
        self.spawn_backfill(name.to_string(), index.id);
        Ok(meta)
    }

    /// Removes index `index_name` from table `name` and purges its entries.
    pub async fn remove_index<E: From<EngineError>>(
        &self,
        name: &str,
        index_name: &str,
        prepare: impl FnOnce(&mut TableMeta) -> Result<(), E>,
    ) -> Result<Arc<TableMeta>, E> {
        let mut removed = None;
        let meta = self
            .update_table(name, |meta: &mut TableMeta| {
                let at = meta.indexes.iter().position(|i| i.name == index_name);
                removed = at.map(|at| meta.indexes.remove(at));
                prepare(meta)?;
                Ok::<(), E>(())
            })
            .await?;
        if let Some(index) = removed {
            self.committer
                .commit(
                    vec![Mutation::put(
                        Space::Meta,
                        keys::deleted_index(meta.id, index.id),
                        Vec::new(),
                    )],
                    0,
                )
                .await
                .map_err(EngineError::from)?;
            purge::index(self.store.clone(), self.committer.clone(), meta.id, index.id);
        }
        Ok(meta)
    }

    /// Resumes, after a restart, the backfills and index purges that had not finished.
    pub(super) fn resume_index_work(self: &Arc<Self>) -> Result<(), crate::storage::StorageError> {
        for table in self.tables.iter() {
            let meta = table.meta();
            for index in meta.indexes.iter().filter(|i| i.backfilling) {
                self.spawn_backfill(meta.name.clone(), index.id);
            }
        }
        // Purges are global (by id): the default namespace's engine resumes them all.
        let markers: Vec<_> = match self.is_default() {
            true => self.store.scan_prefix(Space::Meta, keys::DELETED_INDEX_PREFIX).collect(),
            false => Vec::new(),
        };
        for marker in markers {
            let (key, _) = marker?;
            let table = key.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
            let index = key.get(9..13).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
            if let (Some(table), Some(index)) = (table, index) {
                purge::index(self.store.clone(), self.committer.clone(), table, index);
            }
        }
        Ok(())
    }

    fn spawn_backfill(self: &Arc<Self>, table_name: String, index_id: u32) {
        let engine = self.clone();
        tokio::spawn(async move {
            match engine.backfill(&table_name, index_id).await {
                Ok(()) => {}
                // The table or index went away meanwhile: nothing left to fill.
                Err(EngineError::TableNotFound) => {}
                Err(e) => tracing::error!("backfill of {table_name} index {index_id} failed: {e}"),
            }
        });
    }

    async fn backfill(&self, table_name: &str, index_id: u32) -> Result<(), EngineError> {
        let table = self.table(table_name).ok_or(EngineError::TableNotFound)?;
        let meta = table.meta();
        let end = keys::table_items_prefix(meta.id + 1);
        let mut start = keys::table_items_prefix(meta.id);
        loop {
            let chunk: Vec<(Vec<u8>, Vec<u8>)> = self
                .store
                .scan_range(Space::Items, start.clone(), end.clone())
                .take(BACKFILL_CHUNK)
                .collect::<Result<_, _>>()?;
            let mut waits = Vec::with_capacity(chunk.len());
            for (key, bytes) in &chunk {
                let item = value::decode_item(bytes)
                    .map_err(|e| crate::storage::StorageError::Corrupt(e.to_string()))?;
                let Some(hash) = item.get(&meta.key_schema.hash.name) else { continue };
                let (reply, wait) = oneshot::channel();
                let request = BackfillRequest { storage_key: key.clone(), index_id, reply };
                if table.writer_for(hash).send(WriterMsg::Backfill(request)).await.is_err() {
                    return Err(EngineError::TableNotFound);
                }
                waits.push(wait);
            }
            for wait in waits {
                match wait.await {
                    Ok(Ok(())) => {}
                    Ok(Err(super::WriteError::Storage(e))) => return Err(e.into()),
                    Ok(Err(_)) | Err(_) => return Err(EngineError::TableNotFound),
                }
            }
            let Some((last, _)) = chunk.last() else { break };
            start = last.clone();
            start.push(0);
            if chunk.len() < BACKFILL_CHUNK {
                break;
            }
        }
        self.update_table(table_name, |meta: &mut TableMeta| {
            if let Some(index) = meta.indexes.iter_mut().find(|i| i.id == index_id) {
                index.backfilling = false;
            }
            Ok::<(), EngineError>(())
        })
        .await?;
        Ok(())
    }
}
