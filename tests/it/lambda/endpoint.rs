//! `lambda.endpoint`: functions sluice does not declare, looked up and invoked at another
//! server speaking Lambda's API: another sluice, and a test double that does not serve
//! GetFunction (as a Runtime Interface Emulator does not).

use std::sync::atomic::Ordering;

use serde_json::json;

use super::{double, function, invoke};
use crate::harness::{Server, error_of};

#[tokio::test]
async fn functions_of_another_sluice_are_found_and_invoked_through_the_endpoint() {
    let (addr, _) = double(None).await;
    let url = format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"");
    let behind = Server::start_with_config(&function("echo", &url, "timeout_seconds = 9"));
    let front =
        // Signing as a key `behind` knows (it enforces signatures in the enforcing run).
        Server::start_with_config(&format!(
            "[lambda]\nendpoint = \"{}\"\naccess_key_id = \"AKIDREMOTE\"\nsecret_access_key = \"remote-secret\"\n",
            behind.endpoint
        ));
    let client = front.lambda();

    let got = client.get_function().function_name("echo").send().await.unwrap();
    let c = got.configuration().unwrap();
    assert_eq!(
        (c.function_name(), c.timeout()),
        (Some("echo"), Some(9)),
        "the endpoint's own description"
    );
    let (code, message) = error_of(client.get_function().function_name("nope").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
        )
    );

    let (status, error, payload) = invoke(&client, "echo", json!({"via": "front"})).await;
    assert_eq!((status, error, payload), (200, None, json!({"via": "front"})));
    let (_, error, payload) = invoke(
        &client,
        "arn:aws:lambda:us-east-1:000000000000:function:echo",
        json!({"fail": "x"}),
    )
    .await;
    assert_eq!(
        (error.as_deref(), payload["errorMessage"].as_str()),
        (Some("Unhandled"), Some("x"))
    );
    let (code, _) = error_of(client.invoke().function_name("nope").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    // The front lists only what it declares itself.
    assert!(client.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn an_endpoint_without_get_function_is_assumed_to_have_the_function() {
    let (addr, seen) = double(None).await;
    let server = Server::start_with_config(&format!("[lambda]\nendpoint = \"http://{addr}\"\n"));
    let client = server.lambda();
    let got = client.get_function().function_name("anything").send().await.unwrap();
    let c = got.configuration().unwrap();
    assert_eq!(c.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:anything"));
    let (code, _) = error_of(client.get_function().function_name("missing").send().await);
    assert_eq!(code, "ResourceNotFoundException", "a Lambda 404 still means missing");

    let (status, error, payload) = invoke(&client, "anything", json!({"k": "v"})).await;
    assert_eq!((status, error, payload), (200, None, json!({"k": "v"})));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    let sent = seen.last.lock().unwrap().clone();
    let header =
        |n: &str| sent.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(header("path"), "/2015-03-31/functions/anything/invocations");
    assert_eq!(header("x-amz-invocation-type"), "RequestResponse");
    assert!(header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=sluice/"), "{sent:?}");
    assert!(header("authorization").contains("/us-east-1/lambda/aws4_request"), "{sent:?}");
}
