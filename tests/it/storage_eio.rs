//! A disk that answers EIO: the data directory on a small ext4 filesystem (no journal,
//! `errors=continue`, so the kernel neither hides nor remaps the errors) on a loop
//! device, whose size is then cut down (LOOP_SET_STATUS64 `lo_sizelimit`) to end right
//! after the filesystem's metadata. Every data block the store writes from then on lies
//! past the end of the device, and the kernel fails its writeback with a real EIO, which
//! the store sees in its write or fsync. The write is answered InternalServerError
//! (Kinesis: InternalFailure), /health turns 503, and once the device is whole again and
//! sluice restarts, every acknowledged write and record is there.
//!
//! Device-mapper (`dm-error`, `dm-flakey`) is not used: kernels built without it (as
//! this test's machine is) are common, loop devices nearly universal. Needs root
//! (CAP_SYS_ADMIN, a free /dev/loop*); without it the test prints NOT RUN and returns,
//! unless SLUICE_TEST_REQUIRE_MOUNT=1 makes that a failure.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{Server, error_of};

/// `struct loop_info64` of <linux/loop.h>.
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const BLOCK: u64 = 4096;

/// An ext4 filesystem on a loop device over a sparse file, mounted on a fresh directory;
/// unmounted and detached on drop.
struct LoopFs {
    dir: tempfile::TempDir,
    image: PathBuf,
    device: String,
    /// Bytes up to the end of the inode table: the device may be cut down to this.
    metadata_end: u64,
    mounted: bool,
}

/// Runs `program` with `args`; its stderr when it fails.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} could not be run: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Says NOT RUN (returning None) when the error is a lack of privilege or of loop
/// devices and the mount is not required; any other error fails the test.
fn not_run_or_fail<T>(said: String) -> Option<T> {
    let lower = said.to_lowercase();
    let unprivileged = [
        "permission denied",
        "not permitted",
        "must be superuser",
        "could not be run",
        "failed to set up loop device",
        "cannot find an unused loop device",
        "no such file or directory",
    ]
    .iter()
    .any(|p| lower.contains(p));
    if unprivileged && std::env::var_os("SLUICE_TEST_REQUIRE_MOUNT").is_none() {
        eprintln!(
            "NOT RUN: the EIO test needs root (CAP_SYS_ADMIN), a free loop device and \
             e2fsprogs to mount an ext4 image; it got: {said}"
        );
        return None;
    }
    panic!("this test needs to set up and mount a loop device (run as root): {said}");
}

impl LoopFs {
    fn create(mib: u64) -> Option<LoopFs> {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        File::create(&image).unwrap().set_len(mib << 20).unwrap();
        let image_str = image.to_str().unwrap();
        // 4 KiB blocks, few inodes, no journal, no reserve: a small, fixed metadata area
        // at the front, then data blocks.
        if let Err(e) = run(
            "mkfs.ext4",
            &["-q", "-F", "-b", "4096", "-N", "2048", "-m", "0", "-O", "^has_journal", image_str],
        ) {
            return not_run_or_fail(e);
        }
        let layout = match run("dumpe2fs", &[image_str]) {
            Ok(layout) => layout,
            Err(e) => return not_run_or_fail(e),
        };
        let table_end: u64 = layout
            .lines()
            .find_map(|l| l.trim().strip_prefix("Inode table at "))
            .and_then(|r| r.split(['-', ' ']).nth(1)?.parse().ok())
            .expect("dumpe2fs names the inode table");
        let device = match run("losetup", &["-f", "--show", image_str]) {
            Ok(d) => d.trim().to_string(),
            Err(e) => return not_run_or_fail(e),
        };
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let mut fs =
            LoopFs { dir, image, device, metadata_end: (table_end + 1) * BLOCK, mounted: false };
        if let Err(e) = fs.mount() {
            return not_run_or_fail(e);
        }
        Some(fs)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn mount(&mut self) -> Result<String, String> {
        let mnt = self.path();
        let out = run("mount", &["-o", "errors=continue", &self.device, mnt.to_str().unwrap()])?;
        self.mounted = true;
        Ok(out)
    }

    fn unmount(&mut self) {
        run("umount", &[self.path().to_str().unwrap()]).expect("umount");
        self.mounted = false;
    }

    /// Limits the device to its first `bytes` (0: the whole image again). I/O past the
    /// end fails in the block layer with EIO.
    fn limit(&self, bytes: u64) {
        let dev = std::fs::OpenOptions::new().read(true).write(true).open(&self.device).unwrap();
        // SAFETY: `info` is a plain C struct the kernel fills (GET) and reads (SET); the
        // fd is open for the whole call.
        unsafe {
            let mut info: LoopInfo64 = std::mem::zeroed();
            let got = libc::ioctl(dev.as_raw_fd(), LOOP_GET_STATUS64 as _, &mut info);
            assert_eq!(got, 0, "LOOP_GET_STATUS64: {}", std::io::Error::last_os_error());
            info.sizelimit = bytes;
            let set = libc::ioctl(dev.as_raw_fd(), LOOP_SET_STATUS64 as _, &info);
            assert_eq!(set, 0, "LOOP_SET_STATUS64: {}", std::io::Error::last_os_error());
        }
        let size = std::fs::read_to_string(format!(
            "/sys/block/{}/size",
            Path::new(&self.device).file_name().unwrap().to_str().unwrap()
        ))
        .unwrap();
        let want = if bytes == 0 { std::fs::metadata(&self.image).unwrap().len() } else { bytes };
        assert_eq!(size.trim().parse::<u64>().unwrap() * 512, want, "device size after the limit");
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = self.limit_quietly();
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

impl LoopFs {
    /// Restores the whole device without asserting (in drop, perhaps after a panic).
    fn limit_quietly(&self) -> Option<()> {
        let dev = std::fs::OpenOptions::new().read(true).write(true).open(&self.device).ok()?;
        // SAFETY: as in `limit`.
        unsafe {
            let mut info: LoopInfo64 = std::mem::zeroed();
            if libc::ioctl(dev.as_raw_fd(), LOOP_GET_STATUS64 as _, &mut info) == 0 {
                info.sizelimit = 0;
                libc::ioctl(dev.as_raw_fd(), LOOP_SET_STATUS64 as _, &info);
            }
        }
        Some(())
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

async fn stored_keys(client: &aws_sdk_dynamodb::Client) -> HashSet<String> {
    crate::storage_faults::stored_keys(client, "eio").await
}

#[tokio::test]
async fn a_disk_that_answers_eio_fails_writes_and_loses_nothing_acknowledged() {
    let Some(mut fs) = LoopFs::create(128) else { return };
    // The disk is small; its free space is not what this test is about.
    let config = "[storage]\nmin_free_bytes = 0\n";
    let server = Server::start_in_with(&fs.path(), config);
    let client = server.client();
    crate::harness::create_table(&client, "eio", false).await;
    let mut acked = HashSet::new();
    for i in 0..50 {
        let pk = format!("a{i}");
        let put = client.put_item().table_name("eio").item("pk", s(&pk));
        put.item("b", s(&"y".repeat(1000))).send().await.unwrap();
        acked.insert(pk);
    }
    let k = server.kinesis();
    crate::kinesis::create(&k, "ks", 1).await;
    let record = |n: u32| {
        let data = aws_sdk_kinesis::primitives::Blob::new(format!("{{\"n\":{n}}}"));
        k.put_record().stream_name("ks").partition_key("p").data(data).send()
    };
    record(1).await.expect("an acknowledged record");

    // The disk goes bad: from here every data block write fails with EIO.
    fs.limit(fs.metadata_end);
    let mut refused = Vec::new();
    for i in 0..20 {
        let pk = format!("e{i}");
        let put = client.put_item().table_name("eio").item("pk", s(&pk));
        match put.item("b", s(&"z".repeat(1000))).send().await {
            // A write may still land in a block below the cut (a hole at the front).
            Ok(_) => {
                acked.insert(pk);
            }
            Err(e) => {
                let (code, message) = error_of::<(), _>(Err(e));
                assert_eq!(
                    (code.as_str(), message.as_str()),
                    ("InternalServerError", "Internal server error")
                );
                refused.push(pk);
            }
        }
    }
    assert!(!refused.is_empty(), "no write failed on a disk that answers EIO");
    // Kinesis writes are refused too, as Kinesis words it.
    let (code, message) = error_of(record(2).await);
    assert_eq!((code.as_str(), message.as_str()), ("InternalFailure", "Internal Service Failure"));
    // Reads go on (from memory), and show no refused write.
    assert_eq!(stored_keys(&client).await, acked, "reads show exactly the acknowledged writes");
    let health = server.request("GET", "/health", &[], b"").await;
    assert_eq!(health.status, 503, "{}", health.text());
    assert!(health.text().contains("restart sluice"), "{}", health.text());
    let log = std::fs::read_to_string(fs.path().join("sluice.log")).unwrap_or_default();
    assert!(
        log.contains("Input/output error") || log.contains("os error 5"),
        "the store saw EIO, not some other error; its log:\n{log}"
    );

    // The disk is whole again; sluice restarts on a fresh mount (nothing of the failed
    // writes left in the page cache): every acknowledged write is there.
    server.kill();
    fs.limit(0);
    fs.unmount();
    // No journal: check the filesystem as after any unclean episode (exit 1 means it
    // repaired something, which the failed writes can leave; it must not fail).
    let fsck = Command::new("e2fsck").args(["-f", "-y", &fs.device]).output().expect("e2fsck");
    assert!(fsck.status.code().is_some_and(|c| c <= 1), "e2fsck: {fsck:?}");
    fs.mount().expect("mount again");
    let server = Server::start_in_with(&fs.path(), config);
    let client = server.client();
    let keys = stored_keys(&client).await;
    assert!(acked.is_subset(&keys), "lost acknowledged writes: {:?}", acked.difference(&keys));
    assert!(keys.difference(&acked).all(|k| refused.contains(k)), "{keys:?}");
    let records = crate::bridge::records(&server.kinesis(), "ks").await;
    assert!(records.first() == Some(&serde_json::json!({"n": 1})), "{records:?}");
    assert!(records.len() <= 2, "the refused record at most once: {records:?}");
    client.put_item().table_name("eio").item("pk", s("after")).send().await.unwrap();
    assert_eq!(server.request("GET", "/health", &[], b"").await.status, 200);
}
