//! Stream records: what each view type carries, which writes make records (and which
//! make none), batches, transactions, Time to Live deletes, readability right after the
//! write, and one record's exact JSON.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    DeleteRequest, Put, PutRequest, TimeToLiveSpecification, TransactWriteItem, Update,
    WriteRequest,
};
use aws_sdk_dynamodbstreams::types::AttributeValue as Sv;
use serde_json::{Value, json};

use super::*;
use crate::harness::Server;

type Image = HashMap<String, Sv>;

fn image(pairs: &[(&str, &str)]) -> Image {
    pairs.iter().map(|(k, v)| (k.to_string(), Sv::S(v.to_string()))).collect()
}

fn ev(name: &str, pk: &str) -> (String, String) {
    (name.to_string(), pk.to_string())
}

#[tokio::test]
async fn each_view_type_carries_its_images() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    for view in ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"] {
        let arn = create_with_stream(&client, view, view).await;
        put(&client, view, "a", "1").await;
        put(&client, view, "a", "2").await;
        delete(&client, view, "a").await;
        let records = read_stream(&streams, &arn).await;
        assert_eq!(events(&records), [ev("INSERT", "a"), ev("MODIFY", "a"), ev("REMOVE", "a")]);
        let (new, old) = (view.contains("NEW"), view.contains("OLD"));
        let one = Some(image(&[("pk", "a"), ("v", "1")]));
        let two = Some(image(&[("pk", "a"), ("v", "2")]));
        // (NewImage, OldImage) per event: INSERT has no old image, REMOVE no new one.
        let expected = [
            (one.clone().filter(|_| new), None),
            (two.clone().filter(|_| new), one.clone().filter(|_| old)),
            (None, two.clone().filter(|_| old)),
        ];
        let mut ids = Vec::new();
        let mut seqs = Vec::new();
        for (record, (new_image, old_image)) in records.iter().zip(expected) {
            let d = record.dynamodb().unwrap();
            assert_eq!(d.keys(), Some(&image(&[("pk", "a")])), "{view}");
            assert_eq!(d.new_image().cloned(), new_image, "{view}");
            assert_eq!(d.old_image().cloned(), old_image, "{view}");
            // "pk"+"a" is 3 bytes; each image {pk: a, v: n} is 5.
            let images = d.new_image().is_some() as i64 + d.old_image().is_some() as i64;
            assert_eq!(d.size_bytes(), Some(3 + 5 * images), "{view}");
            assert_eq!(d.stream_view_type().unwrap().as_str(), view);
            let when = d.approximate_creation_date_time().unwrap();
            assert_eq!(when.subsec_nanos(), 0, "whole seconds");
            assert!((now_secs_f64() - when.as_secs_f64()).abs() < 60.0);
            assert_eq!(record.event_source(), Some("aws:dynamodb"));
            assert_eq!(record.event_version(), Some("1.1"));
            assert_eq!(record.aws_region(), Some("us-east-1"));
            assert!(record.user_identity().is_none());
            let id = record.event_id().unwrap().to_string();
            assert!(id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            ids.push(id);
            seqs.push(seq(record));
        }
        ids.dedup();
        assert_eq!(ids.len(), 3);
        assert!(seqs.iter().all(|s| s.len() >= 21 && s.bytes().all(|b| b.is_ascii_digit())));
        assert!(seqs.windows(2).all(|w| w[0].len() == w[1].len() && w[0] < w[1]), "{seqs:?}");
    }
}

#[tokio::test]
async fn writes_make_records_from_the_real_old_item_and_no_ops_make_none() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "NEW_AND_OLD_IMAGES").await;
    let update = |pk: &'static str, v: &'static str| {
        client
            .update_item()
            .table_name("tbl")
            .key("pk", s(pk))
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", s(v))
            .send()
    };
    put(&client, "tbl", "a", "1").await; // INSERT
    put(&client, "tbl", "a", "1").await; // identical: nothing
    put(&client, "tbl", "a", "2").await; // MODIFY
    update("b", "1").await.unwrap(); // creates: INSERT
    update("b", "1").await.unwrap(); // no effect: nothing
    delete(&client, "tbl", "zz").await; // nothing to delete: nothing
    let failed = client
        .put_item()
        .table_name("tbl")
        .item("pk", s("a"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(failed.is_err(), "a failed condition writes nothing");
    delete(&client, "tbl", "a").await; // REMOVE
    let batch = |r: WriteRequest| r;
    client
        .batch_write_item()
        .request_items(
            "tbl",
            vec![
                batch(
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().item("pk", s("c")).build().unwrap())
                        .build(),
                ),
                batch(
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().item("pk", s("d")).build().unwrap())
                        .build(),
                ),
                batch(
                    WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().key("pk", s("b")).build().unwrap())
                        .build(),
                ),
            ],
        )
        .send()
        .await
        .unwrap();
    let txn_put = Put::builder().table_name("tbl").item("pk", s("e")).build().unwrap();
    let txn_update = Update::builder()
        .table_name("tbl")
        .key("pk", s("c"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("2"))
        .build()
        .unwrap();
    let txn_delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name("tbl")
        .key("pk", s("d"))
        .build()
        .unwrap();
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(txn_put).build())
        .transact_items(TransactWriteItem::builder().update(txn_update).build())
        .transact_items(TransactWriteItem::builder().delete(txn_delete).build())
        .send()
        .await
        .unwrap();
    // A cancelled transaction writes nothing.
    let cancelled = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(Put::builder().table_name("tbl").item("pk", s("f")).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("tbl")
                        .item("pk", s("e"))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await;
    assert!(cancelled.is_err());

    let got = events(&read_stream(&streams, &arn).await);
    assert_eq!(
        got[..4],
        [ev("INSERT", "a"), ev("MODIFY", "a"), ev("INSERT", "b"), ev("REMOVE", "a")]
    );
    // Items of one batch or transaction commit together, in no promised order.
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort_by(|x, y| x.1.cmp(&y.1));
        v
    };
    assert_eq!(
        sorted(got[4..7].to_vec()),
        [ev("REMOVE", "b"), ev("INSERT", "c"), ev("INSERT", "d")]
    );
    assert_eq!(
        sorted(got[7..].to_vec()),
        [ev("MODIFY", "c"), ev("REMOVE", "d"), ev("INSERT", "e")]
    );
}

#[tokio::test]
async fn ttl_deletes_carry_the_service_identity() {
    let config = format!("{ONE_SHARD}ttl_scan_interval_ms = 20\nttl_update_cooldown_ms = 0\n");
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let ttl =
        TimeToLiveSpecification::builder().enabled(true).attribute_name("exp").build().unwrap();
    client
        .update_time_to_live()
        .table_name("tbl")
        .time_to_live_specification(ttl)
        .send()
        .await
        .unwrap();
    let past = (now_secs_f64() as i64 - 100).to_string();
    put(&client, "tbl", "mine", "1").await;
    delete(&client, "tbl", "mine").await;
    client
        .put_item()
        .table_name("tbl")
        .item("pk", s("old"))
        .item("exp", AttributeValue::N(past))
        .send()
        .await
        .unwrap();
    let records = poll(Duration::from_secs(5), || async {
        let records = read_stream(&streams, &arn).await;
        (records.len() == 4).then_some(records)
    })
    .await;
    assert_eq!(
        events(&records),
        [ev("INSERT", "mine"), ev("REMOVE", "mine"), ev("INSERT", "old"), ev("REMOVE", "old")]
    );
    assert!(records[1].user_identity().is_none(), "a client's delete names nobody");
    let who = records[3].user_identity().expect("userIdentity on a TTL delete");
    assert_eq!(who.principal_id(), Some("dynamodb.amazonaws.com"));
    assert_eq!(who.r#type(), Some("Service"));
}

#[tokio::test]
async fn a_record_is_readable_as_soon_as_its_write_is_acknowledged() {
    let server = Server::start();
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    // One item, so one shard holds every record of this test.
    put(&client, "tbl", "k", "0").await;
    let mut owner = None;
    for s in shards(&streams, &arn).await {
        let id = s.shard_id().unwrap().to_string();
        let it = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
        if !drain(&streams, it).await.0.is_empty() {
            owner = Some(id);
        }
    }
    let owner = owner.expect("the shard of k");
    let mut it = iterator(&streams, &arn, &owner, ShardIteratorType::Latest, None).await;
    for i in 1..=20 {
        put(&client, "tbl", "k", &i.to_string()).await;
        // No wait: the acknowledged write is already in the stream.
        let page = streams.get_records().shard_iterator(&it).send().await.unwrap();
        assert_eq!(events(page.records()), [ev("MODIFY", "k")], "write {i}");
        it = page.next_shard_iterator().expect("open shard").to_string();
    }
}

#[tokio::test]
async fn get_records_json_is_exactly_aws_s() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "NEW_AND_OLD_IMAGES").await;
    client
        .put_item()
        .table_name("tbl")
        .item("pk", s("a"))
        .item("n", AttributeValue::N("5".into()))
        .send()
        .await
        .unwrap();
    put(&client, "tbl", "a", "x").await;
    let shard = open_shard(&streams, &arn).await;
    let it =
        iterator(&streams, &arn, shard.shard_id().unwrap(), ShardIteratorType::TrimHorizon, None)
            .await;
    let body = json!({"ShardIterator": it, "Limit": 10}).to_string();
    let response = server.post("DynamoDBStreams_20120810.GetRecords", body.as_bytes(), &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/x-amz-json-1.0"));
    let v = response.json();
    let next = v["NextShardIterator"].as_str().expect("next iterator");
    assert!(next.starts_with(&format!("{arn}|1|")), "{next}");
    let records = v["Records"].as_array().expect("Records");
    assert_eq!(records.len(), 2);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for (record, event) in records.iter().zip(["INSERT", "MODIFY"]) {
        assert_eq!(
            keys(record),
            ["awsRegion", "dynamodb", "eventID", "eventName", "eventSource", "eventVersion"]
        );
        assert_eq!(record["awsRegion"], "us-east-1");
        assert_eq!(record["eventName"], event);
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["eventVersion"], "1.1");
        assert_eq!(record["eventID"].as_str().unwrap().len(), 32);
        let d = &record["dynamodb"];
        let when = d["ApproximateCreationDateTime"].as_f64().expect("epoch seconds number");
        assert_eq!(when.fract(), 0.0);
        assert_eq!(d["Keys"], json!({"pk": {"S": "a"}}));
        assert!(d["SequenceNumber"].as_str().unwrap().len() >= 21);
        assert_eq!(d["StreamViewType"], "NEW_AND_OLD_IMAGES");
    }
    let (insert, modify) = (&records[0]["dynamodb"], &records[1]["dynamodb"]);
    assert_eq!(
        keys(insert),
        [
            "ApproximateCreationDateTime",
            "Keys",
            "NewImage",
            "SequenceNumber",
            "SizeBytes",
            "StreamViewType"
        ]
    );
    assert_eq!(insert["NewImage"], json!({"pk": {"S": "a"}, "n": {"N": "5"}}));
    // Keys 3 bytes; {pk: a, n: 5} is 3 + 1 + 2 (the number 5 takes 2) = 6.
    assert_eq!(insert["SizeBytes"], 9);
    assert_eq!(modify["OldImage"], json!({"pk": {"S": "a"}, "n": {"N": "5"}}));
    assert_eq!(modify["NewImage"], json!({"pk": {"S": "a"}, "v": {"S": "x"}}));
    assert_eq!(modify["SizeBytes"], 3 + 5 + 6);
}
