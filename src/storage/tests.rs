//! The store's own tests: free space, write buffers, values in parts, keys and snapshots.

use super::*;

#[test]
fn below_the_free_space_reserve_a_commit_is_refused_before_the_store_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let reserve = |min_free_bytes| StorageConfig {
        durability: Durability::None,
        min_free_bytes,
        ..StorageConfig::default()
    };
    let store = Store::open_at(dir.path(), &reserve(u64::MAX)).unwrap();
    let put = Mutation::put(Space::Items, b"k".to_vec(), b"v".to_vec());
    let refused = store.commit_now(vec![put.clone()]).unwrap_err();
    assert!(matches!(refused, StorageError::DiskFull { reserve: u64::MAX, .. }), "{refused}");
    assert_eq!(store.get(Space::Items, b"k").unwrap(), None);
    assert_eq!(store.failure(), None, "a refusal is not a failure: writes resume");
    let other = tempfile::tempdir().unwrap();
    let roomy = Store::open_at(other.path(), &reserve(1)).unwrap();
    roomy.commit_now(vec![put]).unwrap();
}

#[test]
fn the_write_buffers_of_all_keyspaces_stay_within_memtable_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 2 * 1024 * 1024;
    let config = StorageConfig {
        durability: Durability::None,
        memtable_bytes: budget,
        ..StorageConfig::default()
    };
    let store = Store::open_at(dir.path(), &config).unwrap();
    let value = vec![7u8; 4096];
    // 24 MiB over three keyspaces, each alone below what fjall would seal on its own.
    for i in 0u32..2048 {
        let batch: Vec<Mutation> = [Space::Items, Space::Changes, Space::Kinesis]
            .into_iter()
            .map(|space| Mutation::put(space, i.to_be_bytes().to_vec(), value.clone()))
            .collect();
        store.commit_now(batch).unwrap();
        let held = store.db.write_buffer_size();
        assert!(held <= budget, "{held} bytes held after commit {i}");
    }
    assert_eq!(store.get(Space::Kinesis, &2047u32.to_be_bytes()).unwrap(), Some(value));
}

/// Every part of a value written in parts, as `get_parts` gives it.
fn parts_of(view: &ReadView, key: &[u8], lengths: &[u32]) -> Vec<Vec<u8>> {
    match view.get_parts(Space::Kinesis, key).unwrap().unwrap() {
        Parts::Whole(value) => {
            let mut at = 0;
            let mut parts = Vec::new();
            for &len in lengths {
                parts.push(value[at..at + len as usize].to_vec());
                at += len as usize;
            }
            parts
        }
        Parts::Sealed(parts) => (0..parts.count()).map(|i| parts.open(i).unwrap()).collect(),
    }
}

#[test]
fn values_in_parts_read_back_part_by_part_sealed_each_on_its_own_or_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, [9u8; 32]).unwrap();
    let sealed = StorageConfig {
        in_memory: true,
        encryption_key_file: key_file.to_string_lossy().into_owned(),
        ..StorageConfig::default()
    };
    let plain = StorageConfig { in_memory: true, ..StorageConfig::default() };
    let (value, lengths) =
        ((0..70_000u32).map(|i| i as u8).collect::<Vec<u8>>(), vec![0, 5, 69_995]);
    let expected = vec![Vec::new(), value[..5].to_vec(), value[5..].to_vec()];
    for (config, is_sealed) in [(plain, false), (sealed, true)] {
        let store = Store::open_at(dir.path(), &config).unwrap();
        let put =
            Mutation::put_parts(Space::Kinesis, b"k".to_vec(), value.clone(), lengths.clone());
        // A value written whole reads as one part, sealed or not.
        let whole = Mutation::put(Space::Kinesis, b"w".to_vec(), value.clone());
        store.commit_now(vec![put, whole]).unwrap();
        let view = store.read_view();
        assert_eq!(parts_of(&view, b"k", &lengths), expected);
        assert_eq!(parts_of(&view, b"w", &[70_000]), vec![value.clone()]);
        assert!(view.get_parts(Space::Kinesis, b"none").unwrap().is_none());
        let stored = store.spaces.kinesis.get(b"k").unwrap().unwrap();
        assert_eq!(seal::is_parted(&stored), is_sealed);
        assert_eq!(stored.windows(64).any(|w| w == &value[100..164]), !is_sealed, "in the clear?");
        // Every other read gives the value whole.
        assert_eq!(view.get(Space::Kinesis, b"k").unwrap(), Some(value.clone()));
        let all: Vec<_> = view.range(Space::Kinesis, Bound::Unbounded, Bound::Unbounded).collect();
        assert_eq!(all[0].as_ref().unwrap().1, value);
        // Parts that do not add up to the value are refused, not stored.
        let bad = Mutation::put_parts(Space::Kinesis, b"b".to_vec(), vec![1; 10], vec![4, 5]);
        assert!(matches!(store.commit_now(vec![bad]), Err(StorageError::Refused(_))));
    }
}

#[test]
fn a_part_is_bound_to_its_value_and_its_place() {
    let sealer = seal::Sealer::new(&[3u8; 32], &[]).unwrap();
    let stored = sealer.seal_parts(Space::Kinesis, b"k", b"abcdef", &[2, 4]).unwrap();
    let parts = seal::Parted::new(&stored).unwrap();
    assert_eq!(parts.open(Some(&sealer), Space::Kinesis, b"k", 1).unwrap(), b"cdef");
    assert!(parts.open(Some(&sealer), Space::Kinesis, b"x", 1).is_err(), "another key");
    assert!(parts.open(Some(&sealer), Space::Items, b"k", 1).is_err(), "another keyspace");
    assert!(parts.open(None, Space::Kinesis, b"k", 1).is_err(), "no key file");
    assert!(parts.open(Some(&sealer), Space::Kinesis, b"k", 2).is_err(), "no such part");
    // Parts swapped (with their lengths) fail: each is sealed with its index.
    let (a, b) = (&stored[6 + 8..6 + 8 + 36], &stored[6 + 8 + 36..]);
    let mut swapped = stored[..6].to_vec();
    swapped.extend_from_slice(&stored[10..14]);
    swapped.extend_from_slice(&stored[6..10]);
    swapped.extend_from_slice(b);
    swapped.extend_from_slice(a);
    let swapped = seal::Parted::new(&swapped).unwrap();
    assert!(swapped.open(Some(&sealer), Space::Kinesis, b"k", 0).is_err());
    // A part cannot pass for a whole value, nor a whole value for a part.
    assert!(sealer.open(Space::Kinesis, b"k", a.to_vec()).is_err());
    let whole = sealer.seal(Space::Kinesis, b"k", b"ab").unwrap();
    let mut as_part = [0xE7, 0x5F, 0, 0, 0, 1].to_vec();
    as_part.extend_from_slice(&(whole.len() as u32).to_be_bytes());
    as_part.extend_from_slice(&whole);
    assert!(seal::open(Some(&sealer), Space::Kinesis, b"k", as_part).is_err());
    // Truncated or inconsistent tables are errors, never a panic.
    for cut in [2, 5, 8, 13, stored.len() - 1] {
        let cut = &stored[..cut];
        let opened =
            seal::Parted::new(cut).and_then(|p| p.open(Some(&sealer), Space::Kinesis, b"k", 0));
        assert!(opened.is_err(), "{cut:?}");
    }
    let mut huge = stored.clone();
    huge[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(seal::Parted::new(&huge).is_err());
}

#[test]
fn previous_keys_alone_read_sealed_values_and_write_new_ones_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, [6u8; 32]).unwrap();
    let key = key.to_string_lossy().into_owned();
    let data = dir.path().join("data");
    let sealing = StorageConfig { encryption_key_file: key.clone(), ..StorageConfig::default() };
    {
        let store = Store::open_at(&data, &sealing).unwrap();
        store
            .commit_now(vec![Mutation::put(Space::Items, b"old".to_vec(), b"v1".to_vec())])
            .unwrap();
    }
    let off =
        StorageConfig { previous_encryption_key_files: vec![key], ..StorageConfig::default() };
    let store = Store::open_at(&data, &off).unwrap();
    assert_eq!(store.sealing_key_id(), None);
    assert_eq!(store.get(Space::Items, b"old").unwrap(), Some(b"v1".to_vec()));
    store.commit_now(vec![Mutation::put(Space::Items, b"new".to_vec(), b"v2".to_vec())]).unwrap();
    assert_eq!(&*store.spaces.items.get(b"new").unwrap().unwrap(), b"v2", "written in the clear");
    assert!(seal::is_sealed(&store.spaces.items.get(b"old").unwrap().unwrap()));
}

#[test]
fn rekey_keeps_a_value_in_parts_in_parts() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::write(&old, [1u8; 32]).unwrap();
    std::fs::write(&new, [2u8; 32]).unwrap();
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let data = dir.path().join("data");
    let config = |key: Option<&std::path::Path>, previous: Vec<String>| StorageConfig {
        durability: Durability::Fsync,
        encryption_key_file: key.map(path).unwrap_or_default(),
        previous_encryption_key_files: previous,
        ..StorageConfig::default()
    };
    let (value, lengths) = (b"tablesection".to_vec(), vec![5, 7]);
    {
        let store = Store::open_at(&data, &config(Some(&old), vec![])).unwrap();
        let put =
            Mutation::put_parts(Space::Kinesis, b"k".to_vec(), value.clone(), lengths.clone());
        store.commit_now(vec![put]).unwrap();
    }
    {
        let store = Store::open_at(&data, &config(Some(&new), vec![path(&old)])).unwrap();
        assert_eq!(store.rekey().unwrap(), 1);
    }
    // Sealed in parts with the new key alone, and then in the clear without a key.
    let store = Store::open_at(&data, &config(Some(&new), vec![])).unwrap();
    let view = store.read_view();
    assert!(matches!(view.get_parts(Space::Kinesis, b"k").unwrap(), Some(Parts::Sealed(_))));
    assert_eq!(parts_of(&view, b"k", &lengths), vec![b"table".to_vec(), b"section".to_vec()]);
    assert_eq!(view.get(Space::Kinesis, b"k").unwrap(), Some(value));
}

#[test]
fn every_keyspace_keeps_its_own_keys_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig { durability: Durability::Fsync, ..StorageConfig::default() };
    {
        let store = Store::open_at(dir.path(), &config).unwrap();
        let batch = Space::ALL
            .iter()
            .enumerate()
            .map(|(i, space)| Mutation::put(*space, b"same key".to_vec(), vec![i as u8]))
            .collect();
        store.commit_now(batch).unwrap();
    }
    let store = Store::open_at(dir.path(), &config).unwrap();
    for (i, space) in Space::ALL.iter().enumerate() {
        assert_eq!(store.get(*space, b"same key").unwrap(), Some(vec![i as u8]), "{space:?}");
    }
}

#[test]
fn reads_with_keys_past_the_store_limit_answer_as_if_compared_in_full() {
    let config = StorageConfig { in_memory: true, ..StorageConfig::default() };
    let store = Store::open(&config).unwrap();
    let long = |fill: u8, len: usize| vec![fill; len];
    let at_limit = long(b'm', MAX_KEY_BYTES);
    let put = |k: &[u8]| Mutation::put(Space::Items, k.to_vec(), b"v".to_vec());
    store.commit_now(vec![put(b"a"), put(&at_limit), put(b"z")]).unwrap();
    let past = long(b'm', MAX_KEY_BYTES + 10);
    assert_eq!(store.get(Space::Items, &past).unwrap(), None);
    assert_eq!(store.get(Space::Items, b"").unwrap(), None);
    assert_eq!(store.scan_prefix(Space::Items, &past).count(), 0);
    let keys = |it: KvIter| it.map(|kv| kv.unwrap().0).collect::<Vec<_>>();
    let view = store.read_view();
    // `at_limit` is a prefix of `past`, so it sorts before it.
    let from = view.range(Space::Items, Bound::Included(past.clone()), Bound::Unbounded);
    assert_eq!(keys(from), vec![b"z".to_vec()]);
    let to = view.range(Space::Items, Bound::Unbounded, Bound::Excluded(past.clone()));
    assert_eq!(keys(to), vec![b"a".to_vec(), at_limit.clone()]);
    let after = long(b'n', MAX_KEY_BYTES + 1);
    let between = view.range(Space::Items, Bound::Excluded(past.clone()), Bound::Included(after));
    assert!(keys(between).is_empty());
    let scanned: Vec<_> =
        store.scan_range(Space::Items, b"a".to_vec(), past).map(|kv| kv.unwrap().0).collect();
    assert_eq!(scanned, vec![b"a".to_vec(), at_limit]);
}

#[test]
fn snapshots_do_not_see_later_writes() {
    let config = StorageConfig { in_memory: true, ..StorageConfig::default() };
    let store = Store::open(&config).unwrap();
    let put = |k: &[u8]| Mutation::put(Space::Items, k.to_vec(), b"v".to_vec());
    store.commit_now(vec![put(b"a"), put(b"b")]).unwrap();
    let view = store.read_view();
    store.commit_now(vec![put(b"c"), Mutation::delete(Space::Items, b"a".to_vec())]).unwrap();
    let keys = |it: KvIter| it.map(|kv| kv.unwrap().0).collect::<Vec<_>>();
    let all = || view.range(Space::Items, Bound::Unbounded, Bound::Unbounded);
    assert_eq!(keys(all()), vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(keys(Box::new(all().rev())), vec![b"b".to_vec(), b"a".to_vec()]);
    let later = store.read_view();
    assert_eq!(
        keys(later.range(Space::Items, Bound::Included(b"b".to_vec()), Bound::Unbounded)),
        vec![b"b".to_vec(), b"c".to_vec()]
    );
    // Inverted and empty ranges read nothing.
    let (x, y) = (b"x".to_vec(), b"b".to_vec());
    assert!(keys(later.range(Space::Items, Bound::Included(x), Bound::Included(y))).is_empty());
    let b = b"b".to_vec();
    assert!(
        keys(later.range(Space::Items, Bound::Included(b.clone()), Bound::Excluded(b))).is_empty()
    );
}
