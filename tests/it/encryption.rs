//! Encryption at rest (`storage.encryption_key_file`): with a key, nothing a client wrote
//! (an item's value, a Kinesis record) can be found in the store's files, and a restart
//! with the key reads it all back; a rotated key (the old one made previous) still reads
//! the old values while new ones are sealed with the new key; without the key the sealed
//! values are refused, never served as garbage; `sluice rekey` reseals everything so the
//! old key can go. The same writes without a key show the
//! search would find them.

use aws_sdk_dynamodb::types::AttributeValue;
use std::path::Path;

use crate::harness::{Server, create_table};

const CANARY: &str = "canary-7f3a9c-plaintext-must-not-reach-the-disk";

/// Whether any file under `dir` contains `needle`.
fn found_in_files(dir: &Path, needle: &[u8]) -> bool {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if std::fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle) {
            return true;
        }
    }
    false
}

async fn write(server: &Server) {
    let client = server.client();
    create_table(&client, "vault", false).await;
    client
        .put_item()
        .table_name("vault")
        .item("pk", AttributeValue::S("a".into()))
        .item("secret", AttributeValue::S(CANARY.into()))
        .send()
        .await
        .unwrap();
    let k = server.kinesis();
    crate::kinesis::create(&k, "records", 1).await;
    k.put_record()
        .stream_name("records")
        .partition_key("p")
        .data(aws_sdk_kinesis::primitives::Blob::new(CANARY))
        .send()
        .await
        .unwrap();
}

async fn read_back(server: &Server) -> Result<String, String> {
    let out = server
        .client()
        .get_item()
        .table_name("vault")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let item = out.item().ok_or("no item")?;
    Ok(item["secret"].as_s().unwrap().clone())
}

fn key_config(current: &Path, previous: &[&Path]) -> String {
    let previous: Vec<String> =
        previous.iter().map(|p| format!("{:?}", p.display().to_string())).collect();
    format!(
        "[storage]\nencryption_key_file = {:?}\nprevious_encryption_key_files = [{}]\n",
        current.display().to_string(),
        previous.join(", ")
    )
}

#[tokio::test]
async fn values_are_sealed_on_disk_and_keys_rotate() {
    let keys = tempfile::tempdir().unwrap();
    let (k1, k2) = (keys.path().join("k1"), keys.path().join("k2"));
    std::fs::write(&k1, format!("{}\n", "1f".repeat(32))).unwrap();
    std::fs::write(&k2, [0x42u8; 32]).unwrap();

    // The control: without a key the canary is on disk.
    let plain = tempfile::tempdir().unwrap();
    let server = Server::start_in(plain.path());
    write(&server).await;
    server.kill();
    assert!(found_in_files(&plain.path().join("data"), CANARY.as_bytes()), "the search works");

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), &key_config(&k1, &[]));
    write(&server).await;
    assert_eq!(read_back(&server).await.unwrap(), CANARY);
    server.kill();
    assert!(!found_in_files(&dir.path().join("data"), CANARY.as_bytes()), "plaintext on disk");

    // Restarted with the key: every value back, the Kinesis record too.
    let server = Server::start_in_with(dir.path(), &key_config(&k1, &[]));
    assert_eq!(read_back(&server).await.unwrap(), CANARY);
    assert_eq!(read_record(&server).await, CANARY.as_bytes());
    server.kill();

    // Rotated: k2 seals, k1 still opens.
    let server = Server::start_in_with(dir.path(), &key_config(&k2, &[&k1]));
    assert_eq!(read_back(&server).await.unwrap(), CANARY);
    server.kill();

    // Without the key that sealed them: sluice refuses to start (its catalog is sealed
    // too), saying which key is missing; never garbage.
    let config = dir.path().join("without-k1.toml");
    std::fs::write(&config, key_config(&k2, &[])).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--config", config.to_str().unwrap(), "--port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("which no configured key file holds"), "{stderr}");

    // `sluice rekey` with both keys seals everything with k2: k1 is no longer needed.
    let stdout = rekey(dir.path(), &key_config(&k2, &[&k1]));
    assert!(stdout.contains("values sealed with storage.encryption_key_file"), "{stdout}");
    let server = Server::start_in_with(dir.path(), &key_config(&k2, &[]));
    assert_eq!(read_back(&server).await.unwrap(), CANARY);
    // The Kinesis record's group was resealed part by part with k2.
    assert_eq!(read_record(&server).await, CANARY.as_bytes());
    server.kill();
    assert!(!found_in_files(&dir.path().join("data"), CANARY.as_bytes()));

    // Turned off: with k2 only as a previous key, `sluice rekey` writes every value back
    // in the clear, and sluice then runs without any key.
    let previous = format!("{:?}", k2.display().to_string());
    let stdout =
        rekey(dir.path(), &format!("[storage]\nprevious_encryption_key_files = [{previous}]\n"));
    assert!(stdout.contains("values stored in the clear"), "{stdout}");
    let server = Server::start_in_with(dir.path(), "");
    assert_eq!(read_back(&server).await.unwrap(), CANARY);
    assert_eq!(read_record(&server).await, CANARY.as_bytes());
    server.kill();
}

/// Runs `sluice rekey` on `dir`'s data directory with `config_text`; its output.
fn rekey(dir: &Path, config_text: &str) -> String {
    let config = dir.join("rekey.toml");
    std::fs::write(&config, config_text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--config", config.to_str().unwrap(), "--data-dir"])
        .arg(dir.join("data"))
        .arg("rekey")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The data of the first record of the stream `records`.
async fn read_record(server: &Server) -> Vec<u8> {
    let k = server.kinesis();
    let shard = k.list_shards().stream_name("records").send().await.unwrap();
    let it = crate::kinesis_records::iterator(
        &k,
        "records",
        shard.shards()[0].shard_id(),
        aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let got = k.get_records().shard_iterator(it).send().await.unwrap();
    got.records()[0].data().as_ref().to_vec()
}

#[tokio::test]
async fn a_key_file_that_is_not_a_key_stops_sluice_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("key");
    std::fs::write(&bad, "short").unwrap();
    let e = sluice::config::Config::load_text(
        Some((Path::new("x.toml"), &key_config(&bad, &[]))),
        Vec::new(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("storage.encryption_key_file"), "{e}");
}

#[tokio::test]
async fn tables_report_kms_encryption_only_where_items_are_sealed() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        SseSpecification, SseStatus, SseType,
    };
    let create = |server: &Server, name: &str, enabled: bool| {
        server
            .client()
            .create_table()
            .table_name(name)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(
                SseSpecification::builder().enabled(enabled).sse_type(SseType::Kms).build(),
            )
            .send()
    };
    let plain = Server::start();
    let e = create(&plain, "kms", true).await.unwrap_err().into_service_error();
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let out = create(&plain, "owned", false).await.unwrap();
    assert!(out.table_description().unwrap().sse_description().is_none());

    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key");
    std::fs::write(&key, [5u8; 32]).unwrap();
    let sealed = Server::start_with_config(&key_config(&key, &[]));
    create(&sealed, "kms", true).await.unwrap();
    let d = sealed.client().describe_table().table_name("kms").send().await.unwrap();
    let sse = d.table().unwrap().sse_description().unwrap();
    assert_eq!(sse.status(), Some(&SseStatus::Enabled));
    assert_eq!(sse.sse_type(), Some(&SseType::Kms));
    assert_eq!(
        sse.kms_master_key_arn(),
        Some("arn:aws:kms:us-east-1:000000000000:alias/aws/dynamodb")
    );

    // UpdateTable changes it, by the same rule: a KMS key only where values are sealed,
    // and back to the owned key (not reported) anywhere.
    let update = |server: &Server, name: &str, spec: SseSpecification| {
        let client = server.client();
        let name = name.to_string();
        async move { client.update_table().table_name(name).sse_specification(spec).send().await }
    };
    let kms = |key: &str| {
        SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build()
    };
    let owned = SseSpecification::builder().enabled(false).build();
    let e = update(&plain, "owned", kms("alias/mine")).await.unwrap_err().into_service_error();
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let out = update(&plain, "owned", owned.clone()).await.unwrap();
    assert!(out.table_description().unwrap().sse_description().is_none());
    create(&sealed, "owned", false).await.unwrap();
    let out = update(&sealed, "owned", kms("alias/mine")).await.unwrap();
    let arn = out.table_description().unwrap().sse_description().unwrap().kms_master_key_arn();
    assert_eq!(arn, Some("arn:aws:kms:us-east-1:000000000000:alias/mine"));
    let d = sealed.client().describe_table().table_name("owned").send().await.unwrap();
    assert_eq!(d.table().unwrap().sse_description().unwrap().status(), Some(&SseStatus::Enabled));
    update(&sealed, "kms", owned).await.unwrap();
    let d = sealed.client().describe_table().table_name("kms").send().await.unwrap();
    assert!(d.table().unwrap().sse_description().is_none());
}
