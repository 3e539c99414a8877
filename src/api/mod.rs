//! The APIs: a typed operation in, a typed output or error out. Each service decodes its
//! operation name and JSON body here, calls its handler, and encodes the result; the
//! server loop alone turns results and errors into HTTP responses.

/// Declares a service's operations: the `Operation` enum (parsed from the
/// `X-Amz-Target` operation name, named for the metrics label) and `run`, which decodes
/// the JSON input, calls the handler and encodes its output. `$error` is the service's
/// error enum and `$internal` its internal-error constructor.
macro_rules! operations {
    (error: $error:ty, internal: $internal:path; $($name:ident => $module:ident::$handler:ident $(as $amod:ident::$answer:ident)?),* $(,)?) => {
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
            form: crate::api::Form,
        ) -> Result<crate::api::Output, $error> {
            // Each handler's future is boxed: inline, `run`'s state machine is as large as
            // the largest operation's (tens of kilobytes), and every request's future was
            // copied whole at each move on its way to the connection (a fifth of a
            // PutItem's instructions were those memcpys). Boxed, only the operation's own
            // state is written once, on the heap.
            match op {
                $(Operation::$name => {
                    let input = crate::api::wire::decode(body)?;
                    let output = Box::pin($module::$handler(engine, ctx, input)).await?;
                    crate::api::answer!(output, form $(, $amod::$answer)?)
                        .map_err(|e| $internal(e.to_string()))
                })*
            }
        }

        /// Runs the operation `X-Amz-Target` names, its output as a JSON tree; an
        /// unknown name gets the protocol's `UnknownOperationException`.
        pub async fn handle(
            engine: &std::sync::Arc<crate::engine::Engine>,
            operation: &str,
            ctx: &crate::protocol::RequestContext,
            body: impl Into<crate::protocol::RequestBody>,
        ) -> crate::api::Handled {
            let handled = handle_as(engine, operation, ctx, body, crate::api::Form::Tree).await;
            crate::api::Handled {
                operation: handled.operation,
                result: handled.result.and_then(crate::api::Output::into_tree),
            }
        }

        /// [`handle`], the output in `form`.
        pub async fn handle_as(
            engine: &std::sync::Arc<crate::engine::Engine>,
            operation: &str,
            ctx: &crate::protocol::RequestContext,
            body: impl Into<crate::protocol::RequestBody>,
            form: crate::api::Form,
        ) -> crate::api::Handled<crate::api::Output> {
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
                result: run(engine, op, ctx, body, form).await.map_err(|e| e.to_wire()),
            }
        }
    };
}

pub(crate) use operations;

/// An operation's output in the form asked for: through serde, or through the writer an
/// operation names with `as` in `operations!` (PutRecords' answer, written by hand).
macro_rules! answer {
    ($output:expr, $form:expr) => {
        crate::api::Output::of(&$output, $form)
    };
    ($output:expr, $form:expr, $writer:path) => {
        $writer(&$output, $form)
    };
}

pub(crate) use answer;

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
pub struct Handled<T = Value> {
    pub operation: &'static str,
    pub result: Result<T, WireError>,
}

/// The form an operation's output is wanted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// awsJson bytes, written straight from the output (the JSON codec's answer).
    Json,
    /// A JSON tree (CBOR is written from it by the model's shapes; sluice's own callers
    /// read it).
    Tree,
}

/// An operation's output in the [`Form`] asked for.
#[derive(Debug)]
pub enum Output {
    Json(Vec<u8>),
    Tree(Value),
}

impl Output {
    /// Writes `output` in `form`. Straight to bytes, an answer costs one pass instead of
    /// a tree built and then written (PutRecords' 500 entries, a Query's items).
    pub fn of<T: serde::Serialize>(output: &T, form: Form) -> Result<Output, serde_json::Error> {
        match form {
            Form::Json => serde_json::to_vec(output).map(Output::Json),
            Form::Tree => serde_json::to_value(output).map(Output::Tree),
        }
    }

    /// The output as a tree (bytes are read back, should a caller that asked for bytes
    /// want a tree after all).
    pub fn into_tree(self) -> Result<Value, WireError> {
        match self {
            Output::Tree(v) => Ok(v),
            Output::Json(bytes) => serde_json::from_slice(&bytes).map_err(|e| WireError {
                status: 500,
                ..WireError::new(
                    crate::protocol::error::Namespace::CoralService,
                    "InternalFailureException",
                    Some(format!("output is not JSON: {e}")),
                )
            }),
        }
    }
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

/// Routes a request whose target and body have been parsed; the output as a tree.
pub async fn handle(
    engine: &Arc<Engine>,
    service: Service,
    operation: &str,
    ctx: &RequestContext,
    body: impl Into<RequestBody>,
) -> Handled {
    let handled = handle_as(engine, service, operation, ctx, body, Form::Tree).await;
    Handled { operation: handled.operation, result: handled.result.and_then(Output::into_tree) }
}

/// [`handle`], the output in `form`.
pub async fn handle_as(
    engine: &Arc<Engine>,
    service: Service,
    operation: &str,
    ctx: &RequestContext,
    body: impl Into<RequestBody>,
    form: Form,
) -> Handled<Output> {
    let body = body.into();
    match service {
        Service::DynamoDb => dynamodb::handle_as(engine, operation, ctx, body, form).await,
        Service::DynamoDbStreams => streams::handle_as(engine, operation, ctx, body, form).await,
        Service::Kinesis => kinesis::handle_as(engine, operation, ctx, body, form).await,
        // restJson1: routed by path to `lambda::handle`, never by a target.
        Service::Lambda => Handled {
            operation: "unknown",
            result: Err(crate::protocol::ProtocolError::UnknownOperation.to_wire()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// Written straight or through a tree, an output is the same JSON (member order
    /// aside): the JSON codec's answers are the bytes, CBOR's come from the tree.
    #[test]
    fn bytes_and_tree_are_the_same_json() {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            count: usize,
            items: Vec<HashMap<String, Value>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            missing: Option<String>,
            when: f64,
            text: String,
        }
        let mut item = HashMap::new();
        item.insert("b\"q".to_string(), json!({"S": "x\u{1}é"}));
        item.insert("a".to_string(), json!({"N": "1.50"}));
        let out = Out {
            count: 2,
            items: vec![item.clone(), item],
            missing: None,
            when: 1_700_000_000.123,
            text: "line\nbreak".into(),
        };
        let Output::Json(bytes) = Output::of(&out, Form::Json).unwrap() else { panic!() };
        let Output::Tree(tree) = Output::of(&out, Form::Tree).unwrap() else { panic!() };
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), tree);
        assert_eq!(Output::Json(bytes).into_tree().unwrap(), tree);
        assert!(Output::Json(b"{".to_vec()).into_tree().is_err_and(|e| e.status == 500));
    }
}
