//! Item collections: the items of one partition of a table with local secondary
//! indexes, and their size as ReturnItemCollectionMetrics reports it (AWS: "the size of
//! all the items in the table [under that partition key value], plus the size of all
//! attributes projected into all of the local secondary indexes").

use crate::model::{AttributeValue, value};
use crate::storage::{StorageError, Store};

use super::Engine;
use super::catalog::TableMeta;
use super::read::{KeySpace, decode_stored_item};

/// One gigabyte, as DynamoDB's `SizeEstimateRangeGB` counts it.
const GB: u64 = 1 << 30;

impl Engine {
    /// The bytes of the item collection `hash` of `meta` (its items plus their LSI
    /// projections), read from a snapshot on the blocking pool. Streams the partition:
    /// memory stays one item, however large the collection.
    pub async fn collection_bytes(
        &self,
        meta: &TableMeta,
        hash: &AttributeValue,
    ) -> Result<u64, StorageError> {
        let store: std::sync::Arc<Store> = self.store.clone();
        let meta = meta.clone();
        let hash = hash.clone();
        tokio::task::spawn_blocking(move || {
            let space = KeySpace::Table { table_id: meta.id };
            let (lower, upper) = space.query(&[&hash], &[], None);
            let view = store.read_view();
            let mut total = 0u64;
            for entry in view.range(crate::storage::Space::Items, lower, upper) {
                let (_, bytes) = entry?;
                let item = decode_stored_item(&bytes)?;
                total += value::item_size(&item) as u64;
                for lsi in meta.indexes.iter().filter(|i| !i.global) {
                    if let Some(entry) = lsi.entry(&meta.key_schema, &item) {
                        total += value::item_size(&entry) as u64;
                    }
                }
            }
            Ok(total)
        })
        .await
        .map_err(|e| StorageError::Fjall(format!("collection task: {e}")))?
    }
}

/// `SizeEstimateRangeGB` of a collection of `bytes`: the whole gigabytes below and
/// above it ([0, 1] under a gigabyte).
pub fn size_estimate_gb(bytes: u64) -> [f64; 2] {
    let low = bytes / GB;
    [low as f64, (low + 1) as f64]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_bracket_the_size_in_whole_gigabytes() {
        assert_eq!(size_estimate_gb(0), [0.0, 1.0]);
        assert_eq!(size_estimate_gb(GB - 1), [0.0, 1.0]);
        assert_eq!(size_estimate_gb(3 * GB + 5), [3.0, 4.0]);
    }
}
