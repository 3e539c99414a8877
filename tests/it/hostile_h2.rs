//! Hostile input over HTTP/2 cleartext (prior knowledge): oversized header lists,
//! oversized and stalled bodies, stream floods past `server.http2_max_concurrent_streams`,
//! rapid resets and CONTINUATION floods, and idle connections past
//! `server.idle_timeout_ms`. Well-formed requests go through the `h2` crate; the floods
//! are written as raw frames, since a well-behaved client refuses to send them. Each case
//! ends in an AWS error, a refused stream or a closed connection, never a crash or a
//! hang, and afterwards the daemon still answers normally. A live event stream outlasts
//! the idle timeout untouched.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use crate::fanout_transport::{Frames, header, subscribe_request};
use crate::harness::{AUTH, Server};
use crate::hostile::assert_serving;

/// Tight limits so the stalled-body cases finish in about a second each.
const TIGHT: &str = "[server]\nrequest_read_timeout_ms = 1000\nmax_body_bytes = 1048576\n";

/// An h2c connection through the `h2` crate, its driver on a task of its own (which
/// ends when the server closes the connection).
async fn connect(server: &Server) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, driver)
}

/// A DynamoDB request head for `operation`, with `extra` headers.
fn dynamodb(operation: &str, extra: &[(String, String)]) -> hyper::Request<()> {
    let mut request = hyper::Request::post("http://sluice/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTH);
    for (name, value) in extra {
        request = request.header(name, value);
    }
    // Signed over `{}`, ListTables's body (the enforcing run).
    crate::signing::sign_hyper(request.body(()).expect("request head"), b"{}")
}

/// Sends `head` then `body` (ending the stream) and reads the whole answer: status and
/// body, or the stream's error (a reset).
async fn exchange(
    client: &mut h2::client::SendRequest<Bytes>,
    head: hyper::Request<()>,
    body: &[u8],
) -> Result<(u16, Vec<u8>), h2::Error> {
    let mut client = client.clone().ready().await?;
    let (response, mut send) = client.send_request(head, false)?;
    send.send_data(Bytes::copy_from_slice(body), true)?;
    answer(response).await
}

/// The status and whole body of a response, within 20 s.
async fn answer(response: h2::client::ResponseFuture) -> Result<(u16, Vec<u8>), h2::Error> {
    tokio::time::timeout(Duration::from_secs(20), async {
        let response = response.await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    })
    .await
    .expect("an answer or a reset within 20 s")
}

fn error_type(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    v["__type"].as_str().unwrap_or_default().to_string()
}

/// ListTables on `client` answers 200: the connection still serves.
async fn assert_list_tables(client: &mut h2::client::SendRequest<Bytes>) {
    let (status, body) =
        exchange(client, dynamodb("ListTables", &[]), b"{}").await.expect("ListTables over h2");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn h2_oversized_header_lists_get_431_and_the_connection_serves_on() {
    let server = Server::start();
    let (mut client, _driver) = connect(&server).await;
    // 80 KiB of headers, past server.max_header_bytes (64 KiB).
    let flood: Vec<(String, String)> =
        (0..80).map(|i| (format!("x-flood-{i}"), "a".repeat(1000))).collect();
    let (status, _) =
        exchange(&mut client, dynamodb("ListTables", &flood), b"{}").await.expect("an answer");
    assert_eq!(status, 431);
    // The same connection goes on serving.
    assert_list_tables(&mut client).await;
    // One header far past the limit (a CONTINUATION chain): the stream or, past h2's
    // abuse limit, the connection is refused; the daemon serves on either way.
    let (mut client, _driver) = connect(&server).await;
    let huge = [("x-huge".to_string(), "b".repeat(1 << 20))];
    let refused = exchange(&mut client, dynamodb("ListTables", &huge), b"{}").await;
    assert!(
        refused.as_ref().is_err() || refused.as_ref().is_ok_and(|(s, _)| *s == 431),
        "{refused:?}"
    );
    assert_serving(&server).await;
}

#[tokio::test]
async fn h2_oversized_bodies_get_413_and_stalled_bodies_408() {
    let server = Server::start_with_config(TIGHT);
    let (mut client, _driver) = connect(&server).await;

    // Declared past max_body_bytes: refused up front.
    let declared = [("content-length".to_string(), "2000000".to_string())];
    let head = dynamodb("PutItem", &declared);
    let mut ready = client.clone().ready().await.expect("ready");
    let (response, _send) = ready.send_request(head, false).expect("send");
    let (status, body) = answer(response).await.expect("413 answer");
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(
        error_type(&body).ends_with("RequestEntityTooLarge"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // Streamed past it with no length: cut off at the limit with the same answer.
    let mut ready = client.clone().ready().await.expect("ready");
    let (response, mut send) = ready.send_request(dynamodb("PutItem", &[]), false).expect("send");
    for _ in 0..24 {
        // Queued in h2's send buffer; the answer may come (and the stream end) first.
        if send.send_data(Bytes::from(vec![b' '; 65536]), false).is_err() {
            break;
        }
    }
    let (status, body) = answer(response).await.expect("413 answer");
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(error_type(&body).ends_with("RequestEntityTooLarge"));
    assert_list_tables(&mut client).await;

    // Headers, then a body that never comes: 408 after request_read_timeout_ms, and the
    // stream (only it) ends.
    let mut ready = client.clone().ready().await.expect("ready");
    let (response, _send) = ready.send_request(dynamodb("PutItem", &[]), false).expect("send");
    let (status, body) = answer(response).await.expect("408 answer");
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    assert!(
        error_type(&body).ends_with("RequestTimeoutException"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Half a body, then silence: the same.
    let mut ready = client.clone().ready().await.expect("ready");
    let (response, mut send) = ready.send_request(dynamodb("PutItem", &[]), false).expect("send");
    send.send_data(Bytes::from_static(b"{\"TableName\":"), false).expect("data");
    let (status, _) = answer(response).await.expect("408 answer");
    assert_eq!(status, 408);
    assert_list_tables(&mut client).await;
    assert_serving(&server).await;
}

// ---- Raw HTTP/2 frames, for what the h2 crate will not send. ----

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const REFUSED_STREAM: u32 = 7;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 5.1), the prefix bits zero.
fn hpack_int(out: &mut Vec<u8>, value: usize, n: u32) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(value as u8);
        return;
    }
    out.push(max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A header block of literal fields without indexing (no Huffman, no table state).
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0);
        hpack_int(&mut out, name.len(), 7);
        out.extend_from_slice(name.as_bytes());
        hpack_int(&mut out, value.len(), 7);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// A ListTables request head.
fn list_tables_block() -> Vec<u8> {
    header_block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "sluice"),
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "DynamoDB_20120810.ListTables"),
        ("x-amz-date", "20260101T000000Z"),
        ("authorization", AUTH),
    ])
}

/// What the server sent on a raw connection.
#[derive(Debug, Default)]
struct Seen {
    /// Stream ids the server answered with a HEADERS frame.
    answered: Vec<u32>,
    /// (stream id, error code) of each RST_STREAM.
    resets: Vec<(u32, u32)>,
    /// Error code of a GOAWAY, if one came.
    goaway: Option<u32>,
}

/// A raw connection past the handshake (prefaces and SETTINGS exchanged and acknowledged),
/// split so frames are read while the flood is written.
async fn raw_connect(server: &Server) -> (tokio::net::tcp::OwnedWriteHalf, OwnedReadHalf) {
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(PREFACE).await.expect("preface");
    writer.write_all(&frame(SETTINGS, 0, 0, &[])).await.expect("settings");
    // Acknowledge the server's SETTINGS, so its limits apply.
    loop {
        let (kind, flags, _, _) = read_frame(&mut reader).await.expect("server SETTINGS");
        if kind == SETTINGS && flags & ACK == 0 {
            break;
        }
    }
    writer.write_all(&frame(SETTINGS, ACK, 0, &[])).await.expect("settings ack");
    (writer, reader)
}

async fn read_frame(reader: &mut OwnedReadHalf) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    reader.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], stream, payload))
}

/// Reads frames until the server closes the connection or `until` says enough.
async fn read_frames(mut reader: OwnedReadHalf, until: impl Fn(&Seen) -> bool) -> Seen {
    let mut seen = Seen::default();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some((kind, _, stream, payload)) = read_frame(&mut reader).await {
            match kind {
                HEADERS => seen.answered.push(stream),
                RST_STREAM => {
                    let code = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes"));
                    seen.resets.push((stream, code));
                }
                GOAWAY => {
                    seen.goaway = Some(u32::from_be_bytes(payload[4..8].try_into().expect("code")));
                }
                _ => {}
            }
            if until(&seen) {
                break;
            }
        }
    })
    .await;
    read.unwrap_or_else(|_| panic!("no end within 20 s; saw {seen:?}"));
    seen
}

#[tokio::test]
async fn h2_stream_floods_rapid_resets_and_continuation_floods_leave_the_server_serving() {
    let config = format!("{TIGHT}http2_max_concurrent_streams = 16\n");
    let server = Server::start_with_config(&config);

    // 100 streams opened at once, each waiting for a body, against a limit of 16: the
    // excess is refused, the rest are answered (408, as no body comes).
    let (mut writer, reader) = raw_connect(&server).await;
    let block = list_tables_block();
    let mut flood = Vec::new();
    for i in 0..100u32 {
        flood.extend(frame(HEADERS, END_HEADERS, 2 * i + 1, &block));
    }
    writer.write_all(&flood).await.expect("flood");
    let seen =
        read_frames(reader, |s| s.goaway.is_some() || s.answered.len() + s.resets.len() >= 100)
            .await;
    let refused = seen.resets.iter().filter(|(_, code)| *code == REFUSED_STREAM).count();
    assert!(refused >= 100 - 16, "the streams past the limit are refused: {seen:?}");
    assert!(seen.answered.len() <= 16, "no more than 16 served: {seen:?}");
    assert_serving(&server).await;

    // Rapid reset (CVE-2023-44487): complete requests opened and cancelled at once, 5000
    // of them: the connection is closed with a GOAWAY (hyper's limit on pending resets),
    // and the daemon does not fall over.
    let (mut writer, reader) = raw_connect(&server).await;
    let mut burst = Vec::new();
    for i in 0..5000u32 {
        let id = 2 * i + 1;
        burst.extend(frame(HEADERS, END_HEADERS, id, &block));
        burst.extend(frame(DATA, END_STREAM, id, b"{}"));
        burst.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    let _ = writer.write_all(&burst).await;
    let _ = writer.shutdown().await;
    let seen = read_frames(reader, |s| s.goaway.is_some()).await;
    assert!(seen.goaway.is_some(), "the reset flood ends in a GOAWAY: {seen:?}");
    assert_serving(&server).await;

    // CONTINUATION flood (CVE-2024-27316 and kin): a header block that never ends, 16 KiB
    // at a time: the connection is closed before it grows without bound.
    let (mut writer, reader) = raw_connect(&server).await;
    let mut block = header_block(&[(":method", "POST"), (":scheme", "http"), (":path", "/")]);
    block.extend(header_block(&[("x-a", &"a".repeat(16_000))]));
    let _ = writer.write_all(&frame(HEADERS, 0, 1, &block)).await;
    let reading = tokio::spawn(read_frames(reader, |s| s.goaway.is_some()));
    let filler = header_block(&[("x-b", &"b".repeat(16_000))]);
    for _ in 0..4096 {
        if writer.write_all(&frame(CONTINUATION, 0, 1, &filler)).await.is_err() {
            break;
        }
        if reading.is_finished() {
            break;
        }
    }
    let seen = reading.await.expect("reader");
    assert!(seen.goaway.is_some(), "the flood ends in a GOAWAY: {seen:?}");
    assert_serving(&server).await;
}

#[tokio::test]
async fn h2_idle_connections_are_closed_and_live_streams_are_not() {
    // Idle after 1 s; PINGs every 200 ms, which must not keep a connection open; an event
    // stream that lasts 6 s with a heartbeat every 300 ms.
    // The metrics listener too, on a port free a moment ago.
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = format!(
        "[server]\nidle_timeout_ms = 1000\nhttp2_keepalive_interval_ms = 200\n\
         metrics_listen = \"{metrics_port}\"\n\
         [kinesis]\nconsumer_create_delay_ms = 0\nsubscription_heartbeat_ms = 300\n\
         subscription_lifetime_ms = 6000\n"
    );
    let server = Server::start_with_config(&config);

    // A connection that never sends a byte is closed.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "a silent connection is closed: {read:?}");
    // On the metrics listener as well, which still answers.
    let mut silent = TcpStream::connect(metrics_port).await.expect("connect to metrics");
    let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "a silent scraper is closed: {read:?}");
    let mut scraper = TcpStream::connect(metrics_port).await.expect("connect to metrics");
    scraper.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), scraper.read_to_end(&mut answer));
    read.await.expect("answered, then closed once idle").expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));

    // An h2 connection that made one request, then only answers PINGs: closed (GOAWAY;
    // the h2 crate's connection future ends).
    let (mut client, driver) = connect(&server).await;
    assert_list_tables(&mut client).await;
    tokio::time::timeout(Duration::from_secs(20), driver)
        .await
        .expect("an idle h2 connection is closed")
        .expect("driver");

    // A live SubscribeToShard stream on an otherwise idle connection runs its whole
    // 6 s (six idle timeouts) and the connection takes new requests meanwhile (no GOAWAY
    // went out); once the stream has ended, the connection, now idle, is closed.
    let k = server.kinesis();
    crate::kinesis::create(&k, "s", 1).await;
    let consumer = crate::fanout::register(&k, "s", "idle").await;
    let (client, driver) = connect(&server).await;
    let mut other = client.clone();
    let mut client = client.ready().await.expect("ready");
    let addr = server.addr.to_string();
    let body = json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"}});
    let wire_body = body.to_string().into_bytes();
    let (head, _) =
        subscribe_request(&addr, &consumer, "application/x-amz-json-1.1", wire_body).into_parts();
    let (response, mut send) =
        client.send_request(hyper::Request::from_parts(head, ()), false).expect("subscribe");
    send.send_data(Bytes::from(body.to_string()), true).expect("subscribe body");
    let response = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("response head within 20 s")
        .expect("response head");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut frames = Frames::default();
    let mut events = 0;
    let mut checked = false;
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.data())
            .await
            .expect("an event or the end within 20 s");
        let Some(chunk) = chunk else { break };
        let chunk = chunk.expect("the stream is never cut");
        let _ = body.flow_control().release_capacity(chunk.len());
        frames.push(&chunk);
        while let Some(m) = frames.pop() {
            if header(&m, ":event-type") == "SubscribeToShardEvent" {
                events += 1;
            }
        }
        // Eight heartbeats 300 ms apart: more than two idle timeouts have passed.
        if events >= 8 && !checked {
            checked = true;
            assert_list_tables(&mut other).await;
        }
    }
    assert!(checked, "the stream ended after {events} heartbeats, before its lifetime");
    tokio::time::timeout(Duration::from_secs(20), driver)
        .await
        .expect("the connection is closed once idle")
        .expect("driver");
    assert_serving(&server).await;
}
