//! Namespaces as AWS has them: resources are regional and per account. A table, stream,
//! consumer or mapping made in one region (or by one account's key) is invisible from
//! another, with ARNs in its own region and account; the same names may exist in each;
//! everything survives a restart; a store written before namespaces existed opens as
//! the default namespace's; and a destination or mapping across namespaces is refused.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{Server, error_of};

/// SDK clients for one namespace: signed with `key`/`secret` for `region`.
struct Clients {
    ddb: aws_sdk_dynamodb::Client,
    kinesis: aws_sdk_kinesis::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    lambda: aws_sdk_lambda::Client,
}

fn clients(server: &Server, key: &str, secret: &str, region: &str) -> Clients {
    macro_rules! client {
        ($sdk:ident) => {{
            let config = $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new(region.to_string()))
                .credentials_provider($sdk::config::Credentials::new(key, secret, None, None, "ns"))
                .endpoint_url(&server.endpoint)
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .build();
            $sdk::Client::from_conf(config)
        }};
    }
    Clients {
        ddb: client!(aws_sdk_dynamodb),
        kinesis: client!(aws_sdk_kinesis),
        streams: client!(aws_sdk_dynamodbstreams),
        lambda: client!(aws_sdk_lambda),
    }
}

/// The harness's key (the enforcing run's configured one) in `region`.
fn in_region(server: &Server, region: &str) -> Clients {
    clients(server, crate::signing::ACCESS_KEY_ID, crate::signing::SECRET_ACCESS_KEY, region)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

async fn table_names(c: &Clients) -> Vec<String> {
    c.ddb.list_tables().send().await.unwrap().table_names().to_vec()
}

async fn table_arn(c: &Clients) -> String {
    let d = c.ddb.describe_table().table_name("ledger").send().await.unwrap();
    d.table().unwrap().table_arn().unwrap().to_string()
}

async fn stream_names(c: &Clients) -> Vec<String> {
    c.kinesis.list_streams().send().await.unwrap().stream_names().to_vec()
}

#[tokio::test]
async fn tables_streams_and_mappings_are_regional() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, rec) = crate::lambda::recorder::recorder().await;
    let url = format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"");
    let config = crate::lambda::function("fn", &url, "");
    let server = Server::start_in_with(dir.path(), &config);
    let (us, eu) = (in_region(&server, "us-east-1"), in_region(&server, "eu-west-1"));

    let arn = crate::streams::create_with_stream(&eu.ddb, "orders", "NEW_IMAGE").await;
    assert!(
        arn.starts_with("arn:aws:dynamodb:eu-west-1:000000000000:table/orders/stream/"),
        "{arn}"
    );
    assert_eq!(table_names(&eu).await, ["orders"]);
    assert!(table_names(&us).await.is_empty(), "a table is its region's alone");
    let (code, _) = error_of(us.ddb.describe_table().table_name("orders").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let described = eu.ddb.describe_table().table_name("orders").send().await.unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.table_arn(), Some("arn:aws:dynamodb:eu-west-1:000000000000:table/orders"));

    // The same name in another region is another table, with items of its own.
    crate::harness::create_table(&us.ddb, "orders", false).await;
    eu.ddb.put_item().table_name("orders").item("pk", s("eu-1")).send().await.unwrap();
    let got = us.ddb.get_item().table_name("orders").key("pk", s("eu-1")).send().await.unwrap();
    assert!(got.item().is_none());
    let got = eu.ddb.get_item().table_name("orders").key("pk", s("eu-1")).send().await.unwrap();
    assert!(got.item().is_some());
    // Their series stay apart: another namespace's carry its account and region.
    let metrics = server.metrics().await;
    let series = |labels: &[&str], value: &str| {
        metrics.lines().any(|l| {
            l.starts_with("sluice_table_items{")
                && l.ends_with(&format!("}} {value}"))
                && labels.iter().all(|want| l.contains(want))
                && l.matches('=').count() == labels.len()
        })
    };
    let eu_labels = ["table=\"orders\"", "region=\"eu-west-1\"", "account=\"000000000000\""];
    assert!(series(&eu_labels, "1"), "{metrics}");
    assert!(series(&["table=\"orders\""], "0"), "{metrics}");
    crate::dashboard::promtool_check(&metrics);

    // Its stream is listed in its region only.
    let listed = eu.streams.list_streams().send().await.unwrap();
    assert_eq!(listed.streams().len(), 1);
    assert_eq!(listed.streams()[0].stream_arn(), Some(arn.as_str()));
    assert!(us.streams.list_streams().send().await.unwrap().streams().is_empty());
    let records = crate::streams::read_stream(&eu.streams, &arn).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].aws_region(), Some("eu-west-1"));

    // Kinesis streams and their consumers, likewise.
    crate::kinesis::create(&eu.kinesis, "feed", 1).await;
    assert_eq!(stream_names(&eu).await, ["feed"]);
    assert!(stream_names(&us).await.is_empty());
    let feed = "arn:aws:kinesis:eu-west-1:000000000000:stream/feed";
    let consumer = eu.kinesis.register_stream_consumer().stream_arn(feed).consumer_name("c1");
    let consumer = consumer.send().await.unwrap();
    let consumer_arn = consumer.consumer().unwrap().consumer_arn().to_string();
    assert!(
        consumer_arn.starts_with("arn:aws:kinesis:eu-west-1:000000000000:stream/feed/consumer/c1:")
    );
    let (code, _) = error_of(us.kinesis.describe_stream_summary().stream_name("feed").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    // A mapping on the eu stream is eu's: listed there, its events name eu-west-1; from
    // us the stream is another region's, refused as Lambda refuses a missing one.
    let mapping = eu
        .lambda
        .create_event_source_mapping()
        .function_name("fn")
        .event_source_arn(&arn)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();
    let mapping_arn = mapping.event_source_mapping_arn().unwrap().to_string();
    assert!(mapping_arn.starts_with("arn:aws:lambda:eu-west-1:000000000000:event-source-mapping:"));
    let listed = |c: &Clients| c.lambda.list_event_source_mappings().send();
    assert_eq!(listed(&eu).await.unwrap().event_source_mappings().len(), 1);
    assert!(listed(&us).await.unwrap().event_source_mappings().is_empty());
    let delivered = rec.wait_records(1).await;
    assert_eq!(delivered[0]["awsRegion"], "eu-west-1");
    assert_eq!(delivered[0]["eventSourceARN"], arn.as_str());
    let (code, _) = error_of(
        us.lambda
            .create_event_source_mapping()
            .function_name("fn")
            .event_source_arn(&arn)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValueException", "a stream of another region");

    // A Kinesis destination in another region is not this namespace's stream: accepted
    // (ENABLING), then ENABLE_FAILED, as AWS does with a stream it cannot reach.
    let enabled = us.ddb.enable_kinesis_streaming_destination().table_name("orders");
    let enabled = enabled.stream_arn(feed).send().await.unwrap();
    assert_eq!(enabled.destination_status().map(|s| s.as_str()), Some("ENABLING"));
    let described =
        us.ddb.describe_kinesis_streaming_destination().table_name("orders").send().await;
    let status =
        described.unwrap().kinesis_data_stream_destinations()[0].destination_status().cloned();
    assert_eq!(status.map(|s| s.as_str().to_string()).as_deref(), Some("ENABLE_FAILED"));

    // Everything stays in its namespace across a restart.
    drop((us, eu));
    server.terminate(Duration::from_secs(30));
    let server = Server::start_in_with(dir.path(), &config);
    let (us, eu) = (in_region(&server, "us-east-1"), in_region(&server, "eu-west-1"));
    assert_eq!(table_names(&eu).await, ["orders"]);
    assert_eq!(table_names(&us).await, ["orders"]);
    let got = eu.ddb.get_item().table_name("orders").key("pk", s("eu-1")).send().await.unwrap();
    assert!(got.item().is_some());
    let got = us.ddb.get_item().table_name("orders").key("pk", s("eu-1")).send().await.unwrap();
    assert!(got.item().is_none());
    assert_eq!(stream_names(&eu).await, ["feed"]);
    assert!(stream_names(&us).await.is_empty());
    let consumers = eu.kinesis.list_stream_consumers().stream_arn(feed).send().await.unwrap();
    assert_eq!(consumers.consumers().len(), 1);
    // The eu mapping runs again from its checkpoint: the next eu write reaches it.
    eu.ddb.put_item().table_name("orders").item("pk", s("eu-2")).send().await.unwrap();
    let delivered = rec.wait_records(2).await;
    assert_eq!(delivered[1]["dynamodb"]["Keys"]["pk"]["S"], "eu-2");
    assert_eq!(delivered.len(), 2, "nothing delivered twice");
}

/// Each access key's requests are its account's: `account_id` on an `[[auth.keys]]`
/// entry, else `aws.accounts`, else `aws.account_id`.
#[tokio::test]
async fn an_access_key_maps_to_its_account() {
    let config = "[aws.accounts]\nAKIDMAPPED = \"444455556666\"\n\
        [auth]\nenforce = true\n\
        [[auth.keys]]\naccess_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"secret\"\n\
        [[auth.keys]]\naccess_key_id = \"AKIDOTHER\"\nsecret_access_key = \"other\"\naccount_id = \"111122223333\"\n\
        [[auth.keys]]\naccess_key_id = \"AKIDMAPPED\"\nsecret_access_key = \"mapped\"\n";
    let server = Server::start_with_config(config);
    let default = clients(&server, "AKIDEXAMPLE", "secret", "us-east-1");
    let other = clients(&server, "AKIDOTHER", "other", "us-east-1");
    let mapped = clients(&server, "AKIDMAPPED", "mapped", "us-east-1");
    crate::harness::create_table(&other.ddb, "ledger", false).await;
    crate::harness::create_table(&mapped.ddb, "ledger", false).await;
    assert_eq!(table_arn(&other).await, "arn:aws:dynamodb:us-east-1:111122223333:table/ledger");
    assert_eq!(table_arn(&mapped).await, "arn:aws:dynamodb:us-east-1:444455556666:table/ledger");
    assert!(table_names(&default).await.is_empty(), "another account's tables are not listed");
    other.ddb.put_item().table_name("ledger").item("pk", s("x")).send().await.unwrap();
    let got = mapped.ddb.get_item().table_name("ledger").key("pk", s("x")).send().await.unwrap();
    assert!(got.item().is_none());
}

/// A region no namespace can have is refused before anything is made for it (an SDK
/// refuses such a region itself: the request is raw).
#[tokio::test]
async fn a_malformed_region_is_refused() {
    let server = Server::start();
    let auth = crate::harness::AUTH.replace("/us-east-1/", "/eu_west_1/");
    let r = server.post("ListTables", b"{}", &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["__type"], "com.amazon.coral.service#InvalidSignatureException");
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert_eq!(message, "Credential should be scoped to a valid region, not 'eu_west_1'.");
    server.expect_denials();
}

/// A store written by the release before namespaces (tests/fixtures: a table with a
/// stream and a Kinesis destination, five items, a Kinesis stream with a record of its
/// own) opens as the default namespace's, every record in place.
#[tokio::test]
async fn a_store_from_before_namespaces_is_the_default_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-before-namespaces.tgz");
    let status = std::process::Command::new("tar")
        .args(["-xzf", fixture, "-C"])
        .arg(dir.path())
        .status()
        .expect("tar");
    assert!(status.success());
    let server = Server::start_in(dir.path());
    let us = in_region(&server, "us-east-1");
    assert_eq!(table_names(&us).await, ["legacy-orders"]);
    let scan = us.ddb.scan().table_name("legacy-orders").send().await.unwrap();
    assert_eq!(scan.count(), 5);
    let t = us.ddb.describe_table().table_name("legacy-orders").send().await.unwrap();
    let arn = t.table().unwrap().latest_stream_arn().unwrap().to_string();
    assert_eq!(crate::streams::read_stream(&us.streams, &arn).await.len(), 5);
    let kinesis = crate::bridge::records(&us.kinesis, "legacy-feed").await;
    assert_eq!(kinesis.len(), 6, "five changes forwarded and one record put directly");
    // Writes go on where the old release left them.
    us.ddb.put_item().table_name("legacy-orders").item("id", s("o9")).send().await.unwrap();
    assert_eq!(crate::streams::read_stream(&us.streams, &arn).await.len(), 6);
    assert!(table_names(&in_region(&server, "eu-west-1")).await.is_empty());
}
