//! Purging a deleted table's items in the background, in bounded batches, resumable after
//! a restart (the deleted-table marker stays until the last item is gone).

use std::sync::Arc;

use crate::storage::{CommitHandle, Mutation, Space, Store, keys};

const PURGE_BATCH: usize = 1000;

/// Starts purging table `table_id`'s items and statistics.
pub fn spawn(store: Arc<Store>, committer: CommitHandle, table_id: u64) {
    tokio::spawn(async move {
        let prefix = keys::table_items_prefix(table_id);
        let end = keys::table_items_prefix(table_id + 1);
        // Each batch resumes after the last key deleted, so no batch walks over the
        // tombstones the previous ones left.
        let mut start = prefix.clone();
        loop {
            let batch: Vec<Mutation> = store
                .scan_range(Space::Items, start.clone(), end.clone())
                .take(PURGE_BATCH)
                .filter_map(Result::ok)
                .map(|(k, _)| Mutation::delete(Space::Items, k))
                .collect();
            if let Some(last) = batch.last() {
                start = last.key.clone();
                start.push(0);
            }
            let done = batch.len() < PURGE_BATCH;
            if !batch.is_empty() && committer.commit(batch, 0).await.is_err() {
                return;
            }
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut last: Vec<Mutation> = store
            .scan_prefix(Space::Meta, &keys::partition_stats_prefix(table_id))
            .filter_map(Result::ok)
            .map(|(k, _)| Mutation::delete(Space::Meta, k))
            .collect();
        last.push(Mutation::delete(Space::Meta, keys::deleted_table(table_id)));
        if let Err(e) = committer.commit(last, 0).await {
            tracing::warn!("purge of table {table_id} will resume at next start: {e}");
        }
    });
}
