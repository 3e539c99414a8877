//! PartiQL through the SDK: every statement kind with parameters, paging, AWS's errors,
//! the stream records its writes make (the same as the equivalent item calls), and the
//! batch and transaction operations.

use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest, ParameterizedStatement};

use crate::harness::{Server, create_table, error_of};
use crate::streams::{ONE_SHARD, create_with_stream, events, read_stream};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

#[tokio::test]
async fn statements_read_and_write_as_their_item_calls_do() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqt", true).await;
    let run = |statement: &str, params: Vec<AttributeValue>| {
        client
            .execute_statement()
            .statement(statement)
            .set_parameters((!params.is_empty()).then_some(params))
            .send()
    };
    for i in 1..=3 {
        let insert = "INSERT INTO \"pqt\" VALUE {'pk': ?, 'sk': ?, 'v': 'x', 'tags': <<'a', 'b'>>}";
        run(insert, vec![s("a"), n(&i.to_string())]).await.unwrap();
    }
    run(
        "INSERT INTO pqt VALUE {'pk': 'b', 'sk': 1, 'v': 'y', 'm': {'k': [1, true, null]}}",
        vec![],
    )
    .await
    .unwrap();
    // A key lookup with the sort key's condition, a projection, a filter on any attribute.
    let out = run("SELECT sk, v FROM pqt WHERE pk = ? AND sk >= 2", vec![s("a")]).await.unwrap();
    let sks: Vec<_> = out.items().iter().map(|i| i["sk"].clone()).collect();
    assert_eq!(sks, [n("2"), n("3")]);
    assert!(!out.items()[0].contains_key("tags"), "projected");
    let out = run("SELECT * FROM pqt WHERE v = 'y' AND m.k[1] = true", vec![]).await.unwrap();
    assert_eq!(out.items().len(), 1);
    assert_eq!(out.items()[0]["pk"], s("b"));
    let out = run("SELECT * FROM pqt WHERE contains(tags, 'a') AND sk BETWEEN 1 AND 2", vec![])
        .await
        .unwrap();
    assert_eq!(out.items().len(), 2);
    // UPDATE: SET with arithmetic, REMOVE; a condition on the item.
    run("UPDATE pqt SET n = 10 SET v = 'z' REMOVE tags WHERE pk = 'a' AND sk = 1", vec![])
        .await
        .unwrap();
    run("UPDATE pqt SET n = n + ? WHERE pk = 'a' AND sk = 1 AND v = 'z'", vec![n("5")])
        .await
        .unwrap();
    let got = client.get_item().table_name("pqt").key("pk", s("a")).key("sk", n("1"));
    let item = got.send().await.unwrap().item.unwrap();
    assert_eq!((item["n"].clone(), item["v"].clone()), (n("15"), s("z")));
    assert!(!item.contains_key("tags"));
    // DELETE by key.
    run("DELETE FROM pqt WHERE pk = 'a' AND sk = 3", vec![]).await.unwrap();
    let out = run("SELECT * FROM pqt WHERE pk = 'a'", vec![]).await.unwrap();
    assert_eq!(out.items().len(), 2);

    // AWS's errors.
    let (code, message) = error_of(run("INSERT INTO pqt VALUE {'pk': 'a', 'sk': 1}", vec![]).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DuplicateItemException", "Duplicate primary key exists in table")
    );
    let (code, _) =
        error_of(run("UPDATE pqt SET v = 1 WHERE pk = 'nope' AND sk = 1", vec![]).await);
    assert_eq!(code, "ConditionalCheckFailedException", "an UPDATE is no upsert");
    let (code, _) = error_of(
        run("UPDATE pqt SET v = 1 WHERE pk = 'a' AND sk = 1 AND v = 'other'", vec![]).await,
    );
    assert_eq!(code, "ConditionalCheckFailedException");
    let (code, message) = error_of(run("UPDATE pqt SET v = 1 WHERE pk = 'a'", vec![]).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Where clause does not contain a mandatory equality on all key attributes");
    let (code, message) = error_of(run("SELEC * FROM pqt", vec![]).await);
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("Statement wasn't well formed, can't be processed: "), "{message}");
    let (_, message) = error_of(run("SELECT * FROM pqt WHERE pk = ?", vec![]).await);
    assert_eq!(message, "Number of parameters in request and statement don't match.");
    let (code, _) = error_of(run("SELECT * FROM nope", vec![]).await);
    assert_eq!(code, "ResourceNotFoundException");
    // The item checks of the call it runs as.
    let (code, _) = error_of(run("INSERT INTO pqt VALUE {'pk': 'c'}", vec![]).await);
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn a_select_pages_with_limit_and_next_token() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pages", false).await;
    for i in 0..7 {
        let insert = format!("INSERT INTO pages VALUE {{'pk': 'k{i}', 'even': {}}}", i % 2 == 0);
        client.execute_statement().statement(insert).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = client
            .execute_statement()
            .statement("SELECT pk FROM pages WHERE even = true")
            .limit(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(out.items().iter().map(|i| i["pk"].clone()));
        token = out.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    seen.sort_by_key(|v| v.as_s().unwrap().clone());
    assert_eq!(seen, [s("k0"), s("k2"), s("k4"), s("k6")]);
    assert!(pages >= 4, "Limit evaluates at most 2 items a page: {pages} pages");
    let (code, _) = error_of(
        client
            .execute_statement()
            .statement("SELECT * FROM pages")
            .next_token("bogus")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn partiql_writes_make_the_stream_records_of_their_item_calls() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "pqs", "NEW_AND_OLD_IMAGES").await;
    let run = |statement: &'static str| client.execute_statement().statement(statement).send();
    run("INSERT INTO pqs VALUE {'pk': 'a', 'v': 1}").await.unwrap();
    run("UPDATE pqs SET v = 2 WHERE pk = 'a'").await.unwrap();
    run("DELETE FROM pqs WHERE pk = 'a'").await.unwrap();
    // A failed statement writes nothing.
    assert!(run("UPDATE pqs SET v = 3 WHERE pk = 'a'").await.is_err());
    let records = read_stream(&streams, &arn).await;
    let got = events(&records);
    let want = [("INSERT", "a"), ("MODIFY", "a"), ("REMOVE", "a")];
    let want: Vec<(String, String)> =
        want.iter().map(|(e, k)| (e.to_string(), k.to_string())).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn batches_answer_each_statement_and_transactions_all_or_nothing() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqb", false).await;
    let statement = |text: &str, params: Vec<AttributeValue>| {
        BatchStatementRequest::builder()
            .statement(text)
            .set_parameters((!params.is_empty()).then_some(params))
            .build()
            .unwrap()
    };
    let insert = "INSERT INTO pqb VALUE {'pk': ?}";
    let out = client
        .batch_execute_statement()
        .statements(statement(insert, vec![s("a")]))
        .statements(statement(insert, vec![s("a")]))
        .statements(statement(insert, vec![s("b")]))
        .send()
        .await
        .unwrap();
    let codes: Vec<Option<String>> = out
        .responses()
        .iter()
        .map(|r| r.error().and_then(|e| e.code()).map(|c| c.as_str().to_string()))
        .collect();
    assert_eq!(codes, [None, Some("DuplicateItem".into()), None]);
    let out = client
        .batch_execute_statement()
        .statements(statement("SELECT * FROM pqb WHERE pk = 'a'", vec![]))
        .statements(statement("SELECT * FROM pqb WHERE pk = 'zz'", vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses()[0].item().unwrap()["pk"], s("a"));
    assert!(out.responses()[1].item().is_none() && out.responses()[1].error().is_none());
    let (code, _) = error_of(
        client
            .batch_execute_statement()
            .statements(statement("SELECT * FROM pqb WHERE pk = 'a'", vec![]))
            .statements(statement(insert, vec![s("c")]))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException", "reads and writes do not mix");

    // A transaction: its EXISTS check fails, so nothing of it is written.
    let tx = |text: &str| ParameterizedStatement::builder().statement(text).build().unwrap();
    let (code, message) = error_of(
        client
            .execute_transaction()
            .transact_statements(tx("INSERT INTO pqb VALUE {'pk': 'c'}"))
            .transact_statements(tx(
                "EXISTS(SELECT * FROM pqb WHERE pk = 'nope' AND begins_with(pk, 'n'))",
            ))
            .send()
            .await,
    );
    assert_eq!(code, "TransactionCanceledException");
    assert!(message.contains("[None, ConditionalCheckFailed]"), "{message}");
    client
        .execute_transaction()
        .transact_statements(tx("INSERT INTO pqb VALUE {'pk': 'c'}"))
        .transact_statements(tx("UPDATE pqb SET n = 1 WHERE pk = 'a'"))
        .transact_statements(tx(
            "EXISTS(SELECT * FROM pqb WHERE pk = 'b' AND begins_with(pk, 'b'))",
        ))
        .send()
        .await
        .unwrap();
    let out = client
        .execute_transaction()
        .transact_statements(tx("SELECT * FROM pqb WHERE pk = 'a'"))
        .transact_statements(tx("SELECT pk FROM pqb WHERE pk = 'c'"))
        .send()
        .await
        .unwrap();
    let items: Vec<_> = out.responses().iter().map(|r| r.item().cloned().unwrap()).collect();
    assert_eq!(items[0]["n"], n("1"));
    assert_eq!(items[1]["pk"], s("c"));
}

#[tokio::test]
async fn hostile_statements_get_errors_not_crashes() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqh", false).await;
    let deep = format!("SELECT * FROM pqh WHERE {}pk = 'a'{}", "(".repeat(4000), ")".repeat(4000));
    let long = format!("SELECT * FROM pqh WHERE pk = 'a'{}", " AND v <> 1".repeat(700));
    let huge = format!("SELECT * FROM pqh WHERE pk = '{}'", "x".repeat(9000));
    for statement in [deep, long, huge, "INSERT INTO pqh VALUE {'pk': <<>>}".to_string()] {
        let (code, _) = error_of(client.execute_statement().statement(&statement).send().await);
        assert_eq!(code, "ValidationException", "{}", &statement[..60]);
    }
    // The daemon is still there.
    client.execute_statement().statement("SELECT * FROM pqh").send().await.unwrap();
}

#[tokio::test]
async fn update_functions_and_returning_clauses() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqf", false).await;
    let run = |statement: &'static str| client.execute_statement().statement(statement).send();
    run("INSERT INTO pqf VALUE {'pk': 'a', 'l': [1], 's': <<'x'>>}").await.unwrap();
    let out = run("UPDATE pqf SET l = list_append(l, [2, 3]), n = if_not_exists(n, 7) \
         SET s = set_add(s, <<'y'>>) WHERE pk = 'a' RETURNING ALL NEW *")
    .await
    .unwrap();
    let item = &out.items()[0];
    assert_eq!(item["l"], AttributeValue::L(vec![n("1"), n("2"), n("3")]));
    assert_eq!(item["n"], n("7"));
    let mut set = item["s"].as_ss().unwrap().clone();
    set.sort();
    assert_eq!(set, ["x", "y"]);
    let out =
        run("UPDATE pqf SET s = set_delete(s, <<'x'>>) WHERE pk = 'a' RETURNING MODIFIED OLD *")
            .await
            .unwrap();
    assert_eq!(out.items().len(), 1);
    assert!(out.items()[0].contains_key("s") && !out.items()[0].contains_key("l"), "{out:?}");
    // A DELETE returns what it deleted, or nothing.
    let out = run("DELETE FROM pqf WHERE pk = 'a' RETURNING ALL OLD *").await.unwrap();
    assert_eq!(out.items()[0]["s"], AttributeValue::Ss(vec!["y".into()]));
    let out = run("DELETE FROM pqf WHERE pk = 'a' RETURNING ALL OLD *").await.unwrap();
    assert!(out.items().is_empty());
    let (code, _) = error_of(run("DELETE FROM pqf WHERE pk = 'a' RETURNING ALL NEW *").await);
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn parameters_that_are_no_attribute_values_get_the_errors_a_body_would() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqp", false).await;
    let run = |body: &'static str| server.post("ExecuteStatement", body.as_bytes(), &[]);
    let r = run(r#"{"Statement": "INSERT INTO pqp VALUE {'pk': ?}", "Parameters": [{"X": "y"}]}"#)
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["__type"], "com.amazon.coral.validate#ValidationException");
    let r =
        run(r#"{"Statement": "SELECT * FROM pqp WHERE pk = ?", "Parameters": [{"S": 1}]}"#).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["__type"], "com.amazon.coral.service#SerializationException");
    assert_eq!(r.json()["Message"], "NUMBER_VALUE cannot be converted to String");
    let body =
        r#"{"Statements": [{"Statement": "SELECT * FROM pqp WHERE pk = ?", "Parameters": [[1]]}]}"#;
    let r = server.post("BatchExecuteStatement", body.as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let error = &r.json()["Responses"][0]["Error"];
    assert_eq!(error["Code"], "ValidationError");
    assert_ne!(error["Message"], "serialization", "the message, not the kind: {error}");
}

/// ORDER BY on the sort key within one partition (the Query's order, DESC backwards),
/// and AWS's refusals: no WHERE, or more than one partition without the hash key.
#[tokio::test]
async fn order_by_sorts_one_partition_by_its_sort_key() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqo", true).await;
    for sk in [3, 1, 2] {
        let put =
            client.put_item().table_name("pqo").item("pk", s("a")).item("sk", n(&sk.to_string()));
        put.send().await.unwrap();
    }
    client.put_item().table_name("pqo").item("pk", s("b")).item("sk", n("9")).send().await.unwrap();
    let run = |statement: &'static str| client.execute_statement().statement(statement).send();
    let sks = |out: &aws_sdk_dynamodb::operation::execute_statement::ExecuteStatementOutput| {
        out.items().iter().map(|i| i["sk"].clone()).collect::<Vec<_>>()
    };
    let out = run("SELECT * FROM pqo WHERE pk = 'a' ORDER BY sk DESC").await.unwrap();
    assert_eq!(sks(&out), [n("3"), n("2"), n("1")]);
    let out = run("SELECT * FROM pqo WHERE pk = 'a' ORDER BY pk, sk ASC").await.unwrap();
    assert_eq!(sks(&out), [n("1"), n("2"), n("3")]);
    let out = run("SELECT sk FROM pqo WHERE pk = 'a' AND sk > 1 ORDER BY sk DESC").await.unwrap();
    assert_eq!(sks(&out), [n("3"), n("2")]);

    let (code, message) = error_of(run("SELECT * FROM pqo ORDER BY sk").await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "Must have WHERE clause in the statement when using ORDER BY clause."
        )
    );
    let (_, message) =
        error_of(run("SELECT * FROM pqo WHERE pk = 'a' OR pk = 'b' ORDER BY sk").await);
    assert_eq!(
        message,
        "Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause."
    );
    let (code, message) = error_of(run("SELECT * FROM pqo WHERE pk = 'a' ORDER BY v").await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "Variable reference v in ORDER BY clause must be part of the primary key"
        )
    );
    let (_, message) = error_of(run("SELECT * FROM pqo WHERE pk > 'a' ORDER BY sk").await);
    assert_eq!(
        message,
        "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause."
    );
}

/// A SELECT naming several partitions (`IN`, or `=`s joined by OR) reads each with a
/// Query (AWS's decomposed reads): in key order under ORDER BY, pages joined by
/// NextToken across partitions, at most 50 partitions.
#[tokio::test]
async fn several_partitions_are_read_one_query_each_in_order() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "pqd", true).await;
    for pk in ["a", "b", "c"] {
        for sk in 1..=3 {
            let put = client
                .put_item()
                .table_name("pqd")
                .item("pk", s(pk))
                .item("sk", n(&sk.to_string()));
            put.send().await.unwrap();
        }
    }
    let run = |statement: &str, limit: Option<i32>, token: Option<String>| {
        client
            .execute_statement()
            .statement(statement)
            .set_limit(limit)
            .set_next_token(token)
            .send()
    };
    let keys = |out: &aws_sdk_dynamodb::operation::execute_statement::ExecuteStatementOutput| {
        out.items()
            .iter()
            .map(|i| match (&i["pk"], &i["sk"]) {
                (AttributeValue::S(p), AttributeValue::N(k)) => format!("{p}{k}"),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let out =
        run("SELECT * FROM pqd WHERE pk IN ['c', 'a'] ORDER BY pk", None, None).await.unwrap();
    assert_eq!(keys(&out), ["a1", "a2", "a3", "c1", "c2", "c3"]);
    let out = run("SELECT * FROM pqd WHERE pk IN ['c', 'a'] ORDER BY pk DESC, sk DESC", None, None)
        .await
        .unwrap();
    assert_eq!(keys(&out), ["c3", "c2", "c1", "a3", "a2", "a1"]);
    // Without ORDER BY: the WHERE clause's order; a sort key condition and a filter apply
    // in each partition.
    let out = run(
        "SELECT * FROM pqd WHERE (pk = 'b' OR pk = 'a') AND sk >= 2 AND v IS MISSING",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(keys(&out), ["b2", "b3", "a2", "a3"]);
    // Pages of Limit items, continued across partitions by NextToken.
    let statement = "SELECT * FROM pqd WHERE pk IN ['a', 'b', 'c'] ORDER BY pk";
    let (mut all, mut token) = (Vec::new(), None);
    loop {
        let out = run(statement, Some(2), token.take()).await.unwrap();
        assert!(out.items().len() <= 2);
        all.extend(keys(&out));
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(all, ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"]);
    // A page ends between partitions once it passes 1 MB, and goes on from the next.
    let big = "x".repeat(390_000);
    for pk in ["a", "b", "c"] {
        for sk in ["2", "3"] {
            let put = client.put_item().table_name("pqd").item("pk", s(pk)).item("sk", n(sk));
            put.item("v", s(&big)).send().await.unwrap();
        }
    }
    let wanted = ["a2", "a3", "b2", "b3", "c2", "c3"];
    let statement = "SELECT pk, sk FROM pqd WHERE pk IN ['a', 'b', 'c'] AND sk >= 2 ORDER BY pk";
    let small = run(statement, None, None).await.unwrap();
    assert_eq!(keys(&small), wanted, "projected items are small");
    let statement = "SELECT * FROM pqd WHERE pk IN ['a', 'b', 'c'] AND sk >= 2 ORDER BY pk";
    let first = run(statement, None, None).await.unwrap();
    assert_eq!(keys(&first), wanted[..4]);
    let rest = run(statement, None, first.next_token().map(str::to_string)).await.unwrap();
    assert_eq!(keys(&rest), wanted[4..]);
    assert!(rest.next_token().is_none());
    let many: Vec<String> = (0..51).map(|i| format!("'k{i}'")).collect();
    let statement = format!("SELECT * FROM pqd WHERE pk IN [{}]", many.join(", "));
    let (code, message) = error_of(run(&statement, None, None).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationException", "Too many decomposed read operations for a given query.")
    );
}
