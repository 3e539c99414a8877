//! Lambda functions sluice knows, and invoking them: the room beside the engine that the
//! Lambda API (`api::lambda`) and, later, the event source mapping pollers both use
//! through one interface, [`Functions`].
//!
//! A function is declared in `[[lambda.functions]]` and runs behind an Invoke-API URL
//! (`remote::InvokeUrl`), or behind a Lambda Runtime API that sluice serves
//! (`runtime_api`), for a runtime started by the user or by sluice (`supervisor`); the
//! invocations of the latter two go through a queue (`queue`). Any other function is
//! looked up and invoked at `lambda.endpoint` (`remote::Endpoint`), when one is set.
//!
//! Every function takes `concurrency` invocations at once; up to [`MAX_WAITING`] more wait
//! their turn, and past that an invocation is refused (TooManyRequestsException), so
//! waiting payloads cannot take unbounded memory. Every answer read from outside sluice is
//! bounded ([`invocation::MAX_RESPONSE_PAYLOAD`]) and every invocation ends by its
//! function's timeout.

pub mod function;
pub mod invocation;
pub mod name;
pub mod queue;
pub mod remote;
pub mod runtime_api;
pub mod supervisor;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::{Config, FunctionKind};
pub use function::FunctionInfo;
use function::{Declared, Runner};
pub use invocation::{Invocation, InvokeError};
pub use name::FunctionRef;
pub use queue::InvokeDetails;
use queue::RuntimeQueue;
use remote::{Endpoint, InvokeHeaders, InvokeUrl, Lookup};

/// Invocations that may wait for a free slot of one function, beyond its concurrency.
pub const MAX_WAITING: usize = 100;

/// What a FunctionName names.
pub enum Target {
    Declared(Arc<Declared>),
    /// Not declared: the endpoint is asked.
    Endpoint,
    /// Nothing: its ARN, as "Function not found" names it.
    Missing(String),
}

/// The functions sluice knows: the one interface to look them up and invoke them.
pub struct Functions {
    region: String,
    account: String,
    declared: BTreeMap<String, Arc<Declared>>,
    endpoint: Option<Endpoint>,
    clock: SharedClock,
    started_ms: i64,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Functions {
    /// The functions `config` declares, and its endpoint; nothing runs until `start`.
    pub fn new(config: &Config, clock: SharedClock) -> Functions {
        let lambda = &config.lambda;
        let mut declared = BTreeMap::new();
        for f in &lambda.functions {
            let runner = match f.kind() {
                Some(FunctionKind::InvokeUrl(url)) => match InvokeUrl::new(
                    url,
                    remote::Credentials::new(
                        &lambda.access_key_id,
                        &lambda.secret_access_key,
                        &config.aws.region,
                        clock.clone(),
                    ),
                ) {
                    Some(u) => Runner::Url(Box::new(u)),
                    None => continue,
                },
                Some(FunctionKind::RuntimeApi(_)) => Runner::Runtime(Arc::new(RuntimeQueue::new(
                    f.timeout_seconds,
                    f.concurrency as usize,
                    1,
                    clock.clone(),
                ))),
                Some(FunctionKind::Command(_)) => Runner::Runtime(Arc::new(RuntimeQueue::new(
                    f.timeout_seconds,
                    f.concurrency as usize,
                    f.concurrency as usize,
                    clock.clone(),
                ))),
                // The loader refuses these.
                None => continue,
            };
            let d = Declared::new(f.clone(), runner);
            declared.insert(f.name.clone(), Arc::new(d));
        }
        let endpoint = (!lambda.endpoint.is_empty())
            .then(|| {
                Endpoint::new(
                    &lambda.endpoint,
                    &lambda.access_key_id,
                    &lambda.secret_access_key,
                    &config.aws.region,
                    clock.clone(),
                )
            })
            .flatten();
        Functions {
            region: config.aws.region.clone(),
            account: config.aws.account_id.clone(),
            declared,
            endpoint,
            started_ms: clock.now_millis(),
            clock,
            shutdown: watch::channel(false).0,
            tasks: Mutex::default(),
        }
    }

    /// Opens the Runtime APIs and starts the supervised commands. Returns a line per
    /// function saying where it runs.
    pub async fn start(&self) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        let mut tasks = Vec::new();
        for d in self.declared.values() {
            let f = &d.config;
            let (Runner::Runtime(queue), Some(kind)) = (&d.runner, f.kind()) else {
                lines.push(format!(
                    "function {}: invoked at {}",
                    f.name,
                    f.invoke_url.as_deref().unwrap_or("")
                ));
                continue;
            };
            let instances = match kind {
                FunctionKind::RuntimeApi(addr) => vec![addr],
                _ => {
                    vec!["127.0.0.1:0".parse().map_err(|e| format!("{e}"))?; f.concurrency as usize]
                }
            };
            for (instance, addr) in instances.into_iter().enumerate() {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    format!("function {}: cannot serve its Runtime API on {addr}: {e}", f.name)
                })?;
                let bound = listener.local_addr().map_err(|e| e.to_string())?;
                let stop = self.shutdown.subscribe();
                tasks.push(tokio::spawn(runtime_api::serve(
                    listener,
                    queue.clone(),
                    instance,
                    stop,
                )));
                if let FunctionKind::Command(_) = kind {
                    let supervised = supervisor::Supervised {
                        function: f.clone(),
                        instance,
                        runtime_api: bound,
                        region: self.region.clone(),
                        queue: queue.clone(),
                        clock: self.clock.clone(),
                    };
                    tasks.push(tokio::spawn(supervised.run(self.shutdown.subscribe())));
                    lines.push(format!(
                        "function {}: process {instance} with its Runtime API on {bound}",
                        f.name
                    ));
                } else {
                    lines.push(format!("function {}: Runtime API on {bound}", f.name));
                }
            }
        }
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).extend(tasks);
        Ok(lines)
    }

    /// Stops the supervised processes (SIGTERM, then SIGKILL) and the Runtime APIs.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        for d in self.declared.values() {
            d.permits.close();
        }
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(Duration::from_secs(5), all).await.is_err() {
            tracing::warn!("function processes still stopping after 5s");
        }
    }

    /// The ARN a FunctionName names here.
    pub fn arn(&self, f: &FunctionRef) -> String {
        f.arn(&self.region, &self.account)
    }

    /// What `f` names: a declared function (by name, or by an ARN of this region and
    /// account, unqualified or `$LATEST`), else the endpoint's, else nothing.
    pub fn resolve(&self, f: &FunctionRef) -> Target {
        let here = f.region.as_deref().is_none_or(|r| r == self.region)
            && f.account.as_deref().is_none_or(|a| a == self.account);
        if here && let Some(d) = self.declared.get(&f.name) {
            return match f.qualifier.as_deref() {
                None | Some("$LATEST") => Target::Declared(d.clone()),
                Some(_) => Target::Missing(self.arn(f)),
            };
        }
        match self.endpoint {
            Some(_) => Target::Endpoint,
            None => Target::Missing(self.arn(f)),
        }
    }

    fn info(&self, d: &Declared) -> FunctionInfo {
        let unqualified = FunctionRef {
            name: d.config.name.clone(),
            region: None,
            account: None,
            qualifier: None,
        };
        FunctionInfo {
            name: d.config.name.clone(),
            arn: self.arn(&unqualified),
            declared: Some(d.config.clone()),
            remote: None,
            last_modified_ms: self.started_ms,
        }
    }

    /// Every declared function, by name.
    pub fn list(&self) -> Vec<FunctionInfo> {
        self.declared.values().map(|d| self.info(d)).collect()
    }

    /// The function `f` names (asking the endpoint for one not declared).
    pub async fn get(
        &self,
        f: &FunctionRef,
        qualifier: Option<&str>,
    ) -> Result<FunctionInfo, InvokeError> {
        match self.resolve(f) {
            Target::Declared(d) => Ok(self.info(&d)),
            Target::Missing(arn) => Err(InvokeError::NotFound(arn)),
            Target::Endpoint => {
                let endpoint = self.endpoint.as_ref().ok_or(InvokeError::ShuttingDown)?;
                let given = given_name(f);
                let remote = match endpoint.lookup(&given, qualifier).await? {
                    Lookup::Missing => return Err(InvokeError::NotFound(self.arn(f))),
                    Lookup::Found(v) => Some(v),
                    Lookup::Assumed => None,
                };
                let unqualified = FunctionRef { qualifier: None, ..f.clone() };
                Ok(FunctionInfo {
                    name: f.name.clone(),
                    arn: self.arn(&unqualified),
                    declared: None,
                    remote,
                    last_modified_ms: self.started_ms,
                })
            }
        }
    }

    /// Invokes `f` synchronously (RequestResponse) with `payload`: the pollers' call.
    pub async fn invoke(
        &self,
        f: &FunctionRef,
        payload: Bytes,
        details: InvokeDetails,
    ) -> Result<Invocation, InvokeError> {
        self.invoke_as(f, "RequestResponse", new_request_id(), payload, details).await
    }

    /// Invokes `f` as the Invoke API asks: `RequestResponse` (200 and the answer),
    /// `Event` (202 at once, run in the background) or `DryRun` (204, nothing run).
    pub async fn invoke_as(
        &self,
        f: &FunctionRef,
        invocation_type: &str,
        request_id: String,
        payload: Bytes,
        mut details: InvokeDetails,
    ) -> Result<Invocation, InvokeError> {
        details.invoked_arn = self.arn(f);
        let d = match self.resolve(f) {
            Target::Declared(d) => d,
            Target::Missing(arn) => return Err(InvokeError::NotFound(arn)),
            Target::Endpoint => {
                let endpoint = self.endpoint.as_ref().ok_or(InvokeError::ShuttingDown)?;
                let headers = InvokeHeaders {
                    invocation_type: Some(invocation_type),
                    client_context: details.client_context_base64.as_deref(),
                };
                let given = FunctionRef { qualifier: None, ..f.clone() };
                return endpoint
                    .invoke(
                        &given_name(&given),
                        f.qualifier.as_deref(),
                        payload,
                        headers,
                        &request_id,
                    )
                    .await;
            }
        };
        let empty = |status| Invocation { status, ..Invocation::ok(Bytes::new()) };
        match invocation_type {
            "DryRun" => Ok(empty(204)),
            "Event" => {
                let admission = Declared::admit(&d)?;
                tokio::spawn(async move {
                    let d = &admission.0;
                    match d.run(request_id.clone(), payload, &details).await {
                        Ok(i) if i.function_error.is_some() => tracing::warn!(
                            function = %d.config.name, request_id, "asynchronous invocation failed: {}",
                            crate::engine::http_client::truncate(&String::from_utf8_lossy(&i.payload), 512)
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(function = %d.config.name, request_id, "asynchronous invocation not run: {e}")
                        }
                    }
                    drop(admission);
                });
                Ok(empty(202))
            }
            _ => {
                let _admission = Declared::admit(&d)?;
                d.run(request_id, payload, &details).await
            }
        }
    }
}

/// The FunctionName as the endpoint is given it: the ARN or name the caller used.
fn given_name(f: &FunctionRef) -> String {
    let mut parts: Vec<String> = Vec::new();
    match (&f.region, &f.account) {
        (Some(region), Some(account)) => {
            parts.extend([format!("arn:aws:lambda:{region}:{account}:function")])
        }
        (None, Some(account)) => parts.extend([format!("{account}:function")]),
        _ => {}
    }
    parts.push(f.name.clone());
    if let Some(q) = &f.qualifier {
        parts.push(q.clone());
    }
    parts.join(":")
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A Lambda request id: a version-4 UUID, as Lambda's are.
pub fn new_request_id() -> String {
    crate::ids::uuid_v4()
}
