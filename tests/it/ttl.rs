//! Time to Live through the SDK: UpdateTimeToLive / DescribeTimeToLive with every AWS
//! error, and the expiry task (started with a short interval from the config file)
//! deleting expired items while future, non-number and overwritten ones stay.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification, TimeToLiveStatus};
use serde_json::json;

use crate::harness::{Server, create_table, error_of};

/// A fast expiry task and no rate rule on changes, so tests can enable and disable freely.
const FAST: &str = "[dynamodb]\nttl_scan_interval_ms = 20\nttl_update_cooldown_ms = 0\n";

/// The daemon's clock is the machine's; TTL values are written relative to it.
#[allow(clippy::disallowed_methods)]
fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn spec(enabled: bool, attribute: &str) -> TimeToLiveSpecification {
    TimeToLiveSpecification::builder().enabled(enabled).attribute_name(attribute).build().unwrap()
}

async fn set_ttl(
    client: &Client,
    table: &str,
    enabled: bool,
    attribute: &str,
) -> Result<TimeToLiveSpecification, (String, String)> {
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec(enabled, attribute))
        .send()
        .await
    {
        Ok(out) => Ok(out.time_to_live_specification().cloned().expect("specification echoed")),
        Err(e) => Err(error_of::<(), _>(Err(e))),
    }
}

/// DescribeTimeToLive as (status, attribute name).
async fn describe(client: &Client, table: &str) -> (TimeToLiveStatus, Option<String>) {
    let out = client.describe_time_to_live().table_name(table).send().await.unwrap();
    let d = out.time_to_live_description().expect("description");
    (d.time_to_live_status().cloned().expect("status"), d.attribute_name().map(String::from))
}

fn validation(message: &str) -> (String, String) {
    ("ValidationException".into(), message.into())
}

async fn put(client: &Client, table: &str, pk: &str, ttl: Option<AttributeValue>) {
    let mut request = client.put_item().table_name(table).item("pk", AttributeValue::S(pk.into()));
    if let Some(ttl) = ttl {
        request = request.item("exp", ttl);
    }
    request.send().await.unwrap();
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

async fn exists(client: &Client, table: &str, pk: &str) -> bool {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().is_some()
}

/// Polls until `pk` is gone from `table` (the expiry task runs every 20 ms).
async fn wait_gone(client: &Client, table: &str, pk: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while exists(client, table, pk).await {
        assert!(Instant::now() < deadline, "{table}/{pk} was not expired within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn enable_describe_disable_round_trip() {
    let server = Server::start_with_config(FAST);
    let client = server.client();
    create_table(&client, "tbl", false).await;
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Disabled, None));

    let echoed = set_ttl(&client, "tbl", true, "exp").await.unwrap();
    assert_eq!(echoed, spec(true, "exp"));
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Enabled, Some("exp".into())));

    // The table ARN works as the name, as AWS allows.
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tbl";
    assert_eq!(describe(&client, arn).await, (TimeToLiveStatus::Enabled, Some("exp".into())));

    let echoed = set_ttl(&client, "tbl", false, "exp").await.unwrap();
    assert_eq!(echoed, spec(false, "exp"));
    // Disabled forgets the attribute: no AttributeName, as on AWS.
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Disabled, None));

    // TTL on the partition key is accepted, as on AWS.
    set_ttl(&client, "tbl", true, "pk").await.unwrap();
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Enabled, Some("pk".into())));
}

#[tokio::test]
async fn updates_that_change_nothing_or_the_wrong_attribute_are_refused() {
    let server = Server::start_with_config(FAST);
    let client = server.client();
    create_table(&client, "tbl", false).await;
    let disabled = validation("TimeToLive is already disabled");
    assert_eq!(set_ttl(&client, "tbl", false, "exp").await.unwrap_err(), disabled);

    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    let enabled = validation("TimeToLive is already enabled");
    assert_eq!(set_ttl(&client, "tbl", true, "exp").await.unwrap_err(), enabled);
    let other = validation(
        "TimeToLive is active on a different AttributeName: current AttributeName is exp",
    );
    assert_eq!(set_ttl(&client, "tbl", true, "other").await.unwrap_err(), other);
    assert_eq!(set_ttl(&client, "tbl", false, "other").await.unwrap_err(), other);
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Enabled, Some("exp".into())));

    let long = "a".repeat(256);
    let (code, message) = set_ttl(&client, "tbl", true, &long).await.unwrap_err();
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!(
            "1 validation error detected: Value '{long}' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255"
        )
    );

    let missing = (
        "ResourceNotFoundException".to_string(),
        "Requested resource not found: Table: nope not found".to_string(),
    );
    assert_eq!(set_ttl(&client, "nope", true, "exp").await.unwrap_err(), missing);
    let e = client.describe_time_to_live().table_name("nope").send().await;
    assert_eq!(error_of(e), missing);
}

#[tokio::test]
async fn malformed_specifications_get_aws_constraint_messages() {
    let server = Server::start_with_config(FAST);
    create_table(&server.client(), "tbl", false).await;
    let null = |path: &str| {
        format!(
            "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        )
    };
    let cases = [
        (json!({"TableName": "tbl"}), null("timeToLiveSpecification")),
        (
            json!({"TableName": "tbl", "TimeToLiveSpecification": {"AttributeName": "exp"}}),
            null("timeToLiveSpecification.enabled"),
        ),
        (
            json!({"TableName": "tbl", "TimeToLiveSpecification": {"Enabled": true}}),
            null("timeToLiveSpecification.attributeName"),
        ),
        (
            json!({"TableName": "tbl", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": ""}}),
            "1 validation error detected: Value '' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1".to_string(),
        ),
        (
            json!({"TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}}),
            "The parameter 'TableName' is required but was not present in the request".to_string(),
        ),
    ];
    for (body, message) in cases {
        let r = server.post("UpdateTimeToLive", body.to_string().as_bytes(), &[]).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let expected =
            json!({"__type": "com.amazon.coral.validate#ValidationException", "message": message});
        assert_eq!(r.json(), expected, "{body}");
    }
    let r = server.post("DescribeTimeToLive", b"{}", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "The parameter 'TableName' is required but was not present in the request"
    );
}

#[tokio::test]
async fn a_second_change_within_the_interval_is_refused() {
    // Default config: AWS's one-hour rule between changes.
    let server = Server::start_with_config("[dynamodb]\nttl_scan_interval_ms = 20\n");
    let client = server.client();
    create_table(&client, "tbl", false).await;
    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    let too_soon =
        validation("Time to live has been modified multiple times within a fixed interval");
    assert_eq!(set_ttl(&client, "tbl", false, "exp").await.unwrap_err(), too_soon);
    // AWS checks the content first: a no-op or wrong attribute keeps its own message.
    let enabled = validation("TimeToLive is already enabled");
    assert_eq!(set_ttl(&client, "tbl", true, "exp").await.unwrap_err(), enabled);
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Enabled, Some("exp".into())));
}

#[tokio::test]
async fn ttl_calls_on_a_creating_table_get_aws_errors() {
    let server = Server::start_with_config("[dynamodb]\ncreate_table_delay_ms = 600000\n");
    let client = server.client();
    create_table(&client, "slow", false).await;
    let e = set_ttl(&client, "slow", true, "exp").await.unwrap_err();
    assert_eq!(
        e,
        (
            "ResourceInUseException".into(),
            "Attempt to change a resource which is still in use: Table slow is being created"
                .into()
        )
    );
    let e = client.describe_time_to_live().table_name("slow").send().await;
    assert_eq!(
        error_of(e),
        validation(
            "Cannot describe time to live while table is in CREATING state: Current table state is CREATING"
        )
    );
}

#[tokio::test]
async fn expired_number_ttls_are_deleted_and_everything_else_stays() {
    let server = Server::start_with_config(FAST);
    let client = server.client();
    create_table(&client, "tbl", false).await;
    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    let now = now_secs();
    put(&client, "tbl", "past", Some(n(now - 100))).await;
    put(&client, "tbl", "fraction", Some(AttributeValue::N(format!("{}.5", now - 100)))).await;
    put(&client, "tbl", "future", Some(n(now + 3600))).await;
    put(&client, "tbl", "string", Some(AttributeValue::S((now - 100).to_string()))).await;
    put(&client, "tbl", "set", Some(AttributeValue::Ns(vec![(now - 100).to_string()]))).await;
    put(&client, "tbl", "none", None).await;
    // AWS ignores TTL values more than five years in the past.
    put(&client, "tbl", "ancient", Some(n(now - 6 * 365 * 86_400))).await;

    wait_gone(&client, "tbl", "past").await;
    wait_gone(&client, "tbl", "fraction").await;
    // The pass that deleted those read the whole table with the same clock reading.
    for kept in ["future", "string", "set", "none", "ancient"] {
        assert!(exists(&client, "tbl", kept).await, "{kept} must stay");
    }
    let metrics = server.metrics().await;
    assert!(metrics.contains("sluice_ttl_deleted_items_total{table=\"tbl\"} 2"), "{metrics}");
    let d = client.describe_table().table_name("tbl").send().await.unwrap();
    assert_eq!(d.table().unwrap().item_count(), Some(5));

    // Deleting the table removes its series.
    client.delete_table().table_name("tbl").send().await.unwrap();
    let metrics = server.metrics().await;
    assert!(!metrics.contains("sluice_ttl_deleted_items_total{table=\"tbl\"}"), "{metrics}");
}

#[tokio::test]
async fn expired_items_are_returned_until_the_task_deletes_them() {
    // A pass only every hour: the expired item is never deleted during the test.
    let server = Server::start_with_config(
        "[dynamodb]\nttl_scan_interval_ms = 3600000\nttl_update_cooldown_ms = 0\n",
    );
    let client = server.client();
    create_table(&client, "tbl", false).await;
    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    put(&client, "tbl", "past", Some(n(now_secs() - 100))).await;
    let out = client
        .get_item()
        .table_name("tbl")
        .key("pk", AttributeValue::S("past".into()))
        .send()
        .await
        .unwrap();
    assert!(out.item().is_some_and(|i| i.contains_key("exp")), "{out:?}");
}

#[tokio::test]
async fn disabling_ttl_stops_expiry() {
    let server = Server::start_with_config(FAST);
    let client = server.client();
    for table in ["a-off", "z-on"] {
        create_table(&client, table, false).await;
        set_ttl(&client, table, true, "exp").await.unwrap();
    }
    set_ttl(&client, "a-off", false, "exp").await.unwrap();
    let past = || Some(n(now_secs() - 100));
    put(&client, "a-off", "kept", past()).await;
    // Passes visit tables in name order. The pass that deletes z-on's second item started
    // after the one that deleted its first, so it certainly read a-off's item.
    put(&client, "z-on", "first", past()).await;
    wait_gone(&client, "z-on", "first").await;
    put(&client, "z-on", "second", past()).await;
    wait_gone(&client, "z-on", "second").await;
    assert!(exists(&client, "a-off", "kept").await);
}

#[tokio::test]
async fn overwrites_with_a_future_ttl_are_never_deleted() {
    let server = Server::start_with_config(
        "[dynamodb]\nttl_scan_interval_ms = 1\nttl_update_cooldown_ms = 0\n",
    );
    let client = server.client();
    create_table(&client, "tbl", false).await;
    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    // Each item is written expired and at once overwritten with a later TTL, racing the
    // expiry task. Whatever interleaving happens, the last write must survive.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..200 {
        let client = client.clone();
        writes.spawn(async move {
            let pk = format!("k{i}");
            put(&client, "tbl", &pk, Some(n(now_secs() - 100))).await;
            put(&client, "tbl", &pk, Some(n(now_secs() + 3600))).await;
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    // Two sentinels in a row: at least one whole pass ran after every overwrite.
    for sentinel in ["s1", "s2"] {
        put(&client, "tbl", sentinel, Some(n(now_secs() - 100))).await;
        wait_gone(&client, "tbl", sentinel).await;
    }
    for i in 0..200 {
        assert!(
            exists(&client, "tbl", &format!("k{i}")).await,
            "k{i} was deleted after its overwrite"
        );
    }
}

#[tokio::test]
async fn ttl_settings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), FAST);
    let client = server.client();
    create_table(&client, "tbl", false).await;
    set_ttl(&client, "tbl", true, "exp").await.unwrap();
    server.kill();
    let server = Server::start_in_with(dir.path(), FAST);
    let client = server.client();
    assert_eq!(describe(&client, "tbl").await, (TimeToLiveStatus::Enabled, Some("exp".into())));
    // The restarted process runs its own expiry task over the recovered table.
    put(&client, "tbl", "past", Some(n(now_secs() - 100))).await;
    wait_gone(&client, "tbl", "past").await;
}
