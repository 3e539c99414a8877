//! SIGTERM under write load: every request is answered 200 or with an error the SDKs
//! retry (InternalServerError, InternalFailure), or its connection closes before any byte
//! of an answer; never "not found" for a table or stream that exists. Everything
//! acknowledged is there after a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;

use crate::harness::{Server, create_table};
use crate::kinesis_records::{iterator, read_all};

/// What each kind of answer was, over all writers.
#[derive(Default, Debug)]
struct Tally {
    acked_items: Vec<String>,
    acked_records: Vec<String>,
    retryable: Vec<String>,
    dropped: usize,
    wrong: Vec<String>,
}

const RETRYABLE: [&str; 3] = ["InternalServerError", "InternalFailure", "ServiceUnavailable"];

/// Sorts one failed call: a service error must be a retryable one; any other failure is
/// the connection going away (the SDK read no answer).
fn sort<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    tally: &Mutex<Tally>,
    what: &str,
    e: SdkError<E, R>,
) {
    let mut tally = tally.lock().unwrap();
    match e {
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or_default().to_string();
            if RETRYABLE.contains(&code.as_str()) {
                tally.retryable.push(code);
            } else {
                tally.wrong.push(format!("{what}: {code}: {:?}", e.err().message()));
            }
        }
        _ => tally.dropped += 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_answers_only_success_or_retryable_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let (ddb, kinesis) = (server.client(), server.kinesis());
    create_table(&ddb, "shutdown", false).await;
    crate::kinesis::create(&kinesis, "shutdown-feed", 2).await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut writers = Vec::new();
    for w in 0..12 {
        let (ddb, kinesis, tally) = (server.client(), server.kinesis(), tally.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let pk = format!("w{w}-{i}");
                if w % 2 == 0 {
                    let put = ddb
                        .put_item()
                        .table_name("shutdown")
                        .item("pk", AttributeValue::S(pk.clone()))
                        .send()
                        .await;
                    match put {
                        Ok(_) => tally.lock().unwrap().acked_items.push(pk),
                        Err(e) => sort(&tally, "PutItem", e),
                    }
                } else {
                    let put = kinesis
                        .put_record()
                        .stream_name("shutdown-feed")
                        .partition_key(&pk)
                        .data(Blob::new(pk.as_bytes()))
                        .send()
                        .await;
                    match put {
                        Ok(_) => tally.lock().unwrap().acked_records.push(pk),
                        Err(e) => sort(&tally, "PutRecord", e),
                    }
                }
                // Stop once the daemon is gone: dropped connections pile up.
                if tally.lock().unwrap().dropped > 200 {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let exit = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(60), writer).await.unwrap().unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    assert!(
        tally.wrong.is_empty(),
        "answers that were neither 200 nor retryable: {:?}",
        tally.wrong
    );
    assert!(tally.acked_items.len() > 10 && tally.acked_records.len() > 10, "{tally:?}");

    // Nothing acknowledged was lost.
    let server = Server::start_in(dir.path());
    let ddb = server.client();
    for pk in &tally.acked_items {
        let got = ddb
            .get_item()
            .table_name("shutdown")
            .key("pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(got.item.is_some(), "acknowledged item {pk} is missing");
    }
    let k = server.kinesis();
    let mut stored = Vec::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let it = iterator(&k, "shutdown-feed", shard, ShardIteratorType::TrimHorizon, None).await;
        stored.extend(read_all(&k, it).await);
    }
    for pk in &tally.acked_records {
        assert!(stored.contains(pk), "acknowledged record {pk} is missing");
    }
}

/// Requests still running when SIGTERM comes (held here by an injected latency, as a slow
/// commit would hold them) finish with 200 before the writers stop: the drain waits for
/// them, not just for their connections to notice the shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_in_flight_at_sigterm_complete_before_the_writers_stop() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
        [[faults.rules]]
        service = "dynamodb"
        operation = "PutItem"
        latency_ms = 800
        [[faults.rules]]
        service = "kinesis"
        operation = "PutRecord"
        latency_ms = 800
    "#;
    let server = Server::start_in_with(dir.path(), config);
    let (ddb, kinesis) = (server.client(), server.kinesis());
    create_table(&ddb, "inflight", false).await;
    crate::kinesis::create(&kinesis, "inflight-feed", 1).await;
    let mut calls = Vec::new();
    for i in 0..4 {
        let (ddb, kinesis) = (server.client(), server.kinesis());
        calls.push(tokio::spawn(async move {
            let pk = format!("p{i}");
            let item = ddb
                .put_item()
                .table_name("inflight")
                .item("pk", AttributeValue::S(pk.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{:?}", e.code()));
            let record = kinesis
                .put_record()
                .stream_name("inflight-feed")
                .partition_key(&pk)
                .data(Blob::new(pk.as_bytes()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{:?}", e.code()));
            (item, record)
        }));
    }
    // The PutItems are inside their 800 ms wait now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let exit = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    for call in calls {
        let (item, record) = call.await.unwrap();
        assert_eq!(item, Ok(()), "a PutItem in flight at SIGTERM");
        // The PutRecord was sent after SIGTERM, on a connection being drained: answered
        // or refused, never "not found".
        if let Err(code) = record {
            assert!(!code.contains("NotFound"), "{code}");
        }
    }
    let server = Server::start_in(dir.path());
    let ddb = server.client();
    for i in 0..4 {
        let key = AttributeValue::S(format!("p{i}"));
        let got = ddb.get_item().table_name("inflight").key("pk", key).send().await.unwrap();
        assert!(got.item.is_some(), "p{i}");
    }
}

/// A commit that makes no progress (held here by an injected storage latency of two
/// minutes, as fjall halting writes or a hung disk would hold it) does not hold SIGTERM:
/// after the drain and the engine's bounded stop (10 s), sluice exits with a failure
/// status. The write it held was never acknowledged; the store opens again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_commit_does_not_hold_the_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), "[server]\nshutdown_grace_seconds = 1\n");
    let ddb = server.client();
    create_table(&ddb, "stuck", false).await;
    let rule = serde_json::json!({"service": "storage", "latency_ms": 120_000, "count": 1});
    let (status, body) = crate::faults::add_rule(&server, rule).await;
    assert_eq!(status, 200, "{body}");
    let put = tokio::spawn(async move {
        let key = AttributeValue::S("held".into());
        ddb.put_item().table_name("stuck").item("pk", key).send().await.map(|_| ())
    });
    // The PutItem's commit is inside its two-minute wait now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let exit = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(40)))
        .await
        .unwrap();
    assert!(!exit.success(), "an engine that did not stop is a failed exit: {exit:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the stop waited {:?}",
        started.elapsed()
    );
    assert!(put.await.unwrap().is_err(), "the held write was never acknowledged");
    let server = Server::start_in(dir.path());
    let tables = server.client().list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["stuck"]);
}
