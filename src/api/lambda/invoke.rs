//! Invoke: a function's payload in, its answer out, with Lambda's headers.
//!
//! Checked in this order: FunctionName and Qualifier (ValidationException, and
//! InvalidParameterValueException when the name's qualifier differs from Qualifier),
//! X-Amz-Invocation-Type and X-Amz-Log-Type (ValidationException), X-Amz-Client-Context
//! (InvalidRequestContentException), the payload's size (RequestEntityTooLargeException,
//! 413) and its JSON (InvalidRequestContentException), then the function
//! (ResourceNotFoundException). A function that fails is still a 200, with
//! `X-Amz-Function-Error`.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;

use super::error::LambdaError;
use super::functions::{function_ref, qualifier};
use crate::engine::Engine;
use crate::lambda::InvokeDetails;
use crate::lambda::invocation::{MAX_EVENT_PAYLOAD, MAX_REQUEST_PAYLOAD};
use crate::protocol::RequestContext;
use crate::protocol::rest::RestCall;

/// The most base64 a client context may take (the model's documentation: 3,583 bytes).
const MAX_CLIENT_CONTEXT: usize = 3583;

/// What Invoke answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    /// 200 (RequestResponse), 202 (Event) or 204 (DryRun).
    pub status: u16,
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    /// `X-Amz-Log-Result` (base64) when the caller asked for `Tail`.
    pub log_result: Option<String>,
    pub payload: Bytes,
}

/// The message of a payload past its invocation type's limit.
pub fn too_large(size: usize, invocation_type: &str) -> LambdaError {
    let limit = if invocation_type == "Event" { MAX_EVENT_PAYLOAD } else { MAX_REQUEST_PAYLOAD };
    LambdaError::RequestTooLarge(format!(
        "{size} byte payload is too large for the {invocation_type} invocation type (limit {limit} bytes)"
    ))
}

fn client_context(encoded: &str) -> Result<String, LambdaError> {
    let invalid = || {
        LambdaError::InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object.".into(),
        )
    };
    if encoded.len() > MAX_CLIENT_CONTEXT {
        return Err(LambdaError::InvalidRequestContent(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT} bytes, Base64-encoded."
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| invalid())?;
    if !value.is_object() {
        return Err(invalid());
    }
    // Passed to the runtime in a header: compact, without control characters.
    Ok(value.to_string())
}

/// The platform lines of an invocation's log, as `Tail` returns them (base64).
fn log_tail(request_id: &str, started: Instant, memory: u32) -> String {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let text = format!(
        "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory} MB\t\n",
        ms.ceil() as u64
    );
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Invoke.
pub async fn invoke(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    call: RestCall,
) -> Result<InvokeOutput, LambdaError> {
    let mut f = function_ref(&call)?;
    qualifier(&call, &mut f)?;
    let invocation_type =
        call.header("x-amz-invocation-type").unwrap_or("RequestResponse").to_string();
    if !matches!(invocation_type.as_str(), "RequestResponse" | "Event" | "DryRun") {
        return Err(LambdaError::constraint(
            &invocation_type,
            "invocationType",
            "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
        ));
    }
    let tail = match call.header("x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(LambdaError::constraint(
                other,
                "logType",
                "Member must satisfy enum value set: [None, Tail]",
            ));
        }
    };
    let mut details = InvokeDetails::default();
    if let Some(encoded) = call.header("x-amz-client-context") {
        details.client_context = Some(client_context(encoded)?);
        details.client_context_base64 = Some(encoded.to_string());
    }
    let limit = if invocation_type == "Event" { MAX_EVENT_PAYLOAD } else { MAX_REQUEST_PAYLOAD };
    if call.body.len() > limit {
        return Err(too_large(call.body.len(), &invocation_type));
    }
    let payload = if call.body.iter().all(u8::is_ascii_whitespace) {
        // No payload: the function gets an empty object, as from the console or CLI.
        Bytes::from_static(b"{}")
    } else {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&call.body) {
            return Err(LambdaError::InvalidRequestContent(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            )));
        }
        call.body
    };
    let started = Instant::now();
    let request_id = ctx.request_id.clone();
    let invocation =
        engine.lambda.invoke_as(&f, &invocation_type, request_id.clone(), payload, details).await?;
    let memory = engine.config.lambda.function(&f.name).map_or(128, |d| d.memory_size);
    let ran = invocation.status == 200;
    Ok(InvokeOutput {
        status: invocation.status,
        function_error: invocation.function_error,
        executed_version: ran.then_some(invocation.executed_version),
        log_result: (tail && ran).then(|| log_tail(&request_id, started, memory)),
        payload: invocation.payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_contexts_are_base64_json_objects() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            client_context(&b64("{ \"custom\": {\"a\": 1} }")).unwrap(),
            "{\"custom\":{\"a\":1}}"
        );
        for bad in [
            b64("[1]"),
            b64("nope"),
            "!!!".to_string(),
            b64(&format!("{{\"a\":\"{}\"}}", "x".repeat(3000))),
        ] {
            assert!(
                matches!(client_context(&bad), Err(LambdaError::InvalidRequestContent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn oversize_payloads_are_worded_per_invocation_type() {
        let e = too_large(6_991_583, "RequestResponse");
        assert_eq!(
            e,
            LambdaError::RequestTooLarge(
                "6991583 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)".into()
            )
        );
        assert!(too_large(2_000_000, "Event").to_string().ends_with("(limit 1048576 bytes)"));
    }
}
