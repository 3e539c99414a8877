//! SubscribeToShard on the wire, beside the SDK: raw HTTP/2 with prior knowledge (the
//! `h2` crate, as the Java SDK, the KCL and the JS SDK v3 connect), HTTP/1.1 chunked with a
//! CBOR request (the Java SDK's default codec), frames decoded with AWS's own decoder;
//! and the endings of a live stream: takeover after the 5-second window, deregistration
//! and stream deletion, each an exception event rather than a broken connection.

use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sluice::protocol::cbor;

use crate::fanout::{Events, FAST, position, put, records, register, subscribe};
use crate::harness::{AUTH, Server, error_of};
use crate::kinesis::{arn, create};

const SHARD0: &str = "shardId-000000000000";

/// Splits event-stream bytes into messages as they arrive.
#[derive(Default)]
pub struct Frames {
    decoder: MessageFrameDecoder,
    buf: BytesMut,
}

impl Frames {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn pop(&mut self) -> Option<Message> {
        match self.decoder.decode_frame(&mut self.buf).expect("valid frame and CRCs") {
            DecodedFrame::Complete(m) => Some(m),
            DecodedFrame::Incomplete => None,
        }
    }
}

/// A message's string header.
pub fn header(m: &Message, name: &str) -> String {
    let h = m.headers().iter().find(|h| h.name().as_str() == name);
    h.map(|h| h.value().as_string().unwrap().as_str().to_string()).unwrap_or_default()
}

/// A SubscribeToShard request for `consumer` from TRIM_HORIZON.
pub fn subscribe_request(
    addr: &str,
    consumer: &str,
    content_type: &str,
    body: Vec<u8>,
) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post(format!("http://{addr}/"))
        .header("content-type", content_type)
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body.clone())))
        .map(|request| crate::signing::sign_hyper(request, &body))
        .unwrap_or_else(|_| panic!("request for {consumer}"))
}

fn subscribe_body(consumer: &str) -> Value {
    json!({"ConsumerARN": consumer, "ShardId": SHARD0, "StartingPosition": {"Type": "TRIM_HORIZON"}})
}

#[tokio::test]
async fn h2c_prior_knowledge_with_the_h2_crate() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "java").await;
    put(&k, "s", "pk", &["before"]).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let addr = server.addr.to_string();
    let body = subscribe_body(&consumer).to_string().into_bytes();
    let request = subscribe_request(&addr, &consumer, "application/x-amz-json-1.1", body);
    let (head, _) = request.into_parts();
    let (response, mut send) =
        client.send_request(hyper::Request::from_parts(head, ()), false).unwrap();
    send.send_data(Bytes::from(subscribe_body(&consumer).to_string()), true).unwrap();
    let response = response.await.expect("response head");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
    let mut body = response.into_body();
    let mut frames = Frames::default();
    let mut next = async || loop {
        if let Some(m) = frames.pop() {
            return m;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.data()).await;
        let chunk = chunk.expect("data within 10 s").expect("stream open").expect("data");
        let _ = body.flow_control().release_capacity(chunk.len());
        frames.push(&chunk);
    };
    let initial = next().await;
    assert_eq!(header(&initial, ":event-type"), "initial-response");
    assert_eq!(initial.payload().as_ref(), b"{}");
    let first = next().await;
    assert_eq!(header(&first, ":event-type"), "SubscribeToShardEvent");
    assert_eq!(header(&first, ":content-type"), "application/x-amz-json-1.1");
    let event: Value = serde_json::from_slice(first.payload()).unwrap();
    assert_eq!(event["Records"][0]["Data"], "YmVmb3Jl");
    // Pushed over the open h2 stream as it is written (over HTTP/1.1 by the SDK).
    put(&k, "s", "pk", &["after"]).await;
    let second: Value = serde_json::from_slice(next().await.payload()).unwrap();
    assert_eq!(second["Records"][0]["Data"], "YWZ0ZXI=");
    assert_eq!(second["MillisBehindLatest"], 0);
    // Other calls share the connection meanwhile.
    let mut client = client.ready().await.unwrap();
    let mut list = hyper::Request::post(format!("http://{addr}/"));
    for (name, value) in [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "Kinesis_20131202.ListStreamConsumers"),
        ("x-amz-date", "20260101T000000Z"),
        ("authorization", AUTH),
    ] {
        list = list.header(name, value);
    }
    let body = json!({"StreamARN": arn("s")}).to_string();
    let list = crate::signing::sign_hyper(list.body(()).unwrap(), body.as_bytes());
    let (response, mut send) = client.send_request(list, false).unwrap();
    send.send_data(Bytes::from(body), true).unwrap();
    let mut response = response.await.unwrap().into_body();
    let listed = response.data().await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&listed).unwrap()["Consumers"][0]["ConsumerName"],
        "java"
    );
}

#[tokio::test]
async fn http1_chunked_with_cbor_payloads() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "kcl").await;
    put(&k, "s", "pk", &["hi"]).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(connection);
    let body = cbor::encode_input("SubscribeToShard", &subscribe_body(&consumer)).unwrap();
    let request =
        subscribe_request(&server.addr.to_string(), &consumer, "application/x-amz-cbor-1.1", body);
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert!(response.headers().get("content-length").is_none());
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
    assert_eq!(header(&messages[1], ":content-type"), "application/x-amz-cbor-1.1");
    let event = cbor::decode(messages[1].payload()).unwrap();
    assert!(format!("{event:?}").contains("Bytes([104, 105])"), "Data is a CBOR byte string");
    let event = cbor::to_json(event).unwrap();
    assert_eq!(event["Records"][0]["Data"], "aGk=");
    assert!(event["Records"][0]["ApproximateArrivalTimestamp"].is_number());
}

async fn stream_error(events: &mut Events) -> (String, String) {
    loop {
        let got = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap();
        match got {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without an exception event"),
            Err(e) => {
                // The SDK types the exception by its `:exception-type` header.
                let e = e.into_service_error();
                let code = if e.is_resource_in_use_exception() {
                    "ResourceInUseException"
                } else if e.is_resource_not_found_exception() {
                    "ResourceNotFoundException"
                } else {
                    panic!("unexpected exception event {e:?}")
                };
                return (code.into(), e.message().unwrap_or_default().into());
            }
        }
    }
}

#[tokio::test]
async fn takeover_deregistration_and_deletion_end_live_streams_with_exception_events() {
    let server = Server::start_with_config(FAST);
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "app").await;
    let latest = || position(ShardIteratorType::Latest, None);
    let mut first = subscribe(&k, &consumer, SHARD0, latest()).await;
    // Within the window (1 s here, 5 s on AWS): refused before any event.
    let again = k.subscribe_to_shard().consumer_arn(&consumer).shard_id(SHARD0);
    let refused = again.starting_position(latest()).send().await;
    let in_use = "Another active subscription exists for this consumer: 000000000000:s:shardId-000000000000:app";
    assert_eq!(error_of(refused), ("ResourceInUseException".into(), in_use.into()));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let mut second = subscribe(&k, &consumer, SHARD0, latest()).await;
    assert_eq!(stream_error(&mut first).await, ("ResourceInUseException".into(), in_use.into()));
    put(&k, "s", "pk", &["x"]).await;
    assert_eq!(records(&mut second, 1).await.0, ["x"]);

    k.deregister_stream_consumer().consumer_arn(&consumer).send().await.unwrap();
    let (code, message) = stream_error(&mut second).await;
    assert_eq!(code, "ResourceInUseException");
    assert!(
        message.ends_with("under stream: s , account 000000000000 is not in ACTIVE status."),
        "{message}"
    );

    let other = register(&k, "s", "other").await;
    let mut third = subscribe(&k, &other, SHARD0, latest()).await;
    k.delete_stream().stream_name("s").enforce_consumer_deletion(true).send().await.unwrap();
    assert_eq!(
        stream_error(&mut third).await,
        (
            "ResourceNotFoundException".into(),
            "Stream s under account 000000000000 not found.".into()
        )
    );
}

#[tokio::test]
async fn a_subscriber_that_goes_away_is_noticed() {
    let server =
        Server::start_with_config(&FAST.replace("heartbeat_ms = 300", "heartbeat_ms = 60000"));
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let consumer = register(&k, "s", "gone").await;
    let open = "sluice_kinesis_fanout_subscriptions{consumer=\"gone\",stream=\"s\"}";
    let gauge = async || {
        let text = server.metrics().await;
        text.lines().find(|l| l.starts_with(open)).map(|l| l[open.len()..].trim().to_string())
    };
    for h2 in [false, true] {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let body = subscribe_body(&consumer).to_string().into_bytes();
        let request = subscribe_request(
            &server.addr.to_string(),
            &consumer,
            "application/x-amz-json-1.1",
            body,
        );
        let connection = if h2 {
            let (mut sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                TokioIo::new(tcp),
            )
            .await
            .unwrap();
            let task = tokio::spawn(conn);
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            drop((response, sender));
            task
        } else {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
            let task = tokio::spawn(conn);
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(gauge().await.as_deref(), Some("1"));
            task.abort();
            drop((response, sender));
            task
        };
        let _ = connection.await;
        let mut closed = false;
        for _ in 0..50 {
            if gauge().await.as_deref() == Some("0") {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed, "h2 {h2}: the subscription outlived its client");
        tokio::time::sleep(Duration::from_millis(1050)).await;
    }
}
