//! Deterministic fault injection for users' own tests: rules that make the next N
//! matching calls fail with an exact AWS error, or wait first, per service, operation and
//! table or stream. The server consults the rules before a handler runs (so an injected
//! error is exactly what AWS's front end would answer, in the request's codec), and the
//! group commit consults the `storage` rules before each batch (an injected I/O error).
//!
//! Rules come from `[[faults.rules]]` at start and from `/_sluice/faults` at run time.
//! Matching is first rule wins, in the order rules were added; each affected call takes
//! one from the rule's count under one lock, so "the next 3 calls" is exactly 3 even
//! under concurrency. Exhausted rules stay listed (with what they did) until cleared.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::FaultSpec;
use crate::protocol::error::Namespace;
use crate::protocol::{RequestBody, Service, WireError};

/// Most rules held at once (each is a few hundred bytes; the cap bounds memory whatever
/// a test posts).
pub const MAX_RULES: usize = 1000;

/// Longest latency a rule may add (a longer one would outlive every SDK timeout).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Api(Service),
    /// The group commit (operation `Commit`).
    Storage,
}

impl Scope {
    fn parse(name: &str) -> Option<Scope> {
        Some(match name {
            "dynamodb" => Scope::Api(Service::DynamoDb),
            "dynamodbstreams" => Scope::Api(Service::DynamoDbStreams),
            "kinesis" => Scope::Api(Service::Kinesis),
            "storage" => Scope::Storage,
            _ => return None,
        })
    }

    /// The `service` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Api(s) => s.label(),
            Scope::Storage => "storage",
        }
    }
}

/// The operation name of the group commit's rules.
pub const STORAGE_COMMIT: &str = "Commit";

/// The errors a rule may inject: service, `__type`, namespace, AWS's status and message.
/// Only modelled errors (and the throttling ones every SDK retries), so what a test sees
/// is what AWS can answer. Kinesis writes `__type` bare, so its namespace is unused.
const ERRORS: &[(Service, &str, Namespace, u16, &str)] = {
    use Namespace::{CoralAvailability as Avail, DynamoDb as Ddb};
    use Service::{DynamoDb as D, DynamoDbStreams as S, Kinesis as K};
    &[
        (D, "InternalServerError", Ddb, 500, "Internal server error"),
        (
            D,
            "ProvisionedThroughputExceededException",
            Ddb,
            400,
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        ),
        (
            D,
            "RequestLimitExceeded",
            Ddb,
            400,
            "Throughput exceeds the current throughput limit for your account. Please contact AWS Support at https://aws.amazon.com/support request a limit increase",
        ),
        (D, "ThrottlingException", Avail, 400, "Rate of requests exceeds the allowed throughput."),
        (D, "LimitExceededException", Ddb, 400, "Too many operations for a given subscriber."),
        (D, "TransactionConflictException", Ddb, 400, "Transaction is ongoing for the item"),
        (D, "ResourceNotFoundException", Ddb, 400, "Requested resource not found"),
        (D, "ResourceInUseException", Ddb, 400, "Resource in use"),
        (S, "InternalServerError", Ddb, 500, "Internal server error"),
        (S, "LimitExceededException", Ddb, 400, "Rate exceeded"),
        (S, "ResourceNotFoundException", Ddb, 400, "Requested resource not found"),
        (S, "ExpiredIteratorException", Ddb, 400, "Iterator expired"),
        (S, "TrimmedDataAccessException", Ddb, 400, "Trimmed data access"),
        (K, "InternalFailure", Ddb, 500, "Internal Service Failure"),
        (K, "ProvisionedThroughputExceededException", Ddb, 400, "Rate exceeded for shard."),
        (K, "LimitExceededException", Ddb, 400, "Rate exceeded"),
        (K, "ThrottlingException", Ddb, 400, "Rate exceeded"),
        (K, "KMSThrottlingException", Ddb, 400, "Rate exceeded"),
        (K, "ResourceNotFoundException", Ddb, 400, "Stream not found"),
        (K, "ResourceInUseException", Ddb, 400, "Resource in use"),
        (K, "ExpiredIteratorException", Ddb, 400, "Iterator expired"),
    ]
};

/// The error a storage rule injects (as an I/O error from the disk would be).
const STORAGE_ERROR: &str = "IOError";

/// What one affected call gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// Wait this long first.
    pub latency: Duration,
    /// Then fail with this (for `storage`, any error: the commit fails).
    pub error: Option<WireError>,
}

/// One rule and what it has done.
#[derive(Debug)]
struct Rule {
    id: u64,
    scope: Scope,
    spec: FaultSpec,
    /// The table or stream name (an ARN given is reduced to the name).
    resource: Option<String>,
    error: Option<WireError>,
    remaining: Option<u64>,
    applied: u64,
}

impl Rule {
    fn listing(&self) -> Value {
        let mut v = serde_json::to_value(&self.spec).unwrap_or_default();
        v["id"] = json!(self.id);
        v["applied"] = json!(self.applied);
        if let Some(r) = self.remaining {
            v["remaining"] = json!(r);
        }
        v
    }
}

/// The rules, shared by the server and the group commit.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<RuleSet>,
    /// Rules with calls left: the request path skips the lock when it is 0.
    live: AtomicUsize,
    injected: Option<prometheus::IntCounterVec>,
}

#[derive(Debug, Default)]
struct RuleSet {
    rules: Vec<Rule>,
    next_id: u64,
}

impl Faults {
    /// The registry with `rules` from the config; `injected` counts what they do.
    pub fn new(
        rules: &[FaultSpec],
        injected: Option<prometheus::IntCounterVec>,
    ) -> Result<Faults, String> {
        let faults = Faults { injected, ..Faults::default() };
        for (i, spec) in rules.iter().enumerate() {
            faults.add(spec.clone()).map_err(|e| format!("faults.rules[{i}]: {e}"))?;
        }
        Ok(faults)
    }

    /// Adds a rule; answers its listing (with its `id`) or why it is refused.
    pub fn add(&self, spec: FaultSpec) -> Result<Value, String> {
        let mut rule = check(&spec)?;
        let mut set = self.lock();
        if set.rules.len() >= MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules; clear some first"));
        }
        set.next_id += 1;
        rule.id = set.next_id;
        let listing = rule.listing();
        if rule.remaining != Some(0) {
            self.live.fetch_add(1, Ordering::Release);
        }
        set.rules.push(rule);
        Ok(listing)
    }

    /// Every rule, in matching order, with what each has done.
    pub fn list(&self) -> Value {
        let set = self.lock();
        json!({ "rules": set.rules.iter().map(Rule::listing).collect::<Vec<_>>() })
    }

    /// Removes one rule (`Some(id)`) or all; answers how many went.
    pub fn clear(&self, id: Option<u64>) -> usize {
        let mut set = self.lock();
        let before = set.rules.len();
        set.rules.retain(|r| id.is_some_and(|id| r.id != id));
        let live = set.rules.iter().filter(|r| r.remaining != Some(0)).count();
        self.live.store(live, Ordering::Release);
        before - set.rules.len()
    }

    /// What the API call `operation` of `service` with `body` gets, taking one from the
    /// first matching rule's count.
    pub fn for_call(
        &self,
        service: Service,
        operation: &str,
        body: &RequestBody,
    ) -> Option<Injection> {
        if self.live.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut resources = None;
        self.take(Scope::Api(service), operation, |name| {
            resources
                .get_or_insert_with(|| resources_of(service, &body.to_value()))
                .iter()
                .any(|r| r == name)
        })
    }

    /// What the next group commit gets.
    pub fn for_commit(&self) -> Option<Injection> {
        if self.live.load(Ordering::Acquire) == 0 {
            return None;
        }
        // Storage rules name no resource: one commit carries many tables' writes.
        self.take(Scope::Storage, STORAGE_COMMIT, |_| false)
    }

    fn take(
        &self,
        scope: Scope,
        operation: &str,
        mut names: impl FnMut(&str) -> bool,
    ) -> Option<Injection> {
        let mut set = self.lock();
        let rule = set.rules.iter_mut().find(|r| {
            r.scope == scope
                && r.remaining != Some(0)
                && r.spec.operation.as_deref().is_none_or(|op| op == operation)
                && r.resource.as_deref().is_none_or(&mut names)
        })?;
        rule.applied += 1;
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
            if *n == 0 {
                self.live.fetch_sub(1, Ordering::Release);
            }
        }
        let injection = Injection {
            latency: Duration::from_millis(rule.spec.latency_ms),
            error: rule.error.clone(),
        };
        drop(set);
        if let Some(counter) = &self.injected {
            let kind = if injection.error.is_some() { "error" } else { "latency" };
            counter.with_label_values(&[scope.label(), operation, kind]).inc();
        }
        Some(injection)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RuleSet> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Checks a rule and builds it (id 0 until added).
fn check(spec: &FaultSpec) -> Result<Rule, String> {
    let scope = Scope::parse(&spec.service).ok_or_else(|| {
        format!(
            "service '{}' is not one of dynamodb, dynamodbstreams, kinesis, storage",
            spec.service
        )
    })?;
    if let Some(op) = &spec.operation {
        let known = match scope {
            Scope::Api(service) => crate::api::operation_name(service, op).is_some(),
            Scope::Storage => op == STORAGE_COMMIT,
        };
        if !known {
            return Err(format!("operation '{op}' is not an operation of {}", spec.service));
        }
    }
    if spec.latency_ms > MAX_LATENCY_MS {
        return Err(format!("latency_ms must be at most {MAX_LATENCY_MS}"));
    }
    if spec.error.is_none() && spec.latency_ms == 0 {
        return Err("a rule needs an error, a latency_ms, or both".into());
    }
    if spec.error.is_none() && (spec.message.is_some() || spec.status.is_some()) {
        return Err("message and status need an error".into());
    }
    if let Some(status) = spec.status
        && !(400..=599).contains(&status)
    {
        return Err("status must be between 400 and 599".into());
    }
    let error = match (&spec.error, scope) {
        (None, _) => None,
        (Some(code), Scope::Storage) if code == STORAGE_ERROR => {
            Some(WireError::new(Namespace::DynamoDb, STORAGE_ERROR, None))
        }
        (Some(code), Scope::Storage) => {
            return Err(format!("error '{code}': storage rules inject {STORAGE_ERROR}"));
        }
        (Some(code), Scope::Api(service)) => {
            let Some(&(_, name, namespace, status, message)) =
                ERRORS.iter().find(|e| e.0 == service && e.1 == code)
            else {
                let known: Vec<&str> =
                    ERRORS.iter().filter(|e| e.0 == service).map(|e| e.1).collect();
                return Err(format!(
                    "error '{code}' is not one sluice injects for {}: {}",
                    spec.service,
                    known.join(", ")
                ));
            };
            let message = spec.message.clone().unwrap_or_else(|| message.to_string());
            Some(WireError {
                status: spec.status.unwrap_or(status),
                ..WireError::new(namespace, name, Some(message))
            })
        }
    };
    let resource = spec.resource.as_deref().map(name_of);
    if resource.as_deref().is_some_and(str::is_empty) {
        return Err("resource must name a table or stream".into());
    }
    if resource.is_some() && scope == Scope::Storage {
        return Err("storage rules take no resource (one commit carries many tables)".into());
    }
    Ok(Rule {
        id: 0,
        scope,
        spec: spec.clone(),
        resource,
        error,
        remaining: spec.count,
        applied: 0,
    })
}

/// The table or stream name in a name or an ARN (`...:table/NAME[/stream/...]`,
/// `...:stream/NAME[/consumer/...]`).
fn name_of(name_or_arn: &str) -> String {
    if !name_or_arn.starts_with("arn:") {
        return name_or_arn.to_string();
    }
    let resource = name_or_arn.splitn(6, ':').nth(5).unwrap_or_default();
    resource.split('/').nth(1).unwrap_or_default().to_string()
}

/// The tables or streams a call names in its body. Calls that name theirs only through a
/// shard iterator (GetRecords) name none: rules with a resource do not match them.
fn resources_of(service: Service, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<String>, v: &Value| {
        if let Some(s) = v.as_str() {
            out.push(name_of(s));
        }
    };
    let keys: &[&str] = match service {
        Service::DynamoDb => &["TableName", "TableArn", "ResourceArn"],
        Service::DynamoDbStreams => &["StreamArn", "TableName"],
        Service::Kinesis => &["StreamName", "StreamARN", "ConsumerARN", "ResourceARN"],
        // Fault rules do not reach the Lambda API (its requests carry no JSON body).
        Service::Lambda => &[],
    };
    for key in keys {
        push(&mut out, &body[key]);
    }
    if service == Service::DynamoDb {
        if let Some(items) = body["RequestItems"].as_object() {
            out.extend(items.keys().cloned());
        }
        if let Some(items) = body["TransactItems"].as_array() {
            for item in items {
                if let Some(action) = item.as_object() {
                    action.values().for_each(|a| push(&mut out, &a["TableName"]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(service: &str, op: Option<&str>, resource: Option<&str>) -> FaultSpec {
        FaultSpec {
            service: service.into(),
            operation: op.map(Into::into),
            resource: resource.map(Into::into),
            error: Some("ProvisionedThroughputExceededException".into()),
            count: Some(2),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn counts_are_exact_and_scoped() {
        let faults = Faults::new(&[], None).unwrap();
        faults.add(spec("dynamodb", Some("PutItem"), Some("a"))).unwrap();
        let put = |table: &str| {
            // As the front end hands it over: awsJson bytes.
            let body = RequestBody::json(json!({"TableName": table}).to_string().into()).unwrap();
            faults.for_call(Service::DynamoDb, "PutItem", &body)
        };
        assert!(put("b").is_none());
        assert!(
            faults
                .for_call(Service::DynamoDb, "GetItem", &json!({"TableName": "a"}).into())
                .is_none()
        );
        let e = put("a").unwrap().error.unwrap();
        assert_eq!((e.status, e.code), (400, "ProvisionedThroughputExceededException"));
        assert!(put("arn:aws:dynamodb:us-east-1:0:table/a").is_some());
        assert!(put("a").is_none(), "count 2 means exactly two calls");
        assert_eq!(faults.list()["rules"][0]["applied"], 2);
        assert_eq!(faults.clear(None), 1);
    }

    #[test]
    fn batch_and_transaction_calls_name_every_table() {
        let body = json!({"RequestItems": {"x": [], "y": []}});
        assert_eq!(resources_of(Service::DynamoDb, &body), vec!["x", "y"]);
        let body = json!({"TransactItems": [{"Put": {"TableName": "t"}}]});
        assert_eq!(resources_of(Service::DynamoDb, &body), vec!["t"]);
        let arn = "arn:aws:kinesis:us-east-1:0:stream/s/consumer/c:1";
        assert_eq!(resources_of(Service::Kinesis, &json!({ "ConsumerARN": arn })), vec!["s"]);
    }

    #[test]
    fn bad_rules_are_refused_with_reasons() {
        let refuse = |s: FaultSpec| Faults::new(&[], None).unwrap().add(s).unwrap_err();
        assert!(refuse(spec("s3", None, None)).contains("service"));
        assert!(refuse(spec("dynamodb", Some("PutRecords"), None)).contains("operation"));
        let mut s = spec("kinesis", None, None);
        s.error = Some("InternalServerError".into());
        assert!(refuse(s).contains("InternalFailure"));
        let mut s = spec("dynamodb", None, None);
        s.error = None;
        assert!(refuse(s).contains("latency_ms"));
        assert!(refuse(spec("storage", None, None)).contains("IOError"));
    }
}
