//! An Invoke-API test double for event source mappings: it keeps every event it is sent,
//! fails the next N invocations when told to, or holds invocations until released, so
//! a test can see exactly what batches a mapping delivered and when it retried.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// How a test answers an event itself: `Some(answer)` a success with that body, `None`
/// a function error.
pub type Responder = Box<dyn Fn(&Value) -> Option<Value> + Send + Sync>;

/// What the double was sent.
#[derive(Default)]
pub struct Recorder {
    /// When set, decides every answer (`fail_next`, `fail_all` still apply first).
    pub respond: Mutex<Option<Responder>>,
    /// Every invocation's event, failed ones included, in arrival order.
    pub attempts: Mutex<Vec<Value>>,
    /// The events of invocations answered with success (a report of failed records
    /// included).
    pub delivered: Mutex<Vec<Value>>,
    /// Invocations still to fail (a function error each).
    pub fail_next: AtomicUsize,
    /// Fail every invocation while set.
    pub fail_all: AtomicBool,
    /// Hold every invocation (never answer) while set.
    pub hang: AtomicBool,
    /// Answer each invocation after this many milliseconds.
    pub delay_ms: std::sync::atomic::AtomicU64,
    /// Invocations being answered now, and the most at once.
    pub running: AtomicUsize,
    pub most_running: AtomicUsize,
}

impl Recorder {
    /// Every record delivered so far, in delivery order.
    pub fn records(&self) -> Vec<Value> {
        let delivered = self.delivered.lock().unwrap();
        delivered
            .iter()
            .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The batch sizes delivered so far.
    pub fn batch_sizes(&self) -> Vec<usize> {
        let delivered = self.delivered.lock().unwrap();
        delivered.iter().map(|e| e["Records"].as_array().map_or(0, Vec::len)).collect()
    }

    pub fn attempt_count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    /// Waits (up to 20 s) until at least `n` records were delivered; returns them.
    pub async fn wait_records(&self, n: usize) -> Vec<Value> {
        for _ in 0..2000 {
            let records = self.records();
            if records.len() >= n {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} records delivered, waited for {n}: {:?}", self.records().len(), self.records());
    }

    /// Waits (up to 20 s) until at least `n` invocations arrived.
    pub async fn wait_attempts(&self, n: usize) {
        for _ in 0..2000 {
            if self.attempt_count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} invocations, waited for {n}", self.attempt_count());
    }
}

/// A recorder on a free port; `invoke_url` of a function it serves is
/// `http://<addr>/2015-03-31/functions/function/invocations`.
pub async fn recorder() -> (SocketAddr, Arc<Recorder>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rec = Arc::new(Recorder::default());
    let state = rec.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let rec = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let rec = rec.clone();
                    async move { Ok::<_, Infallible>(answer(req, &rec).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rec)
}

async fn answer(req: Request<Incoming>, rec: &Recorder) -> Response<Full<Bytes>> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rec.attempts.lock().unwrap().push(event.clone());
    let now = rec.running.fetch_add(1, Ordering::SeqCst) + 1;
    rec.most_running.fetch_max(now, Ordering::SeqCst);
    while rec.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delay = rec.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    rec.running.fetch_sub(1, Ordering::SeqCst);
    let fail = rec.fail_all.load(Ordering::SeqCst)
        || rec
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let answer = match rec.respond.lock().unwrap().as_ref() {
        Some(respond) if !fail => respond(&event),
        _ => Some(json!({})),
    };
    let mut r = if fail || answer.is_none() {
        let error = json!({"errorMessage": "told to fail", "errorType": "Error"});
        let mut r = Response::new(Full::new(Bytes::from(error.to_string())));
        r.headers_mut().insert("x-amz-function-error", "Unhandled".parse().unwrap());
        r
    } else {
        rec.delivered.lock().unwrap().push(event);
        let answer = answer.unwrap_or_default().to_string();
        Response::new(Full::new(Bytes::from(answer)))
    };
    r.headers_mut().insert("content-type", "application/json".parse().unwrap());
    r
}

/// The config line of a function served by the recorder at `addr`.
pub fn invoke_url(addr: SocketAddr) -> String {
    format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"")
}
