//! `/_sluice/faults`: the fault-injection admin endpoint on the API port (when
//! `faults.admin_endpoint` is on). `GET` lists the rules with what each has done, `POST`
//! adds one (the JSON object of a `[[faults.rules]]` entry) and answers it with its `id`,
//! `DELETE` clears them all, `DELETE /_sluice/faults/{id}` one.

use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::config::FaultSpec;
use crate::protocol::response::{self, Body};

/// The path prefix the endpoint answers on.
pub const PATH: &str = "/_sluice/faults";

/// Answers a request whose path starts with `PATH`.
pub async fn handle<B>(state: &AppState, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let faults = &state.engine.faults;
    let id = req.uri().path().strip_prefix(PATH).unwrap_or_default().trim_matches('/');
    let id = match id {
        "" => None,
        n => match n.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => return reply(404, json!({"message": format!("no rule {n}")})),
        },
    };
    match (req.method().clone(), id) {
        (Method::GET, None) => reply(200, faults.list()),
        (Method::DELETE, id) => {
            let cleared = faults.clear(id);
            match id {
                Some(id) if cleared == 0 => reply(404, json!({"message": format!("no rule {id}")})),
                _ => reply(200, json!({ "cleared": cleared })),
            }
        }
        (Method::POST, None) => {
            let limit = state.config.server.max_body_bytes;
            let Ok(body) = Limited::new(req.into_body(), limit).collect().await else {
                return reply(413, json!({"message": "request body too large"}));
            };
            let spec: FaultSpec = match serde_json::from_slice(&body.to_bytes()) {
                Ok(spec) => spec,
                Err(e) => return reply(400, json!({"message": format!("invalid rule: {e}")})),
            };
            match faults.add(spec) {
                Ok(rule) => reply(200, rule),
                Err(e) => reply(400, json!({ "message": e })),
            }
        }
        _ => reply(405, json!({"message": "use GET, POST or DELETE"})),
    }
}

fn reply(status: u16, body: Value) -> Response<Body> {
    let mut text = body.to_string();
    text.push('\n');
    response::text(status, "application/json", text)
}
