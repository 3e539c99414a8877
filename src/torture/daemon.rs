//! The sluice processes under torture: this very binary, started on a data directory with
//! a config file, killed with SIGKILL (as a crash would: nothing flushes) and started
//! again on the same directory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One running sluice.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
}

/// How to (re)start one sluice: its directory (data, config, log) and its port (0: any).
pub struct Spec {
    /// The sluice binary, resolved once at the start: a rebuild that replaces the file
    /// mid-run makes `/proc/self/exe` point at a deleted file.
    pub exe: PathBuf,
    pub dir: PathBuf,
    pub config: String,
    pub port: Option<u16>,
}

impl Spec {
    /// Starts the daemon and waits for its banner (it then serves requests).
    pub fn start(&self) -> Result<Daemon, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let config = self.dir.join("sluice.toml");
        std::fs::write(&config, &self.config).map_err(|e| format!("{}: {e}", config.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sluice.log"))
            .map_err(|e| format!("sluice.log: {e}"))?;
        let mut command = command(&self.exe, &self.dir, &config, self.port, log);
        let mut child = command.spawn().map_err(|e| format!("cannot start sluice: {e}"))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout".into());
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("sluice listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "sluice in {} did not start (stdout {line:?}); see {}",
                self.dir.display(),
                self.dir.join("sluice.log").display()
            ));
        };
        // Drained so the daemon never writes into a full or closed pipe; ends at its exit.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(Daemon { child, addr })
    }
}

impl Daemon {
    /// SIGKILL, and reaps the process.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that starts `exe` as a daemon on `dir/data` with the config file `config`,
/// on `port` (none: any free one), its banner line on a piped stdout, its log to `log`, and
/// none of the operator's SLUICE_* variables (they must not change a daemon under test).
/// Shared with the integration tests' harness.
pub fn command(
    exe: &Path,
    dir: &Path,
    config: &Path,
    port: Option<u16>,
    log: std::fs::File,
) -> Command {
    let mut command = Command::new(exe);
    if let Some(port) = port {
        command.arg("--port").arg(port.to_string());
    }
    command
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SLUICE_") {
            command.env_remove(name);
        }
    }
    command
}

/// This very binary.
pub fn this_binary() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find sluice itself: {e}"))
}

/// A port nothing listens on right now (bound, then released), for the remote, whose
/// address the main sluice's config names and which must come back there after a kill.
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}
