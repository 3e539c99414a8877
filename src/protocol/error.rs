//! Errors on the wire: the AWS `__type` (with its namespace), the message and the status.
//! Each API's error enum maps into `WireError` exhaustively; the server loop renders it.

use serde_json::{Map, Value};

use super::Service;

/// The namespace an error's `__type` carries on the JSON 1.0 services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// `com.amazon.coral.service#`: framework errors (auth, serialization, routing).
    CoralService,
    /// `com.amazon.coral.validate#`: input validation.
    CoralValidate,
    /// `com.amazonaws.dynamodb.v20120810#`: DynamoDB's own modelled errors.
    DynamoDb,
    /// `com.amazon.coral.availability#`: the front end's throttling (ThrottlingException).
    CoralAvailability,
    /// Lambda's modelled errors (restJson1: no namespace on the wire, a `Type` member).
    Lambda,
}

impl Namespace {
    fn prefix(self) -> &'static str {
        match self {
            Namespace::CoralService => "com.amazon.coral.service#",
            Namespace::CoralValidate => "com.amazon.coral.validate#",
            Namespace::DynamoDb => "com.amazonaws.dynamodb.v20120810#",
            Namespace::CoralAvailability => "com.amazon.coral.availability#",
            Namespace::Lambda => "",
        }
    }
}

const SERIALIZATION: &str = "SerializationException";

/// The message of a SerializationException whose cause has no wording of its own: the
/// one AWS's front end gives a token of the wrong kind.
pub const MSG_SERIALIZATION: &str = "Unexpected token received from parser";

/// What AWS's request framework (coral) answers for an operation a service does not
/// have, as captured from AWS services built on it; every SDK shows it.
pub const MSG_UNKNOWN_OPERATION: &str = "The requested operation is not recognized by the service.";

/// An error ready to be written: status, `__type`, message and any extra members
/// (such as `Item` on ConditionalCheckFailedException).
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    pub status: u16,
    pub namespace: Namespace,
    pub code: &'static str,
    pub message: Option<String>,
    pub extra: Map<String, Value>,
}

impl WireError {
    /// A 400 error.
    pub fn new(namespace: Namespace, code: &'static str, message: Option<String>) -> Self {
        WireError { status: 400, namespace, code, message, extra: Map::new() }
    }

    /// A SerializationException (`com.amazon.coral.service#`, 400). Its message is never
    /// empty: a blank one becomes [`MSG_SERIALIZATION`] (and [`WireError::body`] applies
    /// the same rule to one built any other way).
    pub fn serialization(message: impl Into<String>) -> Self {
        let message = message.into();
        let message =
            if message.trim().is_empty() { MSG_SERIALIZATION.to_string() } else { message };
        WireError::new(Namespace::CoralService, SERIALIZATION, Some(message))
    }

    /// The JSON body in `service`'s style: JSON 1.0 services namespace `__type`,
    /// Kinesis (JSON 1.1) writes the bare name, Lambda (restJson1) names the error in the
    /// `X-Amzn-ErrorType` header and writes [`WireError::rest_json_body`].
    pub fn body(&self, service: Service) -> Value {
        let mut body = Map::new();
        let type_name = match service {
            Service::Kinesis => self.code.to_string(),
            Service::DynamoDb | Service::DynamoDbStreams => {
                format!("{}{}", self.namespace.prefix(), self.code)
            }
            Service::Lambda => return self.rest_json_body(),
        };
        body.insert("__type".into(), Value::String(type_name));
        let blank = self.message.as_deref().is_none_or(|m| m.trim().is_empty());
        let message = match &self.message {
            // Every SerializationException names its cause, however it was built.
            _ if self.code == SERIALIZATION && blank => Some(MSG_SERIALIZATION.to_string()),
            m => m.clone(),
        };
        if let Some(message) = &message {
            // AWS's framework (coral service) errors write `Message` for a serialization
            // fault (dynalite's recordings) and a permissions refusal (captures in
            // sebdah/dynamic-dynamodb#321, aws-amplify/amplify-cli#11631), everything
            // else `message`; every SDK reads both.
            let capital = self.namespace == Namespace::CoralService
                && (self.code == SERIALIZATION || self.code == "AccessDeniedException");
            let key = if capital { "Message" } else { "message" };
            body.insert(key.into(), Value::String(message.clone()));
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

/// Lambda's modelled errors whose message member is `Message` (botocore's `lambda`
/// model), and RequestEntityTooLargeException, which AWS sends so; the others write
/// `message`.
const CAPITAL_MESSAGE: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceInUseException",
    "ServiceException",
    "RequestEntityTooLargeException",
];

impl WireError {
    /// A restJson1 error body as Lambda writes it: `Type` (`User`, or `Service` for a
    /// 5xx) on Lambda's own errors (`Namespace::Lambda`), and the message under the
    /// member the model names.
    pub fn rest_json_body(&self) -> Value {
        let mut body = Map::new();
        if self.namespace == Namespace::Lambda {
            let kind = if self.status >= 500 { "Service" } else { "User" };
            body.insert("Type".into(), Value::String(kind.into()));
        }
        if let Some(message) = &self.message {
            let key = if CAPITAL_MESSAGE.contains(&self.code) { "Message" } else { "message" };
            body.insert(key.into(), Value::String(message.clone()));
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

/// Errors found before any API handler runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("unknown operation")]
    UnknownOperation,
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    #[error("{0}")]
    IncompleteSignature(String),
    /// A signature that does not match, or is not current (`auth.enforce`).
    #[error("{0}")]
    InvalidSignature(String),
    /// An access key no configured key has (`auth.enforce`).
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// Temporary credentials past their expiry (`auth.enforce`).
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The key's policy does not allow the call; AWS's message.
    #[error("{0}")]
    AccessDenied(String),
    /// Malformed JSON, or a member of the wrong JSON type; the message names which.
    #[error("serialization: {0}")]
    Serialization(String),
    #[error("request body too large")]
    RequestTooLarge,
    /// The body did not arrive within `server.request_read_timeout_ms`.
    #[error("request body not received in time")]
    RequestTimeout,
    /// JSON nested deeper than any valid request (only attribute values nest that far).
    #[error("nesting too deep")]
    TooDeep,
    /// A `Content-Encoding` other than gzip, or a body that is not valid gzip: AWS answers
    /// 500 (recorded by ScyllaDB's `test_compressed_request.py` against AWS).
    #[error("{0}")]
    ContentEncoding(String),
}

impl ProtocolError {
    /// The wire form for a request to `service` (the internal error is named per service).
    pub fn to_wire_in(&self, service: Service) -> WireError {
        match self {
            // Kinesis and Lambda word it shorter than DynamoDB (kinesalite's suite, recorded
            // against Kinesis; brefphp/bref#1250 for Lambda: docs/security.md).
            ProtocolError::MissingAuthenticationToken
                if matches!(service, Service::Kinesis | Service::Lambda) =>
            {
                WireError::new(
                    Namespace::CoralService,
                    "MissingAuthenticationTokenException",
                    Some("Missing Authentication Token".into()),
                )
            }
            ProtocolError::ContentEncoding(m) => {
                tracing::debug!("refused a request body: {m}");
                let (namespace, code, message) = match service {
                    Service::Kinesis => (Namespace::CoralService, "InternalFailure", None),
                    Service::Lambda => (
                        Namespace::Lambda,
                        "ServiceException",
                        Some("Internal server error".to_string()),
                    ),
                    Service::DynamoDb | Service::DynamoDbStreams => (
                        Namespace::DynamoDb,
                        "InternalServerError",
                        Some("Internal server error".to_string()),
                    ),
                };
                WireError { status: 500, ..WireError::new(namespace, code, message) }
            }
            other => other.to_wire(),
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireError {
        use Namespace::CoralService as NS;
        match self {
            ProtocolError::UnknownOperation => {
                WireError::new(NS, "UnknownOperationException", Some(MSG_UNKNOWN_OPERATION.into()))
            }
            ProtocolError::MissingAuthenticationToken => WireError::new(
                NS,
                "MissingAuthenticationTokenException",
                Some("Request is missing Authentication Token".into()),
            ),
            ProtocolError::IncompleteSignature(m) => {
                WireError::new(NS, "IncompleteSignatureException", Some(m.clone()))
            }
            ProtocolError::InvalidSignature(m) => {
                WireError::new(NS, "InvalidSignatureException", Some(m.clone()))
            }
            ProtocolError::AccessDenied(m) => {
                WireError::new(NS, "AccessDeniedException", Some(m.clone()))
            }
            ProtocolError::UnrecognizedClient => WireError::new(
                NS,
                "UnrecognizedClientException",
                Some(crate::auth::messages::UNRECOGNIZED_CLIENT.into()),
            ),
            ProtocolError::ExpiredToken => WireError::new(
                NS,
                "ExpiredTokenException",
                Some(crate::auth::messages::EXPIRED_TOKEN.into()),
            ),
            ProtocolError::Serialization(m) => WireError::serialization(m.clone()),
            ProtocolError::TooDeep => WireError::new(
                Namespace::CoralValidate,
                "ValidationException",
                Some(crate::model::value::MSG_NESTING.into()),
            ),
            // Not recorded from AWS, whose front ends close such connections; the
            // answer only reaches a client that is still listening.
            ProtocolError::RequestTimeout => WireError {
                status: 408,
                ..WireError::new(
                    NS,
                    "RequestTimeoutException",
                    Some("Timed out reading the request body".into()),
                )
            },
            ProtocolError::ContentEncoding(_) => self.to_wire_in(Service::DynamoDb),
            ProtocolError::RequestTooLarge => WireError {
                status: 413,
                ..WireError::new(
                    NS,
                    "RequestEntityTooLarge",
                    Some("Request entity too large".into()),
                )
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_writes_message_capitalised_as_aws_does() {
        let e = ProtocolError::AccessDenied("User: x".into()).to_wire();
        assert_eq!(
            e.body(Service::DynamoDb),
            serde_json::json!({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": "User: x"})
        );
        assert_eq!(
            e.body(Service::Kinesis),
            serde_json::json!({"__type": "AccessDeniedException", "Message": "User: x"})
        );
    }

    #[test]
    fn namespaces_follow_the_service() {
        let e = WireError::new(Namespace::DynamoDb, "ResourceNotFoundException", Some("x".into()));
        assert_eq!(
            e.body(Service::DynamoDb),
            serde_json::json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "x"})
        );
        assert_eq!(
            e.body(Service::Kinesis),
            serde_json::json!({"__type": "ResourceNotFoundException", "message": "x"})
        );
        let v = ProtocolError::UnknownOperation.to_wire().body(Service::DynamoDb);
        assert_eq!(
            v,
            serde_json::json!({"__type": "com.amazon.coral.service#UnknownOperationException", "message": MSG_UNKNOWN_OPERATION})
        );
    }

    #[test]
    fn a_serialization_exception_always_carries_a_message() {
        let built = [
            WireError::new(Namespace::CoralService, SERIALIZATION, None),
            WireError::new(Namespace::CoralService, SERIALIZATION, Some(" ".into())),
            WireError::serialization(""),
            ProtocolError::Serialization(String::new()).to_wire(),
        ];
        for e in built {
            assert_eq!(
                e.body(Service::DynamoDb),
                serde_json::json!({"__type": "com.amazon.coral.service#SerializationException", "Message": MSG_SERIALIZATION}),
                "{e:?}"
            );
            assert_eq!(
                e.body(Service::Kinesis),
                serde_json::json!({"__type": "SerializationException", "Message": MSG_SERIALIZATION})
            );
        }
        let named = WireError::serialization("Unexpected end-of-input").body(Service::DynamoDb);
        assert_eq!(named["Message"], "Unexpected end-of-input");
        // Other errors keep having no message when they have none.
        let v = WireError::new(Namespace::CoralService, "UnrecognizedClientException", None);
        assert_eq!(
            v.body(Service::DynamoDb),
            serde_json::json!({"__type": "com.amazon.coral.service#UnrecognizedClientException"})
        );
    }
}
