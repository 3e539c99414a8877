//! A remote Kinesis destination that answers with too much: sluice reads at most
//! `MAX_ANSWER_BYTES` of any answer, counts an oversize one as a failed call and retries,
//! so a remote cannot decide how much memory sluice takes. The remote here is a raw
//! socket server, as no real endpoint misbehaves on demand: it answers its first calls
//! with an endless 200 body (chunked), then one declaring 1.5 GB, then correctly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Server, create_table};
use crate::hostile::peak_rss_bytes;

const ARN: &str = "arn:aws:kinesis:eu-west-1:111122223333:stream/feed";

/// What the fake remote did: calls served, bytes of answer it got written, and the
/// records it accepted once it answered correctly.
#[derive(Default)]
struct Remote {
    calls: AtomicUsize,
    written: AtomicU64,
    accepted: AtomicUsize,
}

/// Reads one request (head and Content-Length body); None when the peer hung up.
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let mut chunk = [0u8; 65536];
                let n = conn.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            buf.drain(..end + 4 + length);
            return Some(body);
        }
        let mut chunk = [0u8; 65536];
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(mut conn: TcpStream, remote: Arc<Remote>) {
    let mut buf = Vec::new();
    while let Some(body) = read_request(&mut conn, &mut buf).await {
        let call = remote.calls.fetch_add(1, Ordering::SeqCst);
        if call < 2 {
            // An endless 200 body, 1 MiB chunks of JSON whitespace, until sluice hangs up.
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, " ".repeat(1 << 20));
            for _ in 0..1536 {
                if conn.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                remote.written.fetch_add(1 << 20, Ordering::SeqCst);
            }
            return;
        }
        if call == 2 {
            // A declared 1.5 GB answer, never sent.
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 1500000000\r\n\r\n";
            let _ = conn.write_all(head.as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let n = json["Records"].as_array().map_or(0, Vec::len);
        remote.accepted.fetch_add(n, Ordering::SeqCst);
        let entries: Vec<_> = (0..n)
            .map(|i| serde_json::json!({"SequenceNumber": format!("{}", 1000 + i), "ShardId": "shardId-000000000000"}))
            .collect();
        let answer = serde_json::json!({"FailedRecordCount": 0, "Records": entries}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if conn.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_answer_is_a_failed_call_retried_and_costs_no_memory() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let remote = Arc::new(Remote::default());
    let r = remote.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn, r.clone()));
        }
    });
    let config = format!(
        "[dynamodb]\npartitions_per_table = 1\n[bridge]\nretry_initial_ms = 20\nretry_max_ms = 200\nrequest_timeout_ms = 2000\n[[bridge.remotes]]\nstream_arn = \"{ARN}\"\nendpoint = \"http://127.0.0.1:{port}\"\nregion = \"eu-west-1\"\naccess_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n"
    );
    let server = Server::start_with_config(&config);
    let client = server.client();
    create_table(&client, "tab", false).await;
    client
        .enable_kinesis_streaming_destination()
        .table_name("tab")
        .stream_arn(ARN)
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        let put = client.put_item().table_name("tab").item("pk", AttributeValue::S(i.to_string()));
        put.send().await.unwrap();
    }
    let mut delivered = false;
    for _ in 0..300 {
        if remote.accepted.load(Ordering::SeqCst) >= 5 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        delivered,
        "after {} calls, {} accepted",
        remote.calls.load(Ordering::SeqCst),
        remote.accepted.load(Ordering::SeqCst)
    );
    // Each endless answer was cut off after about the limit (plus what the sockets
    // buffer), not read to its 1.5 GB.
    let written = remote.written.load(Ordering::SeqCst);
    assert!(written < 64 << 20, "sluice read {written} bytes of oversize answers");
    let peak = peak_rss_bytes(server.pid());
    assert!(peak < 300 << 20, "peak RSS {peak}");
    let metrics = server.metrics().await;
    let errors: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("sluice_bridge_remote_errors_total{") && l.contains("table=\"tab\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(errors >= 3.0, "three failed calls counted: {errors}");
}
