//! Lambda: functions declared in `[[lambda.functions]]` or known at `lambda.endpoint`,
//! read and invoked through the Lambda SDK and raw HTTP, event source mappings that
//! invoke them with DynamoDB and Kinesis records, and run by a REAL runtime
//! interface client (`awslambdaric`, from PyPI) through the Runtime API sluice serves.
//!
//! The awslambdaric tests need `python3` with `awslambdaric` installed. Where it is
//! missing they print a loud NOT RUN line and return, unless
//! REQUIRE_AWSLAMBDARIC=1 (set by .ci/run) or CI=true makes that a failure. The
//! on-failure destination tests need `moto[server]` the same way (REQUIRE_MOTO=1).

mod api;
mod boto3;
mod endpoint;
mod mappings;
mod on_failure;
mod raw;
pub(crate) mod recorder;
mod runtime;
mod triggers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The Python handler the runtime tests run (`handler.fn`): echoes its event and
/// context, fails, sleeps, answers big, or exits, as the event asks.
pub const HANDLER: &str = r#"
import json, os, sys, time

def fn(event, context):
    print("handling", json.dumps(event, sort_keys=True))
    if event.get("fail"):
        raise ValueError("boom: " + event["fail"])
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("big"):
        return "x" * event["big"]
    cc = context.client_context
    return {
        "event": event,
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "custom": cc.custom if cc else None,
        "stage": os.environ.get("STAGE"),
        "region": os.environ.get("AWS_REGION"),
        "pid": os.getpid(),
    }
"#;

/// Whether the awslambdaric tests can run here; prints NOT RUN (or fails, where it is
/// required) when they cannot.
pub fn awslambdaric(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let required = std::env::var_os("REQUIRE_AWSLAMBDARIC").is_some()
        || std::env::var("CI").is_ok_and(|v| v == "true");
    if !ok {
        assert!(
            !required,
            "{test}: python3 with awslambdaric is required here (pip install awslambdaric)"
        );
        eprintln!(
            "\n*** NOT RUN: {test}: python3 with awslambdaric is missing (pip install awslambdaric) ***\n"
        );
    }
    ok
}

/// A directory holding `handler.py`.
pub fn handler_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("handler.py"), HANDLER).expect("write handler");
    dir
}

/// A free loopback port (bound, then released for the daemon to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A runtime started by the test: `python3 -m awslambdaric handler.fn` with
/// `AWS_LAMBDA_RUNTIME_API` set to `api`. Killed when dropped.
pub struct Runtime(Child);

impl Runtime {
    pub fn start(dir: &Path, api: &str) -> Runtime {
        let child = Command::new("python3")
            .args(["-m", "awslambdaric", "handler.fn"])
            .current_dir(dir)
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("PYTHONPATH", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start awslambdaric");
        Runtime(child)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the test double saw.
#[derive(Default)]
pub struct Seen {
    pub calls: AtomicUsize,
    pub running: AtomicUsize,
    pub most_running: AtomicUsize,
    pub last: std::sync::Mutex<Vec<(String, String)>>,
}

/// An Invoke-API test double on a free port. `POST .../invocations` answers by the
/// event: `{"fail": m}` a function error, `{"sleep_ms": n}` after n ms, `{"big": n}` n
/// bytes, anything else echoed. `GET /2015-03-31/functions/missing` is Lambda's 404;
/// other GETs answer as `get` says: `Some(body)` 200 with it, `None` a plain 404 (as a
/// Runtime Interface Emulator does).
pub async fn double(get: Option<Value>) -> (SocketAddr, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (seen, get) = (state.clone(), get.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (seen, get) = (seen.clone(), get.clone());
                    async move { Ok::<_, Infallible>(answer(req, &seen, get).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    for (n, v) in headers {
        r.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

async fn answer(req: Request<Incoming>, seen: &Seen, get: Option<Value>) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .chain([("path".to_string(), req.uri().to_string())])
        .collect();
    *seen.last.lock().unwrap() = headers;
    if req.method() == hyper::Method::GET {
        if req.uri().path().ends_with("/missing") {
            let body = json!({"Type": "User", "Message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing"});
            return reply(
                404,
                &[("x-amzn-errortype", "ResourceNotFoundException")],
                body.to_string(),
            );
        }
        return match get {
            Some(body) => reply(200, &[("content-type", "application/json")], body.to_string()),
            None => reply(404, &[("content-type", "text/plain")], "404 page not found\n"),
        };
    }
    seen.calls.fetch_add(1, Ordering::SeqCst);
    let now = seen.running.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most_running.fetch_max(now, Ordering::SeqCst);
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(ms) = event["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    seen.running.fetch_sub(1, Ordering::SeqCst);
    if let Some(m) = event["fail"].as_str() {
        let error = json!({"errorMessage": m, "errorType": "Error"});
        return reply(200, &[("x-amz-function-error", "Unhandled")], error.to_string());
    }
    if let Some(n) = event["big"].as_u64() {
        return reply(200, &[], vec![b'x'; n as usize]);
    }
    reply(200, &[("content-type", "application/json")], body)
}

/// The config declaring one function `name` with `kind` (a TOML line) and `extra` lines.
pub fn function(name: &str, kind: &str, extra: &str) -> String {
    format!("[[lambda.functions]]\nname = \"{name}\"\n{kind}\n{extra}\n")
}

/// An Invoke through the SDK: (status, function error, payload as JSON).
pub async fn invoke(
    client: &aws_sdk_lambda::Client,
    name: &str,
    event: Value,
) -> (i32, Option<String>, Value) {
    let out = client
        .invoke()
        .function_name(name)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke {name}: {e:?}"));
    let payload = out.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let payload = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    (out.status_code(), out.function_error().map(str::to_string), payload)
}

/// The path of the python handler directory, as a TOML string.
pub fn toml_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "\\\\")
}
