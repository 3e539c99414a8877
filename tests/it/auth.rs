//! `auth.enforce`: every API is served to the SDKs signing with a configured key (HTTP/1.1
//! and the SubscribeToShard event stream included) and refused, with AWS's errors per
//! protocol, to a wrong secret, an unknown key, a wrong session token, a stale date or no
//! signature; /health stays open while /metrics and /_sluice/* on the API port want a
//! signature.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sluice::engine::bridge::remote::sigv4::{self, Signer};

use crate::harness::Server;

/// The harness's clients sign as AKIDEXAMPLE/secret; a second key has a session token.
const ENFORCE: &str = "[auth]\nenforce = true\n\
    [[auth.keys]]\naccess_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"secret\"\n\
    [[auth.keys]]\naccess_key_id = \"AKIDTEMP\"\nsecret_access_key = \"temp\"\nsession_token = \"tok\"\n";

fn ddb(server: &Server, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_dynamodb::Client {
    ddb_at(server, key, secret, token, None)
}

/// A DynamoDB client signing with the given credentials, its clock `skew` off.
fn ddb_at(
    server: &Server,
    key: &str,
    secret: &str,
    token: Option<&str>,
    skew: Option<(bool, Duration)>,
) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, token.map(str::to_string), None, "t"))
        .endpoint_url(&server.endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled());
    if let Some((ahead, by)) = skew {
        let now =
            SystemTime::UNIX_EPOCH + Duration::from_micros(sluice::clock::wall_micros() as u64);
        let at = if ahead { now + by } else { now - by };
        config = config.time_source(aws_smithy_async::time::StaticTimeSource::new(at));
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A Kinesis client signing as `key`/`secret`, its clock `behind` (if given).
fn kinesis_as(
    server: &Server,
    key: &str,
    secret: &str,
    behind: Option<Duration>,
) -> aws_sdk_kinesis::Client {
    kinesis_with_token(server, (key, secret, None), behind)
}

/// [`kinesis_as`] with a session token.
fn kinesis_with_token(
    server: &Server,
    (key, secret, token): (&str, &str, Option<&str>),
    behind: Option<Duration>,
) -> aws_sdk_kinesis::Client {
    use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
    let token = token.map(str::to_string);
    let mut config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, token, None, "t"))
        .endpoint_url(&server.endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled());
    if let Some(by) = behind {
        let now =
            SystemTime::UNIX_EPOCH + Duration::from_micros(sluice::clock::wall_micros() as u64);
        config = config.time_source(aws_smithy_async::time::StaticTimeSource::new(now - by));
    }
    aws_sdk_kinesis::Client::from_conf(config.build())
}

fn kinesis(server: &Server, secret: &str) -> aws_sdk_kinesis::Client {
    kinesis_as(server, "AKIDEXAMPLE", secret, None)
}

fn lambda_as(server: &Server, key: &str, secret: &str) -> aws_sdk_lambda::Client {
    lambda_with_token(server, key, secret, None)
}

fn lambda_with_token(
    server: &Server,
    key: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, token.map(str::to_string), None, "t"))
        .endpoint_url(&server.endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

fn lambda(server: &Server, secret: &str) -> aws_sdk_lambda::Client {
    lambda_as(server, "AKIDEXAMPLE", secret)
}

fn streams_as(server: &Server, key: &str, secret: &str) -> aws_sdk_dynamodbstreams::Client {
    use aws_sdk_dynamodbstreams::config::{
        BehaviorVersion, Credentials, Region, retry::RetryConfig,
    };
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "t"))
        .endpoint_url(&server.endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

async fn create_streamed_table(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    crate::streams::create_with_stream(client, name, "NEW_IMAGE").await
}

fn code<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (e.code().unwrap_or_default().to_string(), e.message().unwrap_or_default().to_string())
}

#[tokio::test]
async fn every_api_serves_a_configured_key_and_refuses_the_rest() {
    let server = Server::start_with_config(ENFORCE);

    // DynamoDB, DynamoDB Streams, Kinesis (with SubscribeToShard) and Lambda, signed by the
    // SDKs with a configured key, work as ever.
    let client = server.client();
    let stream_arn = create_streamed_table(&client, "things").await;
    client
        .put_item()
        .table_name("things")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    let streams = server.streams();
    let described = streams.describe_stream().stream_arn(&stream_arn).send().await.unwrap();
    assert!(!described.stream_description().unwrap().shards().is_empty());
    let k = server.kinesis();
    k.create_stream().stream_name("s").shard_count(1).send().await.unwrap();
    k.put_record()
        .stream_name("s")
        .partition_key("p")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    let consumer =
        k.register_stream_consumer().stream_arn(arn).consumer_name("c").send().await.unwrap();
    let consumer_arn = consumer.consumer().unwrap().consumer_arn().to_string();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let start = aws_sdk_kinesis::types::StartingPosition::builder()
        .r#type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .build()
        .unwrap();
    let mut events = k
        .subscribe_to_shard()
        .consumer_arn(&consumer_arn)
        .shard_id("shardId-000000000000")
        .starting_position(start)
        .send()
        .await
        .unwrap()
        .event_stream;
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap();
    assert!(first.unwrap().is_some());
    let functions = server.lambda().list_functions().send().await.unwrap();
    assert!(functions.functions().is_empty());
    // A key with a session token, sending it.
    let temp = ddb(&server, "AKIDTEMP", "temp", Some("tok"));
    temp.describe_table().table_name("things").send().await.unwrap();

    // A wrong secret: InvalidSignatureException, with what sluice computed.
    let wrong = ddb(&server, "AKIDEXAMPLE", "not-the-secret", None);
    let e = wrong.describe_table().table_name("things").send().await.unwrap_err();
    let (c, m) = code(&e.into_service_error());
    assert_eq!(c, "InvalidSignatureException");
    assert!(
        m.starts_with(
            "The request signature we calculated does not match the signature you provided."
        ),
        "{m}"
    );
    assert!(m.contains("The Canonical String for this request should have been"), "{m}");
    let e = kinesis(&server, "nope").list_streams().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()).0, "InvalidSignatureException");
    let e = lambda(&server, "nope").list_functions().send().await.unwrap_err();
    let raw = e.raw_response().map(|r| r.status().as_u16());
    let (c, m) = code(&e.into_service_error());
    // Lambda: 403, and the sentence alone.
    assert_eq!((c.as_str(), raw), ("InvalidSignatureException", Some(403)));
    assert_eq!(m, sluice::auth::messages::MISMATCH);

    // An unknown key, or a session token that is not the key's.
    for (key, secret, token) in [
        ("AKIDNOBODY", "secret", None),
        ("AKIDTEMP", "temp", Some("other")),
        ("AKIDTEMP", "temp", None),
    ] {
        let e = ddb(&server, key, secret, token).list_tables().send().await.unwrap_err();
        let (c, m) = code(&e.into_service_error());
        assert_eq!(
            (c.as_str(), m.as_str()),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid."
            ),
            "{key} {token:?}"
        );
    }

    // A clock too far off either way: 15 minutes for DynamoDB, 5 for Kinesis, as AWS.
    let off = |ahead: bool, minutes: u64| {
        ddb_at(
            &server,
            "AKIDEXAMPLE",
            "secret",
            None,
            Some((ahead, Duration::from_secs(minutes * 60))),
        )
    };
    let (c, m) = code(&off(false, 20).list_tables().send().await.unwrap_err().into_service_error());
    assert_eq!(c, "InvalidSignatureException");
    assert!(m.starts_with("Signature expired: ") && m.ends_with(" - 15 min.)"), "{m}");
    let (c, m) = code(&off(true, 20).list_tables().send().await.unwrap_err().into_service_error());
    assert_eq!(c, "InvalidSignatureException");
    assert!(m.starts_with("Signature not yet current: ") && m.ends_with(" + 15 min.)"), "{m}");
    off(false, 10).list_tables().send().await.unwrap();
    let late_kinesis = kinesis_as(&server, "AKIDEXAMPLE", "secret", Some(Duration::from_secs(600)));
    let e = late_kinesis.list_streams().send().await.unwrap_err().into_service_error();
    let (c, m) = code(&e);
    assert_eq!(c, "InvalidSignatureException");
    assert!(m.ends_with(" - 5 min.)"), "{m}");

    // Refusals are counted by service, operation and reason.
    let metrics = signed_get(&server, "/metrics", "secret").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for line in [
        "sluice_auth_denied_total{operation=\"DescribeTable\",reason=\"invalid_signature\",service=\"dynamodb\"} 1",
        "sluice_auth_denied_total{operation=\"ListTables\",reason=\"unrecognized_client\",service=\"dynamodb\"} 3",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

/// A GET signed by sluice's own signer now (for the endpoints no SDK calls).
async fn signed_get(server: &Server, path: &str, secret: &str) -> crate::harness::RawResponse {
    signed_get_as(server, path, ("AKIDEXAMPLE", secret, None)).await
}

/// [`signed_get`] with any key, and its session token if it has one.
async fn signed_get_as(
    server: &Server,
    path: &str,
    (key, secret, token): (&str, &str, Option<&str>),
) -> crate::harness::RawResponse {
    let host = server.addr.to_string();
    let date = sigv4::amz_date(sluice::clock::wall_micros() / 1000);
    let mut headers = vec![("host", host.as_str()), ("x-amz-date", date.as_str())];
    if let Some(token) = token {
        headers.push(("x-amz-security-token", token));
    }
    let signer = Signer {
        access_key_id: key,
        secret_access_key: secret,
        region: "us-east-1",
        service: "sluice",
    };
    let request =
        sigv4::Request { method: "GET", path, query: "", headers: &headers, payload: b"" };
    let auth = signer.authorization(&request, &date);
    let mut sent = vec![("X-Amz-Date", date.as_str()), ("Authorization", auth.as_str())];
    if let Some(token) = token {
        sent.push(("X-Amz-Security-Token", token));
    }
    server.request("GET", path, &sent, b"").await
}

/// A signature of the right form that no key made (not the harness's placeholder, which
/// the enforcing run signs for real).
const UNVERIFIABLE: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=fedcba9876543210";

#[tokio::test]
async fn temporary_credentials_past_their_expiration_get_expired_token_exception() {
    let config = "[auth]\nenforce = true\n\
        [[auth.keys]]\naccess_key_id = \"AKIDOLD\"\nsecret_access_key = \"old\"\nsession_token = \"t1\"\nexpiration = \"2020-01-01T00:00:00Z\"\n\
        [[auth.keys]]\naccess_key_id = \"AKIDNEW\"\nsecret_access_key = \"new\"\nsession_token = \"t2\"\nexpiration = \"2999-01-01T00:00:00+00:00\"\n";
    let server = Server::start_with_config(config);
    let expired = "The security token included in the request is expired";

    // Before its expiration a key works; after it, every API says so.
    ddb(&server, "AKIDNEW", "new", Some("t2")).list_tables().send().await.unwrap();
    let e = ddb(&server, "AKIDOLD", "old", Some("t1")).list_tables().send().await.unwrap_err();
    assert_eq!(code(&e), ("ExpiredTokenException".into(), expired.into()));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let k = kinesis_with_token(&server, ("AKIDOLD", "old", Some("t1")), None);
    let e = k.list_streams().send().await.unwrap_err();
    assert_eq!(code(&e), ("ExpiredTokenException".into(), expired.into()));
    let l = lambda_with_token(&server, "AKIDOLD", "old", Some("t1"));
    let e = l.list_functions().send().await.unwrap_err();
    assert_eq!(code(&e), ("ExpiredTokenException".into(), expired.into()));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    // The wrong token of an expired key is still an unknown client.
    let e = ddb(&server, "AKIDOLD", "old", Some("t9")).list_tables().send().await.unwrap_err();
    assert_eq!(code(&e).0, "UnrecognizedClientException");
    let metrics = signed_get_as(&server, "/metrics", ("AKIDNEW", "new", Some("t2"))).await.text();
    assert!(
        metrics.contains(
            "sluice_auth_denied_total{operation=\"ListTables\",reason=\"expired_token\",service=\"dynamodb\"} 1"
        ),
        "{metrics}"
    );

    // An expiration needs a session token, and must be a UTC time.
    for key in [
        "[[auth.keys]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\nexpiration = \"2030-01-01T00:00:00Z\"\n",
        "[[auth.keys]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\nsession_token = \"t\"\nexpiration = \"tomorrow\"\n",
    ] {
        let e = sluice::config::Config::load_text(
            Some((std::path::Path::new("x.toml"), key)),
            Vec::new(),
            &Default::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("expiration"), "{e}");
    }
}

#[tokio::test]
async fn raw_requests_get_awss_errors_and_sluices_endpoints_want_a_signature() {
    let server = Server::start_with_config(ENFORCE);
    // No signature at all: MissingAuthenticationTokenException (DynamoDB's framework
    // namespace), 403 for Lambda's REST API.
    let r = server
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(r.status, 400);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["__type"], "com.amazon.coral.service#MissingAuthenticationTokenException");
    let r = server.request("GET", "/2015-03-31/functions", &[], b"").await;
    assert_eq!(r.status, 403);
    // A well-formed but unverifiable signature.
    let r = server.post("ListTables", b"{}", &[("Authorization", UNVERIFIABLE)]).await;
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.status, 400, "{body}");
    assert_eq!(body["__type"], "com.amazon.coral.service#InvalidSignatureException", "{body}");
    let r = server
        .post(
            "Kinesis_20131202.ListStreams",
            b"{}",
            &[("Content-Type", "application/x-amz-json-1.1"), ("Authorization", UNVERIFIABLE)],
        )
        .await;
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.status, 400);
    assert!(body["__type"].as_str().unwrap().ends_with("InvalidSignatureException"), "{body}");

    // /health stays open; /metrics and /_sluice/* on the API port want a signature.
    assert_eq!(server.request("GET", "/health", &[], b"").await.status, 200);
    assert_eq!(server.request("GET", "/metrics", &[], b"").await.status, 403);
    assert_eq!(server.request("GET", "/_sluice/faults", &[], b"").await.status, 403);
    assert_eq!(signed_get(&server, "/metrics", "wrong").await.status, 403);
    assert_eq!(signed_get(&server, "/metrics", "secret").await.status, 200);
}

#[tokio::test]
async fn without_enforce_any_credentials_work_and_keys_are_checked_at_start() {
    // Written out: the enforcing run of the suite would otherwise turn it on.
    let server = Server::start_with_config("[auth]\nenforce = false\n");
    let anyone = ddb(&server, "ANYONE", "whatever", None);
    anyone.list_tables().send().await.unwrap();
    assert_eq!(server.request("GET", "/metrics", &[], b"").await.status, 200);

    // Refused at start: enforce without keys, a key listed twice, a policy that is not
    // one (no Statement).
    for config in [
        "[auth]\nenforce = true\n",
        "[[auth.keys]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\n[[auth.keys]]\naccess_key_id = \"A\"\nsecret_access_key = \"t\"\n",
        "[[auth.keys]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\npolicy = \"{}\"\n",
    ] {
        let e = sluice::config::Config::load_text(
            Some((std::path::Path::new("x.toml"), config)),
            Vec::new(),
            &Default::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("auth"), "{e}");
    }
}

const BOTO3: &str = r#"
import json, sys
import boto3, botocore

endpoint, secret = sys.argv[1], sys.argv[2]
session = boto3.session.Session(
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=secret, region_name="us-east-1")
cfg = botocore.config.Config(retries={"max_attempts": 1})
ddb = session.client("dynamodb", endpoint_url=endpoint, config=cfg)
streams = session.client("dynamodbstreams", endpoint_url=endpoint, config=cfg)
kin = session.client("kinesis", endpoint_url=endpoint, config=cfg)
lam = session.client("lambda", endpoint_url=endpoint, config=cfg)
out = {}

def call(name, f):
    try:
        f()
        out[name] = "ok"
    except botocore.exceptions.ClientError as e:
        out[name] = e.response["Error"]["Code"]

call("create_table", lambda: ddb.create_table(
    TableName="boto-auth",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}))
call("put_item", lambda: ddb.put_item(TableName="boto-auth", Item={"id": {"S": "a b/c:d"}}))
call("list_streams", lambda: streams.list_streams(TableName="boto-auth"))
call("create_stream", lambda: kin.create_stream(StreamName="boto-auth", ShardCount=1))
call("list_shards", lambda: kin.list_shards(StreamName="boto-auth"))
call("list_functions", lambda: lam.list_functions(MaxItems=5))
# A path with an ARN's colons in it, and a query string.
call("get_function", lambda: lam.get_function(
    FunctionName="arn:aws:lambda:us-east-1:000000000000:function:nope"))
call("list_mappings", lambda: lam.list_event_source_mappings(
    FunctionName="arn:aws:lambda:us-east-1:000000000000:function:f", MaxItems=2))
print(json.dumps(out))
"#;

#[tokio::test]
async fn boto3_signs_as_sluice_verifies() {
    let has_boto3 = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_boto3 {
        assert!(std::env::var_os("REQUIRE_AWSLAMBDARIC").is_none(), "boto3 is required here");
        eprintln!(
            "\n*** NOT RUN: boto3_signs_as_sluice_verifies: python3 with boto3 is missing ***\n"
        );
        return;
    }
    let server = Server::start_with_config(ENFORCE);
    let run = |secret: &'static str| {
        let endpoint = server.endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("python3")
                .args(["-c", BOTO3, &endpoint, secret])
                .output()
                .expect("run python3");
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_str::<Value>(stdout.trim()).unwrap()
        })
    };
    let good = run("secret").await.unwrap();
    assert_eq!(
        good,
        serde_json::json!({
            "create_table": "ok", "put_item": "ok", "list_streams": "ok",
            "create_stream": "ok", "list_shards": "ok", "list_functions": "ok",
            "get_function": "ResourceNotFoundException", "list_mappings": "ok",
        })
    );
    let bad = run("wrong").await.unwrap();
    for (call, code) in bad.as_object().unwrap() {
        assert_eq!(code, "InvalidSignatureException", "{call}: {bad}");
    }
}

#[tokio::test]
async fn the_js_sdk_v3_signs_as_sluice_verifies() {
    // `npm ci --prefix tests/js` (run by .ci/run) installs the clients.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let installed = std::path::Path::new(dir).join("node_modules/@aws-sdk/client-kinesis").is_dir();
    if !installed {
        assert!(std::env::var_os("REQUIRE_JS_SDK").is_none(), "run npm ci --prefix tests/js");
        eprintln!("\n*** NOT RUN: the JS SDK v3 is not installed (npm ci --prefix tests/js) ***\n");
        return;
    }
    let server = Server::start_with_config(ENFORCE);
    let run = |secret: &'static str| {
        let endpoint = server.endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("node")
                .args([&format!("{dir}/auth.mjs"), &endpoint, secret])
                .output()
                .expect("run node");
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_str::<Value>(stdout.trim()).unwrap()
        })
    };
    // The JS SDK signs `x-amz-content-sha256` and `:authority` (by that name, over
    // HTTP/1.1) besides what boto3 and the Rust SDK sign.
    let good = run("secret").await.unwrap();
    assert_eq!(
        good,
        serde_json::json!({
            "create_table": "ok", "put_item": "ok", "list_tables": "ok", "list_streams": "ok",
            "create_stream": "ok", "list_kinesis": "ok", "list_functions": "ok",
            "get_function": "ResourceNotFoundException", "list_mappings": "ok",
        })
    );
    let bad = run("wrong").await.unwrap();
    for (call, code) in bad.as_object().unwrap() {
        assert_eq!(code, "InvalidSignatureException", "{call}: {bad}");
    }
}

#[tokio::test]
async fn the_aws_cli_signs_as_sluice_verifies() {
    let has_cli = std::process::Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cli {
        assert!(std::env::var_os("REQUIRE_AWSLAMBDARIC").is_none(), "the AWS CLI is required here");
        eprintln!("\n*** NOT RUN: the AWS CLI is missing (pip install awscli) ***\n");
        return;
    }
    let server = Server::start_with_config(ENFORCE);
    let cli = |secret: &'static str, args: &'static [&'static str]| {
        let endpoint = server.endpoint.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("aws")
                .args(args)
                .args(["--endpoint-url", &endpoint])
                .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
                .env("AWS_SECRET_ACCESS_KEY", secret)
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_MAX_ATTEMPTS", "1")
                .env_remove("AWS_PROFILE")
                .output()
                .expect("run aws")
        })
    };
    for args in [
        &["dynamodb", "list-tables"][..],
        &["kinesis", "list-streams"],
        &["dynamodbstreams", "list-streams"],
        &[
            "lambda",
            "list-event-source-mappings",
            "--function-name",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
        ],
    ] {
        let out = cli("secret", args).await.unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let out = cli("wrong", args).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("(InvalidSignatureException)"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_store_is_its_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A data directory someone made readable by all: made private at start.
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::set_permissions(dir.path().join("data"), std::fs::Permissions::from_mode(0o755))
        .unwrap();
    let server = Server::start_in(dir.path());
    let client = server.client();
    create_streamed_table(&client, "private").await;
    client
        .put_item()
        .table_name("private")
        .item("pk", AttributeValue::S("secret value".into()))
        .send()
        .await
        .unwrap();
    let mut seen = 0;
    let mut todo = vec![dir.path().join("data")];
    while let Some(path) = todo.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{path:?}");
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode & 0o077, 0, "{path:?} is {mode:o}");
            seen += 1;
        }
    }
    assert!(seen > 0, "no files in the store");
}

/// A key limited by a policy, beside the harness's unlimited one.
const LIMITED: &str = r#"[auth]
enforce = true
[[auth.keys]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "secret"
[[auth.keys]]
access_key_id = "AKIDLIMITED"
secret_access_key = "limited"
policy = '''
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow",
   "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"],
   "Resource": ["arn:aws:dynamodb:*:*:table/orders", "arn:aws:dynamodb:*:*:table/orders/index/*"]},
  {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/orders/stream/*"},
  {"Effect": "Allow", "Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:*:stream/feed*"},
  {"Effect": "Deny", "Action": "kinesis:DeleteStream", "Resource": "*"},
  {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}
]}
'''
"#;

#[tokio::test]
async fn a_keys_policy_decides_what_it_may_do() {
    use aws_sdk_kinesis::primitives::Blob;
    let server = Server::start_with_config(LIMITED);
    let admin = server.client();
    let orders_stream = create_streamed_table(&admin, "orders").await;
    let secret_stream = create_streamed_table(&admin, "secret").await;
    let k = server.kinesis();
    for name in ["feed", "other"] {
        k.create_stream().stream_name(name).shard_count(1).send().await.unwrap();
    }

    let limited = ddb(&server, "AKIDLIMITED", "limited", None);
    let item =
        |t: &str| limited.put_item().table_name(t).item("pk", AttributeValue::S("x".into())).send();
    item("orders").await.unwrap();
    let (c, m) = code(&item("secret").await.unwrap_err().into_service_error());
    assert_eq!(c, "AccessDeniedException");
    assert_eq!(
        m,
        "User: arn:aws:iam::000000000000:user/AKIDLIMITED is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/secret because no identity-based policy allows the dynamodb:PutItem action"
    );
    let e = limited.list_tables().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()).0, "AccessDeniedException");

    // Batches and transactions: every table they touch.
    use aws_sdk_dynamodb::types::{
        ConditionCheck, Put, PutRequest, TransactWriteItem, WriteRequest,
    };
    let put = |pk: &str| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder().item("pk", AttributeValue::S(pk.into())).build().unwrap(),
            )
            .build()
    };
    limited.batch_write_item().request_items("orders", vec![put("b")]).send().await.unwrap();
    let e = limited
        .batch_write_item()
        .request_items("orders", vec![put("c")])
        .request_items("secret", vec![put("c")])
        .send()
        .await
        .unwrap_err();
    let (c, m) = code(&e.into_service_error());
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/secret"), "{m}");
    let write = TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name("orders")
                .item("pk", AttributeValue::S("t".into()))
                .build()
                .unwrap(),
        )
        .build();
    let check = TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name("secret")
                .key("pk", AttributeValue::S("x".into()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .unwrap(),
        )
        .build();
    let e = limited
        .transact_write_items()
        .transact_items(write)
        .transact_items(check)
        .send()
        .await
        .unwrap_err();
    let (_, m) = code(&e.into_service_error());
    assert!(m.contains("dynamodb:ConditionCheckItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/secret"), "{m}");

    // DynamoDB Streams: the table's streams, and GetRecords by its iterator.
    let streams = streams_as(&server, "AKIDLIMITED", "limited");
    let d = streams.describe_stream().stream_arn(&orders_stream).send().await.unwrap();
    let shard = d.stream_description().unwrap().shards()[0].shard_id().unwrap().to_string();
    let it = streams
        .get_shard_iterator()
        .stream_arn(&orders_stream)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    streams.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    let e = streams.describe_stream().stream_arn(&secret_stream).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()).0, "AccessDeniedException");

    // Kinesis: its streams, an explicit deny winning over the Allow.
    let lk = kinesis_as(&server, "AKIDLIMITED", "limited", None);
    lk.put_record()
        .stream_name("feed")
        .partition_key("p")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let e = lk
        .put_record()
        .stream_name("other")
        .partition_key("p")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()).0, "AccessDeniedException");
    let e = lk.delete_stream().stream_name("feed").send().await.unwrap_err();
    let (c, m) = code(&e.into_service_error());
    assert_eq!(c, "AccessDeniedException");
    assert!(m.ends_with("kinesis:DeleteStream on resource: arn:aws:kinesis:us-east-1:000000000000:stream/feed with an explicit deny in an identity-based policy"), "{m}");

    // Lambda: 403.
    let ll = lambda_as(&server, "AKIDLIMITED", "limited");
    ll.list_functions().send().await.unwrap();
    let e = ll.get_function().function_name("f").send().await.unwrap_err();
    let status = e.raw_response().map(|r| r.status().as_u16());
    let (c, m) = code(&e.into_service_error());
    assert_eq!((c.as_str(), status), ("AccessDeniedException", Some(403)));
    assert!(
        m.contains(
            "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:f"
        ),
        "{m}"
    );

    // The unlimited key still does everything; refusals are counted by reason.
    admin.list_tables().send().await.unwrap();
    let text = signed_get(&server, "/metrics", "secret").await.text();
    for line in [
        "sluice_auth_denied_total{operation=\"PutItem\",reason=\"implicit_deny\",service=\"dynamodb\"} 1",
        "sluice_auth_denied_total{operation=\"DeleteStream\",reason=\"explicit_deny\",service=\"kinesis\"} 1",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn subscribe_to_shard_over_h2c_is_verified_with_authority_for_host() {
    use bytes::Bytes;
    let server = Server::start_with_config(ENFORCE);
    let k = server.kinesis();
    k.create_stream().stream_name("h2s").shard_count(1).send().await.unwrap();
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/h2s";
    let c = k.register_stream_consumer().stream_arn(arn).consumer_name("c").send().await.unwrap();
    let consumer = c.consumer().unwrap().consumer_arn().to_string();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let body = serde_json::json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"}})
    .to_string();
    let authority = server.addr.to_string();
    let date = sigv4::amz_date(sluice::clock::wall_micros() / 1000);
    let target = "Kinesis_20131202.SubscribeToShard";
    let content_type = "application/x-amz-json-1.1";
    let sign = |secret: &str| {
        let headers = [
            ("content-type", content_type),
            ("host", authority.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-target", target),
        ];
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: secret,
            region: "us-east-1",
            service: "kinesis",
        };
        let request = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: body.as_bytes(),
        };
        signer.authorization(&request, &date)
    };
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    tokio::spawn(connection);
    for (secret, status) in [("wrong", 400), ("secret", 200)] {
        let mut client = client.clone().ready().await.unwrap();
        // No Host header: HTTP/2 carries :authority, which the signature's host stands for.
        let request = hyper::Request::post(format!("http://{authority}/"))
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .header("x-amz-date", &date)
            .header("authorization", sign(secret))
            .body(())
            .unwrap();
        let (response, mut send) = client.send_request(request, false).unwrap();
        send.send_data(Bytes::from(body.clone()), true).unwrap();
        let response = response.await.expect("response head");
        assert_eq!(response.status(), status, "signed with {secret}");
    }
}

/// PartiQL is authorized as AWS does it: per statement, `dynamodb:PartiQL<Kind>` on the
/// table it names.
#[tokio::test]
async fn partiql_asks_for_its_statements_kinds_on_their_tables() {
    let config = r#"[auth]
enforce = true
[[auth.keys]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "secret"
[[auth.keys]]
access_key_id = "AKIDPARTIQL"
secret_access_key = "partiql"
policy = '''
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert"],
   "Resource": "arn:aws:dynamodb:*:*:table/orders"}
]}
'''
"#;
    let server = Server::start_with_config(config);
    let admin = server.client();
    for t in ["orders", "secret"] {
        crate::harness::create_table(&admin, t, false).await;
    }
    let limited = ddb(&server, "AKIDPARTIQL", "partiql", None);
    let run = |s: &'static str| limited.execute_statement().statement(s).send();
    run("INSERT INTO orders VALUE {'pk': 'a'}").await.unwrap();
    run("SELECT * FROM orders WHERE pk = 'a'").await.unwrap();
    for (statement, action, table) in [
        ("UPDATE orders SET v = 1 WHERE pk = 'a'", "PartiQLUpdate", "orders"),
        ("DELETE FROM orders WHERE pk = 'a'", "PartiQLDelete", "orders"),
        ("SELECT * FROM secret", "PartiQLSelect", "secret"),
    ] {
        let (c, m) = code(&run(statement).await.unwrap_err().into_service_error());
        assert_eq!(c, "AccessDeniedException", "{statement}");
        let want = format!(
            "dynamodb:{action} on resource: arn:aws:dynamodb:us-east-1:000000000000:table/{table} "
        );
        assert!(m.contains(&want), "{statement}: {m}");
    }
    server.expect_denials();
}
