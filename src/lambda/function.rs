//! One declared function: how it runs (an Invoke-API URL, or a Runtime API queue), its
//! concurrency slots and the bounded queue of invocations waiting for one; and how a
//! function is described.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::MAX_WAITING;
use super::invocation::{Invocation, InvokeError};
use super::queue::{InvokeDetails, RuntimeQueue};
use super::remote::InvokeUrl;
use crate::config::FunctionConfig;

/// How a function runs.
pub(super) enum Runner {
    Url(Box<InvokeUrl>),
    Runtime(Arc<RuntimeQueue>),
}

/// A declared function.
pub struct Declared {
    pub config: FunctionConfig,
    pub(super) runner: Runner,
    pub(super) permits: Semaphore,
    /// Invocations admitted (running or waiting).
    pub(super) admitted: AtomicUsize,
}

/// An admitted invocation's place in its function's queue (freed when dropped).
pub(super) struct Admission(pub(super) Arc<Declared>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Declared {
    pub(super) fn new(config: FunctionConfig, runner: Runner) -> Declared {
        let permits = Semaphore::new(config.concurrency as usize);
        Declared { config, runner, permits, admitted: AtomicUsize::new(0) }
    }

    /// A place in `d`'s queue, or Throttled when it is full.
    pub(super) fn admit(d: &Arc<Declared>) -> Result<Admission, InvokeError> {
        let limit = d.config.concurrency as usize + MAX_WAITING;
        if d.admitted.fetch_add(1, Ordering::AcqRel) >= limit {
            d.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(InvokeError::Throttled);
        }
        Ok(Admission(d.clone()))
    }

    /// Runs one admitted invocation once a slot is free.
    pub(super) async fn run(
        &self,
        id: String,
        payload: Bytes,
        details: &InvokeDetails,
    ) -> Result<Invocation, InvokeError> {
        let _permit = self.permits.acquire().await.map_err(|_| InvokeError::ShuttingDown)?;
        match &self.runner {
            Runner::Url(url) => {
                let cc = details.client_context_base64.as_deref();
                url.invoke(payload, cc, &id, self.config.timeout_seconds).await
            }
            Runner::Runtime(queue) => queue.invoke(id, payload, details).await,
        }
    }
}

/// A function as GetFunction and ListFunctions describe it.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    /// Its unqualified ARN.
    pub arn: String,
    /// Its declaration, for a function sluice declares.
    pub declared: Option<FunctionConfig>,
    /// The endpoint's GetFunction answer, for a function known there.
    pub remote: Option<serde_json::Value>,
    /// When sluice started: the functions' LastModified.
    pub last_modified_ms: i64,
}
