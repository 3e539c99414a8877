//! The Lambda API through the Rust SDK, on functions behind an Invoke-API test double:
//! GetFunction and ListFunctions by name and ARN, Invoke's payloads, function errors,
//! timeouts, oversize payloads both ways, invocation types, log tails, and concurrency.

use std::sync::atomic::Ordering;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine as _;
use serde_json::{Value, json};

use super::{double, function, invoke};
use crate::harness::{Server, error_of};

fn url(addr: std::net::SocketAddr) -> String {
    format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"")
}

#[tokio::test]
async fn get_and_list_describe_the_declared_functions_by_name_and_arn() {
    let (addr, _) = double(None).await;
    let config = [
        function(
            "beta",
            &url(addr),
            "timeout_seconds = 30\nmemory_size = 512\nhandler = \"app.handler\"\nconcurrency = 3",
        ),
        function("alpha", &url(addr), "environment = { STAGE = \"dev\" }"),
        function(
            "gamma",
            &format!("runtime_api_listen = \"127.0.0.1:{}\"", super::free_port()),
            "",
        ),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let client = server.lambda();
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:beta";
    for name in ["beta", "000000000000:function:beta", arn, "beta:$LATEST"] {
        let out = client.get_function().function_name(name).send().await.unwrap();
        let c = out.configuration().unwrap();
        assert_eq!((c.function_name(), c.function_arn()), (Some("beta"), Some(arn)), "{name}");
        assert_eq!(
            (c.timeout(), c.memory_size(), c.handler()),
            (Some(30), Some(512), Some("app.handler"))
        );
        assert_eq!(c.version(), Some("$LATEST"));
        assert_eq!(c.state().map(|s| s.as_str()), Some("Active"));
        assert!(c.last_modified().unwrap().ends_with("+0000"), "{:?}", c.last_modified());
        assert_eq!(out.concurrency().and_then(|c| c.reserved_concurrent_executions()), Some(3));
    }
    let alpha = client.get_function().function_name("alpha").send().await.unwrap();
    let env = alpha.configuration().unwrap().environment().unwrap().variables().unwrap();
    assert_eq!(env["STAGE"], "dev");

    let (code, message) = error_of(client.get_function().function_name("nope").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
    // Only $LATEST exists; another region or account names another function.
    let (code, message) =
        error_of(client.get_function().function_name("beta").qualifier("1").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:beta:1"
        )
    );
    let elsewhere = "arn:aws:lambda:eu-west-1:000000000000:function:beta";
    let (code, message) = error_of(client.get_function().function_name(elsewhere).send().await);
    assert_eq!(
        (code.as_str(), message),
        ("ResourceNotFoundException", format!("Function not found: {elsewhere}"))
    );

    let all = client.list_functions().send().await.unwrap();
    let names: Vec<_> = all.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(all.next_marker(), None);
    let page = client.list_functions().max_items(2).send().await.unwrap();
    assert_eq!(page.functions().len(), 2);
    let rest = client.list_functions().marker(page.next_marker().unwrap()).send().await.unwrap();
    let names: Vec<_> = rest.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["gamma"]);
}

#[tokio::test]
async fn invoke_url_functions_answer_fail_time_out_and_refuse_oversize_payloads() {
    let (addr, seen) = double(None).await;
    let config =
        [function("echo", &url(addr), ""), function("slow", &url(addr), "timeout_seconds = 1")]
            .concat();
    let server = Server::start_with_config(&config);
    let client = server.lambda();

    let (status, error, payload) = invoke(&client, "echo", json!({"a": [1, 2]})).await;
    assert_eq!((status, error, payload), (200, None, json!({"a": [1, 2]})));
    let (status, error, payload) = invoke(&client, "echo", json!({"fail": "no"})).await;
    assert_eq!(
        (status, error.as_deref(), payload),
        (200, Some("Unhandled"), json!({"errorMessage": "no", "errorType": "Error"}))
    );

    let (status, error, payload) = invoke(&client, "slow", json!({"sleep_ms": 2500})).await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(payload["errorType"], "Sandbox.Timedout");
    let message = payload["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("RequestId: ")
            && message.ends_with(" Error: Task timed out after 1.00 seconds"),
        "{message}"
    );

    // An answer past 6291556 bytes is the function's error, not sluice's memory.
    let (_, error, payload) = invoke(&client, "echo", json!({"big": 6_291_557})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(payload["errorType"], "Function.ResponseSizeTooLarge");
    let (_, error, payload) = invoke(&client, "echo", json!({"big": 6_291_556})).await;
    assert_eq!((error, payload), (None, Value::Null), "exactly the limit is an answer");

    // A payload past 6 MiB is refused before any function runs.
    let calls = seen.calls.load(Ordering::SeqCst);
    let big = format!("\"{}\"", "x".repeat(6 * 1024 * 1024 - 1));
    let result = client.invoke().function_name("echo").payload(Blob::new(big)).send().await;
    let (code, message) = error_of(result);
    assert_eq!(code, "RequestEntityTooLargeException");
    assert_eq!(
        message,
        "6291457 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), calls);

    let (code, message) = error_of(client.invoke().function_name("nope").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
}

#[tokio::test]
async fn invocation_types_log_tails_and_client_contexts_reach_the_function() {
    let (addr, seen) = double(None).await;
    let server = Server::start_with_config(&function("echo", &url(addr), ""));
    let client = server.lambda();
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let out = client
        .invoke()
        .function_name("echo")
        .client_context(&context)
        .log_type(LogType::Tail)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!((out.status_code(), out.executed_version()), (200, Some("$LATEST")));
    let sent: Vec<(String, String)> = seen.last.lock().unwrap().clone();
    let header = |n: &str| sent.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("x-amz-client-context"), Some(context.clone()));
    let log = base64::engine::general_purpose::STANDARD.decode(out.log_result().unwrap()).unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.starts_with("START RequestId: ") && log.contains("\nREPORT RequestId: "), "{log}");

    let calls = seen.calls.load(Ordering::SeqCst);
    let dry = client
        .invoke()
        .function_name("echo")
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .unwrap();
    assert_eq!((dry.status_code(), dry.payload().map_or(0, |p| p.as_ref().len())), (204, 0));
    let event = client
        .invoke()
        .function_name("echo")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new("{\"e\":1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code(), 202);
    for _ in 0..100 {
        if seen.calls.load(Ordering::SeqCst) > calls {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        calls + 1,
        "the Event ran once, the DryRun never"
    );
    // No payload: the function gets an empty object.
    let out = client.invoke().function_name("echo").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), b"{}");
}

#[tokio::test]
async fn concurrency_queues_invocations_and_a_full_queue_is_throttled() {
    let (addr, seen) = double(None).await;
    let config = [
        function("two", &url(addr), "concurrency = 2\ntimeout_seconds = 30"),
        function("one", &url(addr), "timeout_seconds = 30"),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let client = server.lambda();
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(
                async move { invoke(&client, "two", json!({"sleep_ms": 300, "i": i})).await },
            )
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let (status, error, payload) = call.await.unwrap();
        assert_eq!((status, error, payload["i"].as_u64()), (200, None, Some(i as u64)));
    }
    assert_eq!(seen.most_running.load(Ordering::SeqCst), 2, "two at a time, the others queued");

    // One running and 100 waiting: the next is refused, as Lambda throttles.
    let event = |ms: u64| {
        client
            .invoke()
            .function_name("one")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(json!({"sleep_ms": ms}).to_string()))
            .send()
    };
    for _ in 0..101 {
        assert_eq!(event(10_000).await.unwrap().status_code(), 202);
    }
    let (code, message) = error_of(event(0).await);
    assert_eq!((code.as_str(), message.as_str()), ("TooManyRequestsException", "Rate Exceeded."));
}
