//! The fsync probe: what one durable commit costs on a disk, measured without sluice.
//! It appends `--write-size` bytes to a file in `--dir` and calls fdatasync, `-n` times
//! (or for `-d`), one after another, and reports each append-and-sync's latency. A
//! durable store that commits a group of writes per sync can do at most about
//! `concurrency ÷ sync latency` writes per second with `concurrency` writers waiting:
//! the bound the notes give for 8 and 64.

use std::io::Write;
use std::time::Instant;

use super::cli::FsyncArgs;
use super::histogram::Latency;
use super::report::{Measurement, Report};

pub fn run(args: &FsyncArgs, report: &mut Report) -> Result<(), String> {
    let dir = tempfile::tempdir_in(&args.dir).map_err(|e| format!("--dir {}: {e}", args.dir))?;
    let path = dir.path().join("probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let block = vec![0x5a; args.write_size.max(1)];
    let deadline = match args.common.requests {
        Some(_) => None,
        None => Some(Instant::now() + args.common.duration),
    };
    let limit = args.common.requests.unwrap_or(u64::MAX);
    let mut latency = Latency::new();
    let (mut done, mut errors) = (0u64, 0u64);
    let started = Instant::now();
    while done < limit && deadline.is_none_or(|d| Instant::now() < d) {
        let t = Instant::now();
        let synced = file.write_all(&block).and_then(|()| file.sync_data());
        latency.record(t.elapsed());
        done += 1;
        if synced.is_err() {
            errors += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let p = latency.percentiles();
    report.measurements.push(Measurement {
        name: "fsync".into(),
        requests: done,
        errors,
        seconds,
        requests_per_s: done as f64 / seconds.max(1e-9),
        latency: p,
        ..Measurement::default()
    });
    if p.p50_ms > 0.0 {
        for writers in [8.0, 64.0] {
            report.notes.push(format!(
                "{writers} writers committing in groups: at most about {:.0} durable writes/s on this disk ({writers} ÷ the p50 sync of {:.3} ms)",
                writers * 1000.0 / p.p50_ms,
                p.p50_ms
            ));
        }
    }
    Ok(())
}
