//! Tests of Time to Live expiry on a real engine (in-memory store) driven by a manual
//! clock: passes run by hand, so nothing here sleeps.

use std::sync::Arc;

use super::catalog::{KeyAttribute, KeySchema, ScalarType, TimeToLive};
use super::ttl::{self, MAX_AGE_SECS, expired};
use super::{Engine, TableMeta};
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{AttributeValue, Item, Number};

/// 2026-01-01T00:00:00Z.
const NOW_MS: i64 = 1_767_225_600_000;
const NOW_S: i64 = NOW_MS / 1000;

fn open(clock: SharedClock) -> Arc<Engine> {
    let mut config = Config::default();
    config.storage.in_memory = true;
    // The background task must not race the passes these tests run by hand.
    config.dynamodb.ttl_scan_interval_ms = 3_600_000;
    Engine::open(Arc::new(config), clock, Arc::new(Metrics::new())).expect("open engine")
}

async fn create(engine: &Engine, name: &str, ttl_attribute: Option<&str>) {
    let key = KeyAttribute { name: "pk".into(), ty: ScalarType::S };
    let mut meta = TableMeta::new(name, KeySchema::new(key, None), 2);
    meta.ttl = TimeToLive { attribute: ttl_attribute.map(String::from), changed_ms: None };
    engine.create_table(meta).await.expect("create table");
}

fn item(pk: &str, ttl: Option<AttributeValue>) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(pk.into()));
    if let Some(v) = ttl {
        item.insert("exp".into(), v);
    }
    item
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(Number::from(v))
}

fn key(engine: &Engine, table: &str, pk: &str) -> Vec<u8> {
    let meta = engine.table(table).expect("table").meta();
    Engine::storage_key(&meta, &AttributeValue::S(pk.into()), None)
}

async fn put(engine: &Engine, table: &str, item: Item) {
    let t = engine.table(table).expect("table");
    let hash = item["pk"].clone();
    let storage_key = Engine::storage_key(&t.meta(), &hash, None);
    engine.write(&t, &hash, storage_key, Box::new(move |_| Ok(Some(item)))).await.expect("put");
}

fn exists(engine: &Engine, table: &str, pk: &str) -> bool {
    engine.get_item(&key(engine, table, pk)).expect("get").is_some()
}

#[test]
fn expiry_is_a_number_strictly_before_now_and_at_most_five_years_old() {
    let at = |v: AttributeValue| expired(&item("a", Some(v)), "exp", NOW_MS);
    assert!(at(n(NOW_S - 1)));
    assert!(!at(n(NOW_S)), "AWS expires values less than the current time");
    assert!(!at(n(NOW_S + 1)));
    assert!(at(AttributeValue::N(Number::parse("1767225599.999").unwrap())));
    assert!(at(n(NOW_S - MAX_AGE_SECS)));
    assert!(!at(n(NOW_S - MAX_AGE_SECS - 1)), "older than five years is ignored");
    assert!(!at(n(-5)));
    assert!(!at(AttributeValue::S((NOW_S - 1).to_string())));
    assert!(!at(AttributeValue::Ns(vec![Number::from(NOW_S - 1)])));
    assert!(!expired(&item("a", None), "exp", NOW_MS));
    assert!(!expired(&item("a", Some(n(NOW_S - 1))), "other", NOW_MS));
    // Milliseconds count: at NOW + 1 ms, a TTL of exactly NOW has passed.
    assert!(expired(&item("a", Some(n(NOW_S))), "exp", NOW_MS + 1));
}

#[tokio::test]
async fn a_pass_deletes_only_expired_number_ttls_and_time_moves_the_rest() {
    let clock = ManualClock::new(NOW_MS);
    let engine = open(clock.clone());
    create(&engine, "t", Some("exp")).await;
    put(&engine, "t", item("past", Some(n(NOW_S - 10)))).await;
    put(&engine, "t", item("future", Some(n(NOW_S + 60)))).await;
    put(&engine, "t", item("string", Some(AttributeValue::S("1".into())))).await;
    put(&engine, "t", item("none", None)).await;
    put(&engine, "t", item("ancient", Some(n(NOW_S - MAX_AGE_SECS - 10)))).await;

    // Still readable until a pass runs: reads never filter expired items.
    assert!(exists(&engine, "t", "past"));
    assert_eq!(ttl::run_pass(&engine).await, 1);
    assert!(!exists(&engine, "t", "past"));
    for kept in ["future", "string", "none", "ancient"] {
        assert!(exists(&engine, "t", kept), "{kept} must stay");
    }
    let metric = engine.metrics.ttl_deleted_items_total.with_label_values(&["t"]);
    assert_eq!(metric.get(), 1);
    assert_eq!(
        engine.table("t").unwrap().counters.items.load(std::sync::atomic::Ordering::Relaxed),
        4
    );

    clock.advance_millis(61_000);
    assert_eq!(ttl::run_pass(&engine).await, 1);
    assert!(!exists(&engine, "t", "future"));
    assert_eq!(metric.get(), 2);
    assert_eq!(ttl::run_pass(&engine).await, 0, "nothing left to expire");
}

#[tokio::test]
async fn tables_without_ttl_are_left_alone() {
    let engine = open(ManualClock::new(NOW_MS));
    create(&engine, "plain", None).await;
    put(&engine, "plain", item("past", Some(n(NOW_S - 10)))).await;
    assert_eq!(ttl::run_pass(&engine).await, 0);
    assert!(exists(&engine, "plain", "past"));
}

#[tokio::test]
async fn an_overwrite_after_the_scan_is_not_deleted() {
    let engine = open(ManualClock::new(NOW_MS));
    create(&engine, "t", Some("exp")).await;
    put(&engine, "t", item("a", Some(n(NOW_S - 10)))).await;
    put(&engine, "t", item("b", Some(n(NOW_S - 10)))).await;
    let table = engine.table("t").unwrap();
    let meta = table.meta();
    let start = crate::storage::keys::table_items_prefix(meta.id);
    let (candidates, next) = ttl::scan_page(&engine, &meta, "exp", NOW_MS, start).unwrap();
    assert_eq!(candidates.len(), 2);
    assert!(next.is_none());

    // Between the scan and the delete, a client gives "a" a later TTL and deletes "b".
    put(&engine, "t", item("a", Some(n(NOW_S + 3600)))).await;
    let b_key = key(&engine, "t", "b");
    let b_hash = AttributeValue::S("b".into());
    engine.write(&table, &b_hash, b_key, Box::new(|_| Ok(None))).await.unwrap();

    assert_eq!(ttl::delete_expired(&engine, &table, candidates, "exp", NOW_MS).await, 0);
    let a = engine.get_item(&key(&engine, "t", "a")).unwrap().expect("a kept");
    assert_eq!(a["exp"], n(NOW_S + 3600));
}

#[tokio::test]
async fn a_pass_walks_every_page() {
    let engine = open(ManualClock::new(NOW_MS));
    create(&engine, "big", Some("exp")).await;
    let total = ttl::PAGE + 234;
    for i in 0..total {
        put(&engine, "big", item(&format!("k{i:05}"), Some(n(NOW_S - 1)))).await;
    }
    put(&engine, "big", item("zzz-keep", Some(n(NOW_S + 1)))).await;
    assert_eq!(ttl::run_pass(&engine).await, total as u64);
    assert!(exists(&engine, "big", "zzz-keep"));
    assert_eq!(
        engine.table("big").unwrap().counters.items.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn deleting_the_table_removes_its_metric_series() {
    let engine = open(ManualClock::new(NOW_MS));
    create(&engine, "gone", Some("exp")).await;
    put(&engine, "gone", item("a", Some(n(NOW_S - 1)))).await;
    assert_eq!(ttl::run_pass(&engine).await, 1);
    assert!(engine.metrics.render().contains("sluice_ttl_deleted_items_total{table=\"gone\"} 1"));
    engine.delete_table("gone").await.unwrap();
    assert!(!engine.metrics.render().contains("sluice_ttl_deleted_items_total{table=\"gone\"}"));
}

#[test]
fn table_records_written_before_ttl_load_with_ttl_disabled() {
    let record = r#"{"version":1,"id":7,"name":"old","uuid":"u","created_ms":0,
        "key_schema":{"hash":{"name":"pk","ty":"S"},"range":null},
        "attribute_definitions":[{"name":"pk","ty":"S"}],"billing_mode":"PAY_PER_REQUEST",
        "billing_mode_updated_ms":null,"throughput":{"read":0,"write":0,"last_increase_ms":null,
        "last_decrease_ms":null,"decreases_today":0},"stream":null,"tags":[],
        "deletion_protection":false,"table_class":null,"partitions":4}"#;
    let meta: TableMeta = serde_json::from_str(record).expect("old record loads");
    assert_eq!(meta.ttl, TimeToLive::default());
}
