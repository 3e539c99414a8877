//! Storage errors: a group commit that fails answers every write in it with
//! InternalServerError (Kinesis: InternalFailure) and applies nothing (no item, no index
//! entry, no change record, no destination record); the daemon stays up, reads go on, and
//! writes succeed again once the error is gone.
//!
//! Two ways in: the `storage` fault-injection rule (deterministic, everywhere), and a
//! REAL full disk: a small tmpfs mounted for the data directory and filled with a filler
//! file. Mounting needs root (CAP_SYS_ADMIN). Where the kernel refuses the mount for lack
//! of privilege (an unprivileged container), those two tests print a loud NOT RUN line and
//! return, unless SLUICE_TEST_REQUIRE_MOUNT=1 makes that a failure; any other mount error
//! fails them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::faults::add_rule;
use crate::harness::{Server, error_of};
use crate::streams::{create_with_stream, read_stream};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

async fn metric(server: &Server, line_start: &str) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Stored item keys of `table` (a consistent Scan).
pub(crate) async fn stored_keys(client: &aws_sdk_dynamodb::Client, table: &str) -> HashSet<String> {
    let out = client.scan().table_name(table).consistent_read(true).send().await.unwrap();
    out.items()
        .iter()
        .map(|i| match &i["pk"] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("pk {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_failed_group_commit_fails_every_write_in_it_and_applies_nothing() {
    // One partition: one shard, so sequence numbers can be checked end to end.
    let server = Server::start_with_config("[dynamodb]\npartitions_per_table = 1\n");
    let client = server.client();
    let arn = create_with_stream(&client, "tab", "NEW_AND_OLD_IMAGES").await;
    let k = server.kinesis();
    crate::kinesis::create(&k, "dest", 1).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("tab")
        .stream_arn(crate::kinesis::arn("dest"))
        .send()
        .await
        .unwrap();
    client.put_item().table_name("tab").item("pk", s("before")).send().await.unwrap();
    assert_eq!(crate::bridge::wait_for(&k, "dest", 1).await.len(), 1);

    // One failed commit: the client gets AWS's 500, and nothing of the write exists.
    let (status, _) = add_rule(
        &server,
        json!({"service": "storage", "operation": "Commit", "error": "IOError", "count": 1}),
    )
    .await;
    assert_eq!(status, 200);
    let (code, message) =
        error_of(client.put_item().table_name("tab").item("pk", s("lost")).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("InternalServerError", "Internal server error"));
    let r = server.post("GetItem", br#"{"TableName":"tab","Key":{"pk":{"S":"lost"}}}"#, &[]).await;
    assert_eq!((r.status, r.json()), (200, json!({})), "reads go on; the write is not there");

    // A group, on a table of its own (no forwarder commits there): the first commit is
    // held 300 ms while writes queue behind it, then the next commit (all of them that
    // queued) fails. Whatever the grouping, each write is either acknowledged and fully
    // there, or refused and fully absent.
    let grp_arn = create_with_stream(&client, "grp", "NEW_AND_OLD_IMAGES").await;
    add_rule(&server, json!({"service": "storage", "latency_ms": 300, "count": 1})).await;
    add_rule(&server, json!({"service": "storage", "error": "IOError", "count": 1})).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let pk = format!("w{i}");
            let r = client.put_item().table_name("grp").item("pk", s(&pk)).send().await;
            (pk, r.map_err(|e| error_of::<(), _>(Err(e)).0))
        }));
        if i == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut acked = HashSet::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (pk, Ok(_)) => {
                acked.insert(pk);
            }
            (_, Err(code)) => {
                assert_eq!(code, "InternalServerError");
                refused += 1;
            }
        }
    }
    assert!(refused >= 1, "the second commit failed");
    assert_eq!(metric(&server, "sluice_storage_commit_failures_total").await, 2.0);
    // Writes work again at once: the injected error is gone.
    client.put_item().table_name("grp").item("pk", s("after")).send().await.unwrap();
    acked.insert("after".to_string());
    // Items and stream records are exactly the acknowledged writes, and sequence
    // numbers run on without a gap (a failed group used none) or a reuse.
    assert_eq!(stored_keys(&client, "grp").await, acked);
    let records = read_stream(&server.streams(), &grp_arn).await;
    let keys: HashSet<String> =
        crate::streams::events(&records).into_iter().map(|(_, pk)| pk).collect();
    assert_eq!((records.len(), keys), (acked.len(), acked.clone()));
    let seqs: Vec<u128> = records.iter().map(|r| crate::streams::seq(r).parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gap, no reuse: {seqs:?}");

    // A transaction across both tables is one commit: refused whole, then done whole.
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let txn = || {
        let put = |table: &str| {
            let put = Put::builder().table_name(table).item("pk", s("txn")).build().unwrap();
            TransactWriteItem::builder().put(put).build()
        };
        client.transact_write_items().transact_items(put("grp")).transact_items(put("tab")).send()
    };
    add_rule(&server, json!({"service": "storage", "error": "IOError", "count": 1})).await;
    let (code, _) = error_of(txn().await);
    assert_eq!(code, "InternalServerError");
    assert!(!stored_keys(&client, "grp").await.contains("txn"));
    assert!(!stored_keys(&client, "tab").await.contains("txn"));
    txn().await.unwrap();
    assert!(stored_keys(&client, "grp").await.contains("txn"));
    let forwarded = crate::bridge::wait_for(&k, "dest", 2).await;
    assert_eq!(forwarded.len(), 2, "before and txn");
    let records = read_stream(&server.streams(), &grp_arn).await;
    let seqs: Vec<u128> = records.iter().map(|r| crate::streams::seq(r).parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gap, no reuse: {seqs:?}");

    // A forwarder's own commit fails. A write forwards in its own commit when it can (the
    // failed "lost" above); a transaction over two tables forwarding to two streams
    // cannot, so the forwarders forward its changes after it: its commit is held while
    // the error rule is added, so the next commit after it, a forwarder's, is the one
    // that fails. It pauses and retries; the changes arrive once.
    create_with_stream(&client, "tab2", "NEW_AND_OLD_IMAGES").await;
    crate::kinesis::create(&k, "dest2", 1).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("tab2")
        .stream_arn(crate::kinesis::arn("dest2"))
        .send()
        .await
        .unwrap();
    add_rule(&server, json!({"service": "storage", "latency_ms": 1500, "count": 1})).await;
    let put = |table: &str| {
        let put = Put::builder().table_name(table).item("pk", s("fwd")).build().unwrap();
        TransactWriteItem::builder().put(put).build()
    };
    let write =
        client.transact_write_items().transact_items(put("tab")).transact_items(put("tab2")).send();
    let fail_next = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        add_rule(&server, json!({"service": "storage", "error": "IOError", "count": 1})).await
    };
    let (written, _) = tokio::join!(write, fail_next);
    written.unwrap();
    let forwarded = crate::bridge::wait_for(&k, "dest", 3).await;
    let keys: Vec<&str> =
        forwarded.iter().map(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap()).collect();
    assert_eq!(keys, ["before", "txn", "fwd"]);
    assert_eq!(crate::bridge::wait_for(&k, "dest2", 1).await.len(), 1);
    let listed = crate::faults::rules(&server).await;
    assert_eq!(listed.last().unwrap()["applied"], 1, "a forwarder's commit took the fault");
    let records = read_stream(&server.streams(), &arn).await;
    assert_eq!(crate::streams::events(&records).len(), 3, "before, txn and fwd: none lost");

    // Kinesis writes answer InternalFailure on a failed commit, and retry cleanly.
    add_rule(&server, json!({"service": "storage", "error": "IOError", "count": 1})).await;
    let put = || {
        k.put_record()
            .stream_name("dest")
            .partition_key("p")
            .data(aws_sdk_kinesis::primitives::Blob::new(r#"{"x":1}"#))
            .send()
    };
    let (code, message) = error_of(put().await);
    assert_eq!((code.as_str(), message.as_str()), ("InternalFailure", "Internal Service Failure"));
    put().await.unwrap();
    assert_eq!(crate::bridge::records(&k, "dest").await.len(), 4);
}

/// A tmpfs of `mib` MiB mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None (after saying so on stderr) when this process may not mount filesystems.
    fn mount(mib: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        let unprivileged = ["permission denied", "not permitted", "must be superuser"]
            .iter()
            .any(|p| said.to_lowercase().contains(p));
        if !out.status.success()
            && unprivileged
            && std::env::var_os("SLUICE_TEST_REQUIRE_MOUNT").is_none()
        {
            eprintln!(
                "NOT RUN: the real full-disk test needs to mount a tmpfs (root with \
                 CAP_SYS_ADMIN); mount said: {said}"
            );
            return None;
        }
        assert!(
            out.status.success(),
            "this test needs to mount a small tmpfs (run as root, or with CAP_SYS_ADMIN) to \
             fill a real disk; mount said: {said}"
        );
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem with `filler` until fewer than `leave` bytes are free.
    fn fill(&self, leave: u64) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        while free_bytes(self.path()) > leave {
            if f.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df output")
}

async fn put_n(client: &aws_sdk_dynamodb::Client, prefix: &str, n: usize) {
    for i in 0..n {
        let pk = format!("{prefix}{i}");
        let blob = s(&"y".repeat(1000));
        client
            .put_item()
            .table_name("disk")
            .item("pk", s(&pk))
            .item("b", blob)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_resumes_when_space_returns() {
    let Some(fs) = Tmpfs::mount(96) else { return };
    // The reserve: writes are refused while less than 16 MiB is free.
    let config = "[storage]\nmin_free_bytes = 16777216\n";
    let server = Server::start_in_with(fs.path(), config);
    let client = server.client();
    crate::harness::create_table(&client, "disk", false).await;
    put_n(&client, "a", 50).await;

    let filler = fs.fill(8 << 20);
    let (code, message) =
        error_of(client.put_item().table_name("disk").item("pk", s("full")).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("InternalServerError", "Internal server error"));
    assert_eq!(stored_keys(&client, "disk").await.len(), 50, "reads go on, nothing half-written");
    assert_eq!(server.request("GET", "/health", &[], b"").await.status, 200);

    // Space returns: writes succeed again, without a restart.
    std::fs::remove_file(filler).unwrap();
    put_n(&client, "b", 50).await;
    assert_eq!(stored_keys(&client, "disk").await.len(), 100);
    // And every acknowledged write survives a crash.
    server.kill();
    let server = Server::start_in_with(fs.path(), config);
    assert_eq!(stored_keys(&server.client(), "disk").await.len(), 100);
}

#[tokio::test]
async fn a_disk_that_fills_under_the_store_fails_writes_loudly_and_loses_nothing_acknowledged() {
    let Some(fs) = Tmpfs::mount(96) else { return };
    // No reserve: the journal write itself hits ENOSPC. fjall then refuses every later
    // write (it poisons itself), so sluice keeps serving reads, fails writes at once, and
    // reports itself unhealthy until it is restarted.
    let config = "[storage]\nmin_free_bytes = 0\n";
    let server = Server::start_in_with(fs.path(), config);
    let client = server.client();
    crate::harness::create_table(&client, "disk", false).await;
    put_n(&client, "a", 50).await;

    let filler = fs.fill(0);
    // Random items (the journal's compression cannot shrink them into what space is
    // left), growing: the small ones fit the journal's 8 KiB buffer, so their bytes
    // reach the disk only when the commit flushes and syncs them; the last one is too big
    // for the buffer and fails while being written. The first refused one must not be
    // visible: a commit that fails in its flush or sync shows nothing to readers.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |len: usize| -> String {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .collect()
    };
    let mut acked = Vec::new();
    let mut refused = None;
    for (i, len) in [3000; 12].into_iter().chain([300_000]).enumerate() {
        let pk = format!("s{i}");
        let put = client.put_item().table_name("disk").item("pk", s(&pk));
        match put.item("b", s(&noise(len))).send().await {
            Ok(_) => acked.push(pk),
            Err(e) => {
                assert_eq!(error_of::<(), _>(Err(e)).0, "InternalServerError");
                refused = Some(pk);
                break;
            }
        }
    }
    let refused = refused.expect("a write on a full disk is refused");
    let health = server.request("GET", "/health", &[], b"").await;
    assert_eq!(health.status, 503, "{}", health.text());
    assert!(health.text().contains("restart sluice"), "{}", health.text());
    let keys = stored_keys(&client, "disk").await;
    assert!(!keys.contains(&refused), "the refused write {refused} is not visible");
    assert_eq!(keys.len(), 50 + acked.len(), "reads go on");

    // Space returns; this store still takes no writes (it says why) until a restart.
    std::fs::remove_file(filler).unwrap();
    let (code, _) = error_of(client.put_item().table_name("disk").item("pk", s("x")).send().await);
    assert_eq!(code, "InternalServerError");
    server.kill();
    let server = Server::start_in_with(fs.path(), config);
    let client = server.client();
    let keys = stored_keys(&client, "disk").await;
    assert!((0..50).all(|i| keys.contains(&format!("a{i}"))), "every acknowledged write is there");
    assert!(acked.iter().all(|k| keys.contains(k)), "writes acknowledged on the full disk too");
    assert!(!keys.contains("x") && !keys.contains(&refused), "refused writes stay refused");
    put_n(&client, "b", 10).await;
    assert_eq!(server.request("GET", "/health", &[], b"").await.status, 200);
}

#[tokio::test]
async fn a_slow_commit_is_measured_and_holds_up_no_read() {
    let server = Server::start();
    let client = server.client();
    let k = server.kinesis();
    crate::harness::create_table(&client, "slow", false).await;
    crate::kinesis::create(&k, "slow-sink", 1).await;
    client.put_item().table_name("slow").item("pk", s("old")).send().await.unwrap();
    let blob = aws_sdk_kinesis::primitives::Blob::new(r#"{"x":1}"#);
    k.put_record().stream_name("slow-sink").partition_key("p").data(blob).send().await.unwrap();
    // The next group commit takes two seconds, as a stalled disk's sync would.
    add_rule(&server, json!({"service": "storage", "latency_ms": 2000, "count": 1})).await;
    let held = tokio::spawn({
        let client = client.clone();
        async move { client.put_item().table_name("slow").item("pk", s("held")).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Reads go to the store, not through the commit: every one answers while it is held.
    let got = client
        .get_item()
        .table_name("slow")
        .key("pk", s("old"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some());
    assert_eq!(crate::storage_faults::stored_keys(&client, "slow").await.len(), 1);
    client.describe_table().table_name("slow").send().await.unwrap();
    assert_eq!(crate::bridge::records(&k, "slow-sink").await.len(), 1);
    assert!(!held.is_finished(), "the reads answered while the commit was held");
    held.await.unwrap().unwrap();
    // The slow commit is in the commit-time histogram, above its one-second bucket.
    let text = server.metrics().await;
    let value = |prefix: &str| -> f64 {
        let line =
            text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let under_a_second =
        value("sluice_storage_commit_duration_seconds_bucket{durability=\"fsync\",le=\"1\"}");
    let all = value("sluice_storage_commit_duration_seconds_count{durability=\"fsync\"}");
    assert!(all - under_a_second >= 1.0, "{all} commits, {under_a_second} under a second");
}
