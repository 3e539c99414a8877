//! The one embedded store (fjall): a few fixed keyspaces, atomic batches across them, and
//! the group-commit thread that turns many writers' batches into one commit and one fsync.
//!
//! Layouts of every key live in `keys.rs`.

pub mod commit;
pub mod keys;
mod read;
pub mod scratch;
pub mod seal;

use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use crate::config::{Durability, StorageConfig};

pub use commit::{Chain, CommitHandle, Mutation, Pending, Space};
pub use read::{KvIter, Parts, ReadView, SealedParts};
use read::{clamp_lower, clamp_upper, range_is_empty, storable};

/// The file fjall locks in its directory for as long as the store is open (fjall's
/// `file::LOCK_FILE`, which it does not export).
const LOCK_FILE: &str = "lock";

/// Storage failures. They are internal errors on the wire.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Fjall(String),
    #[error("storage: corrupt record: {0}")]
    Corrupt(String),
    #[error("storage: a writer stopped before answering")]
    Closed,
    /// sluice is shutting down: the writer that would have taken this write has
    /// stopped. Retryable: the table or stream still exists.
    #[error("storage: sluice is shutting down")]
    ShuttingDown,
    /// The data directory's filesystem is below `storage.min_free_bytes`: the write was
    /// refused before the store was touched.
    #[error("storage: {available} bytes free, below storage.min_free_bytes ({reserve})")]
    DiskFull { available: u64, reserve: u64 },
    /// A fault-injection rule failed this commit (nothing was written).
    #[error("storage: injected I/O error")]
    Injected,
    /// An earlier journal write or sync failed; the store takes no writes until restart.
    #[error("storage: failed earlier ({0}); restart sluice to recover")]
    Failed(String),
    /// Mutations the store cannot hold (a key over 65,535 bytes, an empty key): refused
    /// before the batch was built, so nothing was written. Validation above should
    /// have caught it; this is the storage layer's own guard.
    #[error("storage: refused a write it cannot store: {0}")]
    Refused(String),
    /// The commit panicked before the store was touched (building the batch, a fault
    /// hook): this group was not written, and later groups go on.
    #[error("storage: the commit panicked before writing ({0})")]
    Panicked(String),
    /// An earlier commit this one was built on failed (see `commit::Chain`): nothing of
    /// it was written.
    #[error("storage: an earlier commit it was built on failed")]
    Aborted,
}

/// fjall's limits (`fjall::batch::Item::new` asserts them, panicking).
const MAX_KEY_BYTES: usize = u16::MAX as usize;
const MAX_VALUE_BYTES: usize = u32::MAX as usize;

/// Checks that every mutation is one the store can hold, before any reaches it.
pub fn check_mutations(mutations: &[Mutation]) -> Result<(), StorageError> {
    for m in mutations {
        if m.key.is_empty() || m.key.len() > MAX_KEY_BYTES {
            return Err(StorageError::Refused(format!(
                "a {:?} key of {} bytes (the store takes 1 to {MAX_KEY_BYTES})",
                m.space,
                m.key.len()
            )));
        }
        if m.value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(StorageError::Refused(format!("a {:?} value over 4 GiB", m.space)));
        }
        let parts: u64 = m.parts.iter().map(|&p| u64::from(p)).sum();
        if !m.parts.is_empty() && Some(parts) != m.value.as_ref().map(|v| v.len() as u64) {
            return Err(StorageError::Refused(format!(
                "a {:?} value's parts do not add up",
                m.space
            )));
        }
    }
    Ok(())
}

/// The text of a caught panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        StorageError::Fjall(e.to_string())
    }
}

/// Longest the commit thread waits for flushes to bring the write buffers back under
/// `storage.memtable_bytes`.
const WRITE_BUFFER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How many flushed tables the change log and the Kinesis records gather in level 0
/// before they are merged into level 1 (fjall's default is 4). Their keys are ordered
/// by shard (or partition) first, so every flushed table spans every shard and overlaps
/// all of level 1: each merge rewrites level 1. Merging 16 flushes at a time instead of
/// 4 halved the compaction CPU of 10^7 records put by PutRecords on 4 shards, with 1.24x
/// the records/s and the highest RSS 175-184 MiB instead of 207-227 (BENCHMARKS.md, "level
/// 0 gathers 16 flushes").
/// Reads seek in up to 16 level-0 tables instead of 4. fjall keeps a keyspace's
/// compaction settings from its creation: stores created before this keep 4.
const LOG_L0_THRESHOLD: u8 = 16;
// fjall 3.1.13 slows writes once a keyspace holds 20 level-0 runs and halts them at 30
// until a merge brings the count down (`Keyspace::local_backpressure`). A threshold at 30
// or more is never reached, so nothing merges and the commit thread sleeps in that halt
// forever: tried at 32, PutRecords stopped within two minutes and shutdown hung. Below
// 20, writes are not slowed before a merge starts.
const _: () = assert!(LOG_L0_THRESHOLD < 20, "fjall stalls writes at 20 level-0 runs");

/// fjall's background threads (flushes and compactions): its default, one per core up to
/// 4, but at least 3. fjall 3.1.13's worker 0 hands every compaction message back to the
/// queue when it has siblings, and takes it again at once while they are busy: with two
/// workers (fjall's choice on 2 cores), worker 0 spun through each of its sibling's
/// compactions, 9 % of the daemon's CPU under PutRecords. With a third, an idle sibling
/// takes the message and the spin is gone (0.4 %; BENCHMARKS.md, "Records in runs").
fn background_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.clamp(3, 4)
}

/// The store's keyspaces, one per [`Space`] (handles: cloning one is cheap).
#[derive(Clone)]
pub struct Keyspaces {
    /// Table catalog, counters and per-partition statistics.
    pub meta: Keyspace,
    /// Items of every table, keyed by table id then item key.
    pub items: Keyspace,
    /// Secondary index entries of every table.
    pub indexes: Keyspace,
    /// The change log of every table.
    pub changes: Keyspace,
    /// Records of every Kinesis stream.
    pub kinesis: Keyspace,
    /// Where each Kinesis group's sections are (`keys/kinesis_groups.rs`).
    pub kinesis_index: Keyspace,
}

impl Keyspaces {
    /// The keyspace of `space`.
    pub fn of(&self, space: Space) -> &Keyspace {
        match space {
            Space::Meta => &self.meta,
            Space::Items => &self.items,
            Space::Indexes => &self.indexes,
            Space::Changes => &self.changes,
            Space::Kinesis => &self.kinesis,
            Space::KinesisIndex => &self.kinesis_index,
        }
    }
}

/// The database and its keyspaces. Cheap to share behind an `Arc`.
pub struct Store {
    db: Database,
    pub spaces: Keyspaces,
    durability: Durability,
    /// Seals values at rest (`storage.encryption_key_file`), when configured.
    sealer: Option<Arc<seal::Sealer>>,
    /// Where free space is checked, and the least there must be (0: no check).
    data_dir: std::path::PathBuf,
    min_free_bytes: u64,
    /// What the write buffers of every keyspace together may hold (`memtable_bytes`).
    write_buffer_budget: u64,
    /// Set by the first failed journal write or sync: fjall then refuses every write
    /// (it poisons itself), so later commits fail at once with this reason.
    failed: std::sync::OnceLock<String>,
    /// Commit groups failed by a caught panic before the store was touched, and the
    /// last panic's message: writes go on, `/health` says so.
    panics: std::sync::Mutex<(u64, String)>,
    /// The data directory's `sluice.pid`, locked while this store is open (`lock_dir`).
    _dir_lock: Option<std::fs::File>,
    /// The in-memory store's directory (`scratch`), removed when the store is dropped.
    scratch: Option<tempfile::TempDir>,
}

/// Locks `DIR/sluice.pid` and writes this process's id into it, so a second sluice on the
/// same directory is told which process holds it (fjall's own lock only says "Locked").
/// The lock is the kernel's (flock): it goes with the process, even after kill -9.
fn lock_dir(dir: &Path) -> Result<Option<std::fs::File>, StorageError> {
    use std::io::{Read, Seek, Write};
    let path = dir.join("sluice.pid");
    let cannot =
        |e: std::io::Error| StorageError::Fjall(format!("cannot lock {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(cannot)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            // Bounded: a pid is a few digits; anything else is not ours to print whole.
            let _ = (&file).take(32).read_to_string(&mut pid);
            let pid = pid.trim();
            // This process holds it: a store reopened before every handle of the last
            // one is gone (tests restart an engine in-process); fjall allows that too.
            if pid == std::process::id().to_string() {
                return Ok(None);
            }
            let holder = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
            return Err(StorageError::Fjall(format!(
                "data directory {} is in use by another sluice{holder}",
                dir.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(cannot(e)),
    }
    file.set_len(0).map_err(cannot)?;
    file.rewind().map_err(cannot)?;
    writeln!(file, "{}", std::process::id()).map_err(cannot)?;
    Ok(Some(file))
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("durability", &self.durability).finish()
    }
}

impl Store {
    /// Opens (or creates) the store the config describes. `in_memory` uses a temporary
    /// directory removed on exit and never syncs.
    /// Makes every file and directory the process creates from now on its user's alone
    /// (umask 077: files 0600, directories 0700), as the store's files are created
    /// throughout its life (journals, segments). The daemon calls it once at start.
    pub fn private_files() {
        #[cfg(unix)]
        // SAFETY: umask only sets the process's file mode creation mask.
        unsafe {
            libc::umask(0o077);
        }
    }

    pub fn open(config: &StorageConfig) -> Result<Arc<Store>, StorageError> {
        if config.in_memory {
            let dir = scratch::create()?;
            // Never synced, and a temporary directory has no reserve to keep.
            let config =
                StorageConfig { durability: Durability::None, min_free_bytes: 0, ..config.clone() };
            let mut store = Store::open_at(dir.path(), &config)?;
            store.scratch = Some(dir);
            return Ok(Arc::new(store));
        }
        if config.data_dir.exists() && !config.data_dir.is_dir() {
            return Err(StorageError::Fjall(format!(
                "data directory {} is a file, not a directory",
                config.data_dir.display()
            )));
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StorageError::Fjall(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        // The data is the users' tables and streams: the directory is the daemon's user's
        // alone (files in it are created 0600: see `private_files`).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o700);
            std::fs::set_permissions(&config.data_dir, private).map_err(|e| {
                StorageError::Fjall(format!(
                    "cannot make {} private: {e}",
                    config.data_dir.display()
                ))
            })?;
        }
        let lock = lock_dir(&config.data_dir)?;
        let mut store = Store::open_at(&config.data_dir, config)?;
        store._dir_lock = lock;
        Ok(Arc::new(store))
    }

    fn open_at(path: &Path, config: &StorageConfig) -> Result<Store, StorageError> {
        // The commit thread decides when the journal is synced. Memory is bounded by the
        // cache and the write buffers, not by the data retained. fjall bounds the write
        // buffers per keyspace only (an active memtable and up to 4 sealed ones before it
        // stalls: 5 x 5 memtables in all), and its global limit is not implemented, so
        // the commit thread keeps them within `memtable_bytes` in all
        // (`bound_write_buffers`); a keyspace's memtable is sealed at half of it, so one
        // can fill while the last is flushed.
        //
        // The journal does not compress: Kinesis runs come compressed already when LZ4
        // shrinks them (`keys/kinesis.rs`), and fjall's own LZ4 ran on the commit thread,
        // the one serial step of every write, for each value of 4 KiB or more, zeroing a
        // 16 KiB table each time: with incompressible records a quarter of that thread's
        // CPU for nothing (BENCHMARKS.md, "Kinesis runs compressed by the writer"). Each
        // journal entry names its own compression, so older journals still replay.
        let db = Database::builder(path)
            .manual_journal_persist(true)
            .journal_compression(fjall::CompressionType::None)
            .worker_threads(background_workers())
            .cache_size(config.cache_bytes)
            .open()?;
        let memtable = (config.memtable_bytes / 2).max(1024 * 1024);
        let options = || KeyspaceCreateOptions::default().max_memtable_size(memtable);
        let meta = db.keyspace("meta", options)?;
        let items = db.keyspace("items", options)?;
        let indexes = db.keyspace("indexes", options)?;
        let logs = || {
            options().compaction_strategy(Arc::new(
                fjall::compaction::Leveled::default().with_l0_threshold(LOG_L0_THRESHOLD),
            ))
        };
        let changes = db.keyspace("changes", logs)?;
        let kinesis = db.keyspace("kinesis", logs)?;
        let kinesis_index = db.keyspace("kinesis_index", options)?;
        let sealer = seal_config(config)?.map(Arc::new);
        Ok(Store {
            sealer,
            db,
            spaces: Keyspaces { meta, items, indexes, changes, kinesis, kinesis_index },
            durability: config.durability,
            data_dir: path.to_path_buf(),
            min_free_bytes: config.min_free_bytes,
            write_buffer_budget: config.memtable_bytes,
            failed: std::sync::OnceLock::new(),
            panics: std::sync::Mutex::new((0, String::new())),
            _dir_lock: None,
            scratch: None,
        })
    }

    /// An in-memory store's directory (see `scratch::remove_when_closed`).
    pub fn scratch_dir(&self) -> Option<&Path> {
        self.scratch.as_ref().map(|d| d.path())
    }

    /// The id of the key values are sealed with, when encryption at rest is on.
    pub fn sealing_key_id(&self) -> Option<[u8; 4]> {
        self.sealer.as_ref().and_then(|s| s.key_id())
    }

    fn open_value(
        &self,
        space: Space,
        key: &[u8],
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, StorageError> {
        seal::open(self.sealer.as_deref(), space, key, stored)
    }

    /// Seals every value again with the current key (`sluice rekey`), so the previous
    /// keys can be dropped; with no key configured, stores every value in the clear.
    /// Runs on a store no daemon has open (fjall's lock keeps a second one out). Returns
    /// how many values it rewrote.
    pub fn rekey(&self) -> Result<u64, StorageError> {
        const BATCH: usize = 1000;
        let mut rewritten = 0u64;
        for space in Space::ALL {
            // A snapshot: the rewrites below do not feed the scan.
            let view = self.read_view();
            let mut batch = Vec::with_capacity(BATCH);
            for guard in view.snapshot.iter(view.keyspace(space)) {
                let (key, stored) = guard.into_inner()?;
                batch.push(self.resealed(space, key.to_vec(), &stored)?);
                if batch.len() == BATCH {
                    rewritten += batch.len() as u64;
                    self.commit_now(std::mem::take(&mut batch))?;
                }
            }
            if !batch.is_empty() {
                rewritten += batch.len() as u64;
                self.commit_now(batch)?;
            }
        }
        self.sync()?;
        Ok(rewritten)
    }

    /// The put that stores `stored` again as the current key seals: a value sealed in
    /// parts stays in parts.
    fn resealed(
        &self,
        space: Space,
        key: Vec<u8>,
        stored: &[u8],
    ) -> Result<Mutation, StorageError> {
        if !seal::is_parted(stored) {
            let value = self.open_value(space, &key, stored.to_vec())?;
            return Ok(Mutation::put(space, key, value));
        }
        let parts = seal::Parted::new(stored)?;
        let (value, lengths) = parts.open_all(self.sealer.as_deref(), space, &key)?;
        Ok(Mutation::put_parts(space, key, value, lengths))
    }

    /// The configured durability (`none` for in-memory stores).
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        self.spaces.of(space)
    }

    /// Commits `mutations` as one atomic batch, persisted as `durability` says.
    ///
    /// The journal write and its sync happen inside the batch commit, BEFORE the batch
    /// reaches the memtables: a batch whose write or sync fails is never visible to
    /// readers (persisting after `commit` would show a write its client was told failed,
    /// and that a restart could then take back). A failed write or sync poisons fjall
    /// for good; `failed` remembers it so every later commit says why at once.
    pub(crate) fn commit_now(&self, mutations: Vec<Mutation>) -> Result<(), StorageError> {
        self.commit_as(mutations, true)
    }

    /// [`Store::commit_now`], but with `sync` false the batch only reaches the OS's
    /// buffers whatever the durability (it survives a killed process, and the next synced
    /// batch or the OS takes it to disk): for what may be lost to a power cut, such as a
    /// mapping's checkpoint, which then only goes back.
    pub(crate) fn commit_as(
        &self,
        mutations: Vec<Mutation>,
        sync: bool,
    ) -> Result<(), StorageError> {
        if let Some(reason) = self.failed.get() {
            return Err(StorageError::Failed(reason.clone()));
        }
        self.check_free_space()?;
        check_mutations(&mutations)?;
        let mode = match self.durability {
            Durability::Fsync if sync => PersistMode::SyncData,
            Durability::Fsync => PersistMode::Buffer,
            // Into the OS's buffers, so a killed process loses nothing; the batch
            // syncer or the OS gets it to disk.
            Durability::Batch | Durability::None => PersistMode::Buffer,
        };
        // Building the batch touches nothing on disk: a panic here (an assertion the
        // checks above missed) fails this batch alone.
        let batch = catch_unwind(AssertUnwindSafe(|| {
            let mut batch = self.db.batch().durability(Some(mode));
            // With previous keys alone, nothing is sealed: values go in the clear.
            let sealer = self.sealer.as_deref().filter(|s| s.key_id().is_some());
            for m in mutations {
                match (m.value, sealer) {
                    (Some(v), Some(sealer)) if !m.parts.is_empty() => {
                        let sealed = sealer.seal_parts(m.space, &m.key, &v, &m.parts)?;
                        batch.insert(self.keyspace(m.space), m.key, sealed)
                    }
                    (Some(v), Some(sealer)) => {
                        let sealed = sealer.seal(m.space, &m.key, &v)?;
                        batch.insert(self.keyspace(m.space), m.key, sealed)
                    }
                    (Some(v), None) => batch.insert(self.keyspace(m.space), m.key, v),
                    (None, _) => batch.remove(self.keyspace(m.space), m.key),
                }
            }
            Ok::<_, StorageError>(batch)
        }))
        .map_err(|panic| StorageError::Panicked(panic_message(panic.as_ref())))??;
        // A panic inside the commit may have left the journal half written: from then on
        // the store is treated as a failed one (no writes until restart, /health 503).
        let committed = catch_unwind(AssertUnwindSafe(|| batch.commit())).unwrap_or_else(|panic| {
            Err(fjall::Error::Io(std::io::Error::other(format!(
                "the store panicked while committing: {}",
                panic_message(panic.as_ref())
            ))))
        });
        committed.map_err(|e| {
            let reason = e.to_string();
            tracing::error!(
                "storage write failed ({reason}): the store takes no more writes; reads go on; \
                 restart sluice once the cause (disk space, I/O errors) is fixed"
            );
            let _ = self.failed.set(reason);
            StorageError::from(e)
        })?;
        self.bound_write_buffers();
        Ok(())
    }

    /// Keeps the unflushed write buffers of all keyspaces within `memtable_bytes`: past
    /// it, every keyspace's active memtable is sealed (so a quiet keyspace's partly
    /// filled one is flushed too), and the commit thread waits for the flushes, which
    /// holds back the next group: writes slow to what the disk takes instead of memory
    /// growing with the load. Bounded wait: a flush that makes no progress for
    /// [`WRITE_BUFFER_WAIT`] is logged and writing goes on.
    fn bound_write_buffers(&self) {
        if self.db.write_buffer_size() <= self.write_buffer_budget {
            return;
        }
        for space in Space::ALL {
            let keyspace = self.keyspace(space);
            let _ = keyspace.rotate_memtable();
        }
        let started = std::time::Instant::now();
        while self.db.write_buffer_size() > self.write_buffer_budget {
            if started.elapsed() > WRITE_BUFFER_WAIT {
                tracing::warn!(
                    "the write buffers stay above storage.memtable_bytes after {WRITE_BUFFER_WAIT:?}: \
                     flushes are not keeping up; writing on"
                );
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Why the store takes no writes, once a journal write or sync has failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// Notes a commit group failed by a caught panic (see `panics`).
    pub(crate) fn record_panic(&self, message: &str) {
        let mut panics = self.panics.lock().unwrap_or_else(|e| e.into_inner());
        panics.0 += 1;
        panics.1 = message.to_string();
    }

    /// How many commit groups a caught panic failed, and the last one's message.
    pub fn caught_panics(&self) -> Option<(u64, String)> {
        let panics = self.panics.lock().unwrap_or_else(|e| e.into_inner());
        (panics.0 > 0).then(|| panics.clone())
    }

    /// Refuses a commit while free space is below the reserve.
    fn check_free_space(&self) -> Result<(), StorageError> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        match free_bytes(&self.data_dir) {
            Some(available) if available < self.min_free_bytes => {
                Err(StorageError::DiskFull { available, reserve: self.min_free_bytes })
            }
            _ => Ok(()),
        }
    }

    /// Syncs everything written so far to disk.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::SyncAll).map_err(|e| {
            // fjall poisons itself on a failed sync just as on a failed batch.
            let _ = self.failed.set(e.to_string());
            StorageError::from(e)
        })
    }

    /// Reads one key.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if !storable(key) {
            return Ok(None);
        }
        match self.keyspace(space).get(key)? {
            Some(v) => Ok(Some(self.open_value(space, key, v.to_vec())?)),
            None => Ok(None),
        }
    }

    /// Every key/value pair under `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + '_ {
        // No stored key is longer than the limit, so none has a longer prefix.
        let prefix = (prefix.len() <= MAX_KEY_BYTES).then(|| prefix.to_vec());
        prefix.into_iter().flat_map(move |p| self.keyspace(space).prefix(p)).map(move |guard| {
            let (k, v) = guard.into_inner()?;
            let v = self.open_value(space, &k, v.to_vec())?;
            Ok((k.to_vec(), v))
        })
    }

    /// Key/value pairs in `[start, end)` in key order.
    pub fn scan_range(
        &self,
        space: Space,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + '_ {
        let bounds = (clamp_lower(Bound::Included(start)), clamp_upper(Bound::Excluded(end)));
        let bounds = (!range_is_empty(&bounds.0, &bounds.1)).then_some(bounds);
        bounds.into_iter().flat_map(move |bounds| self.keyspace(space).range(bounds)).map(
            move |guard| {
                let (k, v) = guard.into_inner()?;
                let v = self.open_value(space, &k, v.to_vec())?;
                Ok((k.to_vec(), v))
            },
        )
    }

    /// A point-in-time view for reads that span many keys (Query, Scan).
    pub fn read_view(&self) -> ReadView {
        ReadView {
            sealer: self.sealer.clone(),
            snapshot: self.db.snapshot(),
            spaces: self.spaces.clone(),
        }
    }

    /// Bytes the store occupies on disk.
    pub fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }

    /// Bytes in the unflushed write buffers of every keyspace (what `memtable_bytes` bounds).
    pub fn write_buffer_bytes(&self) -> u64 {
        self.db.write_buffer_size()
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `stat` a valid out pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The sealer `config` asks for (`storage.encryption_key_file` and the previous keys).
fn seal_config(config: &StorageConfig) -> Result<Option<seal::Sealer>, StorageError> {
    let bad = |e: String| StorageError::Fjall(format!("storage.encryption_key_file: {e}"));
    let previous = config
        .previous_encryption_key_files
        .iter()
        .map(|p| seal::read_key_file(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if config.encryption_key_file.is_empty() {
        if previous.is_empty() {
            return Ok(None);
        }
        return seal::Sealer::opening_only(&previous).map(Some).map_err(bad);
    }
    let current = seal::read_key_file(&config.encryption_key_file).map_err(bad)?;
    seal::Sealer::new(&current, &previous).map(Some).map_err(bad)
}

#[cfg(test)]
mod tests;
