//! Property test: Query and Scan over random items return exactly what a plain
//! in-memory model returns, in order, across pages.
//!
//! Each case writes random items (a few partitions, N, S or B sort keys) through
//! PutItem into a fresh table of an in-memory engine, then pages through random key
//! conditions (every operator, both directions, small Limits, an optional filter) and
//! through parallel scans, following LastEvaluatedKey, and compares with the model:
//! a sorted map filtered by the same rules. The same queries also run against a GSI
//! keyed by (`gp`, `sk`) that merges partitions, so equal index keys from different
//! items must come back ordered by the items' own keys.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::protocol::RequestContext;

/// A sort-key value of the model, ordered as DynamoDB orders that type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Sort {
    /// Quarters, so the decimal form is exact: -10.0 ..= 9.75.
    N(i32),
    S(String),
    B(Vec<u8>),
}

impl Sort {
    fn json(&self) -> Value {
        match self {
            Sort::N(q) if q % 4 == 0 => json!({"N": (q / 4).to_string()}),
            Sort::N(q) => json!({"N": (f64::from(*q) / 4.0).to_string()}),
            Sort::S(s) => json!({"S": s}),
            Sort::B(b) => json!({"B": base64::engine::general_purpose::STANDARD.encode(b)}),
        }
    }

    fn begins_with(&self, prefix: &Sort) -> bool {
        match (self, prefix) {
            (Sort::S(s), Sort::S(p)) => s.starts_with(p.as_str()),
            (Sort::B(b), Sort::B(p)) => b.starts_with(p),
            _ => false,
        }
    }
}

/// Which sort-key type a case's table has.
fn sort_value(kind: u8) -> BoxedStrategy<Sort> {
    match kind {
        0 => (-40i32..40).prop_map(Sort::N).boxed(),
        1 => "[ab~é]{1,3}".prop_map(Sort::S).boxed(),
        _ => proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(254), Just(255)], 1..4)
            .prop_map(Sort::B)
            .boxed(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    All,
    Eq(Sort),
    Lt(Sort),
    Le(Sort),
    Gt(Sort),
    Ge(Sort),
    Between(Sort, Sort),
    BeginsWith(Sort),
}

impl Op {
    fn matches(&self, k: &Sort) -> bool {
        match self {
            Op::All => true,
            Op::Eq(v) => k == v,
            Op::Lt(v) => k < v,
            Op::Le(v) => k <= v,
            Op::Gt(v) => k > v,
            Op::Ge(v) => k >= v,
            Op::Between(lo, hi) => lo <= k && k <= hi,
            Op::BeginsWith(p) => k.begins_with(p),
        }
    }

    /// The KeyConditionExpression and its values.
    fn expression(&self) -> (String, Vec<(&'static str, Value)>) {
        let one = |e: &str, v: &Sort| (format!("pk = :p AND {e}"), vec![(":v", v.json())]);
        match self {
            Op::All => ("pk = :p".into(), vec![]),
            Op::Eq(v) => one("sk = :v", v),
            Op::Lt(v) => one("sk < :v", v),
            Op::Le(v) => one(":v >= sk", v),
            Op::Gt(v) => one("sk > :v", v),
            Op::Ge(v) => one("sk >= :v", v),
            Op::BeginsWith(v) => one("begins_with(sk, :v)", v),
            Op::Between(lo, hi) => (
                "pk = :p AND sk BETWEEN :lo AND :hi".into(),
                vec![(":lo", lo.json()), (":hi", hi.json())],
            ),
        }
    }
}

fn op(kind: u8) -> BoxedStrategy<Op> {
    let v = || sort_value(kind);
    let mut ops = vec![
        Just(Op::All).boxed(),
        v().prop_map(Op::Eq).boxed(),
        v().prop_map(Op::Lt).boxed(),
        v().prop_map(Op::Le).boxed(),
        v().prop_map(Op::Gt).boxed(),
        v().prop_map(Op::Ge).boxed(),
        (v(), v())
            .prop_map(|(a, b)| if a <= b { Op::Between(a, b) } else { Op::Between(b, a) })
            .boxed(),
    ];
    if kind != 0 {
        ops.push(v().prop_map(Op::BeginsWith).boxed());
    }
    proptest::strategy::Union::new(ops).boxed()
}

/// One query: partition, key condition, forward, Limit, filter `v > a`.
type Query = (u8, Op, bool, Option<usize>, Option<i64>);

#[derive(Debug, Clone)]
struct Case {
    kind: u8,
    /// (partition, sort key, v); later writes of a key replace earlier ones.
    items: Vec<(u8, Sort, i64)>,
    queries: Vec<Query>,
    scan_limit: Option<usize>,
    segments: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (0u8..3).prop_flat_map(|kind| {
        let item = (0u8..3, sort_value(kind), 0i64..10);
        let query = (
            0u8..4,
            op(kind),
            any::<bool>(),
            prop::option::of(1usize..5),
            prop::option::of(0i64..10),
        );
        (
            proptest::collection::vec(item, 0..40),
            proptest::collection::vec(query, 1..6),
            prop::option::of(1usize..7),
            1u32..5,
        )
            .prop_map(move |(items, queries, scan_limit, segments)| Case {
                kind,
                items,
                queries,
                scan_limit,
                segments,
            })
    })
}

fn call(rt: &tokio::runtime::Runtime, engine: &Arc<Engine>, op: &str, body: Value) -> Value {
    let ctx = RequestContext {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        request_id: "test".into(),
        host: None,
    };
    let handled = rt.block_on(super::handle(engine, op, &ctx, body));
    handled.result.unwrap_or_else(|e| panic!("{op} failed: {e:?}"))
}

/// Follows LastEvaluatedKey until the last page; returns the items and the summed
/// Count and ScannedCount.
fn pages(
    rt: &tokio::runtime::Runtime,
    engine: &Arc<Engine>,
    op: &str,
    body: Value,
) -> (Vec<Value>, u64, u64) {
    let (mut items, mut count, mut scanned) = (Vec::new(), 0, 0);
    let mut body = body;
    for _ in 0..500 {
        let out = call(rt, engine, op, body.clone());
        let page = out["Items"].as_array().cloned().unwrap_or_default();
        assert_eq!(out["Count"].as_u64(), Some(page.len() as u64));
        if let Some(limit) = body.get("Limit").and_then(Value::as_u64) {
            assert!(out["ScannedCount"].as_u64().unwrap_or(0) <= limit);
        }
        count += out["Count"].as_u64().unwrap_or(0);
        scanned += out["ScannedCount"].as_u64().unwrap_or(0);
        items.extend(page);
        match out.get("LastEvaluatedKey") {
            Some(key) => body["ExclusiveStartKey"] = key.clone(),
            None => return (items, count, scanned),
        }
    }
    panic!("{op} did not finish paging");
}

fn item_json(p: u8, k: &Sort, v: i64) -> Value {
    json!({"pk": {"S": format!("p{p}")}, "sk": k.json(), "v": {"N": v.to_string()}, "gp": {"S": format!("g{}", p % 2)}})
}

#[test]
fn query_and_scan_match_a_model_across_pages() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build();
    let rt = rt.expect("runtime");
    let mut config = Config::default();
    config.storage.in_memory = true;
    config.dynamodb.create_table_delay_ms = 0;
    let engine = rt
        .block_on(async {
            Engine::open(Arc::new(config), Arc::new(SystemClock), Arc::new(Metrics::new()))
        })
        .expect("engine");
    let tables = AtomicUsize::new(0);
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 32,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&case(), |case| {
        let table = format!("prop{}", tables.fetch_add(1, Ordering::Relaxed));
        let sort_type = ["N", "S", "B"][usize::from(case.kind)];
        call(&rt, &engine, "CreateTable", json!({
            "TableName": table, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": sort_type}, {"AttributeName": "gp", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "gp", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}],
        }));
        let mut model: BTreeMap<(u8, Sort), i64> = BTreeMap::new();
        for (p, k, v) in &case.items {
            call(&rt, &engine, "PutItem", json!({"TableName": table, "Item": item_json(*p, k, *v)}));
            model.insert((*p, k.clone()), *v);
        }
        for (p, op, forward, limit, above) in &case.queries {
            let (expr, values) = op.expression();
            let mut body = json!({"TableName": table, "KeyConditionExpression": expr, "ScanIndexForward": forward});
            body["ExpressionAttributeValues"] = json!({":p": {"S": format!("p{p}")}});
            for (name, v) in values {
                body["ExpressionAttributeValues"][name] = v;
            }
            if let Some(l) = limit {
                body["Limit"] = json!(l);
            }
            if let Some(a) = above {
                body["FilterExpression"] = json!("v > :a");
                body["ExpressionAttributeValues"][":a"] = json!({"N": a.to_string()});
            }
            let mut read: Vec<_> = model.iter().filter(|((mp, k), _)| mp == p && op.matches(k)).collect();
            if !forward {
                read.reverse();
            }
            let expected: Vec<Value> = read
                .iter()
                .filter(|(_, v)| above.is_none_or(|a| **v > a))
                .map(|((p, k), v)| item_json(*p, k, **v))
                .collect();
            let (items, count, scanned) = pages(&rt, &engine, "Query", body.clone());
            prop_assert_eq!(&items, &expected, "query {:?} {:?} forward {}", p, op, forward);
            prop_assert_eq!((count, scanned), (expected.len() as u64, read.len() as u64));

            // The GSI: partition g{p % 2}, ordered by sort key, then by the item's key.
            let g = p % 2;
            body["IndexName"] = json!("gsi");
            body["KeyConditionExpression"] = json!(expr.replacen("pk = :p", "gp = :p", 1));
            body["ExpressionAttributeValues"][":p"] = json!({"S": format!("g{g}")});
            let mut read: Vec<_> = model.iter().filter(|((mp, k), _)| mp % 2 == g && op.matches(k)).collect();
            read.sort_by(|((pa, ka), _), ((pb, kb), _)| (ka, pa).cmp(&(kb, pb)));
            if !forward {
                read.reverse();
            }
            let expected: Vec<Value> = read
                .iter()
                .filter(|(_, v)| above.is_none_or(|a| **v > a))
                .map(|((p, k), v)| item_json(*p, k, **v))
                .collect();
            let (items, count, scanned) = pages(&rt, &engine, "Query", body);
            prop_assert_eq!(&items, &expected, "index query g{} {:?} forward {}", g, op, forward);
            prop_assert_eq!((count, scanned), (expected.len() as u64, read.len() as u64));
        }
        let all: BTreeSet<String> = model.iter().map(|((p, k), v)| item_json(*p, k, *v).to_string()).collect();
        let mut union = BTreeSet::new();
        for segment in 0..case.segments {
            let mut body = json!({"TableName": table, "Segment": segment, "TotalSegments": case.segments});
            if let Some(l) = case.scan_limit {
                body["Limit"] = json!(l);
            }
            let (items, _, _) = pages(&rt, &engine, "Scan", body);
            for item in items {
                prop_assert!(union.insert(item.to_string()), "{} twice", item);
            }
        }
        prop_assert_eq!(union, all);
        call(&rt, &engine, "DeleteTable", json!({"TableName": table}));
        Ok(())
    });
    rt.block_on(engine.shutdown());
    if let Err(e) = result {
        panic!("{e}");
    }
}
