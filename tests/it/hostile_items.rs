//! Requests whose items cannot be valid cost a small multiple of their size, never the
//! fifty times a JSON tree of tiny values would: item text is decoded by two streaming
//! passes that stop at the 400 KB limit, legacy parameters keep their attribute values as
//! text, and PutRecords keeps no more entries than AWS takes.

use serde_json::json;

use crate::harness::Server;
use crate::hostile::peak_rss_bytes;

/// `n` copies of `element`, comma separated.
fn many(n: usize, element: &str) -> String {
    vec![element; n].join(",")
}

#[tokio::test]
async fn oversize_items_in_any_member_are_refused_at_a_small_multiple_of_their_size() {
    let server = Server::start_with_config_env("", &[("MIMALLOC_PURGE_DELAY", "0")]);
    let client = server.client();
    crate::harness::create_table(&client, "big", false).await;
    crate::kinesis::create(&server.kinesis(), "big-feed", 1).await;
    let nulls = many(700_000, r#"{"NULL":true}"#);
    let too_large = "Item size has exceeded the maximum allowed size";
    let cases = [
        (
            "PutItem",
            format!(r#"{{"TableName":"big","Item":{{"pk":{{"S":"a"}},"l":{{"L":[{nulls}]}}}}}}"#),
            too_large,
        ),
        (
            "UpdateItem",
            format!(
                r#"{{"TableName":"big","Key":{{"pk":{{"S":"a"}}}},"AttributeUpdates":{{"l":{{"Action":"PUT","Value":{{"L":[{nulls}]}}}}}}}}"#
            ),
            too_large,
        ),
        (
            "PutItem",
            format!(
                r#"{{"TableName":"big","Item":{{"pk":{{"S":"a"}}}},"Expected":{{"l":{{"Value":{{"L":[{nulls}]}}}}}}}}"#
            ),
            too_large,
        ),
        (
            "UpdateItem",
            format!(
                r#"{{"TableName":"big","Key":{{"pk":{{"S":"a"}}}},"UpdateExpression":"SET l = :v","ExpressionAttributeValues":{{":v":{{"L":[{nulls}]}}}}}}"#
            ),
            too_large,
        ),
        (
            "Scan",
            format!(r#"{{"TableName":"big","ExclusiveStartKey":{{"pk":{{"L":[{nulls}]}}}}}}"#),
            too_large,
        ),
        (
            "TransactWriteItems",
            format!(
                r#"{{"TransactItems":[{{"Put":{{"TableName":"big","Item":{{"pk":{{"S":"a"}},"l":{{"L":[{nulls}]}}}}}}}}]}}"#
            ),
            too_large,
        ),
        (
            "Kinesis_20131202.PutRecords",
            format!(
                r#"{{"StreamName":"big-feed","Records":[{}]}}"#,
                many(350_000, r#"{"Data":"","PartitionKey":"a"}"#)
            ),
            "have length less than or equal to 500",
        ),
    ];
    let base = peak_rss_bytes(server.pid());
    for (target, body, message) in cases {
        let headers: &[(&str, &str)] = if target.starts_with("Kinesis") {
            &[("Content-Type", "application/x-amz-json-1.1")]
        } else {
            &[]
        };
        let r = server.post(target, body.as_bytes(), headers).await;
        assert_eq!(r.status, 400, "{target}: {}", r.text());
        let answer = r.json();
        assert!(answer["__type"].as_str().unwrap().ends_with("ValidationException"), "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(message), "{target}: {answer}");
        let grown = peak_rss_bytes(server.pid()).saturating_sub(base);
        // Before: about 50 times the body for each of these (BENCHMARKS.md).
        assert!(
            grown < 10 * body.len() as u64,
            "{target}: peak grew by {} MiB for a {} MiB body",
            grown >> 20,
            body.len() >> 20
        );
    }
    // Still serving.
    let put = json!({"TableName": "big", "Item": {"pk": {"S": "ok"}}}).to_string();
    assert_eq!(server.post("PutItem", put.as_bytes(), &[]).await.status, 200);
}
