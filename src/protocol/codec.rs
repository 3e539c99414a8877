//! The body codec of one request: awsJson, or CBOR for Kinesis as the Java SDK and the
//! KCL send it by default. Chosen once from the request's headers, it decodes the body
//! and encodes the answer, success or error, the same way, so handlers only ever see
//! and return awsJson values.

use bytes::Bytes;
use serde_json::Value;

use super::{ProtocolError, RequestBody, Service, Target, WireError, cbor, error::Namespace};

/// The content type of a CBOR request, and of the answer to one.
pub const CBOR_CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// How a request's body and its answer are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
    Cbor,
}

impl Codec {
    /// CBOR when the content type says so and the target is not DynamoDB or DynamoDB
    /// Streams (they have no CBOR protocol, so their requests keep their JSON path). A
    /// CBOR request with no usable target still gets its error in CBOR: that is the
    /// only form its client can read.
    pub fn for_request(content_type: Option<&str>, target: Option<&str>) -> Codec {
        let cbor = content_type.is_some_and(|c| {
            c.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case(CBOR_CONTENT_TYPE)
        });
        let other_service =
            target.and_then(Target::parse).is_some_and(|t| t.service != Service::Kinesis);
        if cbor && !other_service { Codec::Cbor } else { Codec::Json }
    }

    /// A non-empty request body, accepted for the handlers: awsJson as its checked
    /// bytes, CBOR as the awsJson tree it stands for.
    pub fn decode(self, body: Bytes) -> Result<RequestBody, ProtocolError> {
        match self {
            Codec::Json => RequestBody::json(body),
            // kinesalite's canned answer to a bad CBOR body is the bare type; sluice names
            // the problem, as it does for every SerializationException.
            Codec::Cbor => cbor::decode_to_json(&body)
                .map(RequestBody::Tree)
                .map_err(|e| ProtocolError::Serialization(format!("Invalid CBOR body: {e}"))),
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(self, service: Service) -> &'static str {
        match self {
            Codec::Json => service.content_type(),
            Codec::Cbor => CBOR_CONTENT_TYPE,
        }
    }

    /// A handler's output as the response body. Fails only when the output breaks the
    /// model (say a blob that is not base64): a handler bug, answered as a 500.
    pub fn encode_output(self, operation: &str, output: &Value) -> Result<Vec<u8>, WireError> {
        match self {
            Codec::Json => Ok(serde_json::to_vec(output).unwrap_or_default()),
            Codec::Cbor => cbor::encode_output(operation, output).map_err(|e| WireError {
                status: 500,
                ..WireError::new(
                    Namespace::CoralService,
                    "InternalFailureException",
                    Some(format!("response does not fit the model: {e}")),
                )
            }),
        }
    }

    /// An error's body in `service`'s style.
    pub fn encode_error(self, error: &WireError, service: Service) -> Vec<u8> {
        let body = error.body(service);
        match self {
            Codec::Json => serde_json::to_vec(&body).unwrap_or_default(),
            Codec::Cbor => cbor::encode_plain(&body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_is_chosen_by_content_type_for_kinesis_and_unknown_targets_only() {
        let cases = [
            (Some(CBOR_CONTENT_TYPE), Some("Kinesis_20131202.PutRecord"), Codec::Cbor),
            (
                Some("Application/X-Amz-Cbor-1.1; charset=x"),
                Some("Kinesis_20131202.X"),
                Codec::Cbor,
            ),
            (Some(CBOR_CONTENT_TYPE), None, Codec::Cbor),
            (Some(CBOR_CONTENT_TYPE), Some("Nope.PutRecord"), Codec::Cbor),
            (Some(CBOR_CONTENT_TYPE), Some("DynamoDB_20120810.PutItem"), Codec::Json),
            (Some(CBOR_CONTENT_TYPE), Some("DynamoDBStreams_20120810.GetRecords"), Codec::Json),
            (Some("application/x-amz-json-1.1"), Some("Kinesis_20131202.PutRecord"), Codec::Json),
            (Some("application/x-amz-cbor-1.0"), Some("Kinesis_20131202.PutRecord"), Codec::Json),
            (None, Some("Kinesis_20131202.PutRecord"), Codec::Json),
        ];
        for (content_type, target, want) in cases {
            assert_eq!(
                Codec::for_request(content_type, target),
                want,
                "{content_type:?} {target:?}"
            );
        }
    }

    #[test]
    fn malformed_cbor_is_a_serialization_error_and_errors_render_as_cbor() {
        let Err(error) = Codec::Cbor.decode(Bytes::from_static(&[0xbf, 0x61])) else {
            panic!("a truncated CBOR map decoded");
        };
        assert_eq!(
            error,
            ProtocolError::Serialization("Invalid CBOR body: unexpected end of input".into())
        );
        let rendered = Codec::Cbor.encode_error(&error.to_wire(), Service::Kinesis);
        let rendered = cbor::decode_to_json(&rendered).unwrap();
        assert_eq!(
            rendered,
            serde_json::json!({"__type": "SerializationException", "Message": "Invalid CBOR body: unexpected end of input"})
        );
        assert_eq!(Codec::Cbor.content_type(Service::Kinesis), CBOR_CONTENT_TYPE);
        assert_eq!(Codec::Json.content_type(Service::Kinesis), "application/x-amz-json-1.1");
    }

    #[test]
    fn an_output_that_breaks_the_model_is_a_500_not_a_panic() {
        let output = serde_json::json!({"Records": [{"Data": "not base64!"}]});
        let error = Codec::Cbor.encode_output("GetRecords", &output).unwrap_err();
        assert_eq!((error.status, error.code), (500, "InternalFailureException"));
        assert!(Codec::Json.encode_output("GetRecords", &output).is_ok());
    }
}
