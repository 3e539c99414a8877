//! The source bridge against software nobody here wrote: DynamoDB Local (AWS's own
//! emulator, from the npm package `amplify-dynamodb-simulator`) as the external source,
//! followed into a Kinesis stream of the bridge's sluice and into kinesis-mock (npm
//! `kinesis-local`) as a remote Kinesis destination. Both come
//! from `npm ci --prefix tests/js` (run by .ci/run, where REQUIRE_JS_SDK makes them
//! required).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::harness::Server;

const JS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/node_modules");
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/changes";
const LOCAL_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/changes-here";

/// A child process killed when the test ends, with the scratch directory it runs in.
struct KillOnDrop(Child, #[allow(dead_code)] Option<tempfile::TempDir>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the npm packages are there (else the test says it did not run, or fails
/// where they are required).
fn installed(test: &str) -> bool {
    let ok = std::path::Path::new(JS).join("amplify-dynamodb-simulator/emulator").is_dir()
        && std::path::Path::new(JS).join("kinesis-local/main.js").is_file();
    if !ok {
        assert!(std::env::var_os("REQUIRE_JS_SDK").is_none(), "run npm ci --prefix tests/js");
        eprintln!("\n*** NOT RUN: {test}: npm ci --prefix tests/js has not been run ***\n");
    }
    ok
}

/// DynamoDB Local in memory on `port`, one database whatever the credentials; started
/// in a scratch directory (it writes a metadata file where it runs).
fn dynamodb_local(port: u16) -> KillOnDrop {
    let emulator = format!("{JS}/amplify-dynamodb-simulator/emulator");
    let scratch = tempfile::tempdir().unwrap();
    let child = Command::new("java")
        .arg(format!("-Djava.library.path={emulator}/DynamoDBLocal_lib"))
        .args(["-jar", &format!("{emulator}/DynamoDBLocal.jar")])
        .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port", &port.to_string()])
        .current_dir(scratch.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("java");
    KillOnDrop(child, Some(scratch))
}

/// kinesis-mock with plain HTTP on `port` (its TLS port on any free one).
fn kinesis_mock(port: u16) -> KillOnDrop {
    let child = Command::new("node")
        .arg(format!("{JS}/kinesis-local/main.js"))
        .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
        .env("KINESIS_MOCK_TLS_PORT", "0")
        .env("KINESIS_MOCK_CERT_PATH", format!("{JS}/kinesis-local/server.json"))
        .env("CREATE_STREAM_DURATION", "0ms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    KillOnDrop(child, None)
}

async fn wait_listening(port: u16, what: &str) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not listen on {port} within 30 s");
}

fn ddb_client(port: u16) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "t"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn kinesis_client(port: u16) -> aws_sdk_kinesis::Client {
    use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "t"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[tokio::test]
async fn dynamodb_local_changes_reach_kinesis_mock_in_order_in_awss_format() {
    if !installed("dynamodb_local_changes_reach_kinesis_mock_in_order_in_awss_format") {
        return;
    }
    let (ddb_port, kinesis_port) = (free_port(), free_port());
    let _ddb_local = dynamodb_local(ddb_port);
    let _mock = kinesis_mock(kinesis_port);
    wait_listening(ddb_port, "DynamoDB Local").await;
    wait_listening(kinesis_port, "kinesis-mock").await;

    let ddb = ddb_client(ddb_port);
    crate::streams::create_with_stream(&ddb, "orders", "NEW_AND_OLD_IMAGES").await;
    let k = kinesis_client(kinesis_port);
    k.create_stream().stream_name("changes").shard_count(1).send().await.unwrap();

    let config = format!(
        "[bridge]\nworker_id = \"w1\"\nlease_duration_ms = 1000\nretry_initial_ms = 20\nretry_max_ms = 200\n\
         [[bridge.remotes]]\nstream_arn = \"{STREAM_ARN}\"\nendpoint = \"http://127.0.0.1:{kinesis_port}\"\n\
         region = \"us-east-1\"\naccess_key_id = \"local\"\nsecret_access_key = \"local\"\n\
         [[bridge.sources]]\nname = \"orders\"\nendpoint = \"http://127.0.0.1:{ddb_port}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\ntable = \"orders\"\n\
         destination = \"{STREAM_ARN}\"\nlease_table = \"sluice-leases\"\npoll_interval_ms = 20\n\
         [[bridge.sources]]\nname = \"orders-here\"\nendpoint = \"http://127.0.0.1:{ddb_port}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\ntable = \"orders\"\n\
         destination = \"{LOCAL_ARN}\"\nlease_table = \"sluice-leases\"\npoll_interval_ms = 20\n"
    );
    // The same table is followed twice: into kinesis-mock, and into a stream of this
    // sluice (two readers per shard, within AWS's guidance).
    let bridge = Server::start_with_config(&config);
    crate::kinesis::create(&bridge.kinesis(), "changes-here", 1).await;

    // Twelve changes over three items, then a delete.
    for i in 0..12 {
        let put = ddb
            .put_item()
            .table_name("orders")
            .item("pk", AttributeValue::S(format!("k{}", i % 3)));
        put.item("v", n(i)).send().await.unwrap();
    }
    ddb.delete_item()
        .table_name("orders")
        .key("pk", AttributeValue::S("k1".into()))
        .send()
        .await
        .unwrap();

    // What DynamoDB Local's own stream holds, for comparison.
    let arn = ddb.describe_table().table_name("orders").send().await.unwrap();
    let arn = arn.table.unwrap().latest_stream_arn.unwrap();
    let source = crate::streams::read_stream(&streams_client(ddb_port), &arn).await;
    assert_eq!(source.len(), 13);

    // Everything lands in kinesis-mock, once, in order (one shard, one source shard).
    let got = crate::streams::poll(Duration::from_secs(30), || async {
        let got = mock_records(&k).await;
        (got.len() >= 13).then_some(got)
    })
    .await;
    assert_eq!(got.len(), 13, "{got:#?}");
    for (record, stream) in got.iter().zip(&source) {
        let d = stream.dynamodb.as_ref().unwrap();
        let id = stream.event_id.as_deref().unwrap();
        assert_eq!(record["eventID"], id.to_lowercase(), "DynamoDB Local's eventID, as a UUID");
        assert_eq!(record["eventName"], stream.event_name.as_ref().unwrap().as_str());
        assert_eq!(record["tableName"], "orders");
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["recordFormat"], "application/json");
        assert_eq!(record["awsRegion"], "ddblocal", "the region the source's records name");
        let pk = d.keys.as_ref().unwrap()["pk"].as_s().unwrap();
        assert_eq!(record["dynamodb"]["Keys"]["pk"]["S"], pk.as_str());
        let value = |image: &Value| image["v"]["N"].as_str().map(str::to_string);
        let want = d.new_image.as_ref().and_then(|i| i.get("v")).map(|v| v.as_n().unwrap().clone());
        assert_eq!(value(&record["dynamodb"]["NewImage"]), want);
        let old = d.old_image.as_ref().and_then(|i| i.get("v")).map(|v| v.as_n().unwrap().clone());
        assert_eq!(value(&record["dynamodb"]["OldImage"]), old);
        let secs = d.approximate_creation_date_time.unwrap().secs();
        assert_eq!(record["dynamodb"]["ApproximateCreationDateTime"], secs * 1000);
    }
    // The stream of this sluice holds the very same records.
    let here = crate::streams::poll(Duration::from_secs(30), || async {
        let here = crate::bridge::records(&bridge.kinesis(), "changes-here").await;
        (here.len() >= 13).then_some(here)
    })
    .await;
    assert_eq!(here, got);
    // The checkpoint is DynamoDB Local's last sequence number.
    let leases = bridge.client().scan().table_name("sluice-leases").send().await.unwrap();
    let orders = |i: &&std::collections::HashMap<String, AttributeValue>| {
        i.contains_key("shardId") && i["source"] == AttributeValue::S("orders".into())
    };
    let lease = leases.items().iter().find(orders).unwrap();
    let checkpoint = lease["checkpoint"].as_s().unwrap().clone();
    assert_eq!(Some(checkpoint), source.last().and_then(|r| r.dynamodb()?.sequence_number.clone()));
}

fn streams_client(port: u16) -> aws_sdk_dynamodbstreams::Client {
    use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "t"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// Every record of kinesis-mock's `changes` stream, as JSON.
async fn mock_records(k: &aws_sdk_kinesis::Client) -> Vec<Value> {
    let shards = k.list_shards().stream_name("changes").send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = k
            .get_shard_iterator()
            .stream_name("changes")
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let r = k.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
        for rec in r.records() {
            out.push(serde_json::from_slice(rec.data().as_ref()).unwrap());
        }
    }
    out
}
