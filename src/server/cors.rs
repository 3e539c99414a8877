//! CORS as AWS's endpoints answer it, so the SDKs run in a browser page: a request with an
//! `Origin` gets `Access-Control-Allow-Origin: *` and the headers a page may read; a
//! preflight (`OPTIONS` with an `Origin`) gets 200, those two, `Access-Control-Max-Age`,
//! and the method and headers it asked for echoed back as allowed. A request without an
//! `Origin` gets none of them. (ScyllaDB's `test_cors.py`, run against DynamoDB, records
//! the rules; the exposed headers are the ones AWS's JSON endpoints name.)
//!
//! Only the API answers: `/metrics` and the admin endpoint (which refuses cross-site
//! callers) never get them. A page can so call sluice as it can call DynamoDB; with
//! `auth.enforce` it needs credentials to, as there.

use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN,
};
use hyper::{Method, Request, Response};

use crate::protocol::response::{self, Body};

/// What a page may read of an answer (AWS's JSON endpoints' list).
const EXPOSED: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date";
/// The same for Lambda, whose Invoke answers carry their own headers.
const EXPOSED_LAMBDA: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date,\
x-amz-log-result,x-amz-function-error,x-amz-executed-version";
/// How long a browser may keep a preflight's answer (two days; chosen).
const MAX_AGE: &str = "172800";

/// The CORS headers one request's answer gets, if it is a cross-origin API request.
pub struct Cors {
    exposed: &'static str,
}

impl Cors {
    /// `Some` for a request with an `Origin` to the API.
    pub fn of<B>(req: &Request<B>) -> Option<Cors> {
        let path = req.uri().path();
        let api = !path.starts_with(super::admin::PREFIX) && path != "/metrics";
        if !api || !req.headers().contains_key(ORIGIN) {
            return None;
        }
        let lambda = path.starts_with(crate::protocol::rest::LAMBDA_PREFIX);
        Some(Cors { exposed: if lambda { EXPOSED_LAMBDA } else { EXPOSED } })
    }

    /// The answer to a preflight, if `req` is one.
    pub fn preflight<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        if req.method() != Method::OPTIONS {
            return None;
        }
        let mut response = response::plain(200, "");
        self.apply(&mut response);
        let asked = req.headers();
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        echo(asked, ACCESS_CONTROL_REQUEST_METHOD, headers, ACCESS_CONTROL_ALLOW_METHODS);
        echo(asked, ACCESS_CONTROL_REQUEST_HEADERS, headers, ACCESS_CONTROL_ALLOW_HEADERS);
        Some(response)
    }

    /// Adds the headers every cross-origin answer carries.
    pub fn apply(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(self.exposed));
    }
}

/// Answers what the preflight asked for (`from`) as allowed (`to`).
fn echo(
    asked: &HeaderMap,
    from: hyper::header::HeaderName,
    headers: &mut HeaderMap,
    to: hyper::header::HeaderName,
) {
    if let Some(value) = asked.get(&from) {
        headers.insert(to, value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn only_cross_origin_api_requests_get_cors_headers() {
        assert!(Cors::of(&request("POST", "/", &[])).is_none());
        let origin = [("origin", "http://example.com/")];
        assert!(Cors::of(&request("POST", "/", &origin)).is_some());
        assert!(Cors::of(&request("GET", "/metrics", &origin)).is_none());
        assert!(Cors::of(&request("POST", "/_sluice/faults", &origin)).is_none());
        let lambda = Cors::of(&request("GET", "/2015-03-31/functions/", &origin)).unwrap();
        assert!(lambda.exposed.contains("x-amz-function-error"));
    }

    #[test]
    fn a_preflight_echoes_what_it_asked_for() {
        let req = request(
            "OPTIONS",
            "/",
            &[
                ("origin", "http://example.com/"),
                ("access-control-request-method", "dog"),
                ("access-control-request-headers", "cat, meerkat, mouse"),
            ],
        );
        let cors = Cors::of(&req).unwrap();
        let r = cors.preflight(&req).unwrap();
        let h = r.headers();
        assert_eq!(r.status(), 200);
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-allow-methods"], "dog");
        assert_eq!(h["access-control-allow-headers"], "cat, meerkat, mouse");
        assert_eq!(h["access-control-max-age"], MAX_AGE);
        assert_eq!(h["access-control-expose-headers"], EXPOSED);
        assert!(cors.preflight(&request("POST", "/", &[("origin", "x")])).is_none());
    }
}
