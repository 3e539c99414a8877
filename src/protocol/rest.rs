//! restJson1 routing for the Lambda API: no `X-Amz-Target`, the operation is the method
//! and the path (botocore's `lambda` model, `requestUri`), its parameters the path's
//! labels, the query string and headers. Parsed here, before any logic runs, into a
//! [`RestCall`]; the api layer types and validates its members.

use bytes::Bytes;

/// Every Lambda path starts with the API version.
pub const LAMBDA_PREFIX: &str = "/2015-03-31/";

/// One parsed Lambda request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestCall {
    /// The operation, as the `operation` metric label names it.
    pub operation: &'static str,
    /// The `{FunctionName}` label, percent-decoded.
    pub function_name: Option<String>,
    /// The `{UUID}` label of an event source mapping, percent-decoded.
    pub uuid: Option<String>,
    /// The query string, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers the operations read (names lowercased).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RestCall {
    /// A call made inside sluice (the console), with no query, headers or body.
    pub fn internal(operation: &'static str) -> RestCall {
        RestCall {
            operation,
            function_name: None,
            uuid: None,
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The last value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The headers Lambda operations take (the model's `location: header` members).
pub const LAMBDA_HEADERS: &[&str] =
    &["x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context"];

/// What a method and path name: the operation and its path label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub operation: &'static str,
    /// `{FunctionName}`, percent-decoded.
    pub function_name: Option<String>,
    /// `{UUID}`, percent-decoded.
    pub uuid: Option<String>,
}

/// The operations whose input is a JSON body (the others take none, or Invoke's payload).
pub const JSON_BODY_OPERATIONS: &[&str] = &["CreateEventSourceMapping", "UpdateEventSourceMapping"];

/// The operation `method` and `path` name, with its label; `None` for a path or method
/// no operation sluice serves has. The model's URIs end event-source-mappings with a
/// slash; both forms are taken.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix(LAMBDA_PREFIX)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let function = |operation, name: &str| Route {
        operation,
        function_name: Some(percent_decode(name)),
        uuid: None,
    };
    let mapping = |operation, uuid: Option<&str>| Route {
        operation,
        function_name: None,
        uuid: uuid.map(percent_decode),
    };
    match (method, segments.as_slice()) {
        ("GET", ["functions"] | ["functions", ""]) => {
            Some(Route { operation: "ListFunctions", function_name: None, uuid: None })
        }
        ("GET", ["functions", name]) if !name.is_empty() => Some(function("GetFunction", name)),
        ("POST", ["functions", name, "invocations"]) if !name.is_empty() => {
            Some(function("Invoke", name))
        }
        ("POST", ["event-source-mappings"] | ["event-source-mappings", ""]) => {
            Some(mapping("CreateEventSourceMapping", None))
        }
        ("GET", ["event-source-mappings"] | ["event-source-mappings", ""]) => {
            Some(mapping("ListEventSourceMappings", None))
        }
        (_, ["event-source-mappings", uuid]) if !uuid.is_empty() => {
            let operation = match method {
                "GET" => "GetEventSourceMapping",
                "PUT" => "UpdateEventSourceMapping",
                "DELETE" => "DeleteEventSourceMapping",
                _ => return None,
            };
            Some(mapping(operation, Some(uuid)))
        }
        _ => None,
    }
}

/// `a=1&b=%3A` as pairs, percent-decoded (`+` is a space, as form encoding writes it).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Percent-decodes `s`; a stray `%` stays as it is, bytes that are not UTF-8 become U+FFFD
/// (which no Lambda name or parameter pattern accepts).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        let name = |n: &str| Some(n.to_string());
        type Case = (&'static str, &'static str, Option<(&'static str, Option<String>)>);
        let cases: [Case; 13] = [
            ("GET", "/2015-03-31/functions", Some(("ListFunctions", None))),
            ("GET", "/2015-03-31/functions/", Some(("ListFunctions", None))),
            ("GET", "/2015-03-31/functions/f", Some(("GetFunction", name("f")))),
            (
                "GET",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af",
                Some(("GetFunction", name("arn:aws:lambda:us-east-1:123456789012:function:f"))),
            ),
            ("POST", "/2015-03-31/functions/f/invocations", Some(("Invoke", name("f")))),
            (
                "POST",
                "/2015-03-31/functions/f%3A%24LATEST/invocations",
                Some(("Invoke", name("f:$LATEST"))),
            ),
            ("GET", "/2015-03-31/functions/f/invocations", None),
            ("POST", "/2015-03-31/functions/f", None),
            ("DELETE", "/2015-03-31/functions/f", None),
            ("POST", "/2015-03-31/functions//invocations", None),
            ("GET", "/2015-03-31/event-source-mappings/x/y", None),
            ("GET", "/2015-03-31/functions/f/extra", None),
            ("GET", "/2016-01-01/functions/", None),
        ];
        for (method, path, want) in cases {
            let got = route(method, path).map(|r| (r.operation, r.function_name));
            assert_eq!(got, want, "{method} {path}");
        }
        let uuid = "a1b2c3d4-0000-4000-8000-0123456789ab";
        let mappings = [
            ("POST", "/2015-03-31/event-source-mappings/", "CreateEventSourceMapping", None),
            ("POST", "/2015-03-31/event-source-mappings", "CreateEventSourceMapping", None),
            ("GET", "/2015-03-31/event-source-mappings/", "ListEventSourceMappings", None),
            ("GET", "/2015-03-31/event-source-mappings/U", "GetEventSourceMapping", Some("U")),
            ("PUT", "/2015-03-31/event-source-mappings/U", "UpdateEventSourceMapping", Some("U")),
            (
                "DELETE",
                "/2015-03-31/event-source-mappings/U",
                "DeleteEventSourceMapping",
                Some("U"),
            ),
        ];
        for (method, path, op, label) in mappings {
            let path = path.replace('U', uuid);
            let r = route(method, &path).unwrap();
            assert_eq!(
                (r.operation, r.uuid.as_deref()),
                (op, label.map(|_| uuid)),
                "{method} {path}"
            );
        }
        assert_eq!(route("PATCH", &format!("/2015-03-31/event-source-mappings/{uuid}")), None);
    }

    #[test]
    fn queries_and_escapes_decode() {
        assert_eq!(
            parse_query("MaxItems=5&Marker=a%3Ab&&Qualifier=%24LATEST&x"),
            [("MaxItems", "5"), ("Marker", "a:b"), ("Qualifier", "$LATEST"), ("x", "")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
