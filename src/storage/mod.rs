//! The one embedded store (fjall): a few fixed keyspaces, atomic batches across them, and
//! the group-commit thread that turns many writers' batches into one commit and one fsync.
//!
//! Layouts of every key live in `keys.rs`.

pub mod commit;
pub mod keys;
pub mod scratch;
pub mod seal;

use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable, Snapshot};

use crate::config::{Durability, StorageConfig};

pub use commit::{Chain, CommitHandle, Mutation, Pending, Space};

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

/// The database and its keyspaces. Cheap to share behind an `Arc`.
pub struct Store {
    db: Database,
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
            meta,
            items,
            indexes,
            changes,
            kinesis,
            kinesis_index,
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
        match space {
            Space::Meta => &self.meta,
            Space::Items => &self.items,
            Space::Indexes => &self.indexes,
            Space::Changes => &self.changes,
            Space::Kinesis => &self.kinesis,
            Space::KinesisIndex => &self.kinesis_index,
        }
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
            meta: self.meta.clone(),
            items: self.items.clone(),
            indexes: self.indexes.clone(),
            changes: self.changes.clone(),
            kinesis: self.kinesis.clone(),
            kinesis_index: self.kinesis_index.clone(),
        }
    }

    /// Bytes the store occupies on disk.
    pub fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
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

/// Key/value pairs of a range read, in key order (or reversed with `next_back`).
pub type KvIter =
    Box<dyn DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + Send>;

/// A value written in parts, as [`ReadView::get_parts`] reads it.
pub enum Parts {
    /// The whole value, in the clear: its reader finds its parts in it.
    Whole(fjall::Slice),
    /// The value sealed part by part.
    Sealed(SealedParts),
}

/// A value sealed part by part, each part opened on its own.
pub struct SealedParts {
    stored: fjall::Slice,
    count: u32,
    sealer: Option<Arc<seal::Sealer>>,
    space: Space,
    key: Vec<u8>,
}

impl SealedParts {
    /// How many parts the value has.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Part `index`, opened.
    pub fn open(&self, index: u32) -> Result<Vec<u8>, StorageError> {
        let parts = seal::Parted::new(&self.stored)?;
        parts.open(self.sealer.as_deref(), self.space, &self.key, index)
    }
}

/// A consistent snapshot of the whole store. Reads through it see exactly the commits
/// made before it was taken; writers never wait for it (fjall keeps the versions it
/// needs until it is dropped), so keep it for one page of a read, not longer.
pub struct ReadView {
    sealer: Option<Arc<seal::Sealer>>,
    snapshot: Snapshot,
    meta: Keyspace,
    items: Keyspace,
    indexes: Keyspace,
    changes: Keyspace,
    kinesis: Keyspace,
    kinesis_index: Keyspace,
}

impl ReadView {
    /// Reads one key as of the snapshot.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        use fjall::Readable;
        if !storable(key) {
            return Ok(None);
        }
        match self.snapshot.get(self.keyspace(space), key)? {
            Some(v) => Ok(Some(seal::open(self.sealer.as_deref(), space, key, v.to_vec())?)),
            None => Ok(None),
        }
    }

    /// A value written in parts ([`Mutation::put_parts`]), for a reader of some of them:
    /// in the clear, the store's own reference-counted bytes (often its cached block's),
    /// not copied; sealed in parts, each part opened only when asked for. For large values
    /// read in part, as a Kinesis group is by each shard's reader.
    pub fn get_parts(&self, space: Space, key: &[u8]) -> Result<Option<Parts>, StorageError> {
        use fjall::Readable;
        if !storable(key) {
            return Ok(None);
        }
        let Some(stored) = self.snapshot.get(self.keyspace(space), key)? else {
            return Ok(None);
        };
        Ok(Some(if seal::is_parted(&stored) {
            let count = seal::Parted::new(&stored)?.count();
            let sealer = self.sealer.clone();
            Parts::Sealed(SealedParts { stored, count, sealer, space, key: key.to_vec() })
        } else if seal::is_sealed(&stored) {
            // Written whole, or before parts were sealed on their own.
            Parts::Whole(seal::open(self.sealer.as_deref(), space, key, stored.to_vec())?.into())
        } else {
            Parts::Whole(stored)
        }))
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Meta => &self.meta,
            Space::Items => &self.items,
            Space::Indexes => &self.indexes,
            Space::Changes => &self.changes,
            Space::Kinesis => &self.kinesis,
            Space::KinesisIndex => &self.kinesis_index,
        }
    }

    /// The pairs of `space` between `lower` and `upper`. An empty or inverted range
    /// yields nothing (rather than reaching the store with bounds it may reject).
    pub fn range(&self, space: Space, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KvIter {
        let (lower, upper) = (clamp_lower(lower), clamp_upper(upper));
        if range_is_empty(&lower, &upper) {
            return Box::new(std::iter::empty());
        }
        let sealer = self.sealer.clone();
        Box::new(self.snapshot.range(self.keyspace(space), (lower, upper)).map(move |guard| {
            let (k, v) = guard.into_inner()?;
            let v = seal::open(sealer.as_deref(), space, &k, v.to_vec())?;
            Ok((k.to_vec(), v))
        }))
    }
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

/// Whether the store could hold `key` (fjall asserts on anything else, panicking).
fn storable(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES
}

/// A lower bound past the key limit, as the same bound within it: every stored key is at
/// most `MAX_KEY_BYTES` long, so one sorts after `k` exactly when it sorts after `k`'s
/// first `MAX_KEY_BYTES` bytes (which itself sorts before `k`). Reads thereby never hand
/// the store a bound it would refuse.
fn clamp_lower(bound: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(mut k) | Bound::Excluded(mut k) if k.len() > MAX_KEY_BYTES => {
            k.truncate(MAX_KEY_BYTES);
            Bound::Excluded(k)
        }
        other => other,
    }
}

/// An upper bound past the key limit, as the same bound within it (see `clamp_lower`).
fn clamp_upper(bound: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(mut k) | Bound::Excluded(mut k) if k.len() > MAX_KEY_BYTES => {
            k.truncate(MAX_KEY_BYTES);
            Bound::Included(k)
        }
        other => other,
    }
}

/// Whether no key can lie between the bounds.
fn range_is_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    use Bound::{Excluded, Included, Unbounded};
    match (lower, upper) {
        (Unbounded, _) | (_, Unbounded) => false,
        (Included(l), Included(u)) => l > u,
        (Included(l), Excluded(u)) | (Excluded(l), Included(u)) | (Excluded(l), Excluded(u)) => {
            l >= u
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_free_space_reserve_a_commit_is_refused_before_the_store_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let reserve = |min_free_bytes| StorageConfig {
            durability: Durability::None,
            min_free_bytes,
            ..StorageConfig::default()
        };
        let store = Store::open_at(dir.path(), &reserve(u64::MAX)).unwrap();
        let put = Mutation::put(Space::Items, b"k".to_vec(), b"v".to_vec());
        let refused = store.commit_now(vec![put.clone()]).unwrap_err();
        assert!(matches!(refused, StorageError::DiskFull { reserve: u64::MAX, .. }), "{refused}");
        assert_eq!(store.get(Space::Items, b"k").unwrap(), None);
        assert_eq!(store.failure(), None, "a refusal is not a failure: writes resume");
        let other = tempfile::tempdir().unwrap();
        let roomy = Store::open_at(other.path(), &reserve(1)).unwrap();
        roomy.commit_now(vec![put]).unwrap();
    }

    #[test]
    fn the_write_buffers_of_all_keyspaces_stay_within_memtable_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let budget = 2 * 1024 * 1024;
        let config = StorageConfig {
            durability: Durability::None,
            memtable_bytes: budget,
            ..StorageConfig::default()
        };
        let store = Store::open_at(dir.path(), &config).unwrap();
        let value = vec![7u8; 4096];
        // 24 MiB over three keyspaces, each alone below what fjall would seal on its own.
        for i in 0u32..2048 {
            let batch: Vec<Mutation> = [Space::Items, Space::Changes, Space::Kinesis]
                .into_iter()
                .map(|space| Mutation::put(space, i.to_be_bytes().to_vec(), value.clone()))
                .collect();
            store.commit_now(batch).unwrap();
            let held = store.db.write_buffer_size();
            assert!(held <= budget, "{held} bytes held after commit {i}");
        }
        assert_eq!(store.get(Space::Kinesis, &2047u32.to_be_bytes()).unwrap(), Some(value));
    }

    /// Every part of a value written in parts, as `get_parts` gives it.
    fn parts_of(view: &ReadView, key: &[u8], lengths: &[u32]) -> Vec<Vec<u8>> {
        match view.get_parts(Space::Kinesis, key).unwrap().unwrap() {
            Parts::Whole(value) => {
                let mut at = 0;
                let mut parts = Vec::new();
                for &len in lengths {
                    parts.push(value[at..at + len as usize].to_vec());
                    at += len as usize;
                }
                parts
            }
            Parts::Sealed(parts) => (0..parts.count()).map(|i| parts.open(i).unwrap()).collect(),
        }
    }

    #[test]
    fn values_in_parts_read_back_part_by_part_sealed_each_on_its_own_or_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, [9u8; 32]).unwrap();
        let sealed = StorageConfig {
            in_memory: true,
            encryption_key_file: key_file.to_string_lossy().into_owned(),
            ..StorageConfig::default()
        };
        let plain = StorageConfig { in_memory: true, ..StorageConfig::default() };
        let (value, lengths) =
            ((0..70_000u32).map(|i| i as u8).collect::<Vec<u8>>(), vec![0, 5, 69_995]);
        let expected = vec![Vec::new(), value[..5].to_vec(), value[5..].to_vec()];
        for (config, is_sealed) in [(plain, false), (sealed, true)] {
            let store = Store::open_at(dir.path(), &config).unwrap();
            let put =
                Mutation::put_parts(Space::Kinesis, b"k".to_vec(), value.clone(), lengths.clone());
            // A value written whole reads as one part, sealed or not.
            let whole = Mutation::put(Space::Kinesis, b"w".to_vec(), value.clone());
            store.commit_now(vec![put, whole]).unwrap();
            let view = store.read_view();
            assert_eq!(parts_of(&view, b"k", &lengths), expected);
            assert_eq!(parts_of(&view, b"w", &[70_000]), vec![value.clone()]);
            assert!(view.get_parts(Space::Kinesis, b"none").unwrap().is_none());
            let stored = store.kinesis.get(b"k").unwrap().unwrap();
            assert_eq!(seal::is_parted(&stored), is_sealed);
            assert_eq!(
                stored.windows(64).any(|w| w == &value[100..164]),
                !is_sealed,
                "in the clear?"
            );
            // Every other read gives the value whole.
            assert_eq!(view.get(Space::Kinesis, b"k").unwrap(), Some(value.clone()));
            let all: Vec<_> =
                view.range(Space::Kinesis, Bound::Unbounded, Bound::Unbounded).collect();
            assert_eq!(all[0].as_ref().unwrap().1, value);
            // Parts that do not add up to the value are refused, not stored.
            let bad = Mutation::put_parts(Space::Kinesis, b"b".to_vec(), vec![1; 10], vec![4, 5]);
            assert!(matches!(store.commit_now(vec![bad]), Err(StorageError::Refused(_))));
        }
    }

    #[test]
    fn a_part_is_bound_to_its_value_and_its_place() {
        let sealer = seal::Sealer::new(&[3u8; 32], &[]).unwrap();
        let stored = sealer.seal_parts(Space::Kinesis, b"k", b"abcdef", &[2, 4]).unwrap();
        let parts = seal::Parted::new(&stored).unwrap();
        assert_eq!(parts.open(Some(&sealer), Space::Kinesis, b"k", 1).unwrap(), b"cdef");
        assert!(parts.open(Some(&sealer), Space::Kinesis, b"x", 1).is_err(), "another key");
        assert!(parts.open(Some(&sealer), Space::Items, b"k", 1).is_err(), "another keyspace");
        assert!(parts.open(None, Space::Kinesis, b"k", 1).is_err(), "no key file");
        assert!(parts.open(Some(&sealer), Space::Kinesis, b"k", 2).is_err(), "no such part");
        // Parts swapped (with their lengths) fail: each is sealed with its index.
        let (a, b) = (&stored[6 + 8..6 + 8 + 36], &stored[6 + 8 + 36..]);
        let mut swapped = stored[..6].to_vec();
        swapped.extend_from_slice(&stored[10..14]);
        swapped.extend_from_slice(&stored[6..10]);
        swapped.extend_from_slice(b);
        swapped.extend_from_slice(a);
        let swapped = seal::Parted::new(&swapped).unwrap();
        assert!(swapped.open(Some(&sealer), Space::Kinesis, b"k", 0).is_err());
        // A part cannot pass for a whole value, nor a whole value for a part.
        assert!(sealer.open(Space::Kinesis, b"k", a.to_vec()).is_err());
        let whole = sealer.seal(Space::Kinesis, b"k", b"ab").unwrap();
        let mut as_part = [0xE7, 0x5F, 0, 0, 0, 1].to_vec();
        as_part.extend_from_slice(&(whole.len() as u32).to_be_bytes());
        as_part.extend_from_slice(&whole);
        assert!(seal::open(Some(&sealer), Space::Kinesis, b"k", as_part).is_err());
        // Truncated or inconsistent tables are errors, never a panic.
        for cut in [2, 5, 8, 13, stored.len() - 1] {
            let cut = &stored[..cut];
            let opened =
                seal::Parted::new(cut).and_then(|p| p.open(Some(&sealer), Space::Kinesis, b"k", 0));
            assert!(opened.is_err(), "{cut:?}");
        }
        let mut huge = stored.clone();
        huge[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(seal::Parted::new(&huge).is_err());
    }

    #[test]
    fn previous_keys_alone_read_sealed_values_and_write_new_ones_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, [6u8; 32]).unwrap();
        let key = key.to_string_lossy().into_owned();
        let data = dir.path().join("data");
        let sealing =
            StorageConfig { encryption_key_file: key.clone(), ..StorageConfig::default() };
        {
            let store = Store::open_at(&data, &sealing).unwrap();
            store
                .commit_now(vec![Mutation::put(Space::Items, b"old".to_vec(), b"v1".to_vec())])
                .unwrap();
        }
        let off =
            StorageConfig { previous_encryption_key_files: vec![key], ..StorageConfig::default() };
        let store = Store::open_at(&data, &off).unwrap();
        assert_eq!(store.sealing_key_id(), None);
        assert_eq!(store.get(Space::Items, b"old").unwrap(), Some(b"v1".to_vec()));
        store
            .commit_now(vec![Mutation::put(Space::Items, b"new".to_vec(), b"v2".to_vec())])
            .unwrap();
        assert_eq!(&*store.items.get(b"new").unwrap().unwrap(), b"v2", "written in the clear");
        assert!(seal::is_sealed(&store.items.get(b"old").unwrap().unwrap()));
    }

    #[test]
    fn rekey_keeps_a_value_in_parts_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::write(&old, [1u8; 32]).unwrap();
        std::fs::write(&new, [2u8; 32]).unwrap();
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let data = dir.path().join("data");
        let config = |key: Option<&std::path::Path>, previous: Vec<String>| StorageConfig {
            durability: Durability::Fsync,
            encryption_key_file: key.map(path).unwrap_or_default(),
            previous_encryption_key_files: previous,
            ..StorageConfig::default()
        };
        let (value, lengths) = (b"tablesection".to_vec(), vec![5, 7]);
        {
            let store = Store::open_at(&data, &config(Some(&old), vec![])).unwrap();
            let put =
                Mutation::put_parts(Space::Kinesis, b"k".to_vec(), value.clone(), lengths.clone());
            store.commit_now(vec![put]).unwrap();
        }
        {
            let store = Store::open_at(&data, &config(Some(&new), vec![path(&old)])).unwrap();
            assert_eq!(store.rekey().unwrap(), 1);
        }
        // Sealed in parts with the new key alone, and then in the clear without a key.
        let store = Store::open_at(&data, &config(Some(&new), vec![])).unwrap();
        let view = store.read_view();
        assert!(matches!(view.get_parts(Space::Kinesis, b"k").unwrap(), Some(Parts::Sealed(_))));
        assert_eq!(parts_of(&view, b"k", &lengths), vec![b"table".to_vec(), b"section".to_vec()]);
        assert_eq!(view.get(Space::Kinesis, b"k").unwrap(), Some(value));
    }

    #[test]
    fn every_keyspace_keeps_its_own_keys_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig { durability: Durability::Fsync, ..StorageConfig::default() };
        {
            let store = Store::open_at(dir.path(), &config).unwrap();
            let batch = Space::ALL
                .iter()
                .enumerate()
                .map(|(i, space)| Mutation::put(*space, b"same key".to_vec(), vec![i as u8]))
                .collect();
            store.commit_now(batch).unwrap();
        }
        let store = Store::open_at(dir.path(), &config).unwrap();
        for (i, space) in Space::ALL.iter().enumerate() {
            assert_eq!(store.get(*space, b"same key").unwrap(), Some(vec![i as u8]), "{space:?}");
        }
    }

    #[test]
    fn reads_with_keys_past_the_store_limit_answer_as_if_compared_in_full() {
        let config = StorageConfig { in_memory: true, ..StorageConfig::default() };
        let store = Store::open(&config).unwrap();
        let long = |fill: u8, len: usize| vec![fill; len];
        let at_limit = long(b'm', MAX_KEY_BYTES);
        let put = |k: &[u8]| Mutation::put(Space::Items, k.to_vec(), b"v".to_vec());
        store.commit_now(vec![put(b"a"), put(&at_limit), put(b"z")]).unwrap();
        let past = long(b'm', MAX_KEY_BYTES + 10);
        assert_eq!(store.get(Space::Items, &past).unwrap(), None);
        assert_eq!(store.get(Space::Items, b"").unwrap(), None);
        assert_eq!(store.scan_prefix(Space::Items, &past).count(), 0);
        let keys = |it: KvIter| it.map(|kv| kv.unwrap().0).collect::<Vec<_>>();
        let view = store.read_view();
        // `at_limit` is a prefix of `past`, so it sorts before it.
        let from = view.range(Space::Items, Bound::Included(past.clone()), Bound::Unbounded);
        assert_eq!(keys(from), vec![b"z".to_vec()]);
        let to = view.range(Space::Items, Bound::Unbounded, Bound::Excluded(past.clone()));
        assert_eq!(keys(to), vec![b"a".to_vec(), at_limit.clone()]);
        let after = long(b'n', MAX_KEY_BYTES + 1);
        let between =
            view.range(Space::Items, Bound::Excluded(past.clone()), Bound::Included(after));
        assert!(keys(between).is_empty());
        let scanned: Vec<_> =
            store.scan_range(Space::Items, b"a".to_vec(), past).map(|kv| kv.unwrap().0).collect();
        assert_eq!(scanned, vec![b"a".to_vec(), at_limit]);
    }

    #[test]
    fn snapshots_do_not_see_later_writes() {
        let config = StorageConfig { in_memory: true, ..StorageConfig::default() };
        let store = Store::open(&config).unwrap();
        let put = |k: &[u8]| Mutation::put(Space::Items, k.to_vec(), b"v".to_vec());
        store.commit_now(vec![put(b"a"), put(b"b")]).unwrap();
        let view = store.read_view();
        store.commit_now(vec![put(b"c"), Mutation::delete(Space::Items, b"a".to_vec())]).unwrap();
        let keys = |it: KvIter| it.map(|kv| kv.unwrap().0).collect::<Vec<_>>();
        let all = || view.range(Space::Items, Bound::Unbounded, Bound::Unbounded);
        assert_eq!(keys(all()), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(keys(Box::new(all().rev())), vec![b"b".to_vec(), b"a".to_vec()]);
        let later = store.read_view();
        assert_eq!(
            keys(later.range(Space::Items, Bound::Included(b"b".to_vec()), Bound::Unbounded)),
            vec![b"b".to_vec(), b"c".to_vec()]
        );
        // Inverted and empty ranges read nothing.
        let (x, y) = (b"x".to_vec(), b"b".to_vec());
        assert!(keys(later.range(Space::Items, Bound::Included(x), Bound::Included(y))).is_empty());
        let b = b"b".to_vec();
        assert!(
            keys(later.range(Space::Items, Bound::Included(b.clone()), Bound::Excluded(b)))
                .is_empty()
        );
    }
}
