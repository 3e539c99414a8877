//! The loader's tests: precedence, validation, and each section's checks.

use super::*;

fn load(file: Option<&str>, env: &[(&str, &str)], o: &Overrides) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
    Config::load(file.map(|_| path.as_path()), env, o)
}

#[test]
fn defaults_listen_on_8000_with_fsync() {
    let c = load(Some(""), &[], &Overrides::default()).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:8000");
    assert_eq!(c.storage.durability, Durability::Fsync);
    assert_eq!(c.aws.account_id, "000000000000");
}

#[test]
fn precedence_file_env_flags() {
    let file = "[storage]\ndurability = \"batch\"\n[aws]\nregion = \"eu-west-1\"\n";
    let env = [("SLUICE_AWS_REGION", "ap-south-1"), ("SLUICE_STORAGE_DATA_DIR", "/x")];
    let o = Overrides { port: Some(9000), ..Default::default() };
    let c = load(Some(file), &env, &o).unwrap();
    assert_eq!(c.storage.durability, Durability::Batch);
    assert_eq!(c.aws.region, "ap-south-1");
    assert_eq!(c.storage.data_dir, PathBuf::from("/x"));
    assert_eq!(c.server.listen, "127.0.0.1:9000");
}

#[test]
fn unknown_keys_are_named() {
    let e =
        load(Some("[storage]\ndurabilty = \"none\"\n"), &[], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("durabilty"), "{e}");
    let e = load(None, &[("SLUICE_STORAGE_NOPE", "1")], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("SLUICE_STORAGE_NOPE"), "{e}");
    let e = load(None, &[("SLUICE_NOPE", "1")], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("SLUICE_NOPE"), "{e}");
}

#[test]
fn every_key_is_documented_in_the_shipped_config_and_settable_by_env() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sluice.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let shipped: toml::Table = text.parse().unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    // The shipped file spells out every key with its default value.
    assert_eq!(shipped, defaults, "config/sluice.toml must list every key at its default");
    // Each key has a comment line right above it.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" = ") && !line.starts_with('#') {
            assert!(lines[i - 1].starts_with('#'), "undocumented key: {line}");
        }
    }
    // And each can be set from the environment, typed like its default, except lists
    // of tables (`bridge.remotes`, the bootstrap lists), which only the file can express.
    for (section, keys) in &defaults {
        for (key, value) in keys.as_table().unwrap() {
            if value.is_array() {
                let var = format!("SLUICE_{}_{}", section.to_uppercase(), key.to_uppercase());
                let e = load(None, &[(&var, "[]")], &Overrides::default()).unwrap_err();
                assert!(e.to_string().contains("cannot be set from the environment"), "{e}");
                continue;
            }
            let var = format!("SLUICE_{}_{}", section.to_uppercase(), key.to_uppercase());
            let v = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            load(None, &[(&var, &v)], &Overrides::default())
                .unwrap_or_else(|e| panic!("{var}={v}: {e}"));
        }
    }
}

#[test]
fn the_compose_config_loads_and_declares_its_pipeline() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/compose.toml");
    let c = Config::load(Some(Path::new(path)), Vec::new(), &Overrides::default()).unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.bootstrap.kinesis_streams.len(), 1);
    assert_eq!(c.bootstrap.tables.len(), 1);
    assert_eq!(c.bootstrap.consumers.len(), 1);
}

#[test]
fn log_format_and_metrics_listener_are_checked() {
    let c = load(Some("[log]\nformat = \"json\"\n"), &[], &Overrides::default()).unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    let e = load(None, &[("SLUICE_LOG_FORMAT", "xml")], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("xml"), "{e}");
    let e =
        load(None, &[("SLUICE_SERVER_METRICS_LISTEN", "nope")], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("server.metrics_listen"), "{e}");
}

#[test]
fn invalid_values_are_named() {
    let e = load(Some("[storage]\ndurability = \"sometimes\"\n"), &[], &Overrides::default())
        .unwrap_err();
    assert!(e.to_string().contains("sometimes"), "{e}");
    let e = load(None, &[("SLUICE_DYNAMODB_PARTITIONS_PER_TABLE", "x")], &Overrides::default())
        .unwrap_err();
    assert!(e.to_string().contains("partitions_per_table"), "{e}");
    let e = load(Some("[server]\nlisten = \"nope\"\n"), &[], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("server.listen"), "{e}");
}

#[test]
fn ttl_settings_come_from_the_environment_and_are_checked() {
    let c = load(None, &[], &Overrides::default()).unwrap();
    assert_eq!(c.dynamodb.ttl_scan_interval_ms, 1000);
    assert_eq!(c.dynamodb.ttl_update_cooldown_ms, 3_600_000);
    let env = [
        ("SLUICE_DYNAMODB_TTL_SCAN_INTERVAL_MS", "25"),
        ("SLUICE_DYNAMODB_TTL_UPDATE_COOLDOWN_MS", "0"),
    ];
    let c = load(None, &env, &Overrides::default()).unwrap();
    assert_eq!((c.dynamodb.ttl_scan_interval_ms, c.dynamodb.ttl_update_cooldown_ms), (25, 0));
    let env = [("SLUICE_DYNAMODB_TTL_SCAN_INTERVAL_MS", "0")];
    let e = load(None, &env, &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("ttl_scan_interval_ms"), "{e}");
}

#[test]
fn connection_and_header_limits_that_would_panic_or_cost_memory_are_refused() {
    let too_many = format!("[server]\nmax_connections = {}\n", u64::MAX >> 1);
    let e = load(Some(&too_many), &[], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("server.max_connections"), "{e}");
    let e =
        load(Some("[server]\nmax_headers = 1000000000\n"), &[], &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("server.max_headers"), "{e}");
    let c = load(
        Some("[server]\nmax_header_bytes = 8192\nmax_headers = 2730\n"),
        &[],
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.server.max_headers, 2730);
}

#[test]
fn store_memory_bounds_come_from_the_environment_and_are_checked() {
    let env =
        [("SLUICE_STORAGE_CACHE_BYTES", "1000000"), ("SLUICE_STORAGE_MEMTABLE_BYTES", "2000000")];
    let c = load(None, &env, &Overrides::default()).unwrap();
    assert_eq!((c.storage.cache_bytes, c.storage.memtable_bytes), (1_000_000, 2_000_000));
    // A memtable that small would flush on nearly every commit: refused at start.
    let env = [("SLUICE_STORAGE_MEMTABLE_BYTES", "1000")];
    let e = load(None, &env, &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("storage.memtable_bytes"), "{e}");
}

#[test]
fn the_listener_may_be_named_by_host_name() {
    let with = |listen: &str| {
        let overrides = Overrides { listen: Some(listen.into()), ..Overrides::default() };
        load(Some(""), &[], &overrides)
    };
    let c = with("localhost:8123").unwrap();
    assert_eq!(c.listen_addr().unwrap(), "127.0.0.1:8123".parse().unwrap());
    assert_eq!(with("[::1]:8123").unwrap().listen_addr().unwrap(), "[::1]:8123".parse().unwrap());
    // No port: refused before any name is looked up.
    let err = with("localhost").unwrap_err().to_string();
    assert!(err.contains("is not an address such as 127.0.0.1:8000"), "{err}");
}

#[test]
fn access_keys_map_to_accounts() {
    let text = "[aws.accounts]\nAKIDA = \"111122223333\"\n\
        [[auth.keys]]\naccess_key_id = \"AKIDB\"\nsecret_access_key = \"s\"\naccount_id = \"444455556666\"\n";
    let c = load(Some(text), &[], &Overrides::default()).unwrap();
    assert_eq!(c.aws.account_of("AKIDA", &c.auth), "111122223333");
    assert_eq!(c.aws.account_of("AKIDB", &c.auth), "444455556666");
    assert_eq!(c.aws.account_of("AKIDC", &c.auth), "000000000000");
    let bad = load(Some("[aws.accounts]\nAKIDA = \"12\"\n"), &[], &Overrides::default());
    assert!(bad.unwrap_err().to_string().contains("aws.accounts.AKIDA"));
    let bad =
        "[[auth.keys]]\naccess_key_id = \"K\"\nsecret_access_key = \"s\"\naccount_id = \"x\"\n";
    let err = load(Some(bad), &[], &Overrides::default()).unwrap_err().to_string();
    assert!(err.contains("account_id"), "{err}");
}
