//! The event source mapping API through the Rust SDK and raw HTTP: AWS's defaults and
//! member set, the state machine (Creating, Updating, Disabling, Deleting), duplicates,
//! listing with filters and pages, the validation messages AWS was recorded sending, and
//! mappings surviving a restart.

use std::time::Duration;

use aws_sdk_lambda::types::{EventSourcePosition, FilterCriteria};
use serde_json::{Value, json};

use super::function;
use super::recorder::{invoke_url, recorder};
use crate::harness::{AUTH, Server, create_table, error_of};

const AUTHED: &[(&str, &str)] = &[
    ("Authorization", AUTH),
    ("X-Amz-Date", "20260101T000000Z"),
    ("content-type", "application/json"),
];

/// Transitions last this long in these tests.
pub const LAMBDA: &str = "[lambda]\nmapping_transition_ms = 300\n";

/// A table `name` keyed by `pk` with a NEW_AND_OLD_IMAGES stream; its stream ARN.
pub async fn stream_table(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    create_table(client, name, false).await;
    let spec = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .unwrap();
    let out =
        client.update_table().table_name(name).stream_specification(spec).send().await.unwrap();
    out.table_description().unwrap().latest_stream_arn().unwrap().to_string()
}

/// Waits until the mapping reports `state`.
pub async fn wait_state(client: &aws_sdk_lambda::Client, uuid: &str, state: &str) {
    for _ in 0..200 {
        let m = client.get_event_source_mapping().uuid(uuid).send().await.unwrap();
        if m.state() == Some(state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("mapping {uuid} never reached {state}");
}

#[tokio::test]
async fn a_mapping_goes_through_awss_states_with_awss_defaults() {
    let (addr, _) = recorder().await;
    let config =
        [LAMBDA, &function("f", &invoke_url(addr), ""), &function("g", &invoke_url(addr), "")]
            .concat();
    let server = Server::start_with_config(&config);
    let lambda = server.lambda();
    let arn = stream_table(&server.client(), "orders").await;

    let created = lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();
    let uuid = created.uuid().unwrap().to_string();
    assert_eq!(uuid.len(), 36);
    assert_eq!(created.state(), Some("Creating"));
    assert_eq!(
        (
            created.batch_size(),
            created.maximum_batching_window_in_seconds(),
            created.parallelization_factor()
        ),
        (Some(100), Some(0), Some(1))
    );
    assert_eq!(
        (created.maximum_record_age_in_seconds(), created.maximum_retry_attempts()),
        (Some(-1), Some(-1))
    );
    assert_eq!(created.bisect_batch_on_function_error(), Some(false));
    assert_eq!(created.tumbling_window_in_seconds(), Some(0));
    assert_eq!(created.function_response_types(), &[]);
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:f"));
    assert_eq!(created.event_source_arn(), Some(arn.as_str()));
    assert_eq!(created.last_processing_result(), Some("No records processed"));
    assert_eq!(created.state_transition_reason(), Some("User action"));
    assert_eq!(
        created.event_source_mapping_arn(),
        Some(format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}").as_str())
    );
    assert!(created.destination_config().unwrap().on_failure().is_some());
    assert!(created.filter_criteria().is_none());

    // Still Creating: no update, no delete.
    let (code, _) =
        error_of(lambda.update_event_source_mapping().uuid(&uuid).batch_size(5).send().await);
    assert_eq!(code, "ResourceInUseException");
    let (code, _) = error_of(lambda.delete_event_source_mapping().uuid(&uuid).send().await);
    assert_eq!(code, "ResourceInUseException");
    wait_state(&lambda, &uuid, "Enabled").await;

    // The same function on the same stream twice is a conflict; another function is not.
    let again = lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .send()
        .await;
    let (code, message) = error_of(again);
    assert_eq!(code, "ResourceConflictException");
    assert_eq!(
        message,
        format!(
            "The event source arn (\" {arn} \") and function (\" f \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}"
        )
    );
    let other = lambda
        .create_event_source_mapping()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:g")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .enabled(false)
        .batch_size(7)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(
                    aws_sdk_lambda::types::Filter::builder()
                        .pattern(r#"{"eventName": ["INSERT"]}"#)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let other_uuid = other.uuid().unwrap().to_string();
    assert_eq!(
        other.filter_criteria().unwrap().filters()[0].pattern(),
        Some(r#"{"eventName": ["INSERT"]}"#)
    );
    wait_state(&lambda, &other_uuid, "Disabled").await;

    // Updates show the former settings until they complete.
    let updating =
        lambda.update_event_source_mapping().uuid(&uuid).batch_size(5).send().await.unwrap();
    assert_eq!((updating.state(), updating.batch_size()), (Some("Updating"), Some(100)));
    wait_state(&lambda, &uuid, "Enabled").await;
    let got = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(got.batch_size(), Some(5));
    let disabling =
        lambda.update_event_source_mapping().uuid(&uuid).enabled(false).send().await.unwrap();
    assert_eq!(disabling.state(), Some("Disabling"));
    wait_state(&lambda, &uuid, "Disabled").await;
    let enabling =
        lambda.update_event_source_mapping().uuid(&uuid).enabled(true).send().await.unwrap();
    assert_eq!(enabling.state(), Some("Enabling"));
    wait_state(&lambda, &uuid, "Enabled").await;

    // Lists: all, by source, by function (name or ARN), in pages.
    let all = lambda.list_event_source_mappings().send().await.unwrap();
    assert_eq!(all.event_source_mappings().len(), 2);
    assert_eq!(all.next_marker(), None);
    let by_f = lambda.list_event_source_mappings().function_name("f").send().await.unwrap();
    let uuids: Vec<_> = by_f.event_source_mappings().iter().filter_map(|m| m.uuid()).collect();
    assert_eq!(uuids, [uuid.as_str()]);
    let by_arn = lambda
        .list_event_source_mappings()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:g")
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap();
    let uuids: Vec<_> = by_arn.event_source_mappings().iter().filter_map(|m| m.uuid()).collect();
    assert_eq!(uuids, [other_uuid.as_str()]);
    let none = lambda.list_event_source_mappings().function_name("nobody").send().await.unwrap();
    assert!(none.event_source_mappings().is_empty());
    let first = lambda.list_event_source_mappings().max_items(1).send().await.unwrap();
    assert_eq!(first.event_source_mappings().len(), 1);
    let rest = lambda
        .list_event_source_mappings()
        .marker(first.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.event_source_mappings().len(), 1);
    assert_ne!(rest.event_source_mappings()[0].uuid(), first.event_source_mappings()[0].uuid());

    let deleting = lambda_delete(&lambda, &other_uuid).await;
    assert_eq!(deleting, "Deleting");
    let mut gone = false;
    for _ in 0..200 {
        match lambda.get_event_source_mapping().uuid(&other_uuid).send().await {
            Err(e) => {
                let (code, message) = error_of::<(), _>(Err(e));
                assert_eq!(code, "ResourceNotFoundException");
                assert_eq!(message, "The resource you requested does not exist.");
                gone = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert!(gone, "the deleted mapping stays");
}

async fn lambda_delete(lambda: &aws_sdk_lambda::Client, uuid: &str) -> String {
    let out = lambda.delete_event_source_mapping().uuid(uuid).send().await.unwrap();
    out.state().unwrap().to_string()
}

#[tokio::test]
async fn mappings_and_their_settings_survive_a_restart() {
    let (addr, _) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in_with(dir.path(), &config);
    let arn = stream_table(&server.client(), "items").await;
    let lambda = server.lambda();
    let created = lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .batch_size(42)
        .maximum_retry_attempts(3)
        .send()
        .await
        .unwrap();
    let uuid = created.uuid().unwrap().to_string();
    server.kill();
    let server = Server::start_in_with(dir.path(), &config);
    wait_state(&server.lambda(), &uuid, "Enabled").await;
    let got = server.lambda().get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!((got.batch_size(), got.maximum_retry_attempts()), (Some(42), Some(3)));
    assert_eq!(got.starting_position().map(|p| p.as_str()), Some("LATEST"));
}

#[tokio::test]
async fn invalid_mappings_get_the_errors_aws_sends() {
    let (addr, _) = recorder().await;
    let config = [LAMBDA, &function("f", &invoke_url(addr), "")].concat();
    let server = Server::start_with_config(&config);
    let ddb = stream_table(&server.client(), "items").await;
    let kinesis = server.kinesis();
    kinesis.create_stream().stream_name("k").shard_count(1).send().await.unwrap();
    let k = "arn:aws:kinesis:us-east-1:000000000000:stream/k";
    let post = |body: Value| {
        let server = &server;
        async move {
            let r = server
                .request(
                    "POST",
                    "/2015-03-31/event-source-mappings/",
                    AUTHED,
                    body.to_string().as_bytes(),
                )
                .await;
            (r.status, r.header("x-amzn-errortype").unwrap_or_default().to_string(), r.json())
        }
    };
    let cases = [
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "0"}),
            400,
            "ValidationException",
            json!({"message": "1 validation error detected: Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "LATEST", "StartingPositionTimestamp": 1}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "Timestamp only valid with StartingPosition AT_TIMESTAMP"}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": ddb, "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": -1}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": format!("Unsupported starting position for arn type: {ddb}")}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": -1}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "Received Exception while reading from provided stream. class java.lang.Long can not be converted to a Timestamp"}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": format!("{ddb}x"), "StartingPosition": "LATEST"}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": format!("Stream not found: {ddb}x")}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/nope", "StartingPosition": "LATEST"}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "Stream not found: arn:aws:kinesis:us-east-1:000000000000:stream/nope"}),
        ),
        (
            json!({"FunctionName": "nope", "EventSourceArn": k, "StartingPosition": "LATEST"}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "Function does not exist"}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "LATEST", "BatchSize": 10001}),
            400,
            "ValidationException",
            json!({"message": "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "LATEST", "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}}),
            400,
            "InvalidParameterValueException",
            json!({"Type": "User", "message": "Unsupported DestinationConfig parameter for given event source mapping type."}),
        ),
        (
            json!({"FunctionName": "f", "EventSourceArn": k, "StartingPosition": "LATEST", "BatchSize": "ten"}),
            400,
            "InvalidRequestContentException",
            json!({"Type": "User", "message": "Could not parse request body into json: BatchSize must be an integer, not \"ten\""}),
        ),
    ];
    for (body, status, code, error) in cases {
        let (got_status, got_code, got_body) = post(body.clone()).await;
        assert_eq!((got_status, got_code.as_str(), got_body), (status, code, error), "{body}");
    }
    assert!(
        server
            .lambda()
            .list_event_source_mappings()
            .send()
            .await
            .unwrap()
            .event_source_mappings()
            .is_empty()
    );

    // UUIDs: 36 characters, else the validator; unknown, 404.
    let r = server.request("GET", "/2015-03-31/event-source-mappings/abc", AUTHED, b"").await;
    assert_eq!((r.status, r.header("x-amzn-errortype")), (400, Some("ValidationException")));
    let unknown = "00000000-0000-4000-8000-000000000000";
    for method in ["GET", "PUT", "DELETE"] {
        let body: &[u8] = if method == "PUT" { b"{}" } else { b"" };
        let r = server
            .request(method, &format!("/2015-03-31/event-source-mappings/{unknown}"), AUTHED, body)
            .await;
        assert_eq!(r.status, 404, "{method}");
        assert_eq!(
            r.json(),
            json!({"Type": "User", "Message": "The resource you requested does not exist."})
        );
    }
    // A body past 256 KiB is refused before it is read.
    let big = vec![b' '; 300 * 1024];
    let r = server.request("POST", "/2015-03-31/event-source-mappings/", AUTHED, &big).await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (413, Some("RequestEntityTooLargeException"))
    );

    // Kinesis streams and their fan-out consumers are sources.
    let consumer =
        kinesis.register_stream_consumer().stream_arn(k).consumer_name("c").send().await.unwrap();
    let consumer_arn = consumer.consumer().unwrap().consumer_arn().to_string();
    for source in [k, consumer_arn.as_str()] {
        let (status, _, body) =
            post(json!({"FunctionName": "f", "EventSourceArn": source, "StartingPosition": "TRIM_HORIZON"})).await;
        assert_eq!((status, body["EventSourceArn"].as_str()), (202, Some(source)), "{body}");
    }
}
