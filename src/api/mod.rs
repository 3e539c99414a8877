//! The APIs: a typed operation in, a typed output or error out. Each service decodes its
//! operation name and JSON body here, calls its handler, and encodes the result; the
//! server loop alone turns results and errors into HTTP responses.

/// Declares a service's operations: the `Operation` enum (parsed from the
/// `X-Amz-Target` operation name, named for the metrics label) and `run`, which decodes
/// the JSON input, calls the handler and encodes its output. `$error` is the service's
/// error enum and `$internal` its internal-error constructor.
macro_rules! operations {
    (error: $error:ty, internal: $internal:path; $($name:ident => $module:ident::$handler:ident),* $(,)?) => {
        /// Every operation of the service sluice serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation { $($name),* }

        impl Operation {
            /// Every operation, in declaration order (the fuzz harness picks from it).
            pub const ALL: &[Operation] = &[$(Operation::$name),*];

            /// Parses the operation part of `X-Amz-Target`.
            pub fn from_name(name: &str) -> Option<Operation> {
                match name {
                    $(stringify!($name) => Some(Operation::$name),)*
                    _ => None,
                }
            }

            /// The name, as the `operation` metric label.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }
        }

        async fn run(
            engine: &std::sync::Arc<crate::engine::Engine>,
            op: Operation,
            ctx: &crate::protocol::RequestContext,
            body: crate::protocol::RequestBody,
        ) -> Result<serde_json::Value, $error> {
            // Each handler's future is boxed: inline, `run`'s state machine is as large as
            // the largest operation's (tens of kilobytes), and every request's future was
            // copied whole at each move on its way to the connection (a fifth of a
            // PutItem's instructions were those memcpys). Boxed, only the operation's own
            // state is written once, on the heap.
            match op {
                $(Operation::$name => {
                    let input = crate::api::wire::decode(body)?;
                    let output = Box::pin($module::$handler(engine, ctx, input)).await?;
                    serde_json::to_value(output).map_err(|e| $internal(e.to_string()))
                })*
            }
        }

        /// Runs the operation `X-Amz-Target` names; an unknown name gets the
        /// protocol's `UnknownOperationException`.
        pub async fn handle(
            engine: &std::sync::Arc<crate::engine::Engine>,
            operation: &str,
            ctx: &crate::protocol::RequestContext,
            body: impl Into<crate::protocol::RequestBody>,
        ) -> crate::api::Handled {
            let body = body.into();
            let Some(op) = Operation::from_name(operation) else {
                // A malformed body is answered before the operation.
                let error = body
                    .check_syntax()
                    .err()
                    .unwrap_or(crate::protocol::ProtocolError::UnknownOperation);
                return crate::api::Handled { operation: "unknown", result: Err(error.to_wire()) };
            };
            crate::api::Handled {
                operation: op.name(),
                result: run(engine, op, ctx, body).await.map_err(|e| e.to_wire()),
            }
        }
    };
}

pub(crate) use operations;

pub mod authorize;
pub mod dynamodb;
pub mod kinesis;
pub mod lambda;
pub mod streams;
pub mod validate;
pub mod wire;

use std::sync::Arc;

use serde_json::Value;

use crate::engine::Engine;
use crate::protocol::{RequestBody, RequestContext, Service, WireError};

/// What one API call produced: the operation label for metrics and the result.
pub struct Handled {
    pub operation: &'static str,
    pub result: Result<Value, WireError>,
}

/// The operation `name` of `service` as its static label, when sluice serves it.
pub fn operation_name(service: Service, name: &str) -> Option<&'static str> {
    match service {
        Service::DynamoDb => dynamodb::Operation::from_name(name).map(|o| o.name()),
        Service::DynamoDbStreams => streams::Operation::from_name(name).map(|o| o.name()),
        Service::Kinesis => match name {
            // Served by the server loop itself (an event stream), not by `handle`.
            crate::api::kinesis::subscribe::OPERATION => {
                Some(crate::api::kinesis::subscribe::OPERATION)
            }
            _ => kinesis::Operation::from_name(name).map(|o| o.name()),
        },
        Service::Lambda => lambda::Operation::from_name(name).map(|o| o.name()),
    }
}

/// Routes a request whose target and body have been parsed.
pub async fn handle(
    engine: &Arc<Engine>,
    service: Service,
    operation: &str,
    ctx: &RequestContext,
    body: impl Into<RequestBody>,
) -> Handled {
    let body = body.into();
    match service {
        Service::DynamoDb => dynamodb::handle(engine, operation, ctx, body).await,
        Service::DynamoDbStreams => streams::handle(engine, operation, ctx, body).await,
        Service::Kinesis => kinesis::handle(engine, operation, ctx, body).await,
        // restJson1: routed by path to `lambda::handle`, never by a target.
        Service::Lambda => Handled {
            operation: "unknown",
            result: Err(crate::protocol::ProtocolError::UnknownOperation.to_wire()),
        },
    }
}
