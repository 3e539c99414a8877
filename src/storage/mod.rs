//! The one embedded store (fjall): a few fixed keyspaces, atomic batches across them, and
//! the group-commit thread that turns many writers' batches into one commit and one fsync.
//!
//! Layouts of every key live in `keys.rs`.

pub mod commit;
pub mod keys;

use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::config::{Durability, StorageConfig};

pub use commit::{CommitHandle, Mutation, Space};

/// Storage failures. They are internal errors on the wire.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Fjall(String),
    #[error("storage: corrupt record: {0}")]
    Corrupt(String),
    #[error("storage: the commit thread has stopped")]
    Closed,
}

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        StorageError::Fjall(e.to_string())
    }
}

/// The database and its keyspaces. Cheap to share behind an `Arc`.
pub struct Store {
    db: Database,
    /// Table catalog, counters and per-partition statistics.
    pub meta: Keyspace,
    /// Items of every table, keyed by table id then item key.
    pub items: Keyspace,
    durability: Durability,
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("durability", &self.durability).finish()
    }
}

impl Store {
    /// Opens (or creates) the store the config describes. `in_memory` uses a temporary
    /// directory removed on exit and never syncs.
    pub fn open(config: &StorageConfig) -> Result<Arc<Store>, StorageError> {
        if config.in_memory {
            let dir = tempfile::Builder::new()
                .prefix("sluice-mem-")
                .tempdir()
                .map_err(|e| StorageError::Fjall(e.to_string()))?;
            let mut store = Store::open_at(dir.path(), Durability::None)?;
            store._temp_dir = Some(dir);
            return Ok(Arc::new(store));
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StorageError::Fjall(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        Ok(Arc::new(Store::open_at(&config.data_dir, config.durability)?))
    }

    fn open_at(path: &Path, durability: Durability) -> Result<Store, StorageError> {
        // The commit thread decides when the journal is synced.
        let db = Database::builder(path).manual_journal_persist(true).open()?;
        let meta = db.keyspace("meta", KeyspaceCreateOptions::default)?;
        let items = db.keyspace("items", KeyspaceCreateOptions::default)?;
        Ok(Store { db, meta, items, durability, _temp_dir: None })
    }

    /// The configured durability (`none` for in-memory stores).
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Meta => &self.meta,
            Space::Items => &self.items,
        }
    }

    /// Commits `mutations` as one atomic batch, then persists as `durability` says.
    pub(crate) fn commit_now(&self, mutations: &[Mutation]) -> Result<(), StorageError> {
        let mut batch = self.db.batch();
        for m in mutations {
            match &m.value {
                Some(v) => batch.insert(self.keyspace(m.space), m.key.clone(), v.clone()),
                None => batch.remove(self.keyspace(m.space), m.key.clone()),
            }
        }
        batch.commit()?;
        self.db.persist(match self.durability {
            Durability::Fsync => PersistMode::SyncData,
            // Into the OS's buffers, so a killed process loses nothing; the batch
            // syncer or the OS gets it to disk.
            Durability::Batch | Durability::None => PersistMode::Buffer,
        })?;
        Ok(())
    }

    /// Syncs everything written so far to disk.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Reads one key.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.keyspace(space).get(key)?.map(|v| v.to_vec()))
    }

    /// Every key/value pair under `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + '_ {
        self.keyspace(space).prefix(prefix).map(|guard| {
            let (k, v) = guard.into_inner()?;
            Ok((k.to_vec(), v.to_vec()))
        })
    }

    /// Key/value pairs in `[start, end)` in key order.
    pub fn scan_range(
        &self,
        space: Space,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + '_ {
        self.keyspace(space).range(start..end).map(|guard| {
            let (k, v) = guard.into_inner()?;
            Ok((k.to_vec(), v.to_vec()))
        })
    }

    /// A consistent view of every keyspace as of now.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot { store: self, inner: self.db.snapshot() }
    }

    /// Bytes the store occupies on disk.
    pub fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }
}

/// A read-only view of the store at one instant: later commits are invisible to it, and
/// a batch is visible whole or not at all.
pub struct Snapshot<'a> {
    store: &'a Store,
    inner: fjall::Snapshot,
}

impl Snapshot<'_> {
    /// Reads one key as of the snapshot.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        use fjall::Readable;
        Ok(self.inner.get(self.store.keyspace(space), key)?.map(|v| v.to_vec()))
    }
}
