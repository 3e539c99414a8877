//! `command` functions: sluice starts the runtime process itself, once per unit of
//! concurrency, each with a Runtime API of its own on a free loopback port, and keeps it
//! running: a process that exits is started again after a pause that doubles from 100 ms
//! to 5 s while it keeps dying (and starts over once it ran 10 s); one whose invocation
//! timed out is killed and started again at once, as Lambda replaces a timed-out sandbox.
//! Its stdout and stderr go to sluice's log, line by line, with the function's name. On
//! shutdown it gets SIGTERM, then SIGKILL 2 s later.
//!
//! The process gets sluice's environment, then Lambda's: `AWS_LAMBDA_RUNTIME_API`,
//! `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
//! `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_LOG_GROUP_NAME`,
//! `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! `AWS_LAMBDA_INITIALIZATION_TYPE`, `TZ`, `_HANDLER` when a handler is configured, and
//! last the function's own `environment`. It runs in a process group of its own, killed
//! whole, and is told to die with sluice (`PR_SET_PDEATHSIG`), even on `kill -9`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::stopped;
use tokio::time::Instant;

use super::queue::RuntimeQueue;
use crate::config::FunctionConfig;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);
/// A process that ran this long before dying starts its backoff over.
const STABLE: Duration = Duration::from_secs(10);
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Longest log line forwarded whole; longer ones are cut into pieces this size.
const MAX_LINE: usize = 16 * 1024;

/// One supervised runtime process.
pub struct Supervised {
    pub function: FunctionConfig,
    pub instance: usize,
    pub runtime_api: SocketAddr,
    pub region: String,
    pub queue: Arc<RuntimeQueue>,
    pub clock: crate::clock::SharedClock,
}

impl Supervised {
    /// The environment Lambda gives a runtime, for this process.
    pub fn environment(&self, stream_name: &str) -> Vec<(String, String)> {
        let f = &self.function;
        let mut env = vec![
            ("AWS_LAMBDA_RUNTIME_API".into(), self.runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), f.name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), f.memory_size.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", f.name)),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream_name.into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            ("TZ".into(), ":UTC".into()),
        ];
        if let Some(handler) = &f.handler {
            env.push(("_HANDLER".into(), handler.clone()));
        }
        env.extend(f.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    fn spawn(&self, stream_name: &str) -> std::io::Result<Child> {
        let argv = self.function.command.as_deref().unwrap_or_default();
        let (program, args) =
            argv.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(self.environment(stream_name))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child
        // when its parent thread exits.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The handler gets the usual mask, not the daemon's private one.
                libc::umask(0o022);
                Ok(())
            });
        }
        command.spawn()
    }

    /// Keeps the process running until `shutdown` turns true, then stops it.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let name = self.function.name.clone();
        let reset = self.queue.reset_signal(self.instance);
        let mut pause = FIRST_PAUSE;
        let mut generation = 0u64;
        loop {
            generation += 1;
            let stream_name = format!(
                "{}/[$LATEST]{}",
                log_date(self.clock.now_millis()),
                uuid::Uuid::new_v4().simple()
            );
            let started = Instant::now();
            let mut child = match self.spawn(&stream_name) {
                Ok(child) => child,
                Err(e) => {
                    tracing::error!(function = %name, "cannot start the function's command: {e}");
                    if sleep_or_stop(&mut shutdown, pause).await {
                        return;
                    }
                    pause = (pause * 2).min(LONGEST_PAUSE);
                    continue;
                }
            };
            tracing::info!(function = %name, instance = self.instance, pid = child.id().unwrap_or(0), "function process started (start {generation})");
            forward(child.stdout.take(), &name, "stdout");
            forward(child.stderr.take(), &name, "stderr");
            let why = tokio::select! {
                status = child.wait() => match status {
                    Ok(s) => format!("Runtime exited with error: {}", describe(s)),
                    Err(e) => format!("Runtime exited with error: {e}"),
                },
                () = reset.notified() => {
                    kill_group(&child, libc::SIGKILL);
                    let _ = child.wait().await;
                    pause = FIRST_PAUSE;
                    self.queue.instance_exited(self.instance, "Runtime exited with error: signal: killed");
                    tracing::warn!(function = %name, instance = self.instance, "function process killed after an invocation timed out; starting it again");
                    continue;
                }
                () = stopped(&mut shutdown) => {
                    stop(&mut child).await;
                    self.queue.instance_exited(self.instance, "Runtime exited with error: sluice is shutting down");
                    return;
                }
            };
            self.queue.instance_exited(self.instance, &why);
            if started.elapsed() >= STABLE {
                pause = FIRST_PAUSE;
            }
            tracing::warn!(function = %name, instance = self.instance, "function process ended ({why}); starting it again in {pause:?}");
            if sleep_or_stop(&mut shutdown, pause).await {
                return;
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// `YYYY/MM/DD` (UTC) of epoch milliseconds `ms`, as Lambda's log stream names start.
fn log_date(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let (y, m, d) = crate::engine::streams::civil_from_days(days);
    format!("{y:04}/{m:02}/{d:02}")
}

/// Sleeps `pause`; true when shutdown came first.
async fn sleep_or_stop(shutdown: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => false,
        () = stopped(shutdown) => true,
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

fn kill_group(child: &Child, signal: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on the process group the child leads (process_group(0)).
        unsafe {
            libc::kill(-(pid as i32), signal);
        }
    }
}

/// SIGTERM, then SIGKILL if it has not exited within the grace.
async fn stop(child: &mut Child) {
    kill_group(child, libc::SIGTERM);
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
        kill_group(child, libc::SIGKILL);
        let _ = child.wait().await;
    }
}

/// Forwards a pipe to the log, a line at a time (lines longer than `MAX_LINE` in pieces).
fn forward(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
    function: &str,
    stream: &'static str,
) {
    let Some(mut pipe) = pipe else { return };
    let function = function.to_string();
    tokio::spawn(async move {
        let mut buffer: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            let n = match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buffer.extend_from_slice(&chunk[..n]);
            while let Some(at) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=at).collect();
                emit(&function, stream, &line[..line.len() - 1]);
            }
            if buffer.len() >= MAX_LINE {
                let piece: Vec<u8> = buffer.drain(..MAX_LINE).collect();
                emit(&function, stream, &piece);
            }
        }
        if !buffer.is_empty() {
            emit(&function, stream, &buffer);
        }
    });
}

fn emit(function: &str, stream: &str, line: &[u8]) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    tracing::info!(target: "sluice::lambda::function", function, stream, "{line}");
}
