//! TLS and shutdown. With `server.tls_cert` / `server.tls_key` (a self-signed certificate
//! made here with rcgen) the one port speaks TLS, negotiating `h2` or `http/1.1` by ALPN,
//! and SubscribeToShard streams over it. On SIGTERM, open subscriptions end cleanly (the
//! SDK sees the end of the stream, not an error) and the daemon exits well within its
//! grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};

use crate::fanout::{FAST, position, register, subscribe};
use crate::fanout_transport::{Frames, header};
use crate::harness::{AUTH, Server};
use crate::kinesis::{arn, create};

/// A TLS connection to `server` offering `alpn`, trusting only `cert`.
async fn connect(
    server: &Server,
    cert: &rcgen::CertifiedKey,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn), "ALPN");
    tls
}

fn request(server: &Server, op: &str, body: &Value) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post(format!("https://localhost:{}/", server.addr.port()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Kinesis_20131202.{op}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body.to_string())))
        .map(|request| crate::signing::sign_hyper(request, body.to_string().as_bytes()))
        .unwrap()
}

#[tokio::test]
async fn tls_with_alpn_h2_and_http1_on_the_one_port() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let config = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\n\n{FAST}",
        cert_path.display().to_string(),
        key_path.display().to_string()
    );
    let server = Server::start_with_config(&config);
    assert!(server.endpoint.starts_with("https://"), "{}", server.endpoint);

    // HTTP/2 by ALPN: set up a stream and a consumer, subscribe, and receive a record.
    let tls = connect(&server, &cert, b"h2").await;
    let (mut h2, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut call = async |op: &str, body: Value| {
        let response = h2.send_request(request(&server, op, &body)).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(status, 200, "{op}: {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    call("CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await;
    let registered =
        call("RegisterStreamConsumer", json!({"StreamARN": arn("s"), "ConsumerName": "c"})).await;
    let consumer = registered["Consumer"]["ConsumerARN"].as_str().unwrap().to_string();
    call("PutRecord", json!({"StreamName": "s", "PartitionKey": "k", "Data": "dGxz"})).await;
    let subscribe_body = json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
                                "StartingPosition": {"Type": "TRIM_HORIZON"}});
    let response = h2.send_request(request(&server, "SubscribeToShard", &subscribe_body)).await;
    let response = response.unwrap();
    assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
    let mut body = response.into_body();
    let mut frames = Frames::default();
    let mut messages = Vec::new();
    while messages.len() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.unwrap();
        frames.push(frame.unwrap().unwrap().data_ref().unwrap());
        while let Some(m) = frames.pop() {
            messages.push(m);
        }
    }
    assert_eq!(header(&messages[0], ":event-type"), "initial-response");
    let event: Value = serde_json::from_slice(messages[1].payload()).unwrap();
    assert_eq!(event["Records"][0]["Data"], "dGxz");

    // HTTP/1.1 by ALPN on the same port.
    let tls = connect(&server, &cert, b"http/1.1").await;
    let (mut h1, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(connection);
    let response = h1.send_request(request(&server, "ListStreams", &json!({}))).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_11);
    let listed = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(serde_json::from_slice::<Value>(&listed).unwrap()["StreamNames"], json!(["s"]));

    // Cleartext is not served on a TLS port: the answer is a TLS alert, not HTTP.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the daemon closes the connection");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
}

#[tokio::test]
async fn sigterm_ends_open_subscriptions_cleanly() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "app").await;
    let mut events =
        subscribe(&k, &consumer, "shardId-000000000000", position(ShardIteratorType::Latest, None))
            .await;
    let started = Instant::now();
    let exit = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(8)));
    // The stream ends (no exception event, no broken connection) as the daemon drains.
    loop {
        let got = tokio::time::timeout(Duration::from_secs(8), events.recv()).await;
        match got.expect("the stream ends within the grace period") {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => panic!("the stream broke instead of ending: {e:?}"),
        }
    }
    let status = exit.await.unwrap();
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
