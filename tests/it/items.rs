//! Item reads and writes through the SDK: every attribute type round trip, number
//! normalization, ReturnValues, ConsumedCapacity, key validation and the 400 KB limit.
//! Expressions live in `expressions.rs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnConsumedCapacity, ReturnValue, ScalarAttributeType,
};

use crate::harness::{Server, create_table, error_of};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

async fn get(
    client: &Client,
    table: &str,
    key: &[(&str, AttributeValue)],
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .set_key(Some(item(key)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn every_attribute_type_round_trips() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "types", false).await;
    let nested = AttributeValue::M(item(&[
        ("inner", AttributeValue::L(vec![s("x"), n("2"), AttributeValue::Null(true)])),
        ("deeper", AttributeValue::M(item(&[("b", AttributeValue::Bool(false))]))),
        ("empty_map", AttributeValue::M(HashMap::new())),
    ]));
    let written = item(&[
        ("pk", s("all-types")),
        ("s", s("héllo wörld ✓")),
        ("empty_s", s("")),
        ("n", n("-12.5")),
        ("b", AttributeValue::B(Blob::new(vec![0, 1, 2, 254, 255]))),
        ("empty_b", AttributeValue::B(Blob::new(Vec::new()))),
        ("ss", AttributeValue::Ss(vec!["b".into(), "a".into(), "c".into()])),
        ("ns", AttributeValue::Ns(vec!["3".into(), "1".into(), "2.5".into()])),
        ("bs", AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])])),
        ("m", nested.clone()),
        ("l", AttributeValue::L(vec![nested, AttributeValue::L(vec![]), s("")])),
        ("t", AttributeValue::Bool(true)),
        ("f", AttributeValue::Bool(false)),
        ("null", AttributeValue::Null(true)),
    ]);
    client.put_item().table_name("types").set_item(Some(written.clone())).send().await.unwrap();
    let read = get(&client, "types", &[("pk", s("all-types"))]).await;
    assert_eq!(read.as_ref(), Some(&written));
    // An eventually consistent read sees the acknowledged write too.
    let eventual =
        client.get_item().table_name("types").key("pk", s("all-types")).send().await.unwrap();
    assert_eq!(eventual.item(), Some(&written));
}

#[tokio::test]
async fn numbers_are_normalized_and_exact() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "numbers", false).await;
    let cases = [
        ("1.50", "1.5"),
        ("0042.1200", "42.12"),
        ("-0", "0"),
        ("1.5E2", "150"),
        (".123", "0.123"),
        // 38 significant digits survive exactly: no f64 anywhere.
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001"),
    ];
    for (i, (input, normal)) in cases.iter().enumerate() {
        let pk = format!("n{i}");
        client
            .put_item()
            .table_name("numbers")
            .item("pk", s(&pk))
            .item("v", n(input))
            .item("set", AttributeValue::Ns(vec![(*input).into(), "7".into()]))
            .send()
            .await
            .unwrap();
        let got = get(&client, "numbers", &[("pk", s(&pk))]).await.unwrap();
        assert_eq!(got["v"], n(normal), "{input}");
        assert_eq!(got["set"], AttributeValue::Ns(vec![(*normal).into(), "7".into()]), "{input}");
    }
    let refused = [
        ("abc", "The parameter cannot be converted to a numeric value: abc"),
        (
            "123456789012345678901234567890123456789",
            "Attempting to store more than 38 significant digits in a Number",
        ),
    ];
    for (input, want) in refused {
        let (code, message) = error_of(
            client
                .put_item()
                .table_name("numbers")
                .item("pk", s("bad"))
                .item("v", n(input))
                .send()
                .await,
        );
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want), "{input}");
    }
}

#[tokio::test]
async fn hash_range_items_are_distinct_and_deletable() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "ranged", true).await;
    for sk in ["1", "2", "10"] {
        client
            .put_item()
            .table_name("ranged")
            .item("pk", s("p"))
            .item("sk", n(sk))
            .item("v", s(&format!("value {sk}")))
            .send()
            .await
            .unwrap();
    }
    // "10" and "1.0E1" are the same number, so the same key.
    let got = get(&client, "ranged", &[("pk", s("p")), ("sk", n("1.0E1"))]).await.unwrap();
    assert_eq!(got["v"], s("value 10"));
    let deleted = client
        .delete_item()
        .table_name("ranged")
        .key("pk", s("p"))
        .key("sk", n("2"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes().unwrap()["v"], s("value 2"));
    assert_eq!(get(&client, "ranged", &[("pk", s("p")), ("sk", n("2"))]).await, None);
    assert!(get(&client, "ranged", &[("pk", s("p")), ("sk", n("1"))]).await.is_some());
}

#[tokio::test]
async fn return_values_all_old_on_put_and_delete() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "olds", false).await;
    let put = |v: &'static str| {
        client
            .put_item()
            .table_name("olds")
            .item("pk", s("k"))
            .item("v", s(v))
            .return_values(ReturnValue::AllOld)
            .send()
    };
    let first = put("one").await.unwrap();
    assert_eq!(first.attributes(), None, "nothing was there before");
    let second = put("two").await.unwrap();
    assert_eq!(second.attributes(), Some(&item(&[("pk", s("k")), ("v", s("one"))])));

    let deleted = client
        .delete_item()
        .table_name("olds")
        .key("pk", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes(), Some(&item(&[("pk", s("k")), ("v", s("two"))])));
    let again = client
        .delete_item()
        .table_name("olds")
        .key("pk", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(again.attributes(), None, "deleting a missing item is not an error");
    // ReturnValues NONE (the default) returns no Attributes.
    let none = client.put_item().table_name("olds").item("pk", s("k")).send().await.unwrap();
    assert_eq!(none.attributes(), None);
}

/// AWS answers PutItem/DeleteItem with a valid but disallowed ReturnValues with its own
/// sentence (dynalite's recorded tests; ExtendDB verified it against us-east-1).
#[tokio::test]
async fn put_and_delete_refuse_other_return_values() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "retvals", false).await;
    for rv in [ReturnValue::AllNew, ReturnValue::UpdatedOld, ReturnValue::UpdatedNew] {
        let (code, message) = error_of(
            client
                .put_item()
                .table_name("retvals")
                .item("pk", s("k"))
                .return_values(rv.clone())
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", "ReturnValues can only be ALL_OLD or NONE")
        );
        let (code, message) = error_of(
            client
                .delete_item()
                .table_name("retvals")
                .key("pk", s("k"))
                .return_values(rv)
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", "ReturnValues can only be ALL_OLD or NONE")
        );
    }
}

#[tokio::test]
async fn consumed_capacity_only_when_asked() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "capacity", false).await;
    let put = client
        .put_item()
        .table_name("capacity")
        .item("pk", s("k"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let c = put.consumed_capacity().unwrap();
    assert_eq!((c.table_name(), c.capacity_units()), (Some("capacity"), Some(1.0)));

    let put = client.put_item().table_name("capacity").item("pk", s("k")).send().await.unwrap();
    assert_eq!(put.consumed_capacity(), None);

    // A 5 KB item costs 5 write units (1 per KB, rounded up).
    let big = "x".repeat(5 * 1024 - 10);
    let put = client
        .put_item()
        .table_name("capacity")
        .item("pk", s("big"))
        .item("data", s(&big))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let c = put.consumed_capacity().unwrap();
    assert_eq!(c.capacity_units(), Some(5.0));
    assert_eq!(c.table().and_then(|t| t.capacity_units()), Some(5.0));

    let read = |consistent| {
        client
            .get_item()
            .table_name("capacity")
            .key("pk", s("k"))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
    };
    // Reads cost 1 unit per 4 KB, halved when eventually consistent.
    assert_eq!(read(true).await.unwrap().consumed_capacity().unwrap().capacity_units(), Some(1.0));
    assert_eq!(read(false).await.unwrap().consumed_capacity().unwrap().capacity_units(), Some(0.5));

    let deleted = client
        .delete_item()
        .table_name("capacity")
        .key("pk", s("k"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.consumed_capacity().unwrap().capacity_units(), Some(1.0));
}

#[tokio::test]
async fn missing_item_has_no_item_member() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "sparse", false).await;
    let got = client.get_item().table_name("sparse").key("pk", s("nobody")).send().await.unwrap();
    assert_eq!(got.item(), None);
    // On the wire the member is absent, not null or empty.
    let raw =
        server.post("GetItem", br#"{"TableName":"sparse","Key":{"pk":{"S":"nobody"}}}"#, &[]).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.text(), "{}");
}

#[tokio::test]
async fn key_errors_have_aws_messages() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "keyed", true).await;
    let put = |pairs: &[(&str, AttributeValue)]| {
        client.put_item().table_name("keyed").set_item(Some(item(pairs))).send()
    };
    let invalid = "One or more parameter values were invalid: ";
    let cases = [
        (put(&[("sk", n("1"))]).await, format!("{invalid}Missing the key pk in the item")),
        (put(&[("pk", s("a"))]).await, format!("{invalid}Missing the key sk in the item")),
        (put(&[("pk", n("1")), ("sk", n("1"))]).await, format!("{invalid}Type mismatch for key pk expected: S actual: N")),
        (put(&[("pk", s("a")), ("sk", s("1"))]).await, format!("{invalid}Type mismatch for key sk expected: N actual: S")),
        (
            put(&[("pk", s("")), ("sk", n("1"))]).await,
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk".to_string(),
        ),
        (
            put(&[("pk", s(&"h".repeat(2049))), ("sk", n("1"))]).await,
            format!("{invalid}Size of hashkey has exceeded the maximum size limit of2048 bytes"),
        ),
    ];
    for (result, want) in cases {
        let (code, message) = error_of(result);
        assert_eq!((code.as_str(), message.as_str()), ("ValidationException", want.as_str()));
    }
    // Exactly 2048 bytes of hash key is allowed.
    put(&[("pk", s(&"h".repeat(2048))), ("sk", n("1"))]).await.unwrap();

    let get_key = |pairs: &[(&str, AttributeValue)]| {
        client.get_item().table_name("keyed").set_key(Some(item(pairs))).send()
    };
    let mismatch = "The provided key element does not match the schema";
    for pairs in [
        vec![("pk", s("a"))],
        vec![("pk", s("a")), ("sk", s("1"))],
        vec![("pk", s("a")), ("sk", n("1")), ("extra", s("x"))],
        vec![("pk", s("a")), ("other", n("1"))],
    ] {
        let (code, message) = error_of(get_key(&pairs).await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", mismatch),
            "{pairs:?}"
        );
        let (code, message) = error_of(
            client.delete_item().table_name("keyed").set_key(Some(item(&pairs))).send().await,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ValidationException", mismatch),
            "{pairs:?}"
        );
    }
    let (code, message) = error_of(get_key(&[("pk", s("")), ("sk", n("1"))]).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
    );
}

#[tokio::test]
async fn range_key_size_and_empty_binary_key() {
    let server = Server::start();
    let client = server.client();
    client
        .create_table()
        .table_name("binkeys")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("h")
                .attribute_type(ScalarAttributeType::B)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("r")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("h")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("r")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let put = |h: Vec<u8>, r: String| {
        client
            .put_item()
            .table_name("binkeys")
            .item("h", AttributeValue::B(Blob::new(h)))
            .item("r", AttributeValue::S(r))
            .send()
    };
    put(vec![1], "r".repeat(1024)).await.unwrap();
    let (code, message) = error_of(put(vec![1], "r".repeat(1025)).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    );
    let (code, message) = error_of(put(vec![], "r".into()).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: h"
    );
}

#[tokio::test]
async fn item_size_limit_is_400_kb() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "sizes", false).await;
    // "pk" + "k" is 3 bytes and the name "data" 4, so this value makes exactly 409,600.
    let exact = "d".repeat(409_600 - 3 - 4);
    client
        .put_item()
        .table_name("sizes")
        .item("pk", s("k"))
        .item("data", s(&exact))
        .send()
        .await
        .unwrap();
    let got = get(&client, "sizes", &[("pk", s("k"))]).await.unwrap();
    assert_eq!(got["data"], s(&exact));
    let (code, message) = error_of(
        client
            .put_item()
            .table_name("sizes")
            .item("pk", s("k"))
            .item("data", s(&format!("{exact}d")))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Item size has exceeded the maximum allowed size");
    let t = client.describe_table().table_name("sizes").send().await.unwrap().table.unwrap();
    assert_eq!((t.item_count(), t.table_size_bytes()), (Some(1), Some(409_600)));
}

#[tokio::test]
async fn invalid_values_are_refused() {
    let server = Server::start();
    let client = server.client();
    create_table(&client, "values", false).await;
    let put = |v: AttributeValue| {
        client.put_item().table_name("values").item("pk", s("k")).item("v", v).send()
    };
    let (code, message) = error_of(put(AttributeValue::Ss(vec![])).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: An string set  may not be empty"
    );
    let (code, message) = error_of(put(AttributeValue::Ss(vec!["a".into(), "a".into()])).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
    );
    let (code, message) = error_of(put(AttributeValue::Ns(vec!["1".into(), "1.0".into()])).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "Input collection contains duplicates");
    // 32 levels of maps is one too many.
    let mut deep = s("leaf");
    for _ in 0..32 {
        deep = AttributeValue::M(item(&[("m", deep)]));
    }
    let (code, message) = error_of(put(deep).await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    );
    let mut deep = s("leaf");
    for _ in 0..31 {
        deep = AttributeValue::M(item(&[("m", deep)]));
    }
    put(deep).await.unwrap();
}
