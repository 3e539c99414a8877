//! What one invocation gives back, and why one could not be made.
//!
//! A function that ran and failed is not an error here: Lambda reports it as a 200 with
//! the `X-Amz-Function-Error` header and the error JSON as the payload, so it is an
//! [`Invocation`] with `function_error` set. Timeouts, oversize answers and runtimes that
//! exit mid-invocation are reported the same way, worded as Lambda words them
//! (docs/lambda.md lists the sources).

use bytes::Bytes;
use serde_json::json;

/// The largest synchronous (RequestResponse) payload Lambda takes: 6 MiB.
pub const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest asynchronous (Event) payload Lambda takes: 1 MiB.
pub const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;
/// The largest response a function may give: 6 MiB and 100 bytes ("exceeded maximum
/// allowed payload size (6291556 bytes)").
pub const MAX_RESPONSE_PAYLOAD: usize = 6 * 1024 * 1024 + 100;
/// The function version every sluice function runs as.
pub const LATEST: &str = "$LATEST";
/// The `X-Amz-Function-Error` value of every function error Lambda reports today.
pub const UNHANDLED: &str = "Unhandled";

/// The answer of a function that ran (or was run into a timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The HTTP status Invoke answers with: 200 for RequestResponse (202 and 204 pass
    /// through from an endpoint asked for Event or DryRun).
    pub status: u16,
    /// `Unhandled` when the function failed; the payload is then the error JSON.
    pub function_error: Option<String>,
    pub payload: Bytes,
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
}

impl Invocation {
    /// A successful RequestResponse answer.
    pub fn ok(payload: Bytes) -> Invocation {
        Invocation { status: 200, function_error: None, payload, executed_version: LATEST.into() }
    }

    /// A function error with `payload` as its error JSON.
    pub fn failed(payload: Bytes) -> Invocation {
        Invocation { function_error: Some(UNHANDLED.into()), ..Invocation::ok(payload) }
    }

    /// A function error Lambda itself reports: `{"errorType", "errorMessage"}`, the
    /// message `RequestId: <id> Error: <what>` as Lambda's platform errors are.
    pub fn platform_error(error_type: &str, request_id: &str, what: &str) -> Invocation {
        let body = json!({
            "errorType": error_type,
            "errorMessage": format!("RequestId: {request_id} Error: {what}"),
        });
        Invocation::failed(Bytes::from(body.to_string()))
    }

    /// The invocation ran past the function's timeout.
    pub fn timed_out(request_id: &str, timeout_seconds: u32) -> Invocation {
        let what = format!("Task timed out after {timeout_seconds}.00 seconds");
        Invocation::platform_error("Sandbox.Timedout", request_id, &what)
    }

    /// The function answered more than [`MAX_RESPONSE_PAYLOAD`] bytes.
    pub fn response_too_large() -> Invocation {
        let body = json!({
            "errorMessage": format!(
                "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes)."
            ),
            "errorType": "Function.ResponseSizeTooLarge",
        });
        Invocation::failed(Bytes::from(body.to_string()))
    }

    /// The runtime exited (or was stopped) while it held the invocation.
    pub fn runtime_exited(request_id: &str, why: &str) -> Invocation {
        Invocation::platform_error("Runtime.ExitError", request_id, why)
    }
}

/// Why no invocation could be made (the Invoke API answers these as errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No such function: the ARN Lambda names in "Function not found: <arn>".
    #[error("Function not found: {0}")]
    NotFound(String),
    /// The function has `concurrency` invocations running and its queue is full.
    #[error("Rate Exceeded.")]
    Throttled,
    /// The endpoint that hosts the function answered with an error, passed on as is.
    #[error("{status} {code}: {message}")]
    Remote { status: u16, code: String, message: String, user: bool },
    /// The function's host could not be reached or gave no usable answer.
    #[error("{0}")]
    Unreachable(String),
    /// sluice is shutting down.
    #[error("sluice is shutting down")]
    ShuttingDown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_errors_read_as_lambdas() {
        let t = Invocation::timed_out("abc", 3);
        assert_eq!(t.function_error.as_deref(), Some("Unhandled"));
        let v: serde_json::Value = serde_json::from_slice(&t.payload).unwrap();
        assert_eq!(
            v,
            json!({"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: abc Error: Task timed out after 3.00 seconds"})
        );
        let big: serde_json::Value =
            serde_json::from_slice(&Invocation::response_too_large().payload).unwrap();
        assert_eq!(big["errorType"], "Function.ResponseSizeTooLarge");
        assert_eq!(
            big["errorMessage"],
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        );
        assert_eq!(Invocation::ok(Bytes::new()).executed_version, "$LATEST");
    }
}
