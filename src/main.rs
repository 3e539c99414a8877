//! `sluice`: DynamoDB tables with native Streams, forwarded into long-retention Kinesis
//! streams, on one port. This file only parses the command line and starts the daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use sluice::config::{Config, Overrides};
use sluice::{clock, engine, metrics, server};

/// mimalloc, not glibc's malloc: each flushed memtable frees hundreds of thousands of
/// small entries at once, and glibc kept those pages fragmented across its per-thread
/// arenas, so RSS ratcheted up with the data retained well past the live heap (after 10^7
/// records: glibc's arenas held 174 MB for 70 MB in use; BENCHMARKS.md, run 6).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DynamoDB + DynamoDB Streams + Kinesis on one port, with a durable embedded store.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, about)]
struct Cli {
    /// Port to listen on (keeps the configured address's IP).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on, such as 0.0.0.0:8000.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory of the embedded store.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Config file (default: config/sluice.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep nothing on disk: for tests and demos.
    #[arg(long)]
    in_memory: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Load an AWS-compatible endpoint (sluice or a peer) with one workload and report
    /// throughput, latency percentiles and errors by type (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        workload: sluice::bench::cli::Workload,
    },
    /// Crash harness: concurrent writers, SIGKILL at random moments, restarts, and a check
    /// after each that nothing acknowledged was lost and every change is in the table's
    /// stream and its Kinesis destination exactly once, in order.
    Torture {
        /// Kill-and-restart cycles.
        #[arg(long, default_value_t = 20)]
        cycles: u32,
        /// Seconds of writing per cycle (the kill comes in its second half).
        #[arg(long, default_value_t = 2.0)]
        seconds_per_cycle: f64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seed of the random choices (default: random; printed, to replay a run).
        #[arg(long)]
        seed: Option<u64>,
        /// Also forward a table to a second sluice acting as a remote Kinesis endpoint,
        /// killed now and then too.
        #[arg(long)]
        remote: bool,
        /// Torture the source bridge instead: several sluice instances share a table of
        /// another sluice through a lease table, forwarding into a third; bridge instances
        /// are killed (SIGKILL) and restarted.
        #[arg(long, conflicts_with = "remote")]
        bridge_source: bool,
        /// Bridge instances with --bridge-source.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=16))]
        instances: u64,
        /// Keep the daemons' data and logs here (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Seconds a check waits for a lagging destination to catch up.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
        settle_seconds: u64,
    },
    /// Seal every stored value again with storage.encryption_key_file (with none: store
    /// them in the clear), reading them with it and previous_encryption_key_files, so the
    /// previous keys can be dropped. Run it with the daemon stopped.
    Rekey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Bench { workload }) = cli.command {
        return bench(workload);
    }
    if let Some(Command::Torture {
        cycles,
        seconds_per_cycle,
        clients,
        seed,
        remote,
        bridge_source,
        instances,
        dir,
        settle_seconds,
    }) = cli.command
    {
        let opts = sluice::torture::TortureOptions {
            cycles,
            cycle: match std::time::Duration::try_from_secs_f64(seconds_per_cycle.max(0.05)) {
                Ok(d) if d.as_secs() <= 86_400 => d,
                _ => {
                    eprintln!("sluice torture: --seconds-per-cycle must be at most 86400");
                    return ExitCode::from(2);
                }
            },
            clients: clients.max(1),
            seed: seed.unwrap_or_else(|| fastrand::u64(..)),
            remote,
            dir,
            settle: std::time::Duration::from_secs(settle_seconds),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
        return match runtime.map_err(|e| e.to_string()).and_then(|r| {
            r.block_on(async {
                match bridge_source {
                    true => sluice::torture::bridge_source::run(opts, instances as usize).await,
                    false => sluice::torture::run(opts).await,
                }
            })
        }) {
            Ok(report) => {
                report.print();
                if report.violations() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("sluice torture: {e}");
                ExitCode::from(2)
            }
        };
    }
    let rekey = matches!(cli.command, Some(Command::Rekey));
    let overrides = Overrides {
        port: cli.port,
        listen: cli.listen,
        data_dir: cli.data_dir,
        in_memory: cli.in_memory,
    };
    let config = match Config::load(cli.config.as_deref(), std::env::vars(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::from(2);
        }
    };
    if rekey {
        sluice::storage::Store::private_files();
        let done = sluice::storage::Store::open(&config.storage).and_then(|store| store.rekey());
        return match done {
            Ok(n) => {
                let how = if config.storage.encryption_key_file.is_empty() {
                    "stored in the clear"
                } else {
                    "sealed with storage.encryption_key_file"
                };
                println!("sluice rekey: {n} values {how}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sluice rekey: {e}");
                ExitCode::FAILURE
            }
        };
    }
    no_huge_pages();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log.level.clone());
    let env_filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(std::io::stderr);
    match config.log.format {
        sluice::config::LogFormat::Json => logs.json().init(),
        sluice::config::LogFormat::Text => {
            logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init()
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sluice: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(config));
    // A task stuck in the blocking pool (a read of a store that stopped answering) must
    // not hold the exit either.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    close_store();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `sluice bench`: the summary on stdout (JSON with --json), progress and failures on stderr.
fn bench(workload: sluice::bench::cli::Workload) -> ExitCode {
    let json = workload.common().json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sluice bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sluice::bench::run(workload)) {
        Ok(report) => {
            println!("{}", if json { report.json() } else { report.human() });
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sluice bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    let metrics = Arc::new(metrics::Metrics::new());
    let clock: clock::SharedClock = Arc::new(clock::SystemClock);
    sluice::storage::Store::private_files();
    let engine =
        engine::Engine::open(config.clone(), clock, metrics.clone()).map_err(|e| e.to_string())?;
    if let Some(dir) = engine.store.scratch_dir() {
        let _ = SCRATCH.set((Arc::downgrade(&engine.store), dir.to_path_buf()));
    }
    for line in
        sluice::bootstrap::run(&engine, &config).await.map_err(|e| format!("bootstrap: {e}"))?
    {
        tracing::info!("bootstrap created {line}");
    }
    for line in engine.lambda.start().await.map_err(|e| format!("lambda: {e}"))? {
        tracing::info!("{line}");
    }
    // After the functions: a poller's first invocation finds its runtime listening.
    engine.start_triggers().await.map_err(|e| format!("event source mappings: {e}"))?;
    let tls = server::conn::tls_acceptor(&config.server)?;
    let addr = config.listen_addr().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let storage = if config.storage.in_memory {
        "in memory".to_string()
    } else {
        format!(
            "{} (durability {:?})",
            config.storage.data_dir.display(),
            config.storage.durability
        )
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, data = %storage, "sluice listening on {scheme}://{local}, data {storage}");
    if !local.ip().is_loopback() && !config.auth.enforce {
        tracing::warn!(
            address = %local,
            "listening beyond this machine with auth.enforce = false: anyone who reaches {local} \
             can read and change every table and stream (set auth.enforce and [[auth.keys]])"
        );
    }
    let mut metrics_line = None;
    if let Some(addr) = config.metrics_addr().map_err(|e| e.to_string())? {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %bound, "metrics also served on http://{bound}/metrics");
        metrics_line = Some(format!("sluice metrics on http://{bound}"));
        server::metrics_listener::spawn(
            listener,
            metrics.clone(),
            engine.store.clone(),
            &config.server,
        );
    }
    // From here on SIGTERM and SIGINT stop the daemon cleanly, so a script that signals
    // it as soon as it reads the line below gets the drain and the final sync.
    let shutdown = server::shutdown_signal();
    // Tests and scripts started with --port 0 read the chosen address from this line, so
    // it comes once every listener (the metrics one too) is bound.
    println!("sluice listening on {scheme}://{local}");
    if let Some(line) = metrics_line {
        println!("{line}");
    }
    // Sources whose lease table lives here call this sluice's own API.
    let mut own = local;
    if own.ip().is_unspecified() {
        own.set_ip(match own {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    engine.start_sources(&format!("{scheme}://{own}"));
    let state = Arc::new(server::AppState::new(config, engine, metrics));
    server::serve(listener, tls, state, shutdown).await
}

/// Turns transparent huge pages off for the daemon. mimalloc asks for them on its
/// segments (`madvise`) and returns freed memory to the OS after 10 ms, so a busy daemon
/// kept faulting in fresh 2 MiB pages, each zeroed whole while a request waited (5.7 % of
/// its samples under PutItem): the writes' p99 at `-c 64` was 8.7-10.9 ms with them and
/// 6.3-7.8 ms without (BENCHMARKS.md, "Transparent huge pages off"). Also covers
/// kernels that give them to every mapping (`enabled = always`). Inherited by processes
/// sluice starts (a function's `command`), which lose nothing by it.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory map; a kernel
    // without it answers EINVAL, which changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// An in-memory store's directory, once `run` has opened it: removed as the process
/// exits, once the store has closed (`close_store`).
static SCRATCH: std::sync::OnceLock<(std::sync::Weak<sluice::storage::Store>, std::path::PathBuf)> =
    std::sync::OnceLock::new();

/// With the runtime down, the writers' tasks are gone and the store closes; an in-memory
/// store's directory goes with it, unless the process ends first.
fn close_store() {
    if let Some((store, dir)) = SCRATCH.get() {
        let within = std::time::Duration::from_secs(2);
        sluice::storage::scratch::remove_when_closed(store, dir, within);
    }
}

#[cfg(test)]
mod tests {
    /// With the `mimalloc` feature, Rust's allocations never reach glibc's malloc: a
    /// 64 MiB vector leaves glibc's counters (arena bytes in use plus mmapped blocks) where
    /// they were. Under glibc's malloc they grow by the 64 MiB.
    #[cfg(all(feature = "mimalloc", target_os = "linux", target_env = "gnu"))]
    #[test]
    fn rust_allocations_bypass_glibc_malloc() {
        fn glibc_bytes() -> usize {
            // SAFETY: mallinfo2 only reads glibc's allocator statistics.
            let info = unsafe { libc::mallinfo2() };
            info.uordblks + info.hblkhd
        }
        const SIZE: usize = 64 << 20;
        let before = glibc_bytes();
        let big = std::hint::black_box(vec![1u8; SIZE]);
        let after = glibc_bytes();
        assert_eq!(big.len(), SIZE);
        drop(big);
        assert!(
            after < before + SIZE / 2,
            "glibc malloc grew by {} bytes for a {SIZE}-byte Vec: the global allocator is not mimalloc",
            after.saturating_sub(before)
        );
    }
}
