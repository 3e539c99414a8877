//! Enhanced fan-out consumers through the SDK: register (CREATING, then ACTIVE), describe
//! by ARN or by stream and name, list in pages, deregister (DELETING, then gone), the
//! limits and AWS's errors, DeleteStream's EnforceConsumerDeletion, and consumers kept
//! across a restart. Also the helpers the SubscribeToShard tests share.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEvent,
    SubscribeToShardEventStream,
};

use crate::harness::{Server, error_of};
use crate::kinesis::{ACCOUNT, arn, create};

/// Short fan-out durations, so the tests see heartbeats, lifetimes and takeovers quickly.
pub const FAST: &str = "[kinesis]
consumer_create_delay_ms = 0
consumer_delete_delay_ms = 200
subscription_heartbeat_ms = 300
subscription_lifetime_ms = 60000
subscription_takeover_ms = 1000
";

/// The receiver of a subscription.
pub type Events = aws_sdk_kinesis::primitives::event_stream::EventReceiver<
    SubscribeToShardEventStream,
    aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
>;

/// Registers consumer `name` on `stream` and waits until it is ACTIVE; returns its ARN.
pub async fn register(k: &Client, stream: &str, name: &str) -> String {
    let c = k.register_stream_consumer().stream_arn(arn(stream)).consumer_name(name);
    let consumer = c.send().await.expect("register").consumer.unwrap();
    for _ in 0..200 {
        let d = k.describe_stream_consumer().consumer_arn(&consumer.consumer_arn).send().await;
        if d.unwrap().consumer_description.unwrap().consumer_status == ConsumerStatus::Active {
            return consumer.consumer_arn;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("consumer {name} never became ACTIVE");
}

/// A starting position.
pub fn position(kind: ShardIteratorType, seq: Option<&str>) -> StartingPosition {
    StartingPosition::builder()
        .r#type(kind)
        .set_sequence_number(seq.map(str::to_string))
        .build()
        .unwrap()
}

/// Opens a subscription (the SDK returns once the initial-response event arrived).
pub async fn subscribe(k: &Client, consumer: &str, shard: &str, at: StartingPosition) -> Events {
    let out = k
        .subscribe_to_shard()
        .consumer_arn(consumer)
        .shard_id(shard)
        .starting_position(at)
        .send()
        .await
        .expect("subscribe");
    out.event_stream
}

/// The next SubscribeToShardEvent (within 10 s), or `None` when the stream ended.
pub async fn next_event(events: &mut Events) -> Option<SubscribeToShardEvent> {
    loop {
        let got = tokio::time::timeout(Duration::from_secs(10), events.recv()).await;
        match got.expect("an event within 10 s").expect("no stream error") {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(e)) => return Some(e),
            Some(_) => continue,
            None => return None,
        }
    }
}

/// Reads events until `n` records arrived; their data, in order, and the last event.
pub async fn records(events: &mut Events, n: usize) -> (Vec<String>, SubscribeToShardEvent) {
    let mut data = Vec::new();
    loop {
        let e = next_event(events).await.expect("stream still open");
        data.extend(
            e.records.iter().map(|r| String::from_utf8_lossy(r.data.as_ref()).into_owned()),
        );
        assert!(data.len() <= n, "more records than written: {data:?}");
        if data.len() == n {
            return (data, e);
        }
    }
}

/// Puts one record per item of `data` with partition key `pk`.
pub async fn put(k: &Client, stream: &str, pk: &str, data: &[&str]) {
    for d in data {
        let blob = aws_sdk_kinesis::primitives::Blob::new(d.as_bytes());
        k.put_record().stream_name(stream).partition_key(pk).data(blob).send().await.unwrap();
    }
}

#[tokio::test]
async fn register_describe_list_deregister() {
    let server = Server::start_with_config(
        "[kinesis]\nconsumer_create_delay_ms = 300\nconsumer_delete_delay_ms = 300\n",
    );
    let k = server.kinesis();
    create(&k, "orders", 1).await;
    let registered = k.register_stream_consumer().stream_arn(arn("orders")).consumer_name("app");
    let c = registered.send().await.unwrap().consumer.unwrap();
    assert_eq!(c.consumer_status, ConsumerStatus::Creating);
    let secs = c.consumer_creation_timestamp.secs();
    assert_eq!(
        c.consumer_arn,
        format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders/consumer/app:{secs}")
    );
    let again = k.register_stream_consumer().stream_arn(arn("orders")).consumer_name("app");
    assert_eq!(error_of(again.send().await).0, "ResourceInUseException");
    register(&k, "orders", "other").await;

    // Described by ARN, by stream and name, or all three when they agree.
    let by_arn = k.describe_stream_consumer().consumer_arn(&c.consumer_arn).send().await.unwrap();
    let d = by_arn.consumer_description.unwrap();
    assert_eq!((d.consumer_name.as_str(), d.stream_arn.as_str()), ("app", arn("orders").as_str()));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let by_name = k.describe_stream_consumer().stream_arn(arn("orders")).consumer_name("app");
    let d = by_name.send().await.unwrap().consumer_description.unwrap();
    assert_eq!(
        (d.consumer_arn.as_str(), &d.consumer_status),
        (c.consumer_arn.as_str(), &ConsumerStatus::Active)
    );
    let all = k
        .describe_stream_consumer()
        .consumer_arn(&c.consumer_arn)
        .stream_arn(arn("orders"))
        .consumer_name("app");
    assert!(all.send().await.is_ok());
    let conflict = k.describe_stream_consumer().consumer_arn(&c.consumer_arn).consumer_name("x");
    assert_eq!(error_of(conflict.send().await).0, "InvalidArgumentException");
    let neither = k.describe_stream_consumer().consumer_name("app").send().await;
    assert_eq!(
        error_of(neither),
        (
            "InvalidArgumentException".into(),
            "Both streamARN and consumer name must be provided if consumerARN is not provied."
                .into()
        )
    );
    let stale = c.consumer_arn.replace(&format!(":{secs}"), ":1");
    let stale = k.describe_stream_consumer().consumer_arn(stale).send().await;
    assert_eq!(error_of(stale).0, "ResourceNotFoundException");
    let bad = k.describe_stream_consumer().consumer_arn("arn:aws:kinesis:nope").send().await;
    assert_eq!(error_of(bad).0, "ValidationException");

    // Listed by name, in pages.
    register(&k, "orders", "third").await;
    let page = k.list_stream_consumers().stream_arn(arn("orders")).max_results(2).send().await;
    let page = page.unwrap();
    let names: Vec<&str> = page.consumers().iter().map(|c| c.consumer_name.as_str()).collect();
    assert_eq!(names, ["app", "other"]);
    let token = page.next_token.expect("a next page");
    let rest = k.list_stream_consumers().stream_arn(arn("orders")).next_token(token);
    let rest = rest.send().await.unwrap();
    assert_eq!(rest.consumers()[0].consumer_name, "third");
    assert!(rest.next_token.is_none());
    let summary = k.describe_stream_summary().stream_name("orders").send().await.unwrap();
    assert_eq!(summary.stream_description_summary.unwrap().consumer_count, Some(3));

    // Deregistered: DELETING, then gone.
    k.deregister_stream_consumer().consumer_arn(&c.consumer_arn).send().await.unwrap();
    let d = k.describe_stream_consumer().consumer_arn(&c.consumer_arn).send().await.unwrap();
    assert_eq!(d.consumer_description.unwrap().consumer_status, ConsumerStatus::Deleting);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let gone = k.describe_stream_consumer().consumer_arn(&c.consumer_arn).send().await;
    assert_eq!(error_of(gone).0, "ResourceNotFoundException");
    let gone = k.deregister_stream_consumer().consumer_arn(&c.consumer_arn).send().await;
    assert_eq!(error_of(gone).0, "ResourceNotFoundException");
    let by_name = k.deregister_stream_consumer().stream_arn(arn("orders")).consumer_name("other");
    by_name.send().await.unwrap();

    // A stream with consumers is deleted only with EnforceConsumerDeletion.
    let refused = k.delete_stream().stream_name("orders").send().await;
    assert_eq!(error_of(refused).0, "ResourceInUseException");
    k.delete_stream().stream_name("orders").enforce_consumer_deletion(true).send().await.unwrap();
    let text = server.metrics().await;
    assert!(!text.contains("stream=\"orders\""), "series of a deleted stream: {text}");
}

#[tokio::test]
async fn at_most_twenty_consumers_and_five_creating() {
    let server = Server::start_with_config("[kinesis]\nconsumer_create_delay_ms = 400\n");
    let k = server.kinesis();
    create(&k, "s", 1).await;
    let reg = |n: usize| {
        k.register_stream_consumer().stream_arn(arn("s")).consumer_name(format!("c{n:02}")).send()
    };
    for n in 0..5 {
        reg(n).await.unwrap();
    }
    assert_eq!(error_of(reg(5).await).0, "LimitExceededException");
    for batch in 1..4 {
        tokio::time::sleep(Duration::from_millis(450)).await;
        for n in batch * 5..batch * 5 + 5 {
            reg(n).await.unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(error_of(reg(20).await).0, "LimitExceededException");
    let missing = k.register_stream_consumer().stream_arn(arn("nope")).consumer_name("c");
    assert_eq!(error_of(missing.send().await).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn consumers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (consumer, first) = {
        let server = Server::start_in_with(dir.path(), FAST);
        let k = server.kinesis();
        create(&k, "s", 1).await;
        let consumer = register(&k, "s", "app").await;
        put(&k, "s", "pk", &["a"]).await;
        server.kill();
        (consumer, "a")
    };
    let server = Server::start_in_with(dir.path(), FAST);
    let k = server.kinesis();
    let d = k.describe_stream_consumer().consumer_arn(&consumer).send().await.unwrap();
    assert_eq!(d.consumer_description.unwrap().consumer_status, ConsumerStatus::Active);
    let mut events = subscribe(
        &k,
        &consumer,
        "shardId-000000000000",
        position(ShardIteratorType::TrimHorizon, None),
    )
    .await;
    assert_eq!(records(&mut events, 1).await.0, [first]);
}
