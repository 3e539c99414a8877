//! Purging what a deleted table, index or Kinesis stream left behind (items, index
//! entries, statistics, stream records) in the background, in bounded batches, resumable
//! after a restart: the deletion marker stays until the last key is gone and is removed
//! in the same batch as the statistics.

use std::sync::Arc;

use crate::storage::{CommitHandle, Mutation, Space, Store, keys};

const PURGE_BATCH: usize = 1000;

/// Starts purging table `table_id`: its items, its index entries, its statistics.
pub fn table(store: Arc<Store>, committer: CommitHandle, table_id: u64) {
    let (start, end) = (keys::table_items_prefix(table_id), keys::table_items_prefix(table_id + 1));
    let mut stats_prefix = b"x".to_vec();
    stats_prefix.extend_from_slice(&table_id.to_be_bytes());
    spawn(
        store,
        committer,
        vec![(Space::Items, start.clone(), end.clone()), (Space::Indexes, start, end)],
        vec![
            keys::partition_stats_prefix(table_id),
            stats_prefix,
            keys::bridge_cursor_prefix(table_id),
        ],
        keys::deleted_table(table_id),
    );
}

/// Starts purging index `index_id` of table `table_id`: its entries and statistics.
pub fn index(store: Arc<Store>, committer: CommitHandle, table_id: u64, index_id: u32) {
    let start = keys::index_prefix(table_id, index_id);
    let end = match index_id.checked_add(1) {
        Some(next) => keys::index_prefix(table_id, next),
        None => keys::table_items_prefix(table_id + 1),
    };
    spawn(
        store,
        committer,
        vec![(Space::Indexes, start, end)],
        vec![keys::index_stats_prefix(table_id, index_id)],
        keys::deleted_index(table_id, index_id),
    );
}

/// Starts purging Kinesis stream `stream_id`: its records (runs, or groups with their
/// headers and locators) and shard counters.
pub fn kinesis_stream(store: Arc<Store>, committer: CommitHandle, stream_id: u64) {
    use crate::storage::keys::kinesis;
    let (start, end) = (kinesis::stream_prefix(stream_id), kinesis::stream_prefix(stream_id + 1));
    let mut counters = b"q".to_vec();
    counters.extend_from_slice(&stream_id.to_be_bytes());
    spawn(
        store,
        committer,
        vec![(Space::Kinesis, start.clone(), end.clone()), (Space::KinesisIndex, start, end)],
        vec![counters],
        kinesis::deleted_stream(stream_id),
    );
}

fn spawn(
    store: Arc<Store>,
    committer: CommitHandle,
    ranges: Vec<(Space, Vec<u8>, Vec<u8>)>,
    meta_prefixes: Vec<Vec<u8>>,
    marker: Vec<u8>,
) {
    tokio::spawn(async move {
        for (space, mut start, end) in ranges {
            // Each batch resumes after the last key deleted, so no batch walks over the
            // tombstones the previous ones left.
            loop {
                let batch: Vec<Mutation> = store
                    .scan_range(space, start.clone(), end.clone())
                    .take(PURGE_BATCH)
                    .filter_map(Result::ok)
                    .map(|(k, _)| Mutation::delete(space, k))
                    .collect();
                if let Some(last) = batch.last() {
                    start = last.key.to_vec();
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
        }
        let mut last: Vec<Mutation> = meta_prefixes
            .iter()
            .flat_map(|p| {
                store.scan_prefix(Space::Meta, p).filter_map(Result::ok).collect::<Vec<_>>()
            })
            .map(|(k, _)| Mutation::delete(Space::Meta, k))
            .collect();
        last.push(Mutation::delete(Space::Meta, marker));
        if let Err(e) = committer.commit(last, 0).await {
            tracing::warn!("purge will resume at next start: {e}");
        }
    });
}
