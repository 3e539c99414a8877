//! The in-memory store's scratch directory, and the removal of those left behind.
//!
//! `--in-memory` keeps its store in a temporary directory removed when the store is
//! dropped. A process killed with SIGKILL (a container stopped hard, a test harness's
//! `kill`), or one that exits while a thread still holds the store, leaves it behind.
//! fjall holds an advisory lock on the directory's `lock` file while it is open, so a
//! directory whose lock can be taken has no owner left and is removed on the next start.

use std::path::Path;
use std::sync::Weak;
use std::time::{Duration, Instant, SystemTime};

use super::{StorageError, Store};
use crate::clock::Clock;

/// The prefix of every scratch directory, in the system's temporary directory.
const PREFIX: &str = "sluice-mem-";

/// A lock file younger than this may belong to a store still opening (fjall creates the
/// file, then locks it): it is left alone.
const SETTLED: Duration = Duration::from_secs(30);

/// Creates a new scratch directory after removing those whose owner is gone.
pub fn create() -> Result<tempfile::TempDir, StorageError> {
    let parent = std::env::temp_dir();
    let removed = sweep(&parent);
    if removed > 0 {
        tracing::info!(removed, "removed in-memory stores left behind by processes that ended");
    }
    tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(&parent)
        .map_err(|e| StorageError::Fjall(format!("cannot create a temporary directory: {e}")))
}

/// For a process about to exit: waits up to `within` for the store's last holder to let
/// go (the commit thread does once the writers' tasks are gone), then removes its
/// directory, again for as long as it is there (up to half a second): the store's own
/// removal runs on the thread that dropped it last, and fjall's workers may still write a
/// file into the directory while it goes. A store still held past `within` is removed
/// under its holder, which the exit stops anyway; what survives is left to the next
/// start's sweep.
pub fn remove_when_closed(store: &Weak<Store>, dir: &Path, within: Duration) {
    let closed = Instant::now() + within;
    while store.strong_count() > 0 && Instant::now() < closed {
        std::thread::sleep(Duration::from_millis(2));
    }
    let removed = Instant::now() + Duration::from_millis(500);
    while dir.exists() && Instant::now() < removed {
        let _ = std::fs::remove_dir_all(dir);
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Removes every scratch directory in `parent` whose store is no longer open; returns how
/// many. Best effort: a directory it cannot inspect or remove is left as it is.
fn sweep(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        // Another user's directory cannot be ours to remove (and a symlink is not ours).
        if !entry.file_type().is_ok_and(|t| t.is_dir()) || !owned_by_us(&dir) {
            continue;
        }
        if abandoned(&dir.join(crate::storage::LOCK_FILE)) && std::fs::remove_dir_all(&dir).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Whether the lock file exists, has settled, and can be locked (no process holds it).
fn abandoned(lock: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(lock) else { return false };
    // Compared with the file system's own time: the system clock, not the engine's.
    let now = crate::clock::SystemClock.now_millis();
    let settled = meta
        .modified()
        .ok()
        .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
        .is_some_and(|at| now - at.as_millis() as i64 >= SETTLED.as_millis() as i64);
    if !settled {
        return false;
    }
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(lock) else {
        return false;
    };
    // The lock is released when `file` is closed, before the directory goes.
    file.try_lock().is_ok()
}

#[cfg(unix)]
fn owned_by_us(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.uid() == me)
}

#[cfg(not(unix))]
fn owned_by_us(_dir: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path) {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(old).unwrap();
    }

    #[test]
    fn only_directories_whose_store_is_closed_and_settled_are_removed() {
        let parent = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let dir = parent.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            dir
        };
        // Left behind: a settled lock nobody holds.
        let left = make("sluice-mem-left");
        std::fs::write(left.join(crate::storage::LOCK_FILE), b"").unwrap();
        std::fs::write(left.join("0.jnl"), b"journal").unwrap();
        aged(&left.join(crate::storage::LOCK_FILE));
        // Open: a store holds its lock.
        let open = make("sluice-mem-open");
        let store = crate::storage::Store::open_at(&open, &crate::config::StorageConfig::default())
            .unwrap();
        aged(&open.join(crate::storage::LOCK_FILE));
        // Opening: the lock file is new.
        let opening = make("sluice-mem-opening");
        std::fs::write(opening.join(crate::storage::LOCK_FILE), b"").unwrap();
        // No lock file yet; and a directory that is not a scratch directory.
        let bare = make("sluice-mem-bare");
        let other = make("other-left");
        std::fs::write(other.join(crate::storage::LOCK_FILE), b"").unwrap();
        aged(&other.join(crate::storage::LOCK_FILE));

        assert_eq!(sweep(parent.path()), 1);
        assert!(!left.exists());
        for kept in [&open, &opening, &bare, &other] {
            assert!(kept.exists(), "{}", kept.display());
        }
        drop(store);
        assert_eq!(sweep(parent.path()), 1, "closed, the store's directory goes too");
        assert!(!open.exists());
    }
}
