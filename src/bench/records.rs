//! The put-records workload: PutRecords batches of `--batch-size` records of
//! `--record-size` bytes on random partition keys, to a fresh stream of `--shards`
//! shards; failed entries count as errors by their ErrorCode. Reads the target's RSS from
//! its /metrics before and after, when it serves one.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::cli::PutRecordsArgs;
use super::client::{Client, Reply};
use super::load::{Check, Load, MakeRequest, Outcome, drive, plain};
use super::report::{Report, Rss};
use super::resources;

/// Bytes of random record data the pool of `--random-data` holds at most.
const RANDOM_POOL_BYTES: usize = 16 << 20;

/// One PutRecords body of `batch` records, each carrying one of `data` (already base64)
/// picked at random.
pub fn body(
    stream: &str,
    data: &[String],
    batch: usize,
    key_space: u64,
    rng: &mut fastrand::Rng,
) -> Vec<u8> {
    let mut s = format!(r#"{{"StreamName":"{stream}","Records":["#);
    for i in 0..batch {
        if i > 0 {
            s.push(',');
        }
        let data = &data[rng.usize(..data.len())];
        s.push_str(&format!(
            r#"{{"Data":"{data}","PartitionKey":"k{}"}}"#,
            rng.u64(..key_space.max(1))
        ));
    }
    s.push_str("]}");
    s.into_bytes()
}

/// Accepted entries, and each failed entry counted under its ErrorCode.
pub fn check(reply: &Reply) -> Outcome {
    if reply.error_type.is_some() {
        return plain(reply);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&reply.body) else {
        return Outcome { records: 0, errors: vec![("invalid JSON answer".into(), 1)] };
    };
    let mut out = Outcome::default();
    for r in v["Records"].as_array().into_iter().flatten() {
        match r["ErrorCode"].as_str() {
            Some(code) => match out.errors.iter_mut().find(|(k, _)| k == code) {
                Some((_, n)) => *n += 1,
                None => out.errors.push((code.to_string(), 1)),
            },
            None => out.records += 1,
        }
    }
    out
}

/// The workload's requests: PutRecords bodies for `stream` (the ceiling phase sends the
/// same bodies, so the ratio compares the same JSON).
pub fn maker(stream: &str, args: &PutRecordsArgs) -> MakeRequest {
    let batch = args.batch_size.clamp(1, 500);
    let data = record_data(args.record_size, args.random_data);
    let key_space = args.common.key_space;
    let name = stream.to_string();
    Arc::new(move |_, rng| {
        ("Kinesis_20131202.PutRecords", body(&name, &data, batch, key_space, rng))
    })
}

/// The records' data, base64: one record of `x`s, or with `random`, a pool of distinct
/// random records (up to 4,096 of them within [`RANDOM_POOL_BYTES`]), so a batch holds
/// few repeats for a compressor to find either.
pub fn record_data(size: usize, random: bool) -> Vec<String> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    if !random {
        return vec![b64.encode(vec![b'x'; size])];
    }
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let count = (RANDOM_POOL_BYTES / size.max(1)).clamp(1, 4096);
    (0..count).map(|_| b64.encode((0..size).map(|_| rng.u8(..)).collect::<Vec<u8>>())).collect()
}

pub async fn run(
    client: &Client,
    args: &PutRecordsArgs,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    let metrics = resources::metrics_url(client, args.metrics_url.as_deref());
    let stream = resources::fresh_name("sluice-bench");
    resources::create_stream(client, &stream, args.shards).await?;
    let start_rss = resources::resident_memory(&metrics, &client.creds).await;
    let make = maker(&stream, args);
    let check: Check = Arc::new(check);
    report.measurements.push(drive("put-records", client, load, make, check).await);
    let end_rss = resources::resident_memory(&metrics, &client.creds).await;
    if start_rss.is_some() || end_rss.is_some() {
        report.target_rss_bytes = Some(Rss { start: start_rss, end: end_rss });
    } else {
        report.notes.push(format!("no process_resident_memory_bytes at {metrics}"));
    }
    if args.common.keep {
        report.notes.push(format!("kept stream {stream}"));
    } else {
        report.notes.extend(resources::delete_stream(client, &stream).await);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_data_is_a_pool_of_distinct_records_of_the_size_asked() {
        let b64 = &base64::engine::general_purpose::STANDARD;
        assert_eq!(record_data(3, false), vec!["eHh4".to_string()]);
        let pool = record_data(200, true);
        assert_eq!(pool.len(), 4096);
        assert!(pool.iter().all(|d| b64.decode(d).unwrap().len() == 200));
        let distinct: std::collections::HashSet<_> = pool.iter().collect();
        assert_eq!(distinct.len(), pool.len());
        // A pool of large records stays within its byte budget.
        assert_eq!(record_data(8 << 20, true).len(), 2);
    }

    #[test]
    fn batches_and_partial_failures() {
        let mut rng = fastrand::Rng::with_seed(1);
        let v: Value =
            serde_json::from_slice(&body("s", &["eA==".to_string()], 3, 10, &mut rng)).unwrap();
        assert_eq!(v["Records"].as_array().unwrap().len(), 3);
        assert_eq!(v["Records"][0]["Data"], "eA==");
        let reply = Reply {
            status: 200,
            error_type: None,
            body: br#"{"FailedRecordCount":2,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"ErrorCode":"ProvisionedThroughputExceededException"},{"ErrorCode":"ProvisionedThroughputExceededException"}]}"#.to_vec().into(),
        };
        assert_eq!(
            check(&reply),
            Outcome {
                records: 1,
                errors: vec![("ProvisionedThroughputExceededException".into(), 2)]
            }
        );
    }
}
