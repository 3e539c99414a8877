//! The table control plane through the SDK: create, describe, list, update, delete, tags,
//! limits and endpoints, and each ValidationException with AWS's exact wording.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ProvisionedThroughput, ScalarAttributeType, TableStatus, Tag,
};

use crate::harness::{Server, create_table, error_of};

const ARN_PREFIX: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/";

fn attr(name: &str, ty: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::from(ty))
        .build()
        .unwrap()
}

fn key(name: &str, ty: &str) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(KeyType::from(ty)).build().unwrap()
}

fn throughput(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

/// The wall clock of the machine the daemon runs on: CreationDateTime must be near it.
/// (The clock ban is for the daemon, whose time is injected; this test reads the real one.)
#[allow(clippy::disallowed_methods)]
fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test]
async fn provisioned_hash_table_is_created_then_active_with_every_field() {
    let server = Server::start();
    let client = server.client();
    let created = client
        .create_table()
        .table_name("users")
        .attribute_definitions(attr("id", "S"))
        .key_schema(key("id", "HASH"))
        .provisioned_throughput(throughput(5, 7))
        .tags(tag("team", "core"))
        .tags(tag("env", "test"))
        .send()
        .await
        .unwrap();
    let d = created.table_description().unwrap();
    assert_eq!(d.table_status(), Some(&TableStatus::Creating));
    assert_eq!(d.table_name(), Some("users"));

    let table = client.describe_table().table_name("users").send().await.unwrap();
    let t = table.table().unwrap();
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    assert_eq!(t.table_arn(), Some(format!("{ARN_PREFIX}users").as_str()));
    let id = t.table_id().unwrap();
    assert!(uuid_shaped(id), "TableId {id}");
    assert_eq!(d.table_id(), Some(id), "CreateTable and DescribeTable agree on TableId");
    assert_eq!(t.key_schema(), &[key("id", "HASH")]);
    assert_eq!(t.attribute_definitions(), &[attr("id", "S")]);
    assert_eq!(t.item_count(), Some(0));
    assert_eq!(t.table_size_bytes(), Some(0));
    let created_at = t.creation_date_time().unwrap().as_secs_f64();
    assert!((now_secs() - created_at).abs() < 60.0, "CreationDateTime {created_at}");
    assert_eq!(t.billing_mode_summary().unwrap().billing_mode(), Some(&BillingMode::Provisioned));
    let p = t.provisioned_throughput().unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(5), Some(7)));
    assert_eq!(p.number_of_decreases_today(), Some(0));

    let tags = client
        .list_tags_of_resource()
        .resource_arn(format!("{ARN_PREFIX}users"))
        .send()
        .await
        .unwrap();
    let mut got: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    got.sort();
    assert_eq!(got, [("env", "test"), ("team", "core")]);
}

fn uuid_shaped(id: &str) -> bool {
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    parts == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn on_demand_hash_range_table() {
    let server = Server::start();
    let client = server.client();
    client
        .create_table()
        .table_name("events")
        .attribute_definitions(attr("device", "S"))
        .attribute_definitions(attr("at", "N"))
        .key_schema(key("device", "HASH"))
        .key_schema(key("at", "RANGE"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let t = client.describe_table().table_name("events").send().await.unwrap().table.unwrap();
    assert_eq!(t.key_schema(), &[key("device", "HASH"), key("at", "RANGE")]);
    assert_eq!(t.attribute_definitions(), &[attr("device", "S"), attr("at", "N")]);
    let billing = t.billing_mode_summary().unwrap();
    assert_eq!(billing.billing_mode(), Some(&BillingMode::PayPerRequest));
    assert!(billing.last_update_to_pay_per_request_date_time().is_some());
    let p = t.provisioned_throughput().unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(0), Some(0)));
}

#[tokio::test]
async fn item_count_and_size_follow_writes() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "counted", false).await;
    // Each item: "pk" + 2-byte value, "v" + 5-byte value = 10 bytes by AWS's size rule.
    for pk in ["k1", "k2", "k3"] {
        client
            .put_item()
            .table_name("counted")
            .item("pk", AttributeValue::S(pk.into()))
            .item("v", AttributeValue::S("hello".into()))
            .send()
            .await
            .unwrap();
    }
    let describe = || async {
        let t = client.describe_table().table_name("counted").send().await.unwrap().table.unwrap();
        (t.item_count().unwrap(), t.table_size_bytes().unwrap())
    };
    assert_eq!(describe().await, (3, 30));
    // Overwriting keeps the count; deleting lowers it.
    client
        .put_item()
        .table_name("counted")
        .item("pk", AttributeValue::S("k1".into()))
        .item("v", AttributeValue::S("hi".into()))
        .send()
        .await
        .unwrap();
    client
        .delete_item()
        .table_name("counted")
        .key("pk", AttributeValue::S("k2".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(describe().await, (2, 17));
}

#[tokio::test]
async fn list_tables_pages_in_name_order() {
    let server = Server::start();
    let client = server.client();
    let names = ["tbl-e", "tbl-a", "tbl-d", "tbl-b", "tbl-c"];
    for name in names {
        create_table(&client, name, false).await;
    }
    let all = client.list_tables().send().await.unwrap();
    assert_eq!(all.table_names(), ["tbl-a", "tbl-b", "tbl-c", "tbl-d", "tbl-e"]);
    assert_eq!(all.last_evaluated_table_name(), None);

    let page = client.list_tables().limit(2).send().await.unwrap();
    assert_eq!(page.table_names(), ["tbl-a", "tbl-b"]);
    assert_eq!(page.last_evaluated_table_name(), Some("tbl-b"));
    let page =
        client.list_tables().limit(2).exclusive_start_table_name("tbl-b").send().await.unwrap();
    assert_eq!(page.table_names(), ["tbl-c", "tbl-d"]);
    assert_eq!(page.last_evaluated_table_name(), Some("tbl-d"));
    let page =
        client.list_tables().limit(2).exclusive_start_table_name("tbl-d").send().await.unwrap();
    assert_eq!(page.table_names(), ["tbl-e"]);
    assert_eq!(page.last_evaluated_table_name(), None);

    // The SDK's own paginator follows LastEvaluatedTableName to the end.
    let mut pages = client.list_tables().limit(2).into_paginator().items().send();
    let mut seen = Vec::new();
    while let Some(name) = pages.next().await {
        seen.push(name.unwrap());
    }
    assert_eq!(seen, ["tbl-a", "tbl-b", "tbl-c", "tbl-d", "tbl-e"]);

    let (code, message) = error_of(client.list_tables().limit(101).send().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
    );
}

#[tokio::test]
async fn update_table_changes_throughput_and_billing_mode() {
    let server = Server::start();
    let client = server.client();
    client
        .create_table()
        .table_name("tuned")
        .attribute_definitions(attr("pk", "S"))
        .key_schema(key("pk", "HASH"))
        .provisioned_throughput(throughput(5, 5))
        .send()
        .await
        .unwrap();
    let describe = || async {
        client.describe_table().table_name("tuned").send().await.unwrap().table.unwrap()
    };

    let updated = client
        .update_table()
        .table_name("tuned")
        .provisioned_throughput(throughput(10, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.table_description().unwrap().table_status(), Some(&TableStatus::Updating));
    let t = describe().await;
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    let p = t.provisioned_throughput().unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(10), Some(5)));
    assert!(p.last_increase_date_time().is_some());
    assert_eq!(p.number_of_decreases_today(), Some(0));

    client
        .update_table()
        .table_name("tuned")
        .provisioned_throughput(throughput(1, 1))
        .send()
        .await
        .unwrap();
    let p = describe().await.provisioned_throughput.unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(1), Some(1)));
    assert!(p.last_decrease_date_time().is_some());
    assert_eq!(p.number_of_decreases_today(), Some(1));

    let (code, message) = error_of(
        client
            .update_table()
            .table_name("tuned")
            .provisioned_throughput(throughput(1, 1))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 1. Requested ReadCapacityUnits: 1. Current WriteCapacityUnits provisioned for the table: 1. Requested WriteCapacityUnits: 1. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
    );

    client
        .update_table()
        .table_name("tuned")
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let billing = describe().await.billing_mode_summary.unwrap();
    assert_eq!(billing.billing_mode(), Some(&BillingMode::PayPerRequest));
    assert!(billing.last_update_to_pay_per_request_date_time().is_some());

    let (code, message) = error_of(
        client
            .update_table()
            .table_name("tuned")
            .billing_mode(BillingMode::Provisioned)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
    );
    client
        .update_table()
        .table_name("tuned")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(throughput(3, 4))
        .send()
        .await
        .unwrap();
    let t = describe().await;
    assert_eq!(t.billing_mode_summary().unwrap().billing_mode(), Some(&BillingMode::Provisioned));
    let p = t.provisioned_throughput().unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(3), Some(4)));

    let (code, message) = error_of(client.update_table().table_name("tuned").send().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
    );
    let (code, message) = error_of(
        client
            .update_table()
            .table_name("nothere")
            .billing_mode(BillingMode::Provisioned)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Requested resource not found: Table: nothere not found");
}

#[tokio::test]
async fn deleted_table_is_gone_and_its_name_reusable() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "doomed", false).await;
    client
        .put_item()
        .table_name("doomed")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    let deleted = client.delete_table().table_name("doomed").send().await.unwrap();
    let d = deleted.table_description().unwrap();
    assert_eq!(d.table_status(), Some(&TableStatus::Deleting));
    assert_eq!(d.table_name(), Some("doomed"));

    let not_found = "Requested resource not found: Table: doomed not found";
    let (code, message) = error_of(client.describe_table().table_name("doomed").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("ResourceNotFoundException", not_found));
    let (code, message) = error_of(client.delete_table().table_name("doomed").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("ResourceNotFoundException", not_found));
    // Item operations name no table in their message.
    let (code, message) = error_of(
        client
            .get_item()
            .table_name("doomed")
            .key("pk", AttributeValue::S("a".into()))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Requested resource not found")
    );
    assert!(client.list_tables().send().await.unwrap().table_names().is_empty());

    // Same name again: a new, empty table with a new id.
    create_table(&client, "doomed", false).await;
    let t = client.describe_table().table_name("doomed").send().await.unwrap().table.unwrap();
    assert_eq!(t.item_count(), Some(0));
    assert_ne!(t.table_id(), d.table_id());
    let got = client
        .get_item()
        .table_name("doomed")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item(), None, "the old table's items must not leak into the new one");
}

#[tokio::test]
async fn duplicate_and_missing_tables() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "once", false).await;
    let (code, message) = error_of(
        client
            .create_table()
            .table_name("once")
            .attribute_definitions(attr("pk", "S"))
            .key_schema(key("pk", "HASH"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(message, "Table already exists: once");
    let (code, message) = error_of(client.describe_table().table_name("never").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Requested resource not found: Table: never not found");
}

#[tokio::test]
async fn tags_can_be_added_overwritten_listed_and_removed() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "tagged", false).await;
    let arn = format!("{ARN_PREFIX}tagged");
    let list = || async {
        let out = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
        let mut tags: Vec<(String, String)> =
            out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        tags.sort();
        tags
    };
    assert!(list().await.is_empty());
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .unwrap();
    client.tag_resource().resource_arn(&arn).tags(tag("a", "one")).send().await.unwrap();
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    assert_eq!(list().await, owned(&[("a", "one"), ("b", "2")]));
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .tag_keys("not-there")
        .send()
        .await
        .unwrap();
    assert_eq!(list().await, owned(&[("b", "2")]));

    let (code, message) =
        error_of(client.tag_resource().resource_arn(&arn).set_tags(Some(vec![])).send().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Atleast one Tag needs to be provided as Input.");
    let (code, message) = error_of(
        client.untag_resource().resource_arn(&arn).set_tag_keys(Some(vec![])).send().await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Atleast one Tag Key needs to be provided as Input.");
    let missing = format!("{ARN_PREFIX}missing");
    let (code, message) =
        error_of(client.list_tags_of_resource().resource_arn(&missing).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    // "ResourcArn" (sic) is AWS's spelling.
    assert_eq!(message, format!("Requested resource not found: ResourcArn: {missing} not found"));
    let (code, message) =
        error_of(client.tag_resource().resource_arn("tagged").tags(tag("a", "1")).send().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Invalid TableArn: Invalid ResourceArn provided as input tagged");
}

#[tokio::test]
async fn describe_limits_and_endpoints() {
    let server = Server::start();
    let client = server.client();
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.account_max_read_capacity_units(), Some(80000));
    assert_eq!(limits.account_max_write_capacity_units(), Some(80000));
    assert_eq!(limits.table_max_read_capacity_units(), Some(40000));
    assert_eq!(limits.table_max_write_capacity_units(), Some(40000));

    let endpoints = client.describe_endpoints().send().await.unwrap();
    let [endpoint] = endpoints.endpoints() else {
        panic!("one endpoint expected: {endpoints:?}");
    };
    // An endpoint-discovering client must be sent back here, not to AWS.
    assert_eq!(endpoint.address(), server.addr.to_string());
    assert_eq!(endpoint.cache_period_in_minutes(), 1440);
}

#[tokio::test]
async fn bad_table_names() {
    let server = Server::start();
    let client = server.client();
    let length = "TableName must be at least 3 characters long and at most 255 characters long";
    for (name, constraint) in [
        ("ab".to_string(), "greater than or equal to 3"),
        ("x".repeat(256), "less than or equal to 255"),
    ] {
        let (code, message) = error_of(client.describe_table().table_name(&name).send().await);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", length), "{name}");
        // CreateTable reports it as a member constraint, as AWS does today.
        let length = format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length {constraint}"
        );
        let (code, message) = error_of(
            client
                .create_table()
                .table_name(&name)
                .attribute_definitions(attr("pk", "S"))
                .key_schema(key("pk", "HASH"))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await,
        );
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", &*length), "{name}");
    }
    let (code, message) = error_of(
        client
            .create_table()
            .table_name("abc;")
            .attribute_definitions(attr("pk", "S"))
            .key_schema(key("pk", "HASH"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    // A 255-character name is fine.
    create_table(&client, &"y".repeat(255), false).await;
}

/// (name, type) or (name, key type) pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Sends a CreateTable with these definitions, schema and billing and returns its error.
async fn create_error(
    client: &Client,
    defs: Pairs<'_>,
    keys: Pairs<'_>,
    billing: Option<BillingMode>,
    provisioned: Option<ProvisionedThroughput>,
) -> (String, String) {
    let defs = defs.iter().map(|(n, t)| attr(n, t)).collect();
    let keys = keys.iter().map(|(n, t)| key(n, t)).collect();
    error_of(
        client
            .create_table()
            .table_name("bad-schema")
            .set_attribute_definitions(Some(defs))
            .set_key_schema(Some(keys))
            .set_billing_mode(billing)
            .set_provisioned_throughput(provisioned)
            .send()
            .await,
    )
}

#[tokio::test]
async fn key_schema_and_billing_errors() {
    let server = Server::start();
    let client = server.client();
    let ppr = || Some(BillingMode::PayPerRequest);
    let cases: Vec<(Pairs, Pairs, &str)> = vec![
        (
            &[("other", "S")],
            &[("pk", "HASH")],
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
        ),
        (
            &[("pk", "S")],
            &[("pk", "HASH"), ("sk", "RANGE")],
            "Invalid KeySchema: Some index key attribute have no definition",
        ),
        (
            &[("pk", "S")],
            &[("pk", "HASH"), ("pk", "RANGE")],
            "Invalid KeySchema: Some index key attribute have no definition",
        ),
        (
            &[("pk", "S"), ("sk", "N")],
            &[("pk", "HASH"), ("pk", "RANGE")],
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
        (
            &[("pk", "S"), ("sk", "N")],
            &[("sk", "RANGE"), ("pk", "HASH")],
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            &[("pk", "S"), ("sk", "N")],
            &[("pk", "HASH"), ("sk", "HASH")],
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ),
        (
            &[("pk", "S"), ("extra", "S")],
            &[("pk", "HASH")],
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            &[("pk", "S")],
            &[("pk", "Woop")],
            "1 validation error detected: Value 'Woop' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
        ),
        (
            &[("pk", "X")],
            &[("pk", "HASH")],
            "1 validation error detected: Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
        ),
        (
            &[("a", "S"), ("b", "S"), ("c", "S")],
            &[("a", "HASH"), ("b", "RANGE"), ("c", "RANGE")],
            "1 validation error detected: Value '[KeySchemaElement(attributeName=a, keyType=HASH), KeySchemaElement(attributeName=b, keyType=RANGE), KeySchemaElement(attributeName=c, keyType=RANGE)]' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2",
        ),
    ];
    for (defs, keys, want) in cases {
        let (code, message) = create_error(&client, defs, keys, ppr(), None).await;
        assert_eq!(code, "ValidationException", "{defs:?} {keys:?}");
        assert_eq!(message, want, "{defs:?} {keys:?}");
    }

    let pk: Pairs = &[("pk", "S")];
    let hash: Pairs = &[("pk", "HASH")];
    let billing_cases = [
        (
            None,
            None,
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        (
            ppr(),
            Some(throughput(1, 1)),
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            Some(BillingMode::Provisioned),
            Some(throughput(0, 1)),
            "1 validation error detected: Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
    ];
    for (billing, provisioned, want) in billing_cases {
        let (code, message) = create_error(&client, pk, hash, billing, provisioned).await;
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want));
    }
    // None of the refused requests created anything.
    assert!(client.list_tables().send().await.unwrap().table_names().is_empty());
}
