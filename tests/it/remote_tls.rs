//! TLS for what sluice calls: a remote Kinesis destination at an `https://` endpoint (a
//! second sluice serving TLS with a certificate from a test CA) receives the changes when
//! `tls.ca_file` names that CA, and none when sluice trusts only the system's authorities
//! (the handshake fails on the unknown issuer, and the bridge keeps retrying).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{Server, create_table};

const REMOTE_ARN: &str = "arn:aws:kinesis:eu-west-1:111122223333:stream/feed";

/// A CA, and a certificate it signed for `localhost` and 127.0.0.1: (ca.pem, cert.pem,
/// key.pem) in `dir`.
pub fn test_ca(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
    (path("ca.pem"), path("cert.pem"), path("key.pem"))
}

async fn forwarded(server: &Server) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .find(|l| l.starts_with("sluice_bridge_forwarded_records_total{") && l.contains("orders"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn bridge(endpoint: &str, ca_file: &str) -> String {
    format!(
        "[tls]\nca_file = {ca_file:?}\n[bridge]\nretry_initial_ms = 20\nretry_max_ms = 200\n[[bridge.remotes]]\nstream_arn = \"{REMOTE_ARN}\"\nendpoint = \"{endpoint}\"\nregion = \"eu-west-1\"\naccess_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n"
    )
}

async fn write_changes(server: &Server, n: usize) {
    let client = server.client();
    create_table(&client, "orders", false).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("orders")
        .stream_arn(REMOTE_ARN)
        .send()
        .await
        .unwrap();
    for i in 0..n {
        client
            .put_item()
            .table_name("orders")
            .item("pk", AttributeValue::S(format!("k{i}")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_https_remote_is_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(dir.path());
    let remote = Server::start_with_config(&format!(
        "[server]\ntls_cert = {cert:?}\ntls_key = {key:?}\n[aws]\naccount_id = \"111122223333\"\nregion = \"eu-west-1\"\n[[bootstrap.kinesis_streams]]\nname = \"feed\"\nshards = 1\n"
    ));
    assert!(remote.endpoint.starts_with("https://"), "{}", remote.endpoint);
    let endpoint = format!("https://localhost:{}", remote.addr.port());

    // Trusting the test CA: every change is accepted by the remote.
    let trusting = Server::start_with_config(&bridge(&endpoint, &ca));
    write_changes(&trusting, 3).await;
    let mut got = 0.0;
    for _ in 0..200 {
        got = forwarded(&trusting).await;
        if got >= 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got, 3.0, "{}", trusting.log());

    // Trusting only the system's authorities: the handshake fails, nothing is accepted,
    // and the log says why.
    let strict = Server::start_with_config(&bridge(&endpoint, ""));
    write_changes(&strict, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(forwarded(&strict).await, 0.0);
    let log = strict.log();
    // (A machine with no authorities at all says so instead.)
    let refused = log.contains("TLS with localhost") && log.contains("UnknownIssuer");
    assert!(refused || log.contains("no usable certificate authority"), "{log}");
}

#[tokio::test]
async fn an_https_lambda_endpoint_is_invoked_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(dir.path());
    // Another sluice serves the function over TLS; this one invokes it at lambda.endpoint.
    let (addr, rec) = crate::lambda::recorder::recorder().await;
    let function = crate::lambda::function("f", &crate::lambda::recorder::invoke_url(addr), "");
    let remote = Server::start_with_config(&format!(
        "[server]\ntls_cert = {cert:?}\ntls_key = {key:?}\n{function}"
    ));
    let endpoint = format!("https://localhost:{}", remote.addr.port());
    let local = Server::start_with_config(&format!(
        "[tls]\nca_file = {ca:?}\n[lambda]\nendpoint = \"{endpoint}\"\naccess_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n"
    ));
    let (status, error, _) =
        crate::lambda::invoke(&local.lambda(), "f", serde_json::json!({"over": "tls"})).await;
    assert_eq!((status, error), (200, None));
    rec.wait_attempts(1).await;
}

#[tokio::test]
async fn a_ca_file_that_holds_no_certificate_stops_sluice_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let e = sluice::config::Config::load_text(
        Some((
            std::path::Path::new("x.toml"),
            &format!("[tls]\nca_file = {:?}\n", bad.display().to_string()),
        )),
        Vec::new(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("tls.ca_file"), "{e}");
}
