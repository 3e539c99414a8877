//! TransactGetItems, and the concurrency test: transfers between two tables under load
//! must conserve their sum, and snapshot reads must never see half a transfer.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Get, ReturnConsumedCapacity, TransactGetItem};

use super::{add, balance, get, get_action, item, n, s};
use crate::harness::{Server, create_table, error_of};

#[tokio::test]
async fn transact_get_items_reads_in_order() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "gax", false).await;
    create_table(&client, "gbx", false).await;
    client
        .put_item()
        .table_name("gax")
        .set_item(Some(item(&[("pk", s("1")), ("v", s("one")), ("w", n("1"))])))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("gbx")
        .set_item(Some(item(&[("pk", s("2")), ("v", s("two"))])))
        .send()
        .await
        .unwrap();
    let projected = Get::builder()
        .table_name("gax")
        .key("pk", s("1"))
        .projection_expression("#v")
        .expression_attribute_names("#v", "v")
        .build()
        .unwrap();
    let out = client
        .transact_get_items()
        .transact_items(TransactGetItem::builder().get(projected).build())
        .transact_items(get_action("gbx", "missing"))
        .transact_items(get_action("gbx", "2"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let items: Vec<_> = out.responses().iter().map(|r| r.item().cloned()).collect();
    assert_eq!(
        items,
        vec![Some(item(&[("v", s("one"))])), None, Some(item(&[("pk", s("2")), ("v", s("two"))]))]
    );
    let capacity: HashMap<String, (f64, f64)> = out
        .consumed_capacity()
        .iter()
        .map(|c| {
            let read = c.table().and_then(|t| t.read_capacity_units()).unwrap_or(-1.0);
            (c.table_name().unwrap().into(), (c.capacity_units().unwrap(), read))
        })
        .collect();
    assert_eq!(capacity["gax"], (2.0, 2.0));
    assert_eq!(capacity["gbx"], (4.0, 4.0), "a missing item costs as much as a small one");

    let (code, message) = error_of(
        client
            .transact_get_items()
            .transact_items(get_action("gbx", "2"))
            .transact_items(get_action("gbx", "2"))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "Transaction request cannot include multiple operations on one item"
        )
    );
    let (code, message) =
        error_of(client.transact_get_items().transact_items(get_action("nope", "2")).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Requested resource not found")
    );
    let (code, message) =
        error_of(client.transact_get_items().set_transact_items(Some(vec![])).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
}

/// Many concurrent transfers between items of two tables, with plain PutItems on the
/// same tables and snapshot readers running alongside: no value is lost or created,
/// and no reader ever sees half a transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_conserve_the_sum() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "acct_a", false).await;
    create_table(&client, "acct_b", false).await;
    let accounts: Vec<(&str, String)> = ["acct_a", "acct_b"]
        .iter()
        .flat_map(|t| (0..4).map(move |i| (*t, format!("k{i}"))))
        .collect();
    for (table, pk) in &accounts {
        client
            .put_item()
            .table_name(*table)
            .set_item(Some(item(&[("pk", s(pk)), ("balance", n("100"))])))
            .send()
            .await
            .unwrap();
    }
    let accounts = Arc::new(accounts);
    let total = |client: Client, accounts: Arc<Vec<(&'static str, String)>>| async move {
        let gets = accounts.iter().map(|(t, pk)| get_action(t, pk)).collect();
        let out = client.transact_get_items().set_transact_items(Some(gets)).send().await.unwrap();
        out.responses().iter().map(|r| balance(r.item())).sum::<i64>()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..6u64 {
        let (client, accounts) = (client.clone(), accounts.clone());
        tasks.spawn(async move {
            let mut state = worker + 1;
            let mut committed = 0;
            for _ in 0..15 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let from = &accounts[(state >> 33) as usize % accounts.len()];
                let to = &accounts[(state >> 40) as usize % accounts.len()];
                if from == to {
                    continue;
                }
                let amount = 1 + (state >> 50) as i64 % 30;
                let result = client
                    .transact_write_items()
                    .transact_items(add(from.0, &from.1, -amount))
                    .transact_items(add(to.0, &to.1, amount))
                    .send()
                    .await;
                match result {
                    Ok(_) => committed += 1,
                    Err(e) => {
                        let e = e.into_service_error();
                        assert!(e.is_transaction_canceled_exception(), "{e:?}");
                    }
                }
            }
            committed
        });
    }
    for worker in 0..2 {
        let client = client.clone();
        tasks.spawn(async move {
            for i in 0..20 {
                let table = if i % 2 == 0 { "acct_a" } else { "acct_b" };
                let pk = format!("noise-{worker}-{i}");
                client
                    .put_item()
                    .table_name(table)
                    .item("pk", s(&pk))
                    .item("balance", n("1"))
                    .send()
                    .await
                    .unwrap();
            }
            0
        });
    }
    {
        let (client, accounts) = (client.clone(), accounts.clone());
        tasks.spawn(async move {
            for _ in 0..20 {
                assert_eq!(
                    total(client.clone(), accounts.clone()).await,
                    800,
                    "a snapshot saw half a transfer"
                );
            }
            0
        });
    }
    let mut committed = 0;
    while let Some(done) = tasks.join_next().await {
        committed += done.unwrap();
    }
    assert!(committed > 30, "only {committed} transfers committed");
    assert_eq!(total(client.clone(), accounts.clone()).await, 800);
    for (table, pk) in accounts.iter() {
        assert!(balance(get(&client, table, pk).await.as_ref()) >= 0);
    }
}
