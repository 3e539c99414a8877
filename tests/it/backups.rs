//! On-demand backups through the SDK: a backup is the table as of its creation (later
//! writes and even deleting the table leave it as it was), a restore makes a new table
//! with its items, key schema and indexes (queryable at once) and without its stream;
//! listing, paging, deleting, and AWS's errors.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use crate::harness::{Server, error_of};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

async fn create(client: &aws_sdk_dynamodb::Client, name: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key =
        |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("g"))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-g")
                .key_schema(key("g", KeyType::Hash))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_backup_restores_into_a_new_table_as_it_was() {
    let server = Server::start();
    let client = server.client();
    create(&client, "orders").await;
    let big = "x".repeat(1000);
    for i in 0..1200 {
        let g = if i % 3 == 0 { "even" } else { "odd" };
        let put = client.put_item().table_name("orders").item("pk", s(&format!("k{i:04}")));
        put.item("g", s(g)).item("pad", s(&big)).send().await.unwrap();
    }
    let backup =
        client.create_backup().table_name("orders").backup_name("nightly").send().await.unwrap();
    let details = backup.backup_details().unwrap();
    let arn = details.backup_arn().to_string();
    assert!(
        arn.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/orders/backup/"),
        "{arn}"
    );
    assert_eq!(details.backup_status().as_str(), "AVAILABLE");
    assert!(details.backup_size_bytes().unwrap() > 1_200_000, "more than one chunk");
    // Later changes, even the table's deletion, do not reach the backup.
    client.put_item().table_name("orders").item("pk", s("later")).send().await.unwrap();
    client.delete_table().table_name("orders").send().await.unwrap();

    let d = client.describe_backup().backup_arn(&arn).send().await.unwrap();
    let d = d.backup_description().unwrap();
    let source = d.source_table_details().unwrap();
    assert_eq!((source.table_name(), source.item_count()), ("orders", Some(1200)));
    let gsis = d.source_table_feature_details().unwrap().global_secondary_indexes();
    assert_eq!(gsis[0].index_name(), Some("by-g"));

    let restored = client
        .restore_table_from_backup()
        .target_table_name("orders-copy")
        .backup_arn(&arn)
        .send()
        .await
        .unwrap();
    let t = restored.table_description().unwrap();
    assert_eq!(t.restore_summary().unwrap().source_backup_arn(), Some(arn.as_str()));
    assert!(t.stream_specification().is_none(), "a restored table has no stream");
    let t = client.describe_table().table_name("orders-copy").send().await.unwrap();
    let t = t.table().unwrap();
    assert_eq!(t.item_count(), Some(1200));
    assert_eq!(t.global_secondary_indexes()[0].item_count(), Some(1200));
    let got =
        client.get_item().table_name("orders-copy").key("pk", s("k0007")).send().await.unwrap();
    assert_eq!(got.item().unwrap()["pad"], s(&big));
    let even = client
        .query()
        .table_name("orders-copy")
        .index_name("by-g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("even"))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(even.count(), 400);
    let later =
        client.get_item().table_name("orders-copy").key("pk", s("later")).send().await.unwrap();
    assert!(later.item().is_none());

    // The errors.
    let (code, message) = error_of(
        client
            .restore_table_from_backup()
            .target_table_name("orders-copy")
            .backup_arn(&arn)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("TableAlreadyExistsException", "Table already exists: orders-copy")
    );
    let missing = format!("{arn}0");
    let (code, message) = error_of(client.describe_backup().backup_arn(&missing).send().await);
    assert_eq!(code, "BackupNotFoundException");
    assert_eq!(message, format!("Backup not found: {missing}"));
    let (code, message) =
        error_of(client.create_backup().table_name("nope").backup_name("backup-1").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("TableNotFoundException", "Table not found: nope")
    );
    let (code, message) = error_of(
        client.create_backup().table_name("orders-copy").backup_name("no spaces").send().await,
    );
    assert_eq!(code, "ValidationException");
    // Only the constraint broken is named.
    assert_eq!(
        message,
        "1 validation error detected: Value 'no spaces' at 'backupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );

    // Deleted: gone from the list, and not restorable.
    let deleted = client.delete_backup().backup_arn(&arn).send().await.unwrap();
    let status = deleted.backup_description().unwrap().backup_details().unwrap().backup_status();
    assert_eq!(status.as_str(), "DELETED");
    let (code, _) = error_of(
        client.restore_table_from_backup().target_table_name("again").backup_arn(&arn).send().await,
    );
    assert_eq!(code, "BackupNotFoundException");
}

#[tokio::test]
async fn backups_are_listed_by_table_and_paged() {
    let server = Server::start();
    let client = server.client();
    for t in ["alpha", "beta"] {
        crate::harness::create_table(&client, t, false).await;
    }
    for (t, n) in
        [("alpha", "alpha-1"), ("beta", "beta-1"), ("alpha", "alpha-2"), ("alpha", "alpha-3")]
    {
        client.create_backup().table_name(t).backup_name(n).send().await.unwrap();
    }
    let all = client.list_backups().send().await.unwrap();
    assert_eq!(all.backup_summaries().len(), 4);
    let mut names = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .list_backups()
            .table_name("alpha")
            .limit(2)
            .set_exclusive_start_backup_arn(start)
            .send()
            .await
            .unwrap();
        names.extend(page.backup_summaries().iter().map(|b| b.backup_name().unwrap().to_string()));
        start = page.last_evaluated_backup_arn().map(String::from);
        if start.is_none() {
            break;
        }
    }
    assert_eq!(names, ["alpha-1", "alpha-2", "alpha-3"]);
    let system = client
        .list_backups()
        .backup_type(aws_sdk_dynamodb::types::BackupTypeFilter::System)
        .send()
        .await
        .unwrap();
    assert!(system.backup_summaries().is_empty());
}

#[tokio::test]
async fn a_backup_survives_kill_9_and_restores_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let arn = {
        let server = Server::start_in(dir.path());
        let client = server.client();
        crate::harness::create_table(&client, "kept", false).await;
        client.put_item().table_name("kept").item("pk", s("a")).send().await.unwrap();
        let b = client.create_backup().table_name("kept").backup_name("before-crash").send().await;
        let arn = b.unwrap().backup_details().unwrap().backup_arn().to_string();
        server.kill();
        arn
    };
    let server = Server::start_in(dir.path());
    let client = server.client();
    // PROVISIONED needs its capacity.
    let provisioned = client
        .restore_table_from_backup()
        .target_table_name("kept-p")
        .backup_arn(&arn)
        .billing_mode_override(BillingMode::Provisioned)
        .send()
        .await;
    assert_eq!(error_of(provisioned).0, "ValidationException");
    let restore = client.restore_table_from_backup().target_table_name("kept-2").backup_arn(&arn);
    restore.send().await.unwrap();
    let got = client.get_item().table_name("kept-2").key("pk", s("a")).send().await.unwrap();
    assert!(got.item().is_some());
}

/// The daemon's clock is the machine's.
#[allow(clippy::disallowed_methods)]
fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test]
async fn point_in_time_recovery_restores_the_table_as_it_was_at_that_second() {
    use aws_sdk_dynamodb::primitives::DateTime;
    use aws_sdk_dynamodb::types::{PointInTimeRecoverySpecification, PointInTimeRecoveryStatus};
    let server = Server::start();
    let client = server.client();
    crate::harness::create_table(&client, "ledger", false).await;
    let status = |c: &aws_sdk_dynamodb::Client| {
        let c = c.clone();
        async move {
            let d = c.describe_continuous_backups().table_name("ledger").send().await.unwrap();
            let d = d.continuous_backups_description().unwrap().clone();
            d.point_in_time_recovery_description().unwrap().clone()
        }
    };
    assert_eq!(
        status(&client).await.point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Disabled)
    );
    let put = |pk: &str, v: &str| {
        client.put_item().table_name("ledger").item("pk", s(pk)).item("v", s(v)).send()
    };
    put("before", "1").await.unwrap();
    let (code, _) = error_of(
        client
            .restore_table_to_point_in_time()
            .source_table_name("ledger")
            .target_table_name("ledger-x")
            .use_latest_restorable_time(true)
            .send()
            .await,
    );
    assert_eq!(code, "PointInTimeRecoveryUnavailableException");
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .unwrap();
    client
        .update_continuous_backups()
        .table_name("ledger")
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .unwrap();
    let d = status(&client).await;
    assert_eq!(d.point_in_time_recovery_status(), Some(&PointInTimeRecoveryStatus::Enabled));
    assert_eq!(d.recovery_period_in_days(), Some(35));

    put("a", "1").await.unwrap();
    put("b", "1").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let at = now_secs();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    put("a", "2").await.unwrap();
    put("a", "3").await.unwrap();
    client.delete_item().table_name("ledger").key("pk", s("b")).send().await.unwrap();
    client.delete_item().table_name("ledger").key("pk", s("before")).send().await.unwrap();
    put("c", "1").await.unwrap();

    let restored = client
        .restore_table_to_point_in_time()
        .source_table_name("ledger")
        .target_table_name("ledger-then")
        .restore_date_time(DateTime::from_secs_f64(at))
        .send()
        .await
        .unwrap();
    assert!(restored.table_description().unwrap().restore_summary().is_some());
    let scan = client.scan().table_name("ledger-then").send().await.unwrap();
    let mut got: Vec<(String, String)> = scan
        .items()
        .iter()
        .map(|i| (i["pk"].as_s().unwrap().clone(), i["v"].as_s().unwrap().clone()))
        .collect();
    got.sort();
    let want = [("a", "1"), ("b", "1"), ("before", "1")];
    assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    // The latest restorable time is now: today's table.
    client
        .restore_table_to_point_in_time()
        .source_table_name("ledger")
        .target_table_name("ledger-now")
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    let now = client.scan().table_name("ledger-now").send().await.unwrap();
    assert_eq!(now.count(), 2, "a and c");
    // Before recovery was enabled: outside the window.
    let (code, _) = error_of(
        client
            .restore_table_to_point_in_time()
            .source_table_name("ledger")
            .target_table_name("ledger-old")
            .restore_date_time(DateTime::from_secs_f64(at - 3600.0))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRestoreTimeException");
}

/// GlobalSecondaryIndexOverride keeps only the listed indexes (which must be the
/// source's), an empty list none; the definitions of the dropped keys go with them;
/// SSESpecificationOverride applies as CreateTable's SSESpecification does.
#[tokio::test]
async fn a_restore_keeps_the_indexes_its_overrides_list() {
    let server = Server::start();
    let client = server.client();
    create(&client, "ixs").await;
    for i in 0..10 {
        let put = client.put_item().table_name("ixs").item("pk", s(&format!("k{i}")));
        put.item("g", s(if i % 2 == 0 { "even" } else { "odd" })).send().await.unwrap();
    }
    let backup =
        client.create_backup().table_name("ixs").backup_name("ixs-b1").send().await.unwrap();
    let arn = backup.backup_details().unwrap().backup_arn().to_string();
    let key =
        |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    let by_g = |projection| {
        GlobalSecondaryIndex::builder()
            .index_name("by-g")
            .key_schema(key("g", KeyType::Hash))
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .unwrap()
    };

    // Listed: kept, and queryable.
    let restore = client.restore_table_from_backup().backup_arn(&arn);
    let kept = restore
        .target_table_name("ix-kept")
        .global_secondary_index_override(by_g(ProjectionType::All));
    kept.send().await.unwrap();
    let t = client.describe_table().table_name("ix-kept").send().await.unwrap();
    assert_eq!(t.table().unwrap().global_secondary_indexes()[0].index_name(), Some("by-g"));
    let evens = client
        .query()
        .table_name("ix-kept")
        .index_name("by-g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("even"))
        .send()
        .await
        .unwrap();
    assert_eq!(evens.count(), 5);

    // An empty list: no index, and no definition of its key.
    let restore = client.restore_table_from_backup().backup_arn(&arn).target_table_name("ix-none");
    restore.set_global_secondary_index_override(Some(Vec::new())).send().await.unwrap();
    let t = client.describe_table().table_name("ix-none").send().await.unwrap();
    let t = t.table().unwrap();
    assert!(t.global_secondary_indexes().is_empty(), "{t:?}");
    let defs: Vec<&str> = t.attribute_definitions().iter().map(|d| d.attribute_name()).collect();
    assert_eq!(defs, ["pk"]);
    assert_eq!(t.item_count(), Some(10));
    let (code, _) = error_of(
        client
            .query()
            .table_name("ix-none")
            .index_name("by-g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("even"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");

    // An index the source did not have (or not with that projection) is refused.
    let restore = client.restore_table_from_backup().backup_arn(&arn).target_table_name("ix-bad");
    let (code, message) = error_of(
        restore.global_secondary_index_override(by_g(ProjectionType::KeysOnly)).send().await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("by-g"), "{message}");
    assert!(client.describe_table().table_name("ix-bad").send().await.is_err());

    // SSE as CreateTable takes it: KMS only where sluice seals values at rest.
    let sse = aws_sdk_dynamodb::types::SseSpecification::builder().enabled(true).build();
    let restore = client.restore_table_from_backup().backup_arn(&arn).target_table_name("ix-kms");
    let (code, message) = error_of(restore.sse_specification_override(sse).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("storage.encryption_key_file"), "{message}");
    let off = aws_sdk_dynamodb::types::SseSpecification::builder().enabled(false).build();
    let restore = client.restore_table_from_backup().backup_arn(&arn).target_table_name("ix-sse");
    restore.sse_specification_override(off).send().await.unwrap();
}
