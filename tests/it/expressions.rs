//! The expression language through the SDK: conditions, updates, projections, their
//! placeholders and errors, and the legacy Expected / AttributesToGet / AttributeUpdates.
//!
//! src/model/expr is a stand-in that accepts everything until the real parser and
//! evaluator land, so the tests that need it are ignored with that reason; run them with
//! `cargo test --test it -- --ignored`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue, AttributeValueUpdate, ComparisonOperator, ConditionalOperator,
    ExpectedAttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

use crate::harness::{Server, create_table, error_of};

const NEEDS_EXPR: &str = "needs the expression language (src/model/expr)";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

fn ss(v: &[&str]) -> AttributeValue {
    AttributeValue::Ss(v.iter().map(|x| x.to_string()).collect())
}

fn m(pairs: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(item(pairs))
}

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Sets compare as sets: sorts their members (recursively) so results compare exactly.
fn canonical(mut it: HashMap<String, AttributeValue>) -> HashMap<String, AttributeValue> {
    fn fix(v: &mut AttributeValue) {
        match v {
            AttributeValue::Ss(x) | AttributeValue::Ns(x) => x.sort(),
            AttributeValue::Bs(x) => x.sort_by(|a, b| a.as_ref().cmp(b.as_ref())),
            AttributeValue::M(m) => m.values_mut().for_each(fix),
            AttributeValue::L(l) => l.iter_mut().for_each(fix),
            _ => {}
        }
    }
    it.values_mut().for_each(fix);
    it
}

async fn put(client: &Client, table: &str, it: HashMap<String, AttributeValue>) {
    client.put_item().table_name(table).set_item(Some(it)).send().await.unwrap();
}

async fn get(client: &Client, table: &str, pk: &str) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn conditional_put_fails_and_can_return_the_old_item() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "cond", false).await;
    let old = item(&[("pk", s("k")), ("v", s("one"))]);
    put(&client, "cond", old.clone()).await;

    let conditional = |on_failure: Option<ReturnValuesOnConditionCheckFailure>| {
        client
            .put_item()
            .table_name("cond")
            .item("pk", s("k"))
            .item("v", s("two"))
            .condition_expression("attribute_not_exists(pk)")
            .set_return_values_on_condition_check_failure(on_failure)
            .send()
    };
    let (code, message) = error_of(conditional(None).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ConditionalCheckFailedException", "The conditional request failed"),
        "{NEEDS_EXPR}"
    );
    let err = conditional(None).await.unwrap_err().into_service_error();
    let PutItemError::ConditionalCheckFailedException(e) = err else { panic!("{err:?}") };
    assert_eq!(e.item(), None, "no item unless ALL_OLD was asked for");
    let err = conditional(Some(ReturnValuesOnConditionCheckFailure::AllOld))
        .await
        .unwrap_err()
        .into_service_error();
    let PutItemError::ConditionalCheckFailedException(e) = err else { panic!("{err:?}") };
    assert_eq!(e.item(), Some(&old));
    assert_eq!(get(&client, "cond", "k").await, Some(old.clone()), "a failed put changes nothing");

    // The same on the wire: the old item rides along in the error body.
    let r = server
        .post(
            "PutItem",
            br#"{"TableName":"cond","Item":{"pk":{"S":"k"}},"ConditionExpression":"attribute_not_exists(pk)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": {"pk": {"S": "k"}, "v": {"S": "one"}},
        })
    );

    // A condition that holds lets the write through.
    client
        .put_item()
        .table_name("cond")
        .item("pk", s("k"))
        .item("v", s("two"))
        .condition_expression("attribute_exists(pk) AND v = :one")
        .expression_attribute_values(":one", s("one"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&client, "cond", "k").await.unwrap()["v"], s("two"));
}

#[tokio::test]
async fn conditional_delete_and_update() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "conddel", false).await;
    let old = item(&[("pk", s("k")), ("v", s("one"))]);
    put(&client, "conddel", old.clone()).await;

    let err = client
        .delete_item()
        .table_name("conddel")
        .key("pk", s("k"))
        .condition_expression("v = :two")
        .expression_attribute_values(":two", s("two"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let DeleteItemError::ConditionalCheckFailedException(e) = err else { panic!("{err:?}") };
    assert_eq!(e.item(), Some(&old));
    assert_eq!(get(&client, "conddel", "k").await, Some(old.clone()));

    // UpdateItem with attribute_exists does not upsert a missing item.
    let err = client
        .update_item()
        .table_name("conddel")
        .key("pk", s("missing"))
        .update_expression("SET v = :x")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":x", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(err, UpdateItemError::ConditionalCheckFailedException(_)), "{err:?}");
    assert_eq!(get(&client, "conddel", "missing").await, None);

    client
        .delete_item()
        .table_name("conddel")
        .key("pk", s("k"))
        .condition_expression("v = :one")
        .expression_attribute_values(":one", s("one"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&client, "conddel", "k").await, None);
}

#[tokio::test]
async fn condition_functions_and_comparators() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "funcs", false).await;
    let stored = item(&[
        ("pk", s("k")),
        ("s", s("hello world")),
        ("n", n("5")),
        ("l", AttributeValue::L(vec![n("1"), n("2"), n("3")])),
        ("ss", ss(&["a", "b"])),
        ("m", m(&[("x", s("y"))])),
        ("b", AttributeValue::Bool(true)),
        ("name", s("reserved word")),
    ]);
    put(&client, "funcs", stored.clone()).await;
    let values = item(&[
        (":hel", s("hel")),
        (":wor", s("wor")),
        (":a", s("a")),
        (":z", s("z")),
        (":two", n("2")),
        (":eleven", n("11")),
        (":N", s("N")),
        (":S", s("S")),
        (":one", n("1")),
        (":five", n("5")),
        (":ten", n("10")),
        (":true", AttributeValue::Bool(true)),
        (":y", s("y")),
        (":rw", s("reserved word")),
    ]);
    let cases = [
        ("begins_with(s, :hel)", true),
        ("begins_with(s, :wor)", false),
        ("contains(s, :wor)", true),
        ("contains(ss, :a)", true),
        ("contains(ss, :z)", false),
        ("contains(l, :two)", true),
        ("size(s) = :eleven", true),
        ("size(l) > :two", true),
        ("size(ss) = :two", true),
        ("attribute_type(n, :N)", true),
        ("attribute_type(n, :S)", false),
        ("n BETWEEN :one AND :ten", true),
        ("n BETWEEN :one AND :two", false),
        ("n IN (:one, :two, :five)", true),
        ("n IN (:one, :two)", false),
        ("NOT n = :five", false),
        ("n <> :five", false),
        ("n < :one OR b = :true", true),
        ("(n >= :five AND n <= :five) AND m.x = :y", true),
        ("l[1] = :two", true),
        ("l[5] = :two", false),
        ("attribute_not_exists(nothing)", true),
        ("attribute_exists(m.x)", true),
        ("attribute_exists(m.nope)", false),
        ("#n = :rw", true),
    ];
    for (expression, holds) in cases {
        // Only the placeholders the expression uses: unused ones are an error of their own.
        let used: HashMap<String, AttributeValue> = values
            .iter()
            .filter(|(k, _)| {
                expression
                    .match_indices(k.as_str())
                    .any(|(i, _)| !expression[i + k.len()..].starts_with(char::is_alphanumeric))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let names =
            expression.contains("#n").then(|| HashMap::from([("#n".into(), "name".into())]));
        let result = client
            .put_item()
            .table_name("funcs")
            .set_item(Some(stored.clone()))
            .condition_expression(expression)
            .set_expression_attribute_values((!used.is_empty()).then_some(used))
            .set_expression_attribute_names(names)
            .send()
            .await;
        match (holds, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) => {
                let e = e.into_service_error();
                assert!(
                    matches!(e, PutItemError::ConditionalCheckFailedException(_)),
                    "{expression}: {e:?}"
                );
            }
            (holds, result) => panic!("{expression}: expected {holds}, got {result:?}"),
        }
    }
}

#[tokio::test]
async fn update_expression_set_remove_add_delete() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "upd", false).await;
    put(
        &client,
        "upd",
        item(&[
            ("pk", s("k")),
            ("count", n("1")),
            ("tags", ss(&["a", "b"])),
            ("other", ss(&["a", "b", "c"])),
            ("list", AttributeValue::L(vec![n("1")])),
            ("gone", s("x")),
            ("m", m(&[("n", m(&[("x", n("1"))]))])),
        ]),
    )
    .await;
    let out = client
        .update_item()
        .table_name("upd")
        .key("pk", s("k"))
        .update_expression(
            "SET #c = #c + :one, fresh = if_not_exists(fresh, :zero), kept = if_not_exists(#c, :zero), \
             #l = list_append(#l, :more), m.n.y = :two \
             REMOVE gone ADD #t :five, tags :d DELETE #o :a",
        )
        .expression_attribute_names("#c", "count")
        .expression_attribute_names("#l", "list")
        // TOTAL is one of AWS's reserved words.
        .expression_attribute_names("#t", "total")
        .expression_attribute_names("#o", "other")
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":zero", n("0"))
        .expression_attribute_values(":two", n("2"))
        .expression_attribute_values(":five", n("5"))
        .expression_attribute_values(":more", AttributeValue::L(vec![n("2"), n("3")]))
        .expression_attribute_values(":d", ss(&["d"]))
        .expression_attribute_values(":a", ss(&["a"]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let expected = item(&[
        ("pk", s("k")),
        ("count", n("2")),
        ("fresh", n("0")),
        ("kept", n("1")),
        ("list", AttributeValue::L(vec![n("1"), n("2"), n("3")])),
        ("m", m(&[("n", m(&[("x", n("1")), ("y", n("2"))]))])),
        ("total", n("5")),
        ("tags", ss(&["a", "b", "d"])),
        ("other", ss(&["b", "c"])),
    ]);
    assert_eq!(out.attributes.map(canonical), Some(expected.clone()), "{NEEDS_EXPR}");
    assert_eq!(get(&client, "upd", "k").await.map(canonical), Some(expected));

    // List indexes, subtraction, nested REMOVE, and a DELETE that empties a set.
    let out = client
        .update_item()
        .table_name("upd")
        .key("pk", s("k"))
        .update_expression(
            "SET #l[0] = :ten, #c = #c - :one REMOVE #l[2], m.n.x DELETE #o :bc ADD #t :five",
        )
        .expression_attribute_names("#c", "count")
        .expression_attribute_names("#l", "list")
        .expression_attribute_names("#o", "other")
        .expression_attribute_names("#t", "total")
        .expression_attribute_values(":ten", n("10"))
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":bc", ss(&["b", "c"]))
        .expression_attribute_values(":five", n("5.5"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let got = canonical(out.attributes.unwrap());
    assert_eq!(got["count"], n("1"));
    assert_eq!(got["list"], AttributeValue::L(vec![n("10"), n("2")]));
    assert_eq!(got["m"], m(&[("n", m(&[("y", n("2"))]))]));
    assert_eq!(got["total"], n("10.5"));
    assert!(!got.contains_key("other"), "an emptied set is removed: {got:?}");
}

#[tokio::test]
async fn update_creates_missing_items() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "upsert", true).await;
    let out = client
        .update_item()
        .table_name("upsert")
        .key("pk", s("new"))
        .key("sk", n("1"))
        .update_expression("SET v = :v ADD hits :one")
        .expression_attribute_values(":v", s("value"))
        .expression_attribute_values(":one", n("1"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes(), None, "nothing was there");
    let got = client
        .get_item()
        .table_name("upsert")
        .key("pk", s("new"))
        .key("sk", n("1"))
        .send()
        .await
        .unwrap()
        .item;
    assert_eq!(
        got,
        Some(item(&[("pk", s("new")), ("sk", n("1")), ("v", s("value")), ("hits", n("1"))])),
        "{NEEDS_EXPR}"
    );
}

#[tokio::test]
async fn updated_old_and_updated_new() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "updret", false).await;
    put(
        &client,
        "updret",
        item(&[
            ("pk", s("k")),
            ("a", n("1")),
            ("b", n("2")),
            ("gone", s("x")),
            ("m", m(&[("p", n("1")), ("q", n("2"))])),
        ]),
    )
    .await;
    let update = |expression: &'static str, rv: ReturnValue| {
        client
            .update_item()
            .table_name("updret")
            .key("pk", s("k"))
            .update_expression(expression)
            .expression_attribute_values(":v", n("9"))
            .return_values(rv)
            .send()
    };
    let out = update("SET a = :v, c = :v REMOVE gone", ReturnValue::UpdatedOld).await.unwrap();
    // `c` did not exist before: UPDATED_OLD has only what was there.
    assert_eq!(out.attributes, Some(item(&[("a", n("1")), ("gone", s("x"))])), "{NEEDS_EXPR}");
    let out = update("SET a = a + :v", ReturnValue::UpdatedNew).await.unwrap();
    assert_eq!(out.attributes, Some(item(&[("a", n("18"))])));
    let out = update("SET b = :v", ReturnValue::AllOld).await.unwrap();
    assert_eq!(out.attributes.unwrap()["b"], n("2"));
    // A nested update returns only the updated path, not the whole top-level map.
    let out = update("SET m.p = :v", ReturnValue::UpdatedNew).await.unwrap();
    assert_eq!(out.attributes, Some(item(&[("m", m(&[("p", n("9"))]))])));
    let out = update("SET m.p = :v", ReturnValue::UpdatedOld).await.unwrap();
    assert_eq!(out.attributes, Some(item(&[("m", m(&[("p", n("9"))]))])));
}

#[tokio::test]
async fn projections_of_nested_paths() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "proj", false).await;
    put(
        &client,
        "proj",
        item(&[
            ("pk", s("k")),
            ("a", s("A")),
            ("b", s("B")),
            ("m", m(&[("n", m(&[("x", n("1")), ("y", n("2"))])), ("z", n("3"))])),
            ("l", AttributeValue::L(vec![s("l0"), s("l1"), s("l2")])),
            ("name", s("reserved")),
        ]),
    )
    .await;
    let got = client
        .get_item()
        .table_name("proj")
        .key("pk", s("k"))
        .projection_expression("a, m.n.x, l[1], #r")
        .expression_attribute_names("#r", "name")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.item,
        Some(item(&[
            ("a", s("A")),
            ("m", m(&[("n", m(&[("x", n("1"))]))])),
            ("l", AttributeValue::L(vec![s("l1")])),
            ("name", s("reserved")),
        ])),
        "{NEEDS_EXPR}"
    );
    let (code, message) = error_of(
        client
            .get_item()
            .table_name("proj")
            .key("pk", s("k"))
            .projection_expression("name")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
}

#[tokio::test]
async fn placeholder_errors() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "places", false).await;
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("places")
            .item("pk", s("k"))
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_values(":v", s("x"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"
    );
    let (code, message) = error_of(
        client
            .update_item()
            .table_name("places")
            .key("pk", s("k"))
            .update_expression("SET a = :a")
            .expression_attribute_values(":a", s("x"))
            .expression_attribute_names("#n", "unused")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}"
    );
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("places")
            .item("pk", s("k"))
            .condition_expression("a = :missing")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :missing"
    );
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("places")
            .item("pk", s("k"))
            .condition_expression("attribute_exists(#missing)")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #missing"
    );
    let (code, message) = error_of(
        client
            .update_item()
            .table_name("places")
            .key("pk", s("k"))
            .update_expression("SET a =")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("Invalid UpdateExpression: Syntax error; token: "), "{message}");
    // Nothing above wrote anything.
    assert_eq!(get(&client, "places", "k").await, None);
}

#[tokio::test]
async fn key_attributes_cannot_be_updated() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "keyupd", true).await;
    for (expression, key) in
        [("SET pk = :v", "pk"), ("REMOVE sk", "sk"), ("SET a = :v, sk = :v", "sk")]
    {
        let mut request = client
            .update_item()
            .table_name("keyupd")
            .key("pk", s("k"))
            .key("sk", n("1"))
            .update_expression(expression);
        if expression.contains(":v") {
            request = request.expression_attribute_values(":v", n("2"));
        }
        let (code, message) = error_of(request.send().await);
        assert_eq!(code, "ValidationException", "{expression}");
        assert_eq!(
            message,
            format!(
                "One or more parameter values were invalid: Cannot update attribute {key}. This attribute is part of the key"
            ),
            "{expression}"
        );
    }
}

#[tokio::test]
async fn legacy_expected_attributes_to_get_and_attribute_updates() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "legacy", false).await;
    put(
        &client,
        "legacy",
        item(&[("pk", s("k")), ("v", s("one")), ("count", n("1")), ("gone", s("x"))]),
    )
    .await;
    let equals = |value: AttributeValue| ExpectedAttributeValue::builder().value(value).build();
    let absent = ExpectedAttributeValue::builder().exists(false).build();

    // Expected: Value (an implicit EQ) that holds, then ones that do not.
    client
        .put_item()
        .table_name("legacy")
        .item("pk", s("k"))
        .item("v", s("one"))
        .item("count", n("1"))
        .item("gone", s("x"))
        .expected("v", equals(s("one")))
        .send()
        .await
        .unwrap();
    let (code, _) = error_of(
        client
            .put_item()
            .table_name("legacy")
            .item("pk", s("k"))
            .expected("pk", absent.clone())
            .send()
            .await,
    );
    assert_eq!(code, "ConditionalCheckFailedException", "{NEEDS_EXPR}");
    let (code, _) = error_of(
        client
            .delete_item()
            .table_name("legacy")
            .key("pk", s("k"))
            .expected(
                "count",
                ExpectedAttributeValue::builder()
                    .comparison_operator(ComparisonOperator::Gt)
                    .attribute_value_list(n("5"))
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "ConditionalCheckFailedException");
    // ConditionalOperator OR: one of two holds.
    client
        .put_item()
        .table_name("legacy")
        .item("pk", s("k"))
        .item("v", s("one"))
        .item("count", n("1"))
        .item("gone", s("x"))
        .expected("pk", absent)
        .expected("v", equals(s("one")))
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await
        .unwrap();

    let got = client
        .get_item()
        .table_name("legacy")
        .key("pk", s("k"))
        .attributes_to_get("v")
        .attributes_to_get("count")
        .send()
        .await
        .unwrap();
    assert_eq!(got.item, Some(item(&[("v", s("one")), ("count", n("1"))])));

    let update = |action, value: Option<AttributeValue>| {
        AttributeValueUpdate::builder().action(action).set_value(value).build()
    };
    let out = client
        .update_item()
        .table_name("legacy")
        .key("pk", s("k"))
        .attribute_updates("count", update(AttributeAction::Add, Some(n("2"))))
        .attribute_updates("v", update(AttributeAction::Put, Some(s("two"))))
        .attribute_updates("gone", update(AttributeAction::Delete, None))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes, Some(item(&[("pk", s("k")), ("v", s("two")), ("count", n("3"))])));
}

/// These checks sit in the item operations, before any expression is parsed, so they
/// hold with the stand-in too.
#[tokio::test]
async fn expression_and_legacy_parameters_do_not_mix() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "mixing", false).await;
    let (code, message) = error_of(
        client
            .get_item()
            .table_name("mixing")
            .key("pk", s("k"))
            .attributes_to_get("a")
            .projection_expression("a")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
    );
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("mixing")
            .item("pk", s("k"))
            .expected("a", ExpectedAttributeValue::builder().exists(false).build())
            .condition_expression("attribute_not_exists(a)")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("mixing")
            .item("pk", s("k"))
            .expression_attribute_values(":v", s("x"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "ExpressionAttributeValues can only be specified when using expressions");
    let (code, message) = error_of(
        client
            .get_item()
            .table_name("mixing")
            .key("pk", s("k"))
            .expression_attribute_names("#n", "x")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "ExpressionAttributeNames can only be specified when using expressions");
}
