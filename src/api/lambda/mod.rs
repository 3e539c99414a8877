//! The Lambda API (restJson1) for the functions sluice knows (GetFunction, ListFunctions
//! and Invoke) and the event source mappings that invoke them (Create, Get, List,
//! Update and DeleteEventSourceMapping). The protocol layer routes a request by method and path into a
//! [`RestCall`]; each operation types and checks its members and answers a typed output
//! or a [`LambdaError`]; the server loop alone turns those into HTTP.

pub mod error;
pub mod functions;
pub mod invoke;
pub mod mapping_input;
pub mod mappings;

use std::sync::Arc;

use serde_json::Value;

pub use error::LambdaError;
pub use invoke::InvokeOutput;

use crate::engine::Engine;
use crate::protocol::rest::RestCall;
use crate::protocol::{RequestContext, WireError};

/// Every Lambda operation sluice serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetFunction,
    ListFunctions,
    Invoke,
    CreateEventSourceMapping,
    GetEventSourceMapping,
    ListEventSourceMappings,
    UpdateEventSourceMapping,
    DeleteEventSourceMapping,
}

impl Operation {
    /// Every operation.
    pub const ALL: &[Operation] = &[
        Operation::GetFunction,
        Operation::ListFunctions,
        Operation::Invoke,
        Operation::CreateEventSourceMapping,
        Operation::GetEventSourceMapping,
        Operation::ListEventSourceMappings,
        Operation::UpdateEventSourceMapping,
        Operation::DeleteEventSourceMapping,
    ];

    /// The operation the protocol layer routed to.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|o| o.name() == name)
    }

    /// The name, as the `operation` metric label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetFunction => "GetFunction",
            Operation::ListFunctions => "ListFunctions",
            Operation::Invoke => "Invoke",
            Operation::CreateEventSourceMapping => "CreateEventSourceMapping",
            Operation::GetEventSourceMapping => "GetEventSourceMapping",
            Operation::ListEventSourceMappings => "ListEventSourceMappings",
            Operation::UpdateEventSourceMapping => "UpdateEventSourceMapping",
            Operation::DeleteEventSourceMapping => "DeleteEventSourceMapping",
        }
    }
}

/// What an operation answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A JSON document (200).
    Json(Value),
    /// A JSON document of an operation that completes later (202).
    Accepted(Value),
    /// Invoke's payload and headers.
    Invoke(InvokeOutput),
}

/// Runs one routed call.
pub async fn handle(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    call: RestCall,
) -> Result<Output, WireError> {
    let Some(op) = Operation::from_name(call.operation) else {
        return Err(LambdaError::UnknownOperation.to_wire());
    };
    let result = match op {
        Operation::GetFunction => functions::get_function(engine, &call).await.map(Output::Json),
        Operation::ListFunctions => {
            functions::list_functions(engine, &call).await.map(Output::Json)
        }
        Operation::Invoke => invoke::invoke(engine, ctx, call).await.map(Output::Invoke),
        Operation::CreateEventSourceMapping => {
            mappings::create(engine, &call).await.map(Output::Accepted)
        }
        Operation::GetEventSourceMapping => mappings::get(engine, &call).await.map(Output::Json),
        Operation::ListEventSourceMappings => mappings::list(engine, &call).await.map(Output::Json),
        Operation::UpdateEventSourceMapping => {
            mappings::update(engine, &call).await.map(Output::Accepted)
        }
        Operation::DeleteEventSourceMapping => {
            mappings::delete(engine, &call).await.map(Output::Accepted)
        }
    };
    result.map_err(|e| e.to_wire())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(Operation::from_name("CreateFunction"), None);
    }
}
