//! The APIs: a typed operation in, a typed output or error out. Each service decodes its
//! operation name and JSON body here, calls its handler, and encodes the result; the
//! server loop alone turns results and errors into HTTP responses.

pub mod dynamodb;
pub mod kinesis;
pub mod validate;
pub mod wire;

use std::sync::Arc;

use serde_json::Value;

use crate::engine::Engine;
use crate::protocol::{ProtocolError, RequestContext, Service, WireError};

/// What one API call produced: the operation label for metrics and the result.
pub struct Handled {
    pub operation: &'static str,
    pub result: Result<Value, WireError>,
}

/// Routes a request whose target and body have been parsed.
pub async fn handle(
    engine: &Arc<Engine>,
    service: Service,
    operation: &str,
    ctx: &RequestContext,
    body: Value,
) -> Handled {
    match service {
        Service::DynamoDb => dynamodb::handle(engine, operation, ctx, body).await,
        Service::Kinesis => kinesis::handle(engine, operation, ctx, body).await,
        // Its issue has not landed: AWS's answer for an operation it does not know.
        Service::DynamoDbStreams => {
            Handled { operation: "unknown", result: Err(ProtocolError::UnknownOperation.to_wire()) }
        }
    }
}
