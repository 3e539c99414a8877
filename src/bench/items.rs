//! The table workloads (put-item, update-item, get-item, query, mixed): request bodies
//! over a key space, the table's setup (stream, destination, preload) and cleanup.

use std::sync::Arc;

use super::cli::{Common, TableArgs};
use super::client::Client;
use super::load::{Load, MakeRequest, drive, plain};
use super::report::Report;
use super::resources;

/// Which operation a table workload sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Put,
    Update,
    Get,
    Query,
    /// GetItem with this probability, PutItem otherwise.
    Mixed(f64),
}

/// Builds the bodies of one table's requests. Items are `pk` = `k<key>` (and `sk` =
/// `s<n>` with a sort key), `t` = the send time in wall-clock µs (the e2e readers'
/// latency origin), `v` = a payload that brings the item to about `item_size` bytes.
#[derive(Debug, Clone)]
pub struct Items {
    pub table: String,
    pub key_space: u64,
    /// Items per partition key; 0 for a table without a sort key.
    pub items_per_key: u64,
    payload: String,
}

impl Items {
    pub fn new(table: &str, item_size: usize, key_space: u64, items_per_key: u64) -> Items {
        // pk: 2 + ~6 bytes, sk: 2 + ~3, t: 1 + 9 (16 digits), v: 1 + payload.
        let overhead = 8 + if items_per_key > 0 { 5 } else { 0 } + 10 + 1;
        let payload = "x".repeat(item_size.saturating_sub(overhead).max(1));
        Items { table: table.to_string(), key_space: key_space.max(1), items_per_key, payload }
    }

    fn key(&self, key: u64, sk: Option<u64>) -> String {
        match sk {
            Some(s) => format!(r#""pk":{{"S":"k{key}"}},"sk":{{"S":"s{s}"}}"#),
            None => format!(r#""pk":{{"S":"k{key}"}}"#),
        }
    }

    fn sort_of(&self, rng: &mut fastrand::Rng) -> Option<u64> {
        (self.items_per_key > 0).then(|| rng.u64(..self.items_per_key))
    }

    /// A PutItem of (`key`, `sk`) stamped with the current time.
    pub fn put(&self, key: u64, sk: Option<u64>) -> Vec<u8> {
        format!(
            r#"{{"TableName":"{}","Item":{{{},"t":{{"N":"{}"}},"v":{{"S":"{}"}}}}}}"#,
            self.table,
            self.key(key, sk),
            crate::clock::wall_micros(),
            self.payload
        )
        .into_bytes()
    }

    /// Request `n` of `op`.
    pub fn request(&self, op: Op, n: u64, rng: &mut fastrand::Rng) -> (&'static str, Vec<u8>) {
        let key = rng.u64(..self.key_space);
        let sk = self.sort_of(rng);
        let _ = n;
        match op {
            Op::Put => ("DynamoDB_20120810.PutItem", self.put(key, sk)),
            Op::Mixed(reads) if rng.f64() >= reads => ("DynamoDB_20120810.PutItem", self.put(key, sk)),
            Op::Get | Op::Mixed(_) => (
                "DynamoDB_20120810.GetItem",
                format!(r#"{{"TableName":"{}","Key":{{{}}}}}"#, self.table, self.key(key, sk)).into_bytes(),
            ),
            Op::Update => (
                "DynamoDB_20120810.UpdateItem",
                format!(
                    r#"{{"TableName":"{}","Key":{{{}}},"UpdateExpression":"SET v = :v, t = :t ADD c :one","ExpressionAttributeValues":{{":v":{{"S":"{}"}},":t":{{"N":"{}"}},":one":{{"N":"1"}}}}}}"#,
                    self.table,
                    self.key(key, sk),
                    self.payload,
                    crate::clock::wall_micros()
                )
                .into_bytes(),
            ),
            Op::Query => (
                "DynamoDB_20120810.Query",
                format!(
                    r#"{{"TableName":"{}","KeyConditionExpression":"pk = :k","ExpressionAttributeValues":{{":k":{{"S":"k{key}"}}}}}}"#,
                    self.table
                )
                .into_bytes(),
            ),
        }
    }

    /// Preload request `n`: every (key, sort key) of the key space once, in order.
    pub fn preload(&self, n: u64) -> (&'static str, Vec<u8>) {
        let (key, sk) = match self.items_per_key {
            0 => (n, None),
            per => (n / per, Some(n % per)),
        };
        ("DynamoDB_20120810.PutItem", self.put(key, sk))
    }

    /// Requests a preload sends.
    pub fn preload_count(&self) -> u64 {
        self.key_space.saturating_mul(self.items_per_key.max(1))
    }
}

/// Drives `op` against a fresh table set up as `args` says; adds its measurement (and
/// the ceiling's, when asked) to `report`.
pub async fn run(
    client: &Client,
    op: Op,
    name: &str,
    args: &TableArgs,
    items_per_key: u64,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    let c: &Common = &args.common;
    let table = resources::fresh_name("sluice-bench");
    resources::create_table(client, &table, items_per_key > 0, args.stream).await?;
    let dest = args.destination.then(|| format!("{table}-dest"));
    let result =
        measure(client, op, name, args, &table, dest.as_deref(), items_per_key, load, report).await;
    if !c.keep {
        report.notes.extend(resources::delete_table(client, &table).await);
        if let Some(d) = &dest {
            report.notes.extend(resources::delete_stream(client, d).await);
        }
    } else {
        report.notes.push(format!(
            "kept table {table}{}",
            dest.map(|d| format!(" and stream {d}")).unwrap_or_default()
        ));
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    client: &Client,
    op: Op,
    name: &str,
    args: &TableArgs,
    table: &str,
    dest: Option<&str>,
    items_per_key: u64,
    load: &Load,
    report: &mut Report,
) -> Result<(), String> {
    if let Some(dest) = dest {
        let arn = resources::create_stream(client, dest, args.shards).await?;
        resources::enable_destination(client, table, &arn).await?;
    }
    let items =
        Arc::new(Items::new(table, args.common.item_size, args.common.key_space, items_per_key));
    if matches!(op, Op::Get | Op::Query | Op::Mixed(_)) {
        let preload = Load { requests: Some(items.preload_count()), rate: None, ..load.clone() };
        let it = items.clone();
        let make: MakeRequest = Arc::new(move |n, _| it.preload(n));
        let m = drive("preload", client, &preload, make, Arc::new(plain)).await;
        if m.errors > 0 {
            report.notes.push(format!(
                "preload: {} of {} writes failed: {:?}",
                m.errors, m.requests, m.errors_by_type
            ));
        }
    }
    let it = items.clone();
    let make: MakeRequest = Arc::new(move |n, rng| it.request(op, n, rng));
    report.measurements.push(drive(name, client, load, make, Arc::new(plain)).await);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn bodies_are_valid_requests_of_about_the_item_size() {
        let items = Items::new("t", 200, 1000, 0);
        let mut rng = fastrand::Rng::with_seed(1);
        let (target, body) = items.request(Op::Put, 0, &mut rng);
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        let v = json(&body);
        let item = &v["Item"];
        let size: usize = ["pk", "t", "v"].iter().map(|k| k.len()).sum::<usize>()
            + item["pk"]["S"].as_str().unwrap().len()
            + 9
            + item["v"]["S"].as_str().unwrap().len();
        assert!((190..=210).contains(&size), "{size}");
        let (target, body) = items.request(Op::Update, 1, &mut rng);
        assert_eq!(target, "DynamoDB_20120810.UpdateItem");
        assert_eq!(json(&body)["ExpressionAttributeValues"][":one"]["N"], "1");
        let (target, body) = items.request(Op::Get, 2, &mut rng);
        assert_eq!(target, "DynamoDB_20120810.GetItem");
        assert!(json(&body)["Key"]["pk"]["S"].as_str().unwrap().starts_with('k'));
    }

    #[test]
    fn query_tables_preload_every_sort_key() {
        let items = Items::new("t", 200, 3, 2);
        assert_eq!(items.preload_count(), 6);
        let keys: Vec<(String, String)> = (0..6)
            .map(|n| {
                let v = json(&items.preload(n).1);
                (
                    v["Item"]["pk"]["S"].as_str().unwrap().into(),
                    v["Item"]["sk"]["S"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(keys[0], ("k0".into(), "s0".into()));
        assert_eq!(keys[5], ("k2".into(), "s1".into()));
        let mut rng = fastrand::Rng::with_seed(2);
        let (target, body) = items.request(Op::Query, 0, &mut rng);
        assert_eq!(target, "DynamoDB_20120810.Query");
        assert_eq!(json(&body)["KeyConditionExpression"], "pk = :k");
    }

    #[test]
    fn mixed_follows_the_read_ratio() {
        let items = Items::new("t", 100, 10, 0);
        let mut rng = fastrand::Rng::with_seed(3);
        let reads = (0..1000)
            .filter(|n| items.request(Op::Mixed(0.9), *n, &mut rng).0.ends_with("GetItem"))
            .count();
        assert!((850..=950).contains(&reads), "{reads}");
        assert!(
            (0..100).all(|n| items.request(Op::Mixed(0.0), n, &mut rng).0.ends_with("PutItem"))
        );
    }
}
