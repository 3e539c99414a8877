//! Everything under `/_sluice/` (today the fault-injection endpoint): sluice's own admin
//! calls, which no AWS SDK sends and no web page may. A page open in a developer's
//! browser can send requests to localhost (a "simple" POST with `text/plain` needs no
//! CORS preflight), so these calls refuse anything a browser would mark cross-site: a
//! POST must say `Content-Type: application/json` (which a page can only send after a
//! preflight, and a preflight carries the page's Origin), any `Origin` must be this
//! host's own, any `Sec-Fetch-Site` same-origin (or `none`, typed by the user). curl and
//! test code send neither header and are unaffected.

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, ORIGIN};
use hyper::{Method, Request, Response};
use serde_json::json;

use super::AppState;
use crate::protocol::response::{self, Body};

/// The prefix of sluice's own endpoints.
pub const PREFIX: &str = "/_sluice/";

/// Answers a request whose path starts with [`PREFIX`].
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    if let Err(why) = same_site(&req) {
        return reply(403, &why);
    }
    let path = req.uri().path();
    if state.config.faults.admin_endpoint
        && (path == super::faults::PATH || path.starts_with(&format!("{}/", super::faults::PATH)))
    {
        return super::faults::handle(state, req).await;
    }
    reply(404, "no such sluice endpoint")
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
