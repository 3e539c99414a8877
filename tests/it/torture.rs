//! `sluice torture`, the crash harness, run as CI runs it: the real binary, 10 cycles of
//! writers killed mid-flight by SIGKILL (the remote sluice now and then too), each
//! restart checked. Nothing acknowledged may be lost; the DynamoDB stream and the local
//! Kinesis destination must hold every change exactly once, in per-item order; the
//! remote destination every change at least once, in order, its copies carrying the
//! first copy's eventID. With `--bridge-source`, bridge instances sharing a source table
//! through a lease table are the ones killed; their stream gets every change at least
//! once, in order, with the source's eventIDs.

use std::process::Command;

/// The number after `label` on the report line starting with `line`.
fn number(report: &str, line: &str, label: &str) -> u64 {
    let l = report
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no {line:?} line in:\n{report}"));
    let after = l.split(label).nth(1).unwrap_or_else(|| panic!("no {label:?} in {l:?}"));
    after
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {l:?}"))
}

#[test]
fn ten_kill_and_restart_cycles_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["torture", "--cycles", "10", "--seconds-per-cycle", "0.6", "--clients", "4"])
        .args(["--remote", "--seed", "20261121", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run sluice torture");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sluice torture failed ({}):\n{report}", out.status);

    assert_eq!(number(&report, "cycles run:", "cycles run:"), 10);
    assert!(number(&report, "cycles run:", "kills of sluice:") >= 10);
    assert!(number(&report, "writes checked:", "writes checked:") > 0);
    assert_eq!(number(&report, "writes checked:", "refused"), 0);
    assert_eq!(number(&report, "items checked:", "wrong or lost:"), 0);
    for feed in ["dynamodb stream", "local kinesis destination"] {
        assert!(number(&report, feed, "records") > 0, "{feed}");
        assert_eq!(number(&report, feed, "lost"), 0, "{feed}");
        assert_eq!(number(&report, feed, "duplicated"), 0, "{feed}");
        assert_eq!(number(&report, feed, "out of order"), 0, "{feed}");
        assert_eq!(number(&report, feed, "unexpected"), 0, "{feed}");
    }
    let remote = "remote kinesis destination";
    assert!(number(&report, remote, "records") > 0);
    assert_eq!(number(&report, remote, "lost"), 0);
    assert_eq!(number(&report, remote, "with another eventID"), 0);
    assert_eq!(number(&report, remote, "out of order"), 0);
    assert_eq!(number(&report, "checks failed:", "checks failed:"), 0);
    assert_eq!(number(&report, "checks failed:", "violations:"), 0);
}

#[test]
fn bridge_instances_killed_under_load_lose_nothing_and_keep_each_items_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["torture", "--bridge-source", "--instances", "3", "--cycles", "4"])
        .args(["--seconds-per-cycle", "1.5", "--clients", "4", "--seed", "20261206", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run sluice torture --bridge-source");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sluice torture failed ({}):\n{report}", out.status);

    assert_eq!(number(&report, "cycles run:", "cycles run:"), 4);
    assert_eq!(number(&report, "cycles run:", "kills of bridge instances:"), 4);
    assert_eq!(number(&report, "items checked:", "wrong or lost:"), 0);
    let bridged = "bridged kinesis stream";
    assert!(number(&report, bridged, "records") > 0);
    assert_eq!(number(&report, bridged, "lost"), 0);
    assert_eq!(number(&report, bridged, "with another eventID"), 0);
    assert_eq!(number(&report, bridged, "out of order"), 0);
    assert_eq!(number(&report, bridged, "unexpected"), 0);
    assert_eq!(number(&report, "checks failed:", "violations:"), 0);
}
