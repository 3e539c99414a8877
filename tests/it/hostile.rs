//! Hostile input over raw HTTP: malformed, truncated, oversized and deeply nested bodies,
//! wrong types and invalid UTF-8, header floods, slow senders and more connections than
//! `server.max_connections`. Each must end in AWS's error, a 4xx from the HTTP layer or a
//! closed connection, never a 500, a crash or a hang; afterwards the daemon still answers
//! normally, and a batch of it leaves the daemon's memory bounded.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{AUTH, RawResponse, Server};

const CORAL: &str = "com.amazon.coral.service#";

/// Request headers as (name, value) pairs.
type Headers = [(&'static str, &'static str)];
const VALIDATE: &str = "com.amazon.coral.validate#";

/// Tight limits so the slow-sender cases finish in about a second each.
const TIGHT: &str = "[server]\nheader_read_timeout_ms = 1000\nrequest_read_timeout_ms = 1000\nmax_body_bytes = 1048576\n";

/// The daemon still serves a normal request of each service.
pub async fn assert_serving(server: &Server) {
    let r = server.post("ListTables", b"{}", &[]).await;
    assert_eq!(r.status, 200, "ListTables after the abuse: {}", r.text());
    let kinesis = [("Content-Type", "application/x-amz-json-1.1")];
    let r = server.post("Kinesis_20131202.ListStreams", b"{}", &kinesis).await;
    assert_eq!(r.status, 200, "ListStreams after the abuse: {}", r.text());
}

/// Everything the server sends on `stream` until it closes (or resets) the connection;
/// panics if it neither answers nor closes within 20 s.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.expect("the server neither answered nor closed within 20 s");
    raw
}

/// The status of a raw response, or `None` when the server closed without one.
fn status_of(raw: &[u8]) -> Option<u16> {
    let line = raw.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line).ok()?.split(' ').nth(1)?.parse().ok()
}

fn head(target: &str, content_type: &str, extra: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: sluice\r\nContent-Type: {content_type}\r\nX-Amz-Target: {target}\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\n{extra}\r\n"
    )
}

fn error_type(r: &RawResponse) -> String {
    r.json()["__type"].as_str().unwrap_or_default().to_string()
}

/// JSON nested `depth` levels: arrays, or objects when `objects`.
fn nested_json(depth: usize, objects: bool) -> Vec<u8> {
    let (open, close) = if objects { ("{\"a\":", "}") } else { ("[", "]") };
    let mut body = open.repeat(depth);
    body.push('1');
    body.push_str(&close.repeat(depth));
    body.into_bytes()
}

/// An attribute value nested `depth` levels deep, as a map or a list.
fn nested_value(depth: usize, list: bool) -> Value {
    let mut v = json!({"S": "x"});
    for _ in 0..depth {
        v = if list { json!({"L": [v]}) } else { json!({"M": {"a": v}}) };
    }
    v
}

#[tokio::test]
async fn malformed_bodies_get_aws_errors() {
    let server = Server::start();
    let create = json!({"TableName": "tbl", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]});
    let r = server.post("CreateTable", create.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let serialization = format!("{CORAL}SerializationException");
    let validation = format!("{VALIDATE}ValidationException");
    let deep_item = |list| {
        json!({"TableName": "tbl", "Item": {"k": {"S": "a"}, "v": nested_value(60, list)}})
            .to_string()
            .into_bytes()
    };
    let deep_condition = json!({"TableName": "tbl", "Item": {"k": {"S": "a"}},
        "ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": nested_value(60, false)}})
    .to_string()
    .into_bytes();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        // Truncated, not JSON, not an object, invalid UTF-8, out-of-range numbers.
        ("truncated", "PutItem", b"{\"TableName\": \"tbl\", \"Item\": {".to_vec(), &serialization),
        ("garbage", "ListTables", b"\x00\x01\x02not json".to_vec(), &serialization),
        ("null", "ListTables", b"null".to_vec(), &serialization),
        ("array", "ListTables", b"[1, 2]".to_vec(), &serialization),
        ("string", "ListTables", b"\"x\"".to_vec(), &serialization),
        ("huge number", "ListTables", b"{\"Limit\": 1e999999}".to_vec(), &serialization),
        (
            "invalid utf-8",
            "DescribeTable",
            b"{\"TableName\": \"\xff\xfe\xfd\"}".to_vec(),
            &serialization,
        ),
        (
            "lone surrogate",
            "DescribeTable",
            b"{\"TableName\": \"\\ud800\"}".to_vec(),
            &serialization,
        ),
        // Wrong JSON types for members.
        ("number for string", "DescribeTable", b"{\"TableName\": 5}".to_vec(), &serialization),
        ("string for number", "ListTables", b"{\"Limit\": \"5\"}".to_vec(), &serialization),
        (
            "object for list",
            "BatchGetItem",
            b"{\"RequestItems\": {\"tbl\": {\"Keys\": {}}}}".to_vec(),
            &serialization,
        ),
        (
            "bad attribute value",
            "PutItem",
            b"{\"TableName\":\"tbl\",\"Item\":{\"k\":{\"S\":5}}}".to_vec(),
            &serialization,
        ),
        // Nesting: past serde_json's 128 levels, and attribute values past DynamoDB's 32.
        ("deep arrays", "PutItem", nested_json(100_000, false), &validation),
        ("deep objects", "PutItem", nested_json(100_000, true), &validation),
        ("deep map value", "PutItem", deep_item(false), &validation),
        ("deep list value", "PutItem", deep_item(true), &validation),
        ("deep expression value", "PutItem", deep_condition, &validation),
    ];
    for (what, op, body, want) in cases {
        let r = server.post(op, &body, &[]).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert_eq!(error_type(&r), want, "{what}: {}", r.text());
    }

    // Kinesis, JSON 1.1 and CBOR, and DynamoDB Streams: the same kinds of abuse.
    let json11 = [("Content-Type", "application/x-amz-json-1.1")];
    let cbor = [("Content-Type", "application/x-amz-cbor-1.1")];
    let streams = [("Content-Type", "application/x-amz-json-1.0")];
    let cases: Vec<(&str, &str, &Headers, Vec<u8>, &str)> = vec![
        (
            "truncated",
            "Kinesis_20131202.PutRecord",
            &json11,
            b"{\"StreamName\":".to_vec(),
            "SerializationException",
        ),
        (
            "deep",
            "Kinesis_20131202.PutRecords",
            &json11,
            nested_json(100_000, false),
            "ValidationException",
        ),
        (
            "wrong type",
            "Kinesis_20131202.PutRecord",
            &json11,
            b"{\"StreamName\": [], \"Data\": 1}".to_vec(),
            "SerializationException",
        ),
        (
            "invalid utf-8",
            "Kinesis_20131202.ListShards",
            &json11,
            b"{\"StreamName\": \"\xc3\x28\"}".to_vec(),
            "SerializationException",
        ),
        (
            "cbor truncated",
            "Kinesis_20131202.PutRecord",
            &cbor,
            vec![0xbf, 0x6a],
            "SerializationException",
        ),
        (
            "cbor invalid utf-8",
            "Kinesis_20131202.ListShards",
            &cbor,
            vec![0xa1, 0x62, 0xff, 0xfe, 0x01],
            "SerializationException",
        ),
        (
            "cbor deep",
            "Kinesis_20131202.PutRecords",
            &cbor,
            vec![0x81; 1 << 16],
            "SerializationException",
        ),
        (
            "cbor huge length",
            "Kinesis_20131202.PutRecord",
            &cbor,
            vec![0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            "SerializationException",
        ),
        (
            "streams truncated",
            "DynamoDBStreams_20120810.GetRecords",
            &streams,
            b"{\"ShardIterator\"".to_vec(),
            "com.amazon.coral.service#SerializationException",
        ),
        (
            "streams wrong type",
            "DynamoDBStreams_20120810.GetShardIterator",
            &streams,
            b"{\"StreamArn\": {}}".to_vec(),
            "com.amazon.coral.service#SerializationException",
        ),
    ];
    for (what, target, headers, body, want) in cases {
        let r = server.post(target, &body, headers).await;
        assert_eq!(r.status, 400, "{what}: {:?}", r.text());
        if headers[0].1.contains("cbor") {
            assert_eq!(r.header("content-type"), Some("application/x-amz-cbor-1.1"), "{what}");
            assert!(r.body.windows(want.len()).any(|w| w == want.as_bytes()), "{what}: {r:?}");
        } else {
            assert_eq!(error_type(&r), want, "{what}: {}", r.text());
        }
    }
    assert_serving(&server).await;
}

#[tokio::test]
async fn header_floods_get_431_and_bad_heads_400() {
    let server = Server::start();
    // An Authorization header that is not text: refused as a missing signature.
    server.expect_denials();
    // More header fields than server.max_headers (100).
    let many: String = (0..300).map(|i| format!("X-Flood-{i}: {i}\r\n")).collect();
    let request = head("DynamoDB_20120810.ListTables", "application/x-amz-json-1.0", &many);
    let r = server.exchange(format!("{request}Content-Length: 2\r\n\r\n{{}}").into_bytes()).await;
    assert_eq!(r.status, 431, "{r:?}");
    // One header larger than server.max_header_bytes (64 KiB).
    let big = format!("X-Big: {}\r\n", "a".repeat(200_000));
    let request = head("DynamoDB_20120810.ListTables", "application/x-amz-json-1.0", &big);
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // The server may answer and close before it has read it all.
    let _ = stream.write_all(request.as_bytes()).await;
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&raw), Some(431), "{:?}", String::from_utf8_lossy(&raw));
    // Invalid UTF-8 in the target header: no operation it could name.
    let mut request =
        b"POST / HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.\xff\xfe\r\n"
            .to_vec();
    request.extend_from_slice(
        format!("X-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").as_bytes(),
    );
    let r = server.exchange(request).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(error_type(&r), format!("{CORAL}UnknownOperationException"));
    // Invalid UTF-8 in the Authorization header: refused as unauthenticated, not a crash.
    let mut request = head("DynamoDB_20120810.ListTables", "application/x-amz-json-1.0", "")
        .replace(&format!("Authorization: {AUTH}\r\n"), "")
        .into_bytes();
    request.truncate(request.len() - 2);
    request.extend_from_slice(b"Authorization: AWS4-HMAC-SHA256 \xff\xff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    let r = server.exchange(request).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(error_type(&r).starts_with(CORAL), "{}", r.text());
    // A control byte in a header name, a garbage request line, a bad Content-Length:
    // the HTTP layer's 400 or a closed connection.
    for raw in [
        b"POST / HTTP/1.1\r\nHost: x\r\nX-\x01Bad: 1\r\n\r\n".to_vec(),
        b"\x00\x01\x02 / HTTP/1.1\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
    ] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(&raw).await.expect("write");
        let answer = read_until_closed(&mut stream).await;
        let status = status_of(&answer);
        assert!(
            status.is_none() || status.is_some_and(|s| (400..500).contains(&s)),
            "{:?} answered {:?}",
            String::from_utf8_lossy(&raw),
            String::from_utf8_lossy(&answer)
        );
    }
    assert_serving(&server).await;
}

#[tokio::test]
async fn truncated_oversized_and_slow_bodies_end_cleanly() {
    let server = Server::start_with_config(TIGHT);
    let target = "DynamoDB_20120810.PutItem";
    let content_type = "application/x-amz-json-1.0";

    // Content-Length promises more than is sent, then the client closes its side: the
    // request is never run and the connection ends, with no answer or a 4xx.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = head(target, content_type, "Content-Length: 1000\r\n");
    stream.write_all(format!("{request}{{\"TableName\":").as_bytes()).await.expect("write");
    stream.shutdown().await.expect("half close");
    let raw = read_until_closed(&mut stream).await;
    assert!(status_of(&raw).is_none_or(|s| (400..500).contains(&s)), "{raw:?}");

    // The same, but the client stays and says nothing more: 408 after
    // request_read_timeout_ms.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(format!("{request}{{\"TableName\":").as_bytes()).await.expect("write");
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&raw), Some(408), "{:?}", String::from_utf8_lossy(&raw));
    assert!(String::from_utf8_lossy(&raw).contains("RequestTimeoutException"));

    // A chunked body trickled a byte at a time: also cut off at the read timeout.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = head(target, content_type, "Transfer-Encoding: chunked\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // Stops writing once the server has answered (the read side below sees it).
    let mut answer = Vec::new();
    let (reader, mut writer) = stream.split();
    let mut reader = tokio::io::BufReader::new(reader);
    tokio::select! {
        _ = reader.read_to_end(&mut answer) => {},
        () = async {
            for _ in 0..200 {
                if writer.write_all(b"1\r\n \r\n").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } => panic!("20 s of trickling and no answer"),
    }
    assert_eq!(status_of(&answer), Some(408), "{:?}", String::from_utf8_lossy(&answer));

    // A chunked body (no Content-Length to refuse up front) past max_body_bytes: 413.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
    for _ in 0..20 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&raw), Some(413), "{:?}", String::from_utf8_lossy(&raw));

    // Slowloris: headers trickled a byte at a time are cut off at
    // header_read_timeout_ms, with the connection closed.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        for i in 0u32.. {
            if stream.write_all(format!("X-{i}: {i}\r\n").as_bytes()).await.is_err() {
                return;
            }
            let mut buf = [0u8; 256];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await
            {
                // Closed (0), or an answer such as 408 before the close.
                assert!(n == 0 || status_of(&buf[..n]).is_some_and(|s| s >= 400), "{buf:?}");
                return;
            }
        }
    })
    .await;
    closed.expect("a trickled header section was not cut off within 20 s");

    // An idle keep-alive connection is closed after the same timeout.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = head("DynamoDB_20120810.ListTables", content_type, "Content-Length: 2\r\n");
    let wire = crate::signing::sign_wire(format!("{request}{{}}").into_bytes());
    stream.write_all(&wire).await.expect("write");
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&raw), Some(200), "{:?}", String::from_utf8_lossy(&raw));

    assert_serving(&server).await;
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_for_a_slot() {
    let server = Server::start_with_config("[server]\nmax_connections = 4\n");
    // Four connections that say nothing hold every slot.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let waiting = tokio::spawn({
        let addr = server.addr;
        async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let request = head(
                "DynamoDB_20120810.ListTables",
                "application/x-amz-json-1.0",
                "Content-Length: 2\r\nConnection: close\r\n",
            );
            let wire = crate::signing::sign_wire(format!("{request}{{}}").into_bytes());
            stream.write_all(&wire).await.expect("write");
            read_until_closed(&mut stream).await
        }
    });
    // Not served while the slots are taken (this can only fail if the limit is broken).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fifth connection was served past max_connections = 4");
    // One idle client leaves: its slot goes to the waiting one.
    drop(idle.pop());
    let raw = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the waiting connection was served once a slot freed")
        .expect("join");
    assert_eq!(status_of(&raw), Some(200), "{:?}", String::from_utf8_lossy(&raw));
    drop(idle);
    // Every slot is back: normal requests flow.
    assert_serving(&server).await;
}

/// A memory figure of the daemon from /proc (`VmRSS`: resident now, `VmHWM`: the peak).
pub fn proc_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with(field)).expect("proc status field");
    let kb: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("kB");
    kb * 1024
}

/// The daemon's resident set.
pub fn rss_bytes(pid: u32) -> u64 {
    proc_bytes(pid, "VmRSS:")
}

#[tokio::test]
async fn a_hostile_batch_leaves_memory_bounded() {
    let server = Server::start_with_config(TIGHT);
    assert_serving(&server).await;
    let before = rss_bytes(server.pid());
    let wide = {
        // A 1 MiB body that is one huge array: the largest parse the limit allows.
        let mut body = String::from("{\"TableName\":\"tbl\",\"Item\":[");
        while body.len() < 1_048_000 {
            body.push_str("0,");
        }
        body.push_str("0]}");
        body.into_bytes()
    };
    for round in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let addr = server.addr;
            let wide = wide.clone();
            tasks.push(tokio::spawn(async move {
                let body = match i % 4 {
                    0 => wide,
                    1 => nested_json(200_000, false),
                    2 => b"{\"TableName\": \"\xff".to_vec(),
                    // 5000 levels of L, past serde_json's 128-level limit, written by hand:
                    // a serde_json Value that deep would overflow this test's own stack.
                    _ => format!(
                        "{{\"TableName\":\"tbl\",\"Item\":{{\"k\":{}{{\"S\":\"x\"}}{}}}}}",
                        "{\"L\":[".repeat(5000),
                        "]}".repeat(5000)
                    )
                    .into_bytes(),
                };
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                let request = head(
                    "DynamoDB_20120810.PutItem",
                    "application/x-amz-json-1.0",
                    &format!("Content-Length: {}\r\nConnection: close\r\n", body.len()),
                );
                let wire = crate::signing::sign_wire([request.as_bytes(), &body].concat());
                let _ = stream.write_all(&wire).await;
                let raw = read_until_closed(&mut stream).await;
                let status = status_of(&raw);
                assert!(
                    status.is_some_and(|s| (400..500).contains(&s)),
                    "round {round}: {status:?}"
                );
            }));
        }
        // Slow and oversized senders alongside.
        for _ in 0..16 {
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                let request = head(
                    "DynamoDB_20120810.PutItem",
                    "application/x-amz-json-1.0",
                    "Content-Length: 100000000\r\n",
                );
                let _ = stream.write_all(request.as_bytes()).await;
                let raw = read_until_closed(&mut stream).await;
                assert_eq!(status_of(&raw), Some(413));
            }));
        }
        for task in tasks {
            task.await.expect("hostile client");
        }
    }
    assert_serving(&server).await;
    let after = rss_bytes(server.pid());
    let grown = after.saturating_sub(before);
    assert!(grown < 200 << 20, "RSS grew by {} MiB ({before} -> {after} bytes)", grown >> 20);
}

/// The daemon's peak resident set so far.
pub fn peak_rss_bytes(pid: u32) -> u64 {
    proc_bytes(pid, "VmHWM:")
}

/// A 3.6 MB PutItem of 400,000 tiny list elements (an item just under 400 KB) decodes to
/// tens of MiB; eight at once
/// would take up to eight times that (as many as there are worker threads). With
/// `server.max_decode_bytes` at its 1 MiB minimum each is estimated above the whole
/// budget and runs alone, so eight cost about what one does. The allocator is told to
/// return freed memory at once (mimalloc; glibc, without the feature, keeps one arena),
/// so the peak shows live memory, not what per-thread heaps keep for a while after a
/// request.
#[tokio::test]
async fn bodies_of_tiny_values_are_decoded_within_the_decode_budget() {
    let server = Server::start_with_config_env(
        "[server]\nmax_body_bytes = 4194304\nmax_decode_bytes = 1048576\n",
        &[("MALLOC_ARENA_MAX", "1"), ("MIMALLOC_PURGE_DELAY", "0")],
    );
    assert_serving(&server).await;
    let mut body =
        String::from("{\"TableName\":\"tbl\",\"Item\":{\"k\":{\"S\":\"a\"},\"l\":{\"L\":[");
    for _ in 0..400_000 {
        body.push_str("{\"N\":\"0\"},");
    }
    body.push_str("{\"N\":\"0\"}]}}}");
    let put = |body: String| {
        let addr = server.addr;
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let request = head(
                "DynamoDB_20120810.PutItem",
                "application/x-amz-json-1.0",
                &format!("Content-Length: {}\r\nConnection: close\r\n", body.len()),
            );
            let wire = crate::signing::sign_wire([request, body].concat().into_bytes());
            stream.write_all(&wire).await.expect("request");
            // No such table: decoded, then refused.
            assert_eq!(status_of(&read_until_closed(&mut stream).await), Some(400));
        })
    };
    let base = peak_rss_bytes(server.pid());
    put(body.clone()).await.expect("one request");
    let one = peak_rss_bytes(server.pid()).saturating_sub(base);
    assert!(one > 20 << 20, "one request should decode to tens of MiB, took {}", one >> 20);
    let eight: Vec<_> = (0..8).map(|_| put(body.clone())).collect();
    for task in eight {
        task.await.expect("concurrent request");
    }
    let all = peak_rss_bytes(server.pid()).saturating_sub(base);
    // Unbudgeted, two worker threads decode two at once: twice the peak. The eight bodies
    // themselves are read before the budget is asked for, so they are counted apart.
    let (all_mib, one_mib) = (all >> 20, one >> 20);
    let bodies = 8 * body.len() as u64;
    assert!(
        all < one * 3 / 2 + bodies,
        "eight at once peaked at {all_mib} MiB, one at {one_mib} MiB, bodies {} MiB",
        bodies >> 20
    );
    assert_serving(&server).await;
}
