//! `sluice`: DynamoDB tables with native Streams, forwarded into long-retention Kinesis
//! streams, on one port. This file only parses the command line and starts the daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use sluice::config::{Config, Overrides};
use sluice::{clock, engine, metrics, server};

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
    /// Measure PutItem rate and latency against a running sluice, next to a bare hyper
    /// server that only parses the JSON body (the baseline of the write budget).
    Bench {
        /// The sluice to measure.
        #[arg(long, default_value = "127.0.0.1:8000")]
        endpoint: std::net::SocketAddr,
        /// Concurrent keep-alive connections, one request in flight each.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Bytes of payload per item.
        #[arg(long, default_value_t = 100)]
        item_bytes: usize,
        /// Skip the bare-hyper baseline.
        #[arg(long)]
        no_baseline: bool,
        /// Turn a DynamoDB stream and a Kinesis destination on for the table, and
        /// measure PutItem-to-Kinesis-reader latency.
        #[arg(long)]
        bridge: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Bench {
        endpoint,
        connections,
        seconds,
        item_bytes,
        no_baseline,
        bridge,
    }) = cli.command
    {
        let opts = sluice::bench::BenchOptions {
            endpoint,
            connections,
            duration: std::time::Duration::from_secs(seconds),
            item_bytes,
            baseline: !no_baseline,
            bridge,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
        return match runtime
            .map_err(|e| e.to_string())
            .and_then(|r| r.block_on(sluice::bench::run(opts)))
        {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sluice bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    let metrics = Arc::new(metrics::Metrics::new());
    let clock: clock::SharedClock = Arc::new(clock::SystemClock);
    let engine =
        engine::Engine::open(config.clone(), clock, metrics.clone()).map_err(|e| e.to_string())?;
    for line in
        sluice::bootstrap::run(&engine, &config).await.map_err(|e| format!("bootstrap: {e}"))?
    {
        tracing::info!("bootstrap created {line}");
    }
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
    // Tests and scripts started with --port 0 read the chosen address from this line.
    println!("sluice listening on {scheme}://{local}");
    if let Some(addr) = config.metrics_addr().map_err(|e| e.to_string())? {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %bound, "metrics also served on http://{bound}/metrics");
        println!("sluice metrics on http://{bound}");
        server::metrics_listener::spawn(listener, metrics.clone(), &config.server);
    }
    let state = Arc::new(server::AppState { config, engine, metrics });
    server::serve(listener, tls, state, server::shutdown_signal()).await;
    Ok(())
}
