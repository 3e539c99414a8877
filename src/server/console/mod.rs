//! `/_sluice/console`: a small web console served by sluice itself (one HTML page, its
//! script and style, compiled in; nothing fetched from elsewhere). It polls
//! `/_sluice/console/api/*` every second and shows the tables with their item counts and
//! a paged item browser, each table's stream and destinations with their lag, the Kinesis
//! streams with their shards, retention, fan-out consumers and newest records (decoded
//! when JSON), and the event source mappings with their state, last result and iterator
//! age.
//!
//! Like every `/_sluice/` endpoint it answers same-origin requests only (`admin::same_site`,
//! checked before this), and with `auth.enforce` its data calls must be SigV4-signed by a
//! configured key: the page asks for one and signs in the browser (Web Crypto). The page
//! and its assets carry no data and are served to anyone same-origin.

mod state;

use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, HeaderValue};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::protocol::response::{self, Body};
use crate::protocol::rest::parse_query;

/// Where the console lives.
pub const PATH: &str = "/_sluice/console";

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// Only this origin's own script, style and calls; no frames, no forms elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'";

/// Whether `path` is the console's.
pub fn owns(path: &str) -> bool {
    path == PATH || path.starts_with(&format!("{PATH}/"))
}

/// Answers a console request (already checked to be same-origin).
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET {
        return reply(405, json!({"message": "the console only reads: use GET"}));
    }
    let rest = req.uri().path()[PATH.len()..].trim_start_matches('/').to_string();
    match rest.as_str() {
        "" => return asset(PAGE, "text/html; charset=utf-8"),
        "console.js" => return asset(SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => return asset(STYLE, "text/css; charset=utf-8"),
        _ => {}
    }
    let Some(call) = rest.strip_prefix("api/").map(str::to_string) else {
        return reply(404, json!({"message": "no such console page"}));
    };
    // With auth.enforce, the data is a configured key's to see.
    let req = match super::admin::signed(state, req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let query = parse_query(req.uri().query().unwrap_or_default());
    let param = |name: &str| query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let engine = &state.engine;
    let answer = match call.as_str() {
        "overview" => Ok(state::overview(engine, &state.metrics).await),
        "items" => match param("table") {
            None => Err("name a table: ?table=NAME".to_string()),
            Some(table) => {
                let start = match param("start").filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(s) => serde_json::from_str::<Value>(&s)
                        .map(Some)
                        .map_err(|e| format!("start is no key: {e}")),
                };
                match start {
                    Ok(start) => state::items(engine, &table, start).await,
                    Err(e) => Err(e),
                }
            }
        },
        "records" => match param("stream") {
            None => Err("name a stream: ?stream=NAME".to_string()),
            Some(stream) => state::records(engine, &stream).await,
        },
        _ => return reply(404, json!({"message": "no such console call"})),
    };
    match answer {
        Ok(body) => reply(200, body),
        Err(message) => reply(400, json!({ "message": message })),
    }
}

fn asset(text: &'static str, content_type: &'static str) -> Response<Body> {
    secured(response::text(200, content_type, text.to_string()))
}

fn reply(status: u16, body: Value) -> Response<Body> {
    let mut r = secured(response::text(status, "application/json", body.to_string()));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn secured(mut r: Response<Body>) -> Response<Body> {
    let headers = r.headers_mut();
    headers.insert("content-security-policy", HeaderValue::from_static(POLICY));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}
