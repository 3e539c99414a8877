//! The Lambda API's errors, each with Lambda's code, status and message member. The
//! mapping is exhaustive: a new variant does not compile until it has a wire form.
//!
//! Lambda's own errors carry `Type` (`User` or `Service`); framework errors
//! (ValidationException) do not. Errors an endpoint answered are passed on under their
//! own code when Lambda's model knows it.

use crate::lambda::InvokeError;
use crate::protocol::error::{MSG_UNKNOWN_OPERATION, Namespace, WireError};

/// Codes an endpoint's error may be passed on under (the model's Invoke and GetFunction
/// errors, and the framework's).
const KNOWN_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotReadyException",
    "ResourceConflictException",
    "ResourceInUseException",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "InvalidRuntimeException",
    "InvalidZipFileException",
    "InvalidSecurityGroupIDException",
    "InvalidSubnetIDException",
    "RequestTooLargeException",
    "RequestEntityTooLargeException",
    "UnsupportedMediaTypeException",
    "TooManyRequestsException",
    "ServiceException",
    "RecursiveInvocationException",
    "SnapStartException",
    "SnapStartNotReadyException",
    "SnapStartTimeoutException",
    "EC2AccessDeniedException",
    "EC2ThrottledException",
    "EC2UnexpectedException",
    "EFSIOException",
    "EFSMountConnectivityException",
    "EFSMountFailureException",
    "EFSMountTimeoutException",
    "ENILimitReachedException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "SubnetIPAddressLimitReachedException",
    "ValidationException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
];

/// Every error a Lambda operation can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaError {
    /// The framework's input validation (400, no `Type`).
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidRequestContent(String),
    #[error("{0}")]
    ResourceNotFound(String),
    /// 409: the resource exists already (an event source mapping of the same function
    /// and source).
    #[error("{0}")]
    ResourceConflict(String),
    /// 400: the resource is in a state the operation cannot run in (a mapping still in
    /// a transition).
    #[error("{0}")]
    ResourceInUse(String),
    /// A payload past Lambda's limit. AWS answers it as RequestEntityTooLargeException
    /// (the model's RequestTooLargeException never reaches the wire; docs/lambda.md).
    #[error("{0}")]
    RequestTooLarge(String),
    /// The function's queue is full.
    #[error("Rate Exceeded.")]
    TooManyRequests,
    #[error("{0}")]
    Service(String),
    /// An error the endpoint answered.
    #[error("{code}: {message}")]
    Remote { status: u16, code: String, message: String },
    /// No operation has this method and path.
    #[error("unknown operation")]
    UnknownOperation,
}

impl LambdaError {
    /// The ValidationException of a member that breaks a constraint, worded as AWS's
    /// validator words it.
    pub fn constraint(value: &str, member: &str, constraint: &str) -> LambdaError {
        LambdaError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireError {
        let lambda = |status: u16, code: &'static str, message: &str| WireError {
            status,
            ..WireError::new(Namespace::Lambda, code, Some(message.to_string()))
        };
        match self {
            LambdaError::Validation(m) => {
                WireError::new(Namespace::CoralValidate, "ValidationException", Some(m.clone()))
            }
            LambdaError::InvalidParameterValue(m) => {
                lambda(400, "InvalidParameterValueException", m)
            }
            LambdaError::InvalidRequestContent(m) => {
                lambda(400, "InvalidRequestContentException", m)
            }
            LambdaError::ResourceNotFound(m) => lambda(404, "ResourceNotFoundException", m),
            LambdaError::ResourceConflict(m) => lambda(409, "ResourceConflictException", m),
            LambdaError::ResourceInUse(m) => lambda(400, "ResourceInUseException", m),
            LambdaError::RequestTooLarge(m) => lambda(413, "RequestEntityTooLargeException", m),
            LambdaError::TooManyRequests => {
                let mut e = lambda(429, "TooManyRequestsException", "Rate Exceeded.");
                e.extra.insert(
                    "Reason".into(),
                    "ReservedFunctionConcurrentInvocationLimitExceeded".into(),
                );
                e
            }
            LambdaError::Service(m) => lambda(500, "ServiceException", m),
            LambdaError::Remote { status, code, message } => {
                match KNOWN_CODES.iter().find(|known| *known == code) {
                    Some(known) => lambda(*status, known, message),
                    None => lambda(*status, "ServiceException", &format!("{code}: {message}")),
                }
            }
            LambdaError::UnknownOperation => WireError {
                status: 404,
                ..WireError::new(
                    Namespace::CoralService,
                    "UnknownOperationException",
                    Some(MSG_UNKNOWN_OPERATION.into()),
                )
            },
        }
    }
}

impl From<InvokeError> for LambdaError {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::NotFound(arn) => {
                LambdaError::ResourceNotFound(format!("Function not found: {arn}"))
            }
            InvokeError::Throttled => LambdaError::TooManyRequests,
            InvokeError::Remote { status, code, message, .. } => {
                LambdaError::Remote { status, code, message }
            }
            InvokeError::Unreachable(m) => {
                LambdaError::Service(format!("The function could not be reached: {m}"))
            }
            InvokeError::ShuttingDown => LambdaError::Service("sluice is shutting down".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_forms_follow_the_model() {
        let body = |e: LambdaError| {
            let w = e.to_wire();
            (w.status, w.code, w.rest_json_body())
        };
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
        assert_eq!(
            body(InvokeError::NotFound(arn.into()).into()),
            (
                404,
                "ResourceNotFoundException",
                json!({"Type": "User", "Message": format!("Function not found: {arn}")})
            )
        );
        assert_eq!(
            body(LambdaError::InvalidParameterValue("x".into())),
            (400, "InvalidParameterValueException", json!({"Type": "User", "message": "x"}))
        );
        assert_eq!(
            body(LambdaError::Validation("v".into())),
            (400, "ValidationException", json!({"message": "v"}))
        );
        assert_eq!(
            body(LambdaError::TooManyRequests),
            (
                429,
                "TooManyRequestsException",
                json!({"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
            )
        );
        assert_eq!(
            body(LambdaError::Service("s".into())).2,
            json!({"Type": "Service", "Message": "s"})
        );
        let remote = |code: &str| LambdaError::Remote {
            status: 403,
            code: code.into(),
            message: "m".into(),
        };
        assert_eq!(body(remote("AccessDeniedException")).1, "AccessDeniedException");
        assert_eq!(body(remote("Weird")).2, json!({"Type": "User", "Message": "Weird: m"}));
        assert_eq!(body(LambdaError::RequestTooLarge("big".into())).0, 413);
        assert_eq!(
            body(LambdaError::ResourceConflict("c".into())),
            (409, "ResourceConflictException", json!({"Type": "User", "message": "c"}))
        );
        assert_eq!(
            body(LambdaError::ResourceInUse("u".into())),
            (400, "ResourceInUseException", json!({"Type": "User", "Message": "u"}))
        );
    }
}
