//! The suite's second mode: with `IT_AUTH_ENFORCE=1` every daemon the harness starts
//! enforces SigV4 with the key its SDK clients hold, and every raw request that carries
//! the harness's placeholder `AUTH` header is signed for real just before it is sent.
//! (Not a `SLUICE_` name: the daemons refuse `SLUICE_` variables they do not know.)
//!
//! Requests whose `Authorization` is anything else (a test of a malformed or missing
//! signature) are sent as written, in both modes.

use sluice::auth::verify::{canonical_path, canonical_query};
use sluice::engine::bridge::remote::sigv4::{self, Signer};

use crate::harness::AUTH;

/// The key the SDK clients sign with; configured in every daemon of the enforcing run.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "secret";

/// Whether this run enforces signatures (`IT_AUTH_ENFORCE=1`).
pub fn enforcing() -> bool {
    std::env::var("IT_AUTH_ENFORCE").is_ok_and(|v| v == "1")
}

/// The key the tests' daemons present to each other (a `[[bridge.remotes]]` entry).
pub const REMOTE_ACCESS_KEY_ID: &str = "AKIDREMOTE";
pub const REMOTE_SECRET_ACCESS_KEY: &str = "remote-secret";

/// `config_text` with the enforcing run's `[auth]` section added (the clients' key and
/// the one daemons present to each other), unless the test configures authentication
/// itself (then it is given as written).
pub fn daemon_config(config_text: &str) -> String {
    if !enforcing() || config_text.contains("[auth") {
        return config_text.to_string();
    }
    let mut text = format!("{config_text}\n[auth]\nenforce = true\n");
    for (id, secret) in
        [(ACCESS_KEY_ID, SECRET_ACCESS_KEY), (REMOTE_ACCESS_KEY_ID, REMOTE_SECRET_ACCESS_KEY)]
    {
        text.push_str(&format!(
            "[[auth.keys]]\naccess_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\n"
        ));
    }
    text
}

/// `(X-Amz-Date, Authorization)` for a request whose headers carry a placeholder, when
/// this run enforces; `None` otherwise (the request goes as written). `target` is routed
/// to its signing name; `headers` are every header sent (`host` included).
pub fn authorize(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<(String, String)> {
    let get = |name: &str| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    };
    if !enforcing() {
        return None;
    }
    let region = placeholder_region(get("authorization")?)?;
    let target = get("x-amz-target").unwrap_or_default();
    let service = if target.starts_with("Kinesis") {
        "kinesis"
    } else if target.is_empty() && path_and_query.starts_with("/20") {
        "lambda"
    } else {
        // DynamoDB and DynamoDB Streams sign as `dynamodb`; sluice's own endpoints take any.
        "dynamodb"
    };
    let date = sigv4::amz_date(sluice::clock::wall_micros() / 1000);
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut signed: Vec<(&str, &str)> = vec![("host", get("host")?), ("x-amz-date", &date)];
    for name in ["content-type", "x-amz-target"] {
        if let Some(value) = get(name) {
            signed.push((name, value));
        }
    }
    let (path, query) = (canonical_path(path), canonical_query(query, false));
    let request =
        sigv4::Request { method, path: &path, query: &query, headers: &signed, payload: body };
    let signer = Signer {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET_ACCESS_KEY,
        region,
        service,
    };
    let authorization = signer.authorization(&request, &date);
    Some((date, authorization))
}

/// The region of a placeholder signature: [`AUTH`], or it with another region in its
/// scope (a test of the region a request names).
fn placeholder_region(authorization: &str) -> Option<&str> {
    let (_, tail) = AUTH.split_once("/us-east-1/")?;
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/")?;
    let (region, rest) = rest.split_once('/')?;
    (rest == tail).then_some(region)
}

/// A hyper request whose head carries the placeholder, signed over `body` when this run
/// enforces (HTTP/2's authority stands for `Host`).
pub fn sign_hyper<B>(mut request: hyper::Request<B>, body: &[u8]) -> hyper::Request<B> {
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    if !headers.iter().any(|(n, _)| n == "host") {
        let authority = request.uri().authority().map(|a| a.to_string()).unwrap_or_default();
        headers.push(("host".into(), authority));
    }
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let method = request.method().as_str().to_string();
    if let Some((date, authorization)) = authorize(&method, &path, &headers, body) {
        let set = request.headers_mut();
        set.insert("x-amz-date", date.parse().expect("date header"));
        set.insert("authorization", authorization.parse().expect("authorization header"));
    }
    request
}

/// Raw HTTP/1.1 bytes, signed as [`authorize`] says (the placeholder `Authorization` line
/// and any `X-Amz-Date` line replaced); as written otherwise, or when the head does not
/// parse (a test of a malformed request).
pub fn sign_wire(wire: Vec<u8>) -> Vec<u8> {
    if !enforcing() {
        return wire;
    }
    let Some(split) = wire.windows(4).position(|w| w == b"\r\n\r\n") else { return wire };
    let Ok(head) = std::str::from_utf8(&wire[..split]) else { return wire };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path)) = (request_line.next(), request_line.next()) else {
        return wire;
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &wire[split + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = match chunked {
        true => crate::harness::dechunk(rest),
        false => {
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            rest[..length.min(rest.len())].to_vec()
        }
    };
    let Some((date, authorization)) = authorize(method, path, &headers, &body) else {
        return wire;
    };
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line.split_once(':').map(|(n, _)| n.trim().to_ascii_lowercase());
        match name.as_deref() {
            _ if i == 0 => out.push_str(line),
            Some("x-amz-date") => continue,
            Some("authorization") => {
                out.push_str(&format!("X-Amz-Date: {date}\r\nAuthorization: {authorization}"))
            }
            _ => out.push_str(line),
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut signed = out.into_bytes();
    signed.extend_from_slice(rest);
    signed
}

/// The `sluice_auth_denied_total` series of the daemon at `addr` that are not zero, one
/// per line (empty when it refused nothing, or when it cannot be asked).
pub fn denials(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let wire = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
    );
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return String::new() };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    if stream.write_all(&sign_wire(wire.into_bytes())).is_err() {
        return String::new();
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .lines()
        .filter(|l| l.starts_with("sluice_auth_denied_total{"))
        .filter(|l| l.rsplit(' ').next().is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v > 0.0)))
        .collect::<Vec<_>>()
        .join("\n")
}
