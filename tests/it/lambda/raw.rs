//! What an SDK would never send, over raw HTTP: the Lambda API's exact status, error
//! type header and body for malformed input, and the Runtime API's answers to a runtime
//! that misbehaves.

use serde_json::json;

use super::{double, function};
use crate::harness::{AUTH, RawResponse, Server, raw_request};

const AUTHED: &[(&str, &str)] = &[("Authorization", AUTH), ("X-Amz-Date", "20260101T000000Z")];

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    AUTHED.iter().copied().chain(extra.iter().copied()).collect()
}

/// The message AWS's request framework gives every unknown operation.
const UNKNOWN: &str = "The requested operation is not recognized by the service.";

#[track_caller]
fn assert_error(r: &RawResponse, status: u16, code: &str, body: serde_json::Value) {
    assert_eq!((r.status, r.header("x-amzn-errortype")), (status, Some(code)), "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-amzn-requestid").is_some_and(|id| id.len() == 36), "{:?}", r.headers);
    assert_eq!(r.json(), body);
}

#[tokio::test]
async fn malformed_lambda_requests_get_lambdas_errors() {
    let (addr, _) = double(None).await;
    let url = format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"");
    let server = Server::start_with_config(&function("echo", &url, ""));
    server.expect_denials();
    let invoke = "/2015-03-31/functions/echo/invocations";

    let r = server.request("POST", invoke, &[], b"{}").await;
    assert_error(
        &r,
        403,
        "MissingAuthenticationTokenException",
        json!({"message": "Missing Authentication Token"}),
    );

    let r = server.request("GET", "/2015-03-31/functions/bad%20name", AUTHED, b"").await;
    assert_eq!((r.status, r.header("x-amzn-errortype")), (400, Some("ValidationException")));
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: "), "{message}");
    let long = format!("/2015-03-31/functions/{}", "f".repeat(257));
    let r = server.request("GET", &long, AUTHED, b"").await;
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .ends_with("Member must have length less than or equal to 256"),
        "{}",
        r.text()
    );

    let r = server.request("GET", "/2015-03-31/functions/echo/nope", AUTHED, b"").await;
    assert_error(&r, 404, "UnknownOperationException", json!({"message": UNKNOWN}));
    let r = server.request("DELETE", "/2015-03-31/functions/echo", AUTHED, b"").await;
    assert_error(&r, 404, "UnknownOperationException", json!({"message": UNKNOWN}));

    let r = server
        .request("POST", invoke, &with(&[("X-Amz-Invocation-Type", "Sometimes")]), b"{}")
        .await;
    assert_error(
        &r,
        400,
        "ValidationException",
        json!({"message": "1 validation error detected: Value 'Sometimes' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"}),
    );
    let r = server.request("POST", invoke, &with(&[("X-Amz-Log-Type", "All")]), b"{}").await;
    assert_error(
        &r,
        400,
        "ValidationException",
        json!({"message": "1 validation error detected: Value 'All' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"}),
    );
    let r = server
        .request("POST", invoke, &with(&[("X-Amz-Client-Context", "not base64!")]), b"{}")
        .await;
    assert_error(
        &r,
        400,
        "InvalidRequestContentException",
        json!({"Type": "User", "message": "Client context must be a valid Base64-encoded JSON object."}),
    );

    let r = server.request("POST", invoke, AUTHED, b"{not json").await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (400, Some("InvalidRequestContentException"))
    );
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "Could not parse request body into json: Could not parse payload into json: "
        ),
        "{message}"
    );

    let r = server.request("POST", &format!("{invoke}?Qualifier=prod"), AUTHED, b"{}").await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        json!({"Type": "User", "Message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo:prod"}),
    );
    let r = server
        .request(
            "POST",
            "/2015-03-31/functions/echo%3Aprod/invocations?Qualifier=dev",
            AUTHED,
            b"{}",
        )
        .await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        json!({"Type": "User", "message": "The derived qualifier from the function name does not match the specified qualifier."}),
    );

    let r = server.request("GET", "/2015-03-31/functions/?MaxItems=0", AUTHED, b"").await;
    assert_error(
        &r,
        400,
        "ValidationException",
        json!({"message": "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"}),
    );
    let r = server.request("GET", "/2015-03-31/functions/?MaxItems=many", AUTHED, b"").await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        json!({"Type": "User", "message": "Invalid value for MaxItems: many"}),
    );

    // Declared past server.max_body_bytes too: answered before the body is read.
    let mut head = format!(
        "POST {invoke} HTTP/1.1\r\nHost: {}\r\nContent-Length: 20000000\r\nConnection: close\r\n",
        server.addr
    );
    for (n, v) in AUTHED {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("X-Amz-Invocation-Type: Event\r\n\r\n{");
    let r = server.exchange(head.into_bytes()).await;
    assert_error(
        &r,
        413,
        "RequestEntityTooLargeException",
        json!({"Type": "User", "Message": "20000000 byte payload is too large for the Event invocation type (limit 1048576 bytes)"}),
    );
    let event = vec![b' '; 1024 * 1024 + 1];
    let r =
        server.request("POST", invoke, &with(&[("X-Amz-Invocation-Type", "Event")]), &event).await;
    assert_error(
        &r,
        413,
        "RequestEntityTooLargeException",
        json!({"Type": "User", "Message": "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"}),
    );

    // Request metrics are labelled lambda and the operation.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            "sluice_requests_total{operation=\"Invoke\",service=\"lambda\",status=\"413\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_runtime_api_refuses_unknown_ids_bad_paths_and_oversize_answers() {
    let port = super::free_port();
    let server = Server::start_with_config(&function(
        "rt",
        &format!("runtime_api_listen = \"127.0.0.1:{port}\""),
        "timeout_seconds = 10",
    ));
    let api: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let r =
        raw_request(api, "POST", "/2018-06-01/runtime/invocation/nope/response", &[], b"{}").await;
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}))
    );
    let r = raw_request(api, "GET", "/2018-06-01/runtime/nope", &[], b"").await;
    assert_eq!(r.status, 404);
    let r = raw_request(api, "POST", "/2018-06-01/runtime/invocation/next", &[], b"").await;
    assert_eq!(r.status, 405);
    let r = raw_request(
        api,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.X")],
        b"{}",
    )
    .await;
    assert_eq!((r.status, r.json()), (202, json!({"status": "OK"})));

    // An invocation taken by hand, answered too big: 413 to the runtime, the caller gets
    // Function.ResponseSizeTooLarge.
    let client = server.lambda();
    let call = tokio::spawn(async move { super::invoke(&client, "rt", json!({"k": 1})).await });
    let next = raw_request(api, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await;
    assert_eq!((next.status, next.json()), (200, json!({"k": 1})));
    let id = next.header("lambda-runtime-aws-request-id").unwrap().to_string();
    assert_eq!(
        next.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:000000000000:function:rt")
    );
    assert!(next.header("lambda-runtime-deadline-ms").unwrap().parse::<i64>().is_ok());
    assert!(next.header("lambda-runtime-trace-id").unwrap().starts_with("Root=1-"));
    let big = vec![b'x'; 6_291_557];
    let r = raw_request(
        api,
        "POST",
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
        &[],
        &big,
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (
            413,
            json!({"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", "errorType": "RequestEntityTooLarge"})
        )
    );
    let (_, error, payload) = call.await.unwrap();
    assert_eq!(
        (error.as_deref(), payload["errorType"].as_str()),
        (Some("Unhandled"), Some("Function.ResponseSizeTooLarge"))
    );
    let r = raw_request(
        api,
        "POST",
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
        &[],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 400, "answered once already");
}
