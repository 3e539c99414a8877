//! GetFunction and ListFunctions over the functions sluice knows.
//!
//! A declared function is described from its declaration: name, ARN, handler, timeout,
//! memory, environment, `$LATEST`, Active, and its concurrency as reserved concurrency.
//! What sluice does not know of it (runtime, role, code) is left out rather than made up.
//! A function known only at `lambda.endpoint` is described by the endpoint's own answer.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::error::LambdaError;
use crate::engine::Engine;
use crate::lambda::{FunctionInfo, name};
use crate::protocol::rest::RestCall;

/// ListFunctions' page size when MaxItems is absent (Lambda returns up to 50).
const DEFAULT_PAGE: usize = 50;
/// MaxItems' range (the model's MaxListItems).
const MAX_ITEMS: i64 = 10_000;

/// `2020-04-10T19:06:32.563+0000`, as LastModified is written.
pub fn last_modified(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = crate::engine::streams::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// The FunctionConfiguration of a function.
pub fn configuration(info: &FunctionInfo) -> Value {
    if let Some(remote) = &info.remote
        && let Some(c) = remote.get("Configuration")
    {
        return c.clone();
    }
    let mut c = Map::new();
    c.insert("FunctionName".into(), json!(info.name));
    c.insert("FunctionArn".into(), json!(info.arn));
    c.insert("Version".into(), json!("$LATEST"));
    c.insert("LastModified".into(), json!(last_modified(info.last_modified_ms)));
    c.insert("State".into(), json!("Active"));
    c.insert("LastUpdateStatus".into(), json!("Successful"));
    if let Some(f) = &info.declared {
        let runs = match (&f.invoke_url, &f.runtime_api_listen) {
            (Some(url), _) => format!("Invoked at {url} by sluice"),
            (_, Some(addr)) => format!("Runtime API served by sluice on {addr}"),
            _ => "Command run by sluice".to_string(),
        };
        c.insert("Description".into(), json!(runs));
        c.insert("Timeout".into(), json!(f.timeout_seconds));
        c.insert("MemorySize".into(), json!(f.memory_size));
        c.insert("CodeSize".into(), json!(0));
        if let Some(h) = &f.handler {
            c.insert("Handler".into(), json!(h));
        }
        if !f.environment.is_empty() {
            c.insert("Environment".into(), json!({"Variables": f.environment}));
        }
        c.insert("TracingConfig".into(), json!({"Mode": "PassThrough"}));
    }
    Value::Object(c)
}

/// Validates a FunctionName label.
pub fn function_ref(call: &RestCall) -> Result<name::FunctionRef, LambdaError> {
    let given = call.function_name.as_deref().unwrap_or_default();
    if given.len() > name::MAX_FUNCTION_NAME {
        return Err(LambdaError::constraint(
            given,
            "functionName",
            "Member must have length less than or equal to 256",
        ));
    }
    name::parse(given).ok_or_else(|| {
        LambdaError::constraint(
            given,
            "functionName",
            r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
        )
    })
}

/// The Qualifier query parameter, validated, merged with one the name carried.
pub fn qualifier(call: &RestCall, f: &mut name::FunctionRef) -> Result<(), LambdaError> {
    let Some(q) = call.query("Qualifier") else { return Ok(()) };
    let valid = q == "$LATEST"
        || q == "$LATEST.PUBLISHED"
        || (!q.is_empty()
            && q.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$')));
    if q.len() > 128 || !valid {
        return Err(LambdaError::constraint(
            q,
            "qualifier",
            r"Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+",
        ));
    }
    match &f.qualifier {
        Some(derived) if derived != q => Err(LambdaError::InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
                .into(),
        )),
        _ => {
            f.qualifier = Some(q.to_string());
            Ok(())
        }
    }
}

/// GetFunction.
pub async fn get_function(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let mut f = function_ref(call)?;
    qualifier(call, &mut f)?;
    let info = engine.lambda.get(&f, f.qualifier.as_deref()).await?;
    if let Some(remote) = info.remote {
        return Ok(remote);
    }
    let mut out = json!({"Configuration": configuration(&info)});
    if let Some(d) = &info.declared {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": d.concurrency});
    }
    Ok(out)
}

/// ListFunctions: declared functions by name, `MaxItems` a page (1 to 10000, default
/// 50), `Marker` the name the next page starts at.
pub async fn list_functions(engine: &Arc<Engine>, call: &RestCall) -> Result<Value, LambdaError> {
    let page = match call.query("MaxItems") {
        None => DEFAULT_PAGE,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 1 => {
                return Err(LambdaError::constraint(
                    text,
                    "maxItems",
                    "Member must have value greater than or equal to 1",
                ));
            }
            Ok(n) if n > MAX_ITEMS => {
                return Err(LambdaError::constraint(
                    text,
                    "maxItems",
                    "Member must have value less than or equal to 10000",
                ));
            }
            Ok(n) => n as usize,
            Err(_) => {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Invalid value for MaxItems: {text}"
                )));
            }
        },
    };
    if let Some(v) = call.query("FunctionVersion")
        && v != "ALL"
    {
        return Err(LambdaError::constraint(
            v,
            "functionVersion",
            "Member must satisfy enum value set: [ALL]",
        ));
    }
    let marker = call.query("Marker").unwrap_or_default();
    let all = engine.lambda.list();
    let rest: Vec<_> = all.iter().filter(|f| f.name.as_str() >= marker).collect();
    let mut out = json!({
        "Functions": rest.iter().take(page).map(|f| configuration(f)).collect::<Vec<_>>()
    });
    if let Some(next) = rest.get(page) {
        out["NextMarker"] = json!(next.name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_is_lambdas_format() {
        assert_eq!(last_modified(1_586_545_592_563), "2020-04-10T19:06:32.563+0000");
    }

    #[test]
    fn qualifiers_merge_or_conflict() {
        let call = |q: &str| RestCall {
            operation: "GetFunction",
            function_name: Some("f".into()),
            uuid: None,
            query: vec![("Qualifier".into(), q.into())],
            headers: vec![],
            body: Default::default(),
        };
        let mut f = name::parse("f").unwrap();
        qualifier(&call("$LATEST"), &mut f).unwrap();
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        let mut f = name::parse("f:prod").unwrap();
        assert!(matches!(
            qualifier(&call("dev"), &mut f),
            Err(LambdaError::InvalidParameterValue(_))
        ));
        let mut f = name::parse("f").unwrap();
        assert!(matches!(qualifier(&call("no way"), &mut f), Err(LambdaError::Validation(_))));
    }
}
