//! The writers: concurrent clients, each owning its own keys, write versioned items
//! (PutItem, UpdateItem, DeleteItem) one at a time and log every write with what became
//! of it. Versions come from one counter, so a key's writes (all from one client, never
//! two in flight) have rising versions in the order they were made.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};

use super::http::{CallError, Http};

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// PutItem of the whole item.
    Put,
    /// UpdateItem SET of the version (an upsert when the item is absent).
    Update,
    /// DeleteItem.
    Delete,
}

/// What the client learnt of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200: it happened and must never be lost.
    Acked,
    /// A 4xx: it certainly did not happen.
    Refused,
    /// No answer (the connection was cut by the kill) or a 5xx: it happened wholly or not
    /// at all, and the check finds out which.
    Unknown,
}

/// One write, as logged.
#[derive(Debug, Clone)]
pub struct Write {
    pub table: String,
    pub key: String,
    pub version: u64,
    pub op: Op,
    pub outcome: Outcome,
}

/// One client's lasting identity: its keys and random source, across cycles.
pub struct Client {
    pub id: usize,
    pub rng: fastrand::Rng,
}

/// Keys each client owns in each table.
const KEYS_PER_CLIENT: usize = 8;

/// What a cycle's writers share.
pub struct Shared {
    pub tables: Vec<String>,
    pub versions: AtomicU64,
    pub stop: AtomicBool,
}

/// Writes until told to stop or until a call fails (the daemon is gone: the rest of the
/// cycle would only fail to connect). Returns the client and its log.
pub async fn run(
    mut client: Client,
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> (Client, Vec<Write>) {
    let mut http = Http::new(addr);
    let mut log = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let table = shared.tables[client.rng.usize(..shared.tables.len())].clone();
        let key = format!("c{}-k{}", client.id, client.rng.usize(..KEYS_PER_CLIENT));
        let version = shared.versions.fetch_add(1, Ordering::SeqCst);
        let op = match client.rng.u32(..100) {
            0..50 => Op::Put,
            50..85 => Op::Update,
            _ => Op::Delete,
        };
        let pad = "x".repeat(client.rng.usize(10..200));
        let (target, body) = request(&table, &key, version, op, &pad);
        let outcome = match http.call(target, &body).await {
            Ok((200, _)) => Outcome::Acked,
            Ok((status, answer)) if (400..500).contains(&status) => {
                // Never expected: the writes are valid. Said once per cycle and client.
                if !log.iter().any(|w: &Write| w.outcome == Outcome::Refused) {
                    eprintln!(
                        "client {}: {target} refused with HTTP {status}: {answer}",
                        client.id
                    );
                }
                Outcome::Refused
            }
            Ok(_) => Outcome::Unknown,
            // Never left: as if not made.
            Err(CallError::NotSent(_)) => break,
            Err(CallError::Cut(_)) => Outcome::Unknown,
        };
        log.push(Write { table, key, version, op, outcome });
        if outcome == Outcome::Unknown {
            break;
        }
    }
    (client, log)
}

fn request(table: &str, key: &str, version: u64, op: Op, pad: &str) -> (&'static str, Value) {
    let ver = json!({"N": version.to_string()});
    let pk = json!({"S": key});
    match op {
        Op::Put => (
            "DynamoDB_20120810.PutItem",
            json!({"TableName": table, "Item": {"pk": pk, "ver": ver, "pad": {"S": pad}}}),
        ),
        Op::Update => (
            "DynamoDB_20120810.UpdateItem",
            json!({
                "TableName": table,
                "Key": {"pk": pk},
                // `pad` is a reserved word.
                "UpdateExpression": "SET ver = :v, #p = :p",
                "ExpressionAttributeNames": {"#p": "pad"},
                "ExpressionAttributeValues": {":v": ver, ":p": {"S": pad}},
            }),
        ),
        Op::Delete => {
            ("DynamoDB_20120810.DeleteItem", json!({"TableName": table, "Key": {"pk": pk}}))
        }
    }
}
