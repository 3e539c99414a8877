//! Fuzz harnesses: each takes arbitrary bytes and panics only on a bug (a panic, a broken
//! invariant, a 500, a hang). The cargo-fuzz targets in `fuzz/` are one call each into
//! these, and this module's tests replay every committed corpus and crash file under
//! `fuzz/corpus/` and `fuzz/regressions/` through the same functions, so a plain
//! `cargo test` re-runs every finding without a nightly toolchain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api;
use crate::api::kinesis::paging::PageToken;
use crate::api::streams::iterator::ShardIterator;
use crate::clock::SystemClock;
use crate::config::{Config, Durability, Overrides};
use crate::engine::Engine;
use crate::engine::kinesis::iterator::IteratorToken;
use crate::metrics::Metrics;
use crate::model::expr::{self, ExprContext, ExprKind};
use crate::model::value::item_from_json;
use crate::model::{AttributeValue, Item, value};
use crate::protocol::eventstream::EventWriter;
use crate::protocol::{Codec, RequestContext, Service, cbor};

/// The targets, by the name of their `fuzz/fuzz_targets/<name>.rs` and corpus directory.
/// One harness: arbitrary bytes in, a panic only on a bug.
pub type Harness = fn(&[u8]);

pub const TARGETS: &[(&str, Harness)] = &[
    ("expression", expression),
    ("api_request", api_request),
    ("cbor", cbor_body),
    ("event_stream", event_stream),
    ("tokens", tokens),
    ("config", config),
];

/// An item with every attribute type, nested, that expressions are evaluated against.
const ITEM: &str = r#"{"k":{"S":"key"},"r":{"N":"1"},"a":{"S":"abc"},"b":{"N":"-1.5E3"},
    "m":{"M":{"x":{"L":[{"N":"1"},{"S":"y"}]},"y":{"NULL":true},"z":{"M":{"d":{"BOOL":false}}}}},
    "l":{"L":[{"N":"1"},{"M":{"z":{"BOOL":true}}},{"L":[{"S":"deep"}]}]},
    "ss":{"SS":["a","b"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AQI="]},"bin":{"B":"AQI="}}"#;

/// ExpressionAttributeValues of every type, including numbers at the edges of the range.
const VALUES: &str = r#"{":s":{"S":"abc"},":e":{"S":""},":n":{"N":"2"},":z":{"N":"0"},
    ":big":{"N":"9.9999999999999999999999999999999999999E+125"},":tiny":{"N":"1E-130"},
    ":neg":{"N":"-9.9999999999999999999999999999999999999E+125"},":b":{"B":"AQI="},
    ":l":{"L":[{"N":"1"},{"S":"x"}]},":m":{"M":{"x":{"N":"1"}}},":ss":{"SS":["a","c"]},
    ":ns":{"NS":["1","3"]},":bs":{"BS":["AQI=","AwQ="]},":t":{"BOOL":true},":null":{"NULL":true}}"#;

/// Expression parse and evaluation. The first byte picks the parameter (condition,
/// filter, key condition, update, projection); the rest is the expression, parsed
/// against fixed ExpressionAttributeNames/Values and evaluated or applied on [`ITEM`].
pub fn expression(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let item = item_from_json(&serde_json::from_str(ITEM).expect("fixture")).expect("fixture");
    let values: HashMap<String, AttributeValue> =
        item_from_json(&serde_json::from_str(VALUES).expect("fixture"))
            .expect("fixture")
            .into_iter()
            .collect();
    let names: HashMap<String, String> =
        ["k", "r", "a", "b", "m", "l", "ss", "ns", "bs", "bin", "x", "y", "z", "missing"]
            .iter()
            .map(|n| (format!("#{n}"), n.to_string()))
            .collect();
    let ctx = &mut ExprContext::new(Some(&names), Some(&values));
    ctx.check_maps().expect("fixture maps are valid");
    match kind % 5 {
        0 | 1 => {
            let kind = if kind % 5 == 0 { ExprKind::Condition } else { ExprKind::Filter };
            if let Ok(cond) = expr::parse_condition(text, kind, ctx) {
                let _ = cond.eval(&item);
                let _ = cond.eval(&Item::new());
            }
        }
        2 => {
            if let Ok(key) = expr::parse_key_condition(text, ctx) {
                let _ = key.resolve(("k", "S"), Some(("r", "N")));
                if let Ok(resolved) = key.resolve(("a", "S"), None) {
                    let _ = format!("{resolved:?}");
                }
            }
        }
        3 => {
            if let Ok(update) = expr::parse_update(text, ctx) {
                let _ = update.check_keys(&["k", "r"]);
                let mut updated = item.clone();
                if update.apply(&mut updated).is_ok() {
                    let _ = value::check_updated_item_size(&updated);
                    let _ = update.returned_attributes(&updated);
                }
                let mut new: Item = item.iter().filter(|(k, _)| *k == "k").map(clone).collect();
                let _ = update.apply_to_new(&mut new);
            }
        }
        _ => {
            if let Ok(projection) = expr::parse_projection(text, ctx) {
                let _ = projection.apply(&item);
            }
        }
    }
    let _ = ctx.finish();
}

fn clone((k, v): (&String, &AttributeValue)) -> (String, AttributeValue) {
    (k.clone(), v.clone())
}

/// An engine on in-memory storage shared by every [`api_request`] run, with a table
/// (streams on), an item, a Kinesis stream with a record and a consumer to aim at.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    engine: Arc<Engine>,
}

/// The fixture's in-memory directory. The fixture is a `static`, never dropped, so its
/// store's directory is not removed with it: the process removes it at exit instead
/// (every `cargo test` left one behind).
static FIXTURE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_fixture_dir() {
    if let Some(dir) = FIXTURE_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::default();
        config.storage.in_memory = true;
        config.storage.durability = Durability::None;
        config.dynamodb.partitions_per_table = 1;
        config.kinesis.consumer_create_delay_ms = 0;
        config.kinesis.consumer_delete_delay_ms = 0;
        let engine = runtime.block_on(async {
            Engine::open(Arc::new(config), Arc::new(SystemClock), Arc::new(Metrics::new()))
                .expect("open engine")
        });
        let seeds = [
            (
                Service::DynamoDb,
                "CreateTable",
                json!({"TableName": "tbl", "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"},
                        {"AttributeName": "r", "AttributeType": "N"}],
                    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"},
                        {"AttributeName": "r", "KeyType": "RANGE"}],
                    "StreamSpecification": {"StreamEnabled": true,
                        "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
            ),
            (
                Service::DynamoDb,
                "PutItem",
                json!({"TableName": "tbl", "Item": {"k": {"S": "a"}, "r": {"N": "1"},
                    "v": {"L": [{"S": "x"}, {"M": {"n": {"N": "2"}}}]}}}),
            ),
            (Service::Kinesis, "CreateStream", json!({"StreamName": "s", "ShardCount": 2})),
            (
                Service::Kinesis,
                "PutRecord",
                json!({"StreamName": "s", "Data": "AAEC", "PartitionKey": "p"}),
            ),
            (
                Service::Kinesis,
                "RegisterStreamConsumer",
                json!({"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                    "ConsumerName": "c"}),
            ),
        ];
        for (service, operation, body) in seeds {
            let handled = runtime.block_on(api::handle(&engine, service, operation, &ctx(), body));
            handled.result.unwrap_or_else(|e| panic!("seeding {operation}: {e:?}"));
        }
        if let Some(dir) = engine.store.scratch_dir()
            && FIXTURE_DIR.set(dir.to_path_buf()).is_ok()
        {
            // SAFETY: registers a plain `extern "C"` function taking nothing; it only
            // reads a `OnceLock` already set and removes a directory.
            unsafe { libc::atexit(remove_fixture_dir) };
        }
        Fixture { runtime, engine }
    })
}

fn ctx() -> RequestContext {
    RequestContext {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        request_id: "FUZZ".into(),
        host: Some("localhost:8000".into()),
    }
}

/// Every operation of the three services, plus SubscribeToShard (`None` below).
fn operations() -> Vec<(Service, &'static str)> {
    let mut all = Vec::new();
    all.extend(api::dynamodb::Operation::ALL.iter().map(|o| (Service::DynamoDb, o.name())));
    all.extend(api::streams::Operation::ALL.iter().map(|o| (Service::DynamoDbStreams, o.name())));
    all.extend(api::kinesis::Operation::ALL.iter().map(|o| (Service::Kinesis, o.name())));
    all.push((Service::Kinesis, api::kinesis::subscribe::OPERATION));
    all
}

/// One request through the awsJson (or, for Kinesis, CBOR) body decoder and the whole
/// operation handler against a live in-memory engine. The first byte picks the
/// operation (and its top bit CBOR for Kinesis), the rest is the body. A handler must
/// answer within seconds and never with a 500; a success must encode in the codec.
pub fn api_request(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    if body.is_empty() {
        return;
    }
    let operations = operations();
    let (service, operation) = operations[usize::from(selector & 0x7f) % operations.len()];
    let codec =
        if selector & 0x80 != 0 && service == Service::Kinesis { Codec::Cbor } else { Codec::Json };
    let Ok(body) = codec.decode(bytes::Bytes::copy_from_slice(body)) else { return };
    let fixture = fixture();
    let run = async {
        if operation == api::kinesis::subscribe::OPERATION {
            let ctx = ctx();
            let opened = api::kinesis::subscribe::subscribe_to_shard(&fixture.engine, &ctx, body);
            return opened.await.err().map(|e| e.to_wire());
        }
        let handled = api::handle(&fixture.engine, service, operation, &ctx(), body).await;
        match handled.result {
            Ok(output) => {
                if let Err(e) = codec.encode_output(operation, &output) {
                    panic!("{operation} output does not encode: {e:?}\n{output}");
                }
                None
            }
            Err(e) => Some(e),
        }
    };
    let limit = Duration::from_secs(20);
    let error = fixture
        .runtime
        .block_on(async { tokio::time::timeout(limit, run).await })
        .unwrap_or_else(|_| panic!("{operation} did not answer within {limit:?}"));
    if let Some(e) = error {
        assert!(e.status < 500, "{operation} answered {} {}: {:?}", e.status, e.code, e.message);
        let _ = codec.encode_error(&e, service);
    }
}

/// A CBOR request body: decoding must fail cleanly or give a value that survives being
/// written back out and read again.
pub fn cbor_body(data: &[u8]) {
    let Ok(json) = cbor::decode_to_json(data) else { return };
    let again = cbor::encode_plain(&json);
    let back = cbor::decode_to_json(&again).expect("our own encoding decodes");
    assert_eq!(back, json, "CBOR re-encoding changed the value");
}

/// SubscribeToShard event framing. sluice only writes frames, so the writer is driven
/// with arbitrary event bodies and messages (bit 0 of the first byte: CBOR, bit 1: an
/// exception) and every frame must read back with AWS's own decoder; the raw bytes are
/// also fed to that decoder, the client side, which must refuse or split them cleanly.
pub fn event_stream(data: &[u8]) {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    let Some((&selector, rest)) = data.split_first() else { return };
    let codec = if selector & 1 == 0 { Codec::Json } else { Codec::Cbor };
    let writer = EventWriter::new(codec);
    let text = String::from_utf8_lossy(rest);
    let (frame, type_header, kind) = if selector & 2 == 0 {
        let body = serde_json::from_slice(rest).unwrap_or_else(|_| {
            json!({"ContinuationSequenceNumber": text, "MillisBehindLatest": rest.len(),
                "Records": [{"Data": "AAEC", "PartitionKey": text, "SequenceNumber": "1",
                    "ApproximateArrivalTimestamp": 1.5}]})
        });
        (writer.event("SubscribeToShardEvent", &body), ":event-type", "SubscribeToShardEvent")
    } else {
        (writer.exception("ResourceInUseException", &text), ":exception-type", "")
    };
    let message = match MessageFrameDecoder::new().decode_frame(&mut &frame[..]) {
        Ok(DecodedFrame::Complete(m)) => m,
        other => panic!("a frame we wrote does not decode: {other:?}"),
    };
    let header = |name: &str| {
        message.headers().iter().find(|h| h.name().as_str() == name).map(|h| h.value().clone())
    };
    // An event that does not fit the model goes out as an InternalFailureException
    // (fuzz finding: the harness first expected every event to stay an event).
    let found = header(type_header).or_else(|| header(":exception-type")).expect("type header");
    let found = found.as_string().expect("string header").as_str();
    assert!(
        kind.is_empty() || found == kind || found == "InternalFailureException",
        "unexpected event type {found}"
    );
    let payload = message.payload();
    match codec {
        Codec::Json => {
            serde_json::from_slice::<Value>(payload).expect("JSON payload");
        }
        Codec::Cbor => {
            cbor::decode(payload).expect("CBOR payload");
        }
    }
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = rest;
    while let Ok(DecodedFrame::Complete(_)) = decoder.decode_frame(&mut buf) {}
}

/// Kinesis shard iterators, DynamoDB Streams shard iterators and ListShards/ListStreams
/// NextTokens. The first byte picks the token kind and whether the rest is a token as a
/// client sent it (decode must refuse or accept it cleanly, and an accepted one must
/// pass its expiry check and re-encode to itself) or the fields of a token sluice
/// issues (encode, then decode must give them back).
pub fn tokens(data: &[u8]) {
    const SECRET: [u8; 16] = *b"fuzz-secret-0001";
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let now = 1_767_225_600_000;
    match selector % 6 {
        0 => {
            if let Some(token) = IteratorToken::decode(&text, &SECRET) {
                let _ = crate::engine::kinesis::iterator::amz_utc(token.issued_ms);
                assert_eq!(IteratorToken::decode(&token.encode(&SECRET), &SECRET), Some(token));
            }
        }
        1 => {
            let mut f = Fields(rest);
            let name: String =
                f.text().chars().filter(|c| c.is_ascii_alphanumeric()).take(128).collect();
            let token = IteratorToken {
                stream_id: f.u64(),
                stream_name: name,
                shard: f.u64() as u32,
                position: f.u64(),
                issued_ms: f.u64() as i64,
            };
            let wire = token.encode(&SECRET);
            let _ = crate::engine::kinesis::iterator::amz_utc(token.issued_ms);
            assert_eq!(IteratorToken::decode(&wire, &SECRET), Some(token));
        }
        2 => {
            if let Some(iterator) = ShardIterator::decode(&text) {
                let _ = iterator.check_age(now, 900_000);
                // An older layout re-encodes in the current one: compare what it says.
                let again = ShardIterator::decode(&iterator.encode());
                assert_eq!(again.as_ref(), Some(&iterator), "a token re-encodes to itself");
            }
        }
        3 => {
            let mut f = Fields(rest);
            let iterator = ShardIterator {
                position: f.u64(),
                issued_ms: f.u64() as i64,
                reader: f.u64(),
                shard_id: f.text().chars().take(65).collect(),
                stream_arn: f.text().replace('|', ""),
            };
            if iterator.stream_arn.is_empty() {
                return;
            }
            let _ = iterator.check_age(f.u64() as i64, f.u64());
            assert_eq!(ShardIterator::decode(&iterator.encode()), Some(iterator));
        }
        4 => {
            for kind in ['s', 'h'] {
                let _ = PageToken::decode(&text, kind, &SECRET, now);
            }
        }
        _ => {
            let mut f = Fields(rest);
            let token = PageToken {
                kind: if f.u64() % 2 == 0 { 's' } else { 'h' },
                issued_ms: f.u64() as i64,
                name: f.text(),
                stream_id: f.u64(),
                after_shard: Some(f.u64() as u32),
                filter: Some((f.text(), Some(f.u64() as u32), Some(f.u64() as i64))),
            };
            let wire = token.encode(&SECRET);
            let decoded = PageToken::decode(&wire, token.kind, &SECRET, f.u64() as i64);
            if let Ok(decoded) = decoded {
                assert_eq!(decoded, token);
            }
        }
    }
}

/// Fields read off the front of fuzz input: zero once it runs out.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u64(&mut self) -> u64 {
        let n = self.0.len().min(8);
        let mut b = [0; 8];
        b[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(b)
    }

    /// A length byte, then that many bytes as (lossy) text.
    fn text(&mut self) -> String {
        let Some((&len, rest)) = self.0.split_first() else { return String::new() };
        let n = rest.len().min(usize::from(len));
        self.0 = &rest[n..];
        String::from_utf8_lossy(&rest[..n]).into_owned()
    }
}

/// Config loading: TOML text, then after a NUL byte `SLUICE_*=value` lines. Either an
/// error naming what is wrong or a config that passes its own validation.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (file, env) = text.split_once('\0').unwrap_or((&text, ""));
    let env = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    let loaded = Config::load_text(
        Some((Path::new("fuzz.toml"), file)),
        env,
        &Overrides { in_memory: true, ..Overrides::default() },
    );
    if let Ok(config) = loaded {
        config.listen_addr().expect("validated");
        let _ = toml::to_string(&config);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::TARGETS;

    /// Every committed corpus and regression file, through its target's harness: this
    /// is how the fuzzers' findings stay fixed without nightly or cargo-fuzz.
    #[test]
    fn committed_corpora_replay_cleanly() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut replayed = 0;
        for (name, harness) in TARGETS {
            for dir in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
                for entry in entries {
                    let path = entry.expect("corpus entry").path();
                    let data = std::fs::read(&path).expect("corpus file");
                    let outcome = std::panic::catch_unwind(|| harness(&data));
                    assert!(outcome.is_ok(), "{name}: {} panics", path.display());
                    replayed += 1;
                }
            }
        }
        assert!(replayed >= TARGETS.len(), "only {replayed} corpus files found");
    }

    /// The static fixture's directory is gone once the process has exited: this test runs
    /// itself in a child test process, which opens the fixture and names its directory.
    #[test]
    fn the_fixtures_directory_is_removed_when_the_process_exits() {
        const CHILD: &str = "FUZZ_FIXTURE_CHILD";
        let name = "fuzzing::tests::the_fixtures_directory_is_removed_when_the_process_exits";
        if std::env::var_os(CHILD).is_some() {
            let dir = super::fixture().engine.store.scratch_dir().expect("in memory");
            assert!(dir.is_dir());
            println!("fixture-dir={}", dir.display());
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        let dir = stdout
            .lines()
            .find_map(|l| l.split_once("fixture-dir=").map(|(_, dir)| dir.trim()))
            .unwrap_or_else(|| panic!("no directory named: {stdout}"));
        assert!(!PathBuf::from(dir).exists(), "{dir} left behind");
    }
}
