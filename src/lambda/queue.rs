//! The invocations of one function whose runtime sluice serves through the Lambda Runtime
//! API (`runtime_api_listen`, `command`): a queue the runtimes' `next` calls take from,
//! and the invocations they hold, by request id, until they post a response or an error.
//!
//! Each invocation has one deadline, set when it enters the queue (its timeout counted
//! from then, so an invocation no runtime takes times out too) and sent to the runtime
//! as `Lambda-Runtime-Deadline-Ms`. Past it the caller gets Lambda's timeout error, a
//! late answer is refused as an unknown request id, and the runtime instance that held
//! it is reset (a supervised process is restarted, as Lambda replaces a timed-out
//! sandbox). A runtime sluice does not supervise is not stopped: its late answer is taken
//! (202) and dropped, so it goes on to its next invocation.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::invocation::{Invocation, InvokeError};
use crate::clock::SharedClock;

/// Timed-out request ids remembered, to take their late answers.
const MAX_EXPIRED: usize = 256;

/// How a runtime ended an invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `/response`.
    Response(Bytes),
    /// `/error` (or `/init/error`): the runtime's error JSON.
    Error(Bytes),
    /// A response past the payload limit.
    TooLarge,
    /// The runtime exited holding it.
    Exited(String),
}

/// One invocation waiting for a runtime.
pub struct Job {
    pub id: String,
    pub payload: Bytes,
    deadline: Instant,
    /// `Lambda-Runtime-Deadline-Ms`: the deadline in epoch milliseconds.
    pub deadline_ms: i64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_arn: String,
    /// `Lambda-Runtime-Client-Context`: the client context JSON, decoded.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    reply: Option<oneshot::Sender<Outcome>>,
}

/// The per-invocation details the Invoke API passes down.
#[derive(Debug, Clone, Default)]
pub struct InvokeDetails {
    /// The ARN the function was invoked by (with its qualifier when one was given).
    pub invoked_arn: String,
    /// The client context JSON, decoded from the caller's base64.
    pub client_context: Option<String>,
    /// The client context as the caller sent it (base64), for Invoke-API hosts.
    pub client_context_base64: Option<String>,
}

/// The queue and the invocations in flight of one function.
pub struct RuntimeQueue {
    timeout_seconds: u32,
    tx: mpsc::Sender<Job>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    /// Request id → (runtime instance, reply).
    inflight: Mutex<HashMap<String, (usize, oneshot::Sender<Outcome>)>>,
    /// Per runtime instance: notified to restart it (its invocation timed out).
    resets: Vec<Arc<Notify>>,
    /// The latest request ids that timed out, whose late answers are taken and dropped.
    expired: Mutex<VecDeque<String>>,
    clock: SharedClock,
}

/// A request id the queue does not hold (never given out, answered, or timed out).
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownRequestId;

fn trace_id(clock: &SharedClock) -> String {
    // From the per-thread generator, as the request ids: no getrandom per invocation.
    let id = format!("{:016x}{:016x}", crate::ids::next_u64(), crate::ids::next_u64());
    let secs = clock.now_millis() / 1000;
    format!("Root=1-{secs:08x}-{};Parent={};Sampled=0", &id[..24], &id[16..32])
}

impl RuntimeQueue {
    /// A queue for a function with this timeout, `concurrency` invocations at once, and
    /// `instances` runtime instances (processes or listeners) taking from it.
    pub fn new(
        timeout_seconds: u32,
        concurrency: usize,
        instances: usize,
        clock: SharedClock,
    ) -> Self {
        let (tx, rx) = mpsc::channel(concurrency.max(1));
        RuntimeQueue {
            timeout_seconds,
            tx,
            rx: tokio::sync::Mutex::new(rx),
            inflight: Mutex::default(),
            resets: (0..instances).map(|_| Arc::new(Notify::new())).collect(),
            expired: Mutex::default(),
            clock,
        }
    }

    /// The signal that asks runtime instance `instance` to restart.
    pub fn reset_signal(&self, instance: usize) -> Arc<Notify> {
        self.resets.get(instance).cloned().unwrap_or_default()
    }

    fn inflight(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (usize, oneshot::Sender<Outcome>)>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one invocation and waits for its outcome, up to the function's timeout.
    pub async fn invoke(
        &self,
        id: String,
        payload: Bytes,
        details: &InvokeDetails,
    ) -> Result<Invocation, InvokeError> {
        let timeout = Duration::from_secs(self.timeout_seconds.into());
        let deadline = Instant::now() + timeout;
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            id: id.clone(),
            payload,
            deadline,
            deadline_ms: self.clock.now_millis() + timeout.as_millis() as i64,
            invoked_arn: details.invoked_arn.clone(),
            client_context: details.client_context.clone(),
            trace_id: trace_id(&self.clock),
            reply: Some(reply),
        };
        self.tx.send(job).await.map_err(|_| InvokeError::ShuttingDown)?;
        match tokio::time::timeout_at(deadline, outcome).await {
            Ok(Ok(Outcome::Response(body))) => Ok(Invocation::ok(body)),
            Ok(Ok(Outcome::Error(body))) => Ok(Invocation::failed(body)),
            Ok(Ok(Outcome::TooLarge)) => Ok(Invocation::response_too_large()),
            Ok(Ok(Outcome::Exited(why))) => Ok(Invocation::runtime_exited(&id, &why)),
            Ok(Err(_)) => {
                Ok(Invocation::runtime_exited(&id, "Runtime exited without providing a reason"))
            }
            Err(_) => {
                let held = self.inflight().remove(&id);
                if let Some((instance, _)) = held {
                    self.reset_signal(instance).notify_one();
                    let mut expired = self.expired.lock().unwrap_or_else(|e| e.into_inner());
                    if expired.len() >= MAX_EXPIRED {
                        expired.pop_front();
                    }
                    expired.push_back(id.clone());
                }
                Ok(Invocation::timed_out(&id, self.timeout_seconds))
            }
        }
    }

    /// The next invocation for runtime instance `instance`, waiting for one (the
    /// Runtime API's long poll); its reply is held in flight under its id.
    pub async fn next(&self, instance: usize) -> Job {
        let mut rx = self.rx.lock().await;
        loop {
            // The sender lives as long as the queue: it never closes while in use.
            let Some(mut job) = rx.recv().await else { return std::future::pending().await };
            let Some(reply) = job.reply.take() else { continue };
            // Its caller has given up (timed out while it waited): skip it.
            if reply.is_closed() || Instant::now() >= job.deadline {
                continue;
            }
            self.inflight().insert(job.id.clone(), (instance, reply));
            return job;
        }
    }

    /// Ends invocation `id` with `outcome`.
    pub fn finish(&self, id: &str, outcome: Outcome) -> Result<(), UnknownRequestId> {
        let (_, reply) = self.inflight().remove(id).ok_or(UnknownRequestId)?;
        let _ = reply.send(outcome);
        Ok(())
    }

    /// Whether `id` timed out lately (a runtime sluice does not supervise answers it
    /// late, then goes on to its next invocation).
    pub fn expired(&self, id: &str) -> bool {
        self.expired.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|e| e == id)
    }

    /// Whether `id` is in flight.
    pub fn holds(&self, id: &str) -> bool {
        self.inflight().contains_key(id)
    }

    /// Runtime instance `instance` exited: every invocation it held fails so.
    pub fn instance_exited(&self, instance: usize, why: &str) {
        let mut inflight = self.inflight();
        let ids: Vec<String> = inflight
            .iter()
            .filter(|(_, (i, _))| *i == instance)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some((_, reply)) = inflight.remove(&id) {
                let _ = reply.send(Outcome::Exited(why.to_string()));
            }
        }
    }

    /// A runtime failed to initialize (`/init/error`): the oldest waiting invocation, if
    /// any, gets its error, as the invocation that started a failing sandbox does.
    pub fn init_failed(&self, body: Bytes) {
        let Ok(mut rx) = self.rx.try_lock() else { return };
        while let Ok(mut job) = rx.try_recv() {
            if let Some(reply) = job.reply.take()
                && !reply.is_closed()
            {
                let _ = reply.send(Outcome::Error(body));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn queue(timeout: u32) -> Arc<RuntimeQueue> {
        Arc::new(RuntimeQueue::new(timeout, 2, 1, ManualClock::new(1_000_000)))
    }

    #[tokio::test]
    async fn a_runtime_takes_invocations_and_answers_them_by_id() {
        let q = queue(3);
        let runtime = {
            let q = q.clone();
            tokio::spawn(async move {
                let job = q.next(0).await;
                assert_eq!(job.deadline_ms, 1_003_000);
                assert!(job.trace_id.starts_with("Root=1-000003e8-"), "{}", job.trace_id);
                assert_eq!(q.finish("nope", Outcome::TooLarge), Err(UnknownRequestId));
                q.finish(&job.id, Outcome::Response(job.payload.clone())).unwrap();
                assert_eq!(q.finish(&job.id, Outcome::TooLarge), Err(UnknownRequestId));
            })
        };
        let got = q
            .invoke("r1".into(), Bytes::from_static(b"{\"a\":1}"), &InvokeDetails::default())
            .await
            .unwrap();
        assert_eq!(got, Invocation::ok(Bytes::from_static(b"{\"a\":1}")));
        runtime.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_invocation_times_out_resets_its_instance_and_refuses_a_late_answer() {
        let q = queue(1);
        let reset = q.reset_signal(0);
        let taker = {
            let q = q.clone();
            tokio::spawn(async move { q.next(0).await.id })
        };
        let got = q.invoke("r2".into(), Bytes::new(), &InvokeDetails::default()).await.unwrap();
        assert_eq!(got, Invocation::timed_out("r2", 1));
        let id = taker.await.unwrap();
        assert_eq!(q.finish(&id, Outcome::Response(Bytes::new())), Err(UnknownRequestId));
        assert!(q.expired(&id) && !q.expired("other"));
        tokio::time::timeout(Duration::from_millis(1), reset.notified()).await.expect("reset");
    }

    #[tokio::test(start_paused = true)]
    async fn an_invocation_nobody_takes_times_out_and_is_skipped_later() {
        let q = queue(1);
        let got = q.invoke("r3".into(), Bytes::new(), &InvokeDetails::default()).await.unwrap();
        assert_eq!(got, Invocation::timed_out("r3", 1));
        let later = tokio::time::timeout(Duration::from_secs(5), q.next(0)).await;
        assert!(later.is_err(), "the expired invocation must not be handed out");
    }

    #[tokio::test]
    async fn an_exit_or_init_error_fails_what_the_runtime_held_or_awaited() {
        let q = queue(3);
        let exiting = {
            let q = q.clone();
            tokio::spawn(async move {
                q.next(0).await;
                q.instance_exited(0, "Runtime exited with error: signal: killed");
            })
        };
        let got = q.invoke("r4".into(), Bytes::new(), &InvokeDetails::default()).await.unwrap();
        assert_eq!(
            got,
            Invocation::runtime_exited("r4", "Runtime exited with error: signal: killed")
        );
        exiting.await.unwrap();
        let failing = {
            let q = q.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                q.init_failed(Bytes::from_static(b"{\"errorType\":\"Runtime.ImportModuleError\"}"));
            })
        };
        let got = q.invoke("r5".into(), Bytes::new(), &InvokeDetails::default()).await.unwrap();
        assert_eq!(got.function_error.as_deref(), Some("Unhandled"));
        assert_eq!(&got.payload[..], b"{\"errorType\":\"Runtime.ImportModuleError\"}");
        failing.await.unwrap();
    }
}
