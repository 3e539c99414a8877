//! Functions run by a REAL runtime interface client, `awslambdaric` from PyPI, through
//! the Runtime API sluice serves: one the test starts (`runtime_api_listen`) and one
//! sluice starts and supervises (`command`). The handler is `HANDLER` (lambda.rs).

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use base64::Engine as _;
use serde_json::json;

use super::{Runtime, awslambdaric, free_port, function, handler_dir, invoke, toml_path};
use crate::harness::Server;

#[tokio::test]
async fn a_runtime_the_user_starts_takes_invocations_from_runtime_api_listen() {
    if !awslambdaric("a_runtime_the_user_starts_takes_invocations_from_runtime_api_listen") {
        return;
    }
    let dir = handler_dir();
    let port = free_port();
    let config = function(
        "py",
        &format!("runtime_api_listen = \"127.0.0.1:{port}\""),
        "timeout_seconds = 2",
    );
    let server = Server::start_with_config(&config);
    let _runtime = Runtime::start(dir.path(), &format!("127.0.0.1:{port}"));
    let client = server.lambda();

    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"tenant":"t1"}}"#);
    let out = client
        .invoke()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:py")
        .client_context(&context)
        .payload(Blob::new(r#"{"order": 7}"#))
        .send()
        .await
        .unwrap();
    assert_eq!((out.status_code(), out.function_error()), (200, None));
    let body: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["event"], json!({"order": 7}));
    assert_eq!(body["arn"], "arn:aws:lambda:us-east-1:000000000000:function:py");
    assert_eq!(body["custom"], json!({"tenant": "t1"}));
    let remaining = body["remaining_ms"].as_i64().unwrap();
    assert!((1..=2000).contains(&remaining), "deadline from the 2 s timeout: {remaining}");
    let id = body["request_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).map(|u| u.to_string()).ok().as_deref(), Some(id));

    let (status, error, payload) = invoke(&client, "py", json!({"fail": "bad order"})).await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(
        (payload["errorType"].as_str(), payload["errorMessage"].as_str()),
        (Some("ValueError"), Some("boom: bad order"))
    );
    assert!(payload["stackTrace"].is_array(), "{payload}");

    // A timeout: the caller gets Lambda's error; the runtime's late answer is taken and
    // it goes on to the next invocation.
    let (_, error, payload) = invoke(&client, "py", json!({"sleep": 3})).await;
    assert_eq!(
        (error.as_deref(), payload["errorType"].as_str()),
        (Some("Unhandled"), Some("Sandbox.Timedout"))
    );
    assert!(
        payload["errorMessage"].as_str().unwrap().ends_with("Task timed out after 2.00 seconds"),
        "{payload}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, error, payload) = invoke(&client, "py", json!({"after": true})).await;
    assert_eq!((status, error, payload["event"].clone()), (200, None, json!({"after": true})));
}

#[tokio::test]
async fn sluice_runs_a_command_restarts_it_when_it_dies_and_stops_it_on_shutdown() {
    if !awslambdaric("sluice_runs_a_command_restarts_it_when_it_dies_and_stops_it_on_shutdown") {
        return;
    }
    let dir = handler_dir();
    let extra = format!(
        "timeout_seconds = 2\nconcurrency = 2\nmemory_size = 256\nhandler = \"handler.fn\"\nenvironment = {{ STAGE = \"dev\", PYTHONUNBUFFERED = \"1\", PYTHONPATH = \"{}\" }}",
        toml_path(dir.path())
    );
    let server = Server::start_with_config(&function(
        "cmd",
        r#"command = ["python3", "-m", "awslambdaric", "handler.fn"]"#,
        &extra,
    ));
    let client = server.lambda();

    let (status, error, body) = invoke(&client, "cmd", json!({"n": 1})).await;
    assert_eq!((status, error), (200, None), "{body}");
    assert_eq!(
        (body["function_name"].as_str(), body["stage"].as_str()),
        (Some("cmd"), Some("dev"))
    );
    assert_eq!(
        (body["memory"].as_str(), body["region"].as_str()),
        (Some("256"), Some("us-east-1"))
    );

    // Two at once run in the two processes.
    let both: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { invoke(&client, "cmd", json!({"sleep": 0.5})).await })
        })
        .collect();
    let mut pids = Vec::new();
    for call in both {
        let (_, error, body) = call.await.unwrap();
        assert_eq!(error, None, "{body}");
        pids.push(body["pid"].as_i64().unwrap());
    }
    assert_ne!(pids[0], pids[1], "each process runs one invocation at a time");

    // A process that dies mid-invocation: Lambda's Runtime.ExitError, then a new one.
    let (_, error, payload) = invoke(&client, "cmd", json!({"exit": true})).await;
    assert_eq!(
        (error.as_deref(), payload["errorType"].as_str()),
        (Some("Unhandled"), Some("Runtime.ExitError"))
    );
    assert!(
        payload["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{payload}"
    );
    // A timed-out one is killed and started again.
    let (_, _, payload) = invoke(&client, "cmd", json!({"sleep": 5})).await;
    assert_eq!(payload["errorType"], "Sandbox.Timedout");
    let mut last = None;
    for _ in 0..20 {
        let (_, error, body) = invoke(&client, "cmd", json!({"n": 2})).await;
        if error.is_none() {
            last = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = last.expect("the restarted processes answer");
    let pid = body["pid"].as_i64().unwrap();
    assert!(server.log().contains("function process started (start 2)"), "{}", server.log());
    assert!(
        server.log().contains("ValueError") || server.log().contains("function=\"cmd\""),
        "logs forwarded"
    );

    // Shutdown stops the processes.
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}");
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "process {pid} outlived sluice");
}

#[tokio::test]
async fn an_oversize_answer_and_an_init_error_are_function_errors() {
    if !awslambdaric("an_oversize_answer_and_an_init_error_are_function_errors") {
        return;
    }
    let dir = handler_dir();
    let env = format!("environment = {{ PYTHONPATH = \"{}\" }}", toml_path(dir.path()));
    let config = [
        function("big", r#"command = ["python3", "-m", "awslambdaric", "handler.fn"]"#, &env),
        function(
            "broken",
            r#"command = ["python3", "-m", "awslambdaric", "nosuchmodule.fn"]"#,
            &format!("{env}\ntimeout_seconds = 10"),
        ),
    ]
    .concat();
    let server = Server::start_with_config(&config);
    let client = server.lambda();
    let (_, error, payload) = invoke(&client, "big", json!({"big": 6_400_000})).await;
    assert_eq!(
        (error.as_deref(), payload["errorType"].as_str()),
        (Some("Unhandled"), Some("Function.ResponseSizeTooLarge"))
    );
    let (_, error, payload) = invoke(&client, "broken", json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(payload["errorType"], "Runtime.ImportModuleError", "{payload}");
}
