//! Everything under `/_sluice/` (the console and the fault-injection endpoint): sluice's own admin
//! calls, which no AWS SDK sends and no web page may. A page open in a developer's
//! browser can send requests to localhost (a "simple" POST with `text/plain` needs no
//! CORS preflight), so these calls refuse anything a browser would mark cross-site: a
//! POST must say `Content-Type: application/json` (which a page can only send after a
//! preflight, and a preflight carries the page's Origin), any `Origin` must be this
//! host's own, any `Sec-Fetch-Site` same-origin (or `none`, typed by the user). curl and
//! test code send neither header and are unaffected. With `auth.enforce`, a call must
//! also be signed by a configured key (any service name in its scope), and so must
//! `/metrics` on the API port (`server.metrics_listen` serves it unsigned).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, ORIGIN};
use hyper::{Method, Request, Response};
use serde_json::json;

use super::AppState;
use crate::protocol::auth;
use crate::protocol::response::{self, Body};

/// The prefix of sluice's own endpoints.
pub const PREFIX: &str = "/_sluice/";

/// Answers a request whose path starts with [`PREFIX`].
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    if let Err(why) = same_site(&req) {
        return reply(403, &why);
    }
    if super::console::owns(req.uri().path()) {
        return super::console::handle(state, req).await;
    }
    // With auth.enforce only a configured key's signed request passes, so the body is
    // read first (the signature covers it).
    let req = match signed(state, req).await {
        Ok(req) => req,
        Err(response) => return response,
    };
    let path = req.uri().path();
    if state.config.faults.admin_endpoint
        && (path == super::faults::PATH || path.starts_with(&format!("{}/", super::faults::PATH)))
    {
        return super::faults::handle(state, req).await;
    }
    reply(404, "no such sluice endpoint")
}

/// `req` with its body read, when it is signed by a configured key (or auth is not
/// enforced); otherwise the 403 to answer.
pub async fn signed(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<Request<Full<Bytes>>, Response<Body>> {
    let (parts, body) = req.into_parts();
    let limit = state.config.server.max_body_bytes;
    let deadline = Duration::from_millis(state.config.server.request_read_timeout_ms);
    let read = tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await;
    let Ok(Ok(body)) = read else {
        return Err(reply(413, "request body too large, or not sent in time"));
    };
    let body = body.to_bytes();
    if state.keys.enforced() {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let has_date = header("x-amz-date").is_some() || header("date").is_some();
        let credential = match parts.uri.query().and_then(auth::parse_presigned) {
            Some(c) => Ok(c),
            None => auth::parse_authorization(header("authorization"), has_date)
                .map_err(|e| e.to_string()),
        };
        let request = crate::auth::verify::Incoming {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
            body: &body,
            service: None,
        };
        let now = state.engine.clock.now_millis();
        let verified = credential.and_then(|c| {
            crate::auth::verify::verify(&state.keys, &request, &c, now).map_err(|e| e.to_string())
        });
        if let Err(why) = verified {
            tracing::info!(path = parts.uri.path(), "refused an unsigned sluice endpoint call");
            return Err(reply(403, &why));
        }
    }
    Ok(Request::from_parts(parts, Full::new(body)))
}

/// Why `req` may have come from another site's page, if it may.
pub fn same_site<B>(req: &Request<B>) -> Result<(), String> {
    let header = |name| req.headers().get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(format!("refused: Sec-Fetch-Site is {site}, not same-origin"));
    }
    if let Some(origin) = header(ORIGIN.as_str()) {
        let host = header(HOST.as_str()).unwrap_or_default();
        let own = ["http://", "https://"].iter().any(|s| origin.strip_prefix(s) == Some(host));
        if host.is_empty() || !own {
            return Err(format!("refused: Origin {origin} is not this host ({host})"));
        }
    }
    // POST is the one state-changing method a page may send without a CORS preflight
    // (DELETE and the rest are preflighted, and a preflight carries an Origin).
    if req.method() == Method::POST {
        let json = header(CONTENT_TYPE.as_str()).is_some_and(|t| {
            t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return Err("refused: send Content-Type: application/json".into());
        }
    }
    Ok(())
}

fn reply(status: u16, message: &str) -> Response<Body> {
    response::text(status, "application/json", format!("{}\n", json!({ "message": message })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut r = Request::builder().method(method).uri("/_sluice/faults");
        for (n, v) in headers {
            r = r.header(*n, *v);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn only_same_site_json_calls_pass() {
        let json = ("content-type", "application/json");
        let host = ("host", "127.0.0.1:8000");
        // curl, scripts, test code.
        assert!(same_site(&request(Method::POST, &[json, host])).is_ok());
        assert!(
            same_site(&request(
                Method::DELETE,
                &[("content-type", "application/json; charset=utf-8")]
            ))
            .is_ok()
        );
        assert!(same_site(&request(Method::GET, &[])).is_ok());
        // A page's simple request.
        assert!(
            same_site(&request(Method::POST, &[("content-type", "text/plain"), host])).is_err()
        );
        assert!(same_site(&request(Method::POST, &[host])).is_err());
        assert!(same_site(&request(Method::DELETE, &[])).is_ok());
        // A preflight, without which a page sends no DELETE and no JSON POST.
        let preflight = [host, ("origin", "http://evil.example")];
        assert!(same_site(&request(Method::OPTIONS, &preflight)).is_err());
        // Another origin, whatever it sends.
        for origin in
            ["http://evil.example", "null", "http://127.0.0.1:8001", "http://127.0.0.1:8000.evil"]
        {
            let r = request(Method::POST, &[json, host, ("origin", origin)]);
            assert!(same_site(&r).is_err(), "{origin}");
        }
        assert!(
            same_site(&request(Method::POST, &[json, host, ("origin", "http://127.0.0.1:8000")]))
                .is_ok()
        );
        for site in ["cross-site", "same-site"] {
            let r = request(Method::GET, &[host, ("sec-fetch-site", site)]);
            assert!(same_site(&r).is_err(), "{site}");
        }
        assert!(same_site(&request(Method::GET, &[host, ("sec-fetch-site", "none")])).is_ok());
    }
}
