//! Starting the daemon: what it says when its data directory is taken or is no
//! directory, and the listener addresses it accepts (host names as every server does).

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::Server;

/// `sluice ARGS` with an empty config file (in `dir`), `dir` as its temporary directory
/// (an `--in-memory` store killed with SIGKILL stays inside it) and no `SLUICE_*`
/// variables.
fn sluice(dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> Command {
    let config = dir.join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.arg("--config").arg(&config).args(args).stdin(Stdio::null()).env("TMPDIR", dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SLUICE_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `sluice ARGS`, expected to stop by itself.
fn run(args: &[&std::ffi::OsStr]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    sluice(dir.path(), args).output().unwrap()
}

#[tokio::test]
async fn a_second_sluice_on_a_data_directory_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start_in(dir.path());
    let data = dir.path().join("data");
    let out = run(&["--port".as_ref(), "0".as_ref(), "--data-dir".as_ref(), data.as_os_str()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "data directory {} is in use by another sluice (pid {})",
        data.display(),
        first.pid()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(!stderr.contains("Locked"), "{stderr}");
    // The first one never noticed.
    let tables = first.client().list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty());

    // Once it is gone (even by kill -9), the directory is free again.
    first.kill();
    let again = Server::start_in(dir.path());
    again.client().list_tables().send().await.unwrap();
}

#[test]
fn a_data_directory_that_is_a_file_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = run(&["--port".as_ref(), "0".as_ref(), "--data-dir".as_ref(), file.as_os_str()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("data directory {} is a file, not a directory", file.display());
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn the_listener_takes_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--listen", "localhost:0", "--in-memory"].map(std::ffi::OsStr::new);
    let mut child =
        sluice(dir.path(), &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("sluice listening on http://127.0.0.1:"), "{line:?}");

    let out = run(&["--listen".as_ref(), "localhost".as_ref(), "--in-memory".as_ref()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listen: 'localhost' is not an address such as"), "{stderr}");
}

/// The `sluice-mem-*` directories in `tmp`.
fn scratch_dirs(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sluice-mem-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// SIGTERM as soon as the daemon says it listens: a clean stop (status 0, after the
/// drain and the final sync), never the signal's default action. The handlers were once
/// installed only when the serve loop first ran, a moment after that line; on a busy
/// machine that moment was long enough for this test to fail every time.
#[test]
fn sigterm_right_after_the_listening_line_is_a_clean_stop() {
    for _ in 0..20 {
        let server = Server::start_with_config("[storage]\nin_memory = true\n");
        let status = server.terminate(Duration::from_secs(20));
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn an_in_memory_store_leaves_no_directory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let env = [("TMPDIR", tmp.to_str().unwrap())];

    // Stopped with SIGTERM: the directory goes as the process exits.
    let server = Server::start_with_config_env("[storage]\nin_memory = true\n", &env);
    assert_eq!(scratch_dirs(&tmp).len(), 1);
    let status = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert_eq!(scratch_dirs(&tmp), Vec::<std::path::PathBuf>::new(), "after SIGTERM");

    // Killed: the directory stays until the next in-memory start finds its lock free.
    Server::start_with_config_env("[storage]\nin_memory = true\n", &env).kill();
    let left = scratch_dirs(&tmp);
    assert_eq!(left.len(), 1);
    // A lock file under 30 s old may belong to a store still opening: make it older.
    let lock = std::fs::File::options().write(true).open(left[0].join("lock")).unwrap();
    lock.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30)).unwrap();
    let next = Server::start_with_config_env("[storage]\nin_memory = true\n", &env);
    let now = scratch_dirs(&tmp);
    assert_eq!(now.len(), 1);
    assert_ne!(now, left, "the killed daemon's directory is removed, the new one kept");
    next.kill();
}

/// The daemon runs without transparent huge pages (see `no_huge_pages` in main.rs).
#[cfg(target_os = "linux")]
#[test]
fn the_daemon_runs_without_transparent_huge_pages() {
    let server = Server::start();
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    // Older kernels do not report the line; there is nothing to check on them.
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
    server.kill();
}
