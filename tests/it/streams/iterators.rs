//! Shard iterators: every type, paging with Limit, and the errors for bad input and
//! garbage iterators. AT_TIMESTAMP goes over raw HTTP: the SDK version the tests build
//! against predates its `Timestamp` member.

use serde_json::json;

use super::*;
use crate::harness::{Server, error_of};

fn ev(name: &str, pk: &str) -> (String, String) {
    (name.to_string(), pk.to_string())
}

/// GetShardIterator over raw HTTP, for AT_TIMESTAMP.
async fn raw_iterator(server: &Server, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = server
        .post("DynamoDBStreams_20120810.GetShardIterator", body.to_string().as_bytes(), &[])
        .await;
    (r.status, r.json())
}

#[tokio::test]
async fn every_iterator_type_starts_where_aws_says() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let shard = open_shard(&streams, &arn).await;
    let id = shard.shard_id().unwrap().to_string();
    let read_from = |kind: ShardIteratorType, seq: Option<String>| {
        let (streams, arn, id) = (streams.clone(), arn.clone(), id.clone());
        async move {
            let it = iterator(&streams, &arn, &id, kind, seq.as_deref()).await;
            events(&drain(&streams, it).await.0)
        }
    };
    // An empty shard's starting sequence number is a valid place to start.
    let start = shard.sequence_number_range().unwrap().starting_sequence_number().unwrap();
    assert!(read_from(ShardIteratorType::AtSequenceNumber, Some(start.into())).await.is_empty());
    let latest = iterator(&streams, &arn, &id, ShardIteratorType::Latest, None).await;

    put(&client, "tbl", "a", "1").await;
    // AT_TIMESTAMP between two writes a second apart (records carry whole seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let between = now_secs_f64();
    put(&client, "tbl", "b", "1").await;
    put(&client, "tbl", "c", "1").await;
    let all = drain(&streams, latest).await.0;
    assert_eq!(events(&all), [ev("INSERT", "a"), ev("INSERT", "b"), ev("INSERT", "c")]);
    let (s_a, s_b) = (seq(&all[0]), seq(&all[1]));

    assert_eq!(read_from(ShardIteratorType::TrimHorizon, None).await.len(), 3);
    assert!(read_from(ShardIteratorType::Latest, None).await.is_empty());
    let at_b = read_from(ShardIteratorType::AtSequenceNumber, Some(s_b.clone())).await;
    assert_eq!(at_b, [ev("INSERT", "b"), ev("INSERT", "c")]);
    let after_b = read_from(ShardIteratorType::AfterSequenceNumber, Some(s_b.clone())).await;
    assert_eq!(after_b, [ev("INSERT", "c")]);
    let after_a = read_from(ShardIteratorType::AfterSequenceNumber, Some(s_a)).await;
    assert_eq!(after_a.len(), 2);

    let by_time = |ts: f64| json!({"StreamArn": arn, "ShardId": id, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts});
    let (status, body) = raw_iterator(&server, by_time(between)).await;
    assert_eq!(status, 200, "{body}");
    let it = body["ShardIterator"].as_str().unwrap().to_string();
    assert_eq!(events(&drain(&streams, it).await.0), [ev("INSERT", "b"), ev("INSERT", "c")]);
    // Older than anything kept: from the trim horizon.
    let (_, body) = raw_iterator(&server, by_time(1_000_000.0)).await;
    let it = body["ShardIterator"].as_str().unwrap().to_string();
    assert_eq!(drain(&streams, it).await.0.len(), 3);
    let (status, body) = raw_iterator(&server, by_time(now_secs_f64() + 3600.0)).await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "com.amazon.coral.validate#ValidationException");
    let mut missing = by_time(0.0);
    missing.as_object_mut().unwrap().remove("Timestamp");
    let (status, _) = raw_iterator(&server, missing).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn get_shard_iterator_errors_are_aws_s() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    put(&client, "tbl", "a", "1").await;
    let shard = open_shard(&streams, &arn).await;
    let id = shard.shard_id().unwrap();
    let start = shard.sequence_number_range().unwrap().starting_sequence_number().unwrap();
    let get = |kind: ShardIteratorType, shard: &str, seq: Option<&str>| {
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(seq.map(String::from))
            .send()
    };
    let e = error_of(get(ShardIteratorType::AtSequenceNumber, id, None).await);
    assert_eq!(e.0, "ValidationException");
    let e = error_of(get(ShardIteratorType::Latest, id, Some(start)).await);
    assert_eq!(e.0, "ValidationException");
    let beyond = format!("1{}", "9".repeat(20));
    let e = error_of(get(ShardIteratorType::AtSequenceNumber, id, Some(&beyond)).await);
    assert_eq!(e, ("ValidationException".into(), "Invalid SequenceNumber for the shard".into()));
    let e = error_of(
        get(ShardIteratorType::AfterSequenceNumber, id, Some("not-a-sequence-number")).await,
    );
    assert_eq!(e.0, "ValidationException");
    let e = error_of(get(ShardIteratorType::AtSequenceNumber, id, Some("12")).await);
    assert_eq!(
        e.1,
        "1 validation error detected: Value '12' at 'sequenceNumber' failed to satisfy constraint: Member must have length greater than or equal to 21"
    );
    let e = error_of(
        get(ShardIteratorType::Latest, "shardId-00000000000000000000-00000000", None).await,
    );
    assert_eq!(
        e,
        (
            "ResourceNotFoundException".into(),
            "Requested resource not found: Shard does not exist".into()
        )
    );
    let e = error_of(get(ShardIteratorType::from("SOMEWHERE"), id, None).await);
    assert_eq!(
        e.1,
        "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP]"
    );
    let e = error_of(
        streams
            .get_shard_iterator()
            .stream_arn("sdfadsfsdfsdgdfsgsfdabadfbabdadsfsdfsdfsdfsdfsdfsdf")
            .shard_id(id)
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
    );
    assert_eq!(e.0, "ValidationException");
}

#[tokio::test]
async fn get_records_pages_by_limit() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    for pk in ["a", "b", "c", "d", "e"] {
        put(&client, "tbl", pk, "1").await;
    }
    let shard = open_shard(&streams, &arn).await;
    let mut it =
        iterator(&streams, &arn, shard.shard_id().unwrap(), ShardIteratorType::TrimHorizon, None)
            .await;
    let mut sizes = Vec::new();
    for _ in 0..4 {
        let page = streams.get_records().shard_iterator(&it).limit(2).send().await.unwrap();
        sizes.push(page.records().len());
        // An open shard always has a next iterator, even when nothing is left yet.
        it = page.next_shard_iterator().expect("open shard").to_string();
    }
    assert_eq!(sizes, [2, 2, 1, 0]);
    // Five records of 3 bytes ("pk" and a one-letter key) read; the last call was
    // caught up, so the iterator age is 0.
    let metrics = server.metrics().await;
    for line in [
        "sluice_stream_records_read_total{table=\"tbl\"} 5",
        "sluice_stream_read_bytes_total{table=\"tbl\"} 15",
        "sluice_stream_iterator_age_seconds{table=\"tbl\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }

    let e = error_of(streams.get_records().shard_iterator(&it).limit(1001).send().await);
    assert_eq!(
        e,
        (
            "ValidationException".into(),
            "One or more parameter values were invalid: Limit should be less than or equal to 1000"
                .into()
        )
    );
    let e = error_of(streams.get_records().shard_iterator(&it).limit(0).send().await);
    assert_eq!(
        e.1,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    streams.get_records().shard_iterator(&it).limit(1000).send().await.unwrap();
}

#[tokio::test]
async fn garbage_iterators_are_refused() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "tbl", "KEYS_ONLY").await;
    let shard = open_shard(&streams, &arn).await;
    let good =
        iterator(&streams, &arn, shard.shard_id().unwrap(), ShardIteratorType::Latest, None).await;
    let (prefix, payload) = good.rsplit_once('|').unwrap();
    let tampered = format!("{prefix}|{}", payload.replace('A', "B"));
    for bad in [
        "sdfsdfsgagaddafgagasgasgasdfasdfasdfasdfasdgasdasdgasdg".to_string(),
        format!("{arn}|1|AAAAAAAA"),
        good.replace("table/tbl/", "table/tbx/"),
        tampered,
    ] {
        let e = error_of(streams.get_records().shard_iterator(&bad).send().await);
        assert_eq!(e, ("ValidationException".into(), "Invalid ShardIterator".into()), "{bad}");
    }
    let long = "x".repeat(2049);
    let e = error_of(streams.get_records().shard_iterator(&long).send().await);
    assert!(e.1.contains("at 'shardIterator' failed to satisfy constraint: Member must have length less than or equal to 2048"), "{}", e.1);
    // A missing iterator, over raw HTTP (the SDK insists on it).
    let r = server.post("DynamoDBStreams_20120810.GetRecords", b"{}", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null"
    );
    // The good one still works.
    streams.get_records().shard_iterator(&good).send().await.unwrap();
}

#[tokio::test]
async fn iterators_expire_after_streams_iterator_lifetime_seconds() {
    let config = format!("{ONE_SHARD}[streams]\niterator_lifetime_seconds = 1\n");
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "life", "KEYS_ONLY").await;
    let id = open_shard(&streams, &arn).await.shard_id().unwrap().to_string();
    put(&client, "life", "a", "1").await;
    let fresh = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
    let stale = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
    let out = streams.get_records().shard_iterator(fresh).send().await.unwrap();
    assert_eq!(out.records().len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (code, message) = error_of(streams.get_records().shard_iterator(stale).send().await);
    assert_eq!(code, "ExpiredIteratorException", "{message}");
    // A new iterator reads again.
    let it = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
    let out = streams.get_records().shard_iterator(it).send().await.unwrap();
    assert_eq!(out.records().len(), 1);
}

#[tokio::test]
async fn with_enforce_limits_a_third_reader_of_a_shard_is_throttled() {
    let config = format!("{ONE_SHARD}[streams]\nenforce_limits = true\n");
    let server = Server::start_with_config(&config);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "three", "KEYS_ONLY").await;
    let id = open_shard(&streams, &arn).await.shard_id().unwrap().to_string();
    put(&client, "three", "a", "1").await;
    let fresh = || iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None);
    let (one, two, three) = (fresh().await, fresh().await, fresh().await);
    let read = |it: String| streams.get_records().shard_iterator(it).send();
    let one = read(one).await.unwrap().next_shard_iterator().unwrap().to_string();
    read(two).await.unwrap();
    let (code, message) = error_of(read(three.clone()).await);
    assert_eq!((code.as_str(), message.as_str()), ("LimitExceededException", "Rate exceeded"));
    // The two readers go on; once they stop, the third gets a place.
    let one = read(one).await.unwrap().next_shard_iterator().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    read(three).await.unwrap();
    read(one).await.unwrap();
}

#[tokio::test]
async fn without_enforce_limits_any_number_of_readers_read_a_shard() {
    let server = Server::start_with_config(ONE_SHARD);
    let (client, streams) = (server.client(), server.streams());
    let arn = create_with_stream(&client, "many", "KEYS_ONLY").await;
    let id = open_shard(&streams, &arn).await.shard_id().unwrap().to_string();
    for _ in 0..5 {
        let it = iterator(&streams, &arn, &id, ShardIteratorType::TrimHorizon, None).await;
        streams.get_records().shard_iterator(it).send().await.unwrap();
    }
}
