//! Signature Version 4 verification: the canonical request rebuilt from what arrived (the
//! path normalized and encoded again as every service but S3 signs it, the query sorted
//! and encoded, the signed headers trimmed and joined), signed with the configured key's
//! secret through the same signer sluice's own requests use, and compared in constant
//! time. The checks run in AWS's order: a signature at all, its form, the key, the date
//! and the clock skew, then the signature itself.

use hyper::HeaderMap;

use super::messages;
use super::{AuthError, Identity, Keys};
use crate::engine::bridge::remote::sigv4::{self, Signer};
use crate::engine::http_client::encode_segment;
use crate::protocol::auth::{Credential, percent_decode};

/// How far a request's date may be from the server's clock, either way (AWS: 5 minutes).
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// The longest `X-Amz-Expires` of a presigned request (7 days).
pub const MAX_EXPIRES_SECONDS: i64 = 604_800;

/// The payload hash a client may sign instead of the body's.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A request as it arrived, before its body was decoded.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// HTTP/2's `:authority`, which stands for the `Host` header there.
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
    /// The signing name the scope must carry (`dynamodb`, `kinesis`, `lambda`); `None`
    /// takes any (sluice's own endpoints).
    pub service: Option<&'a str>,
}

/// The caller of `request`, whose signature is `credential` (parsed by the protocol
/// layer), at `now_ms`.
pub fn verify(
    keys: &Keys,
    request: &Incoming<'_>,
    credential: &Credential,
    now_ms: i64,
) -> Result<Identity, AuthError> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let presigned = credential.presigned.as_ref();
    // The date signed: X-Amz-Date (query or header), else the Date header.
    let date = match presigned {
        Some(p) => p.date.clone().unwrap_or_default(),
        None => match header("x-amz-date") {
            Some(d) => d.to_string(),
            None => header("date").and_then(http_date_to_amz).unwrap_or_default(),
        },
    };
    let Some(signed_ms) = amz_date_millis(&date) else {
        return Err(AuthError::Incomplete(messages::bad_date(&date)));
    };
    let skew_ms = max_skew_ms(request.service);
    check_time(presigned.and_then(|p| p.expires.as_deref()), signed_ms, &date, now_ms, skew_ms)?;
    let signed_names: Vec<&str> = credential.signed_headers.split(';').collect();
    let host_signed =
        signed_names.iter().any(|n| n.eq_ignore_ascii_case("host") || *n == ":authority");
    if !host_signed {
        return Err(AuthError::InvalidSignature(messages::HOST_NOT_SIGNED.into()));
    }
    if credential.algorithm != "AWS4-HMAC-SHA256" {
        return Err(AuthError::Incomplete(messages::unsupported_algorithm(&credential.algorithm)));
    }
    let scope: Vec<&str> = credential.credential.split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = scope[..] else {
        return Err(AuthError::Incomplete(messages::bad_credential(&credential.credential)));
    };
    // The scope's pieces, each named when wrong (AWS words them all in one message).
    let mut wrong = String::new();
    if region.is_empty() {
        wrong.push_str(&messages::wrong_region(region));
    }
    if let Some(expected) = request.service
        && service != expected
    {
        wrong.push_str(&messages::wrong_service(expected));
    }
    if terminator != "aws4_request" {
        wrong.push_str(&messages::wrong_terminator(terminator));
    }
    if !date.starts_with(scope_date) || scope_date.len() != 8 {
        wrong.push_str(&messages::wrong_date(scope_date, &date));
    }
    if !wrong.is_empty() {
        return Err(AuthError::InvalidSignature(wrong));
    }
    let Some(key) = keys.get(access_key_id) else {
        return Err(AuthError::UnrecognizedClient);
    };

    let headers = signed_headers(request, &signed_names);
    let header_refs: Vec<(&str, &str)> =
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let path = canonical_path(request.path);
    let query = canonical_query(request.query.unwrap_or(""), presigned.is_some());
    let payload_hash = match header("x-amz-content-sha256") {
        Some(UNSIGNED_PAYLOAD) => UNSIGNED_PAYLOAD.to_string(),
        _ => sigv4::payload_hash(request.body),
    };
    let canonical = sigv4::Request {
        method: request.method,
        path: &path,
        query: &query,
        headers: &header_refs,
        payload: request.body,
    };
    let signer =
        Signer { access_key_id, secret_access_key: &key.secret_access_key, region, service };
    let signing_key = signer.signing_key(&date);
    let signed = signer.sign(&canonical, &date, &signing_key, &payload_hash);
    if !constant_time_eq(signed.signature.as_bytes(), credential.signature.as_bytes()) {
        let message = match request.service {
            Some("lambda") => messages::MISMATCH.to_string(),
            _ => messages::mismatch(&signed.canonical_request, &signed.string_to_sign),
        };
        return Err(AuthError::InvalidSignature(message));
    }
    let token = match presigned {
        Some(p) => p.security_token.as_deref(),
        None => header("x-amz-security-token"),
    };
    if token != key.session_token.as_deref() {
        return Err(AuthError::UnrecognizedClient);
    }
    // Temporary credentials: refused once past their expiry (config validation parsed it).
    if let Some(expires_ms) = key.expiration.as_deref().and_then(expiration_millis)
        && now_ms >= expires_ms
    {
        return Err(AuthError::ExpiredToken);
    }
    Ok(Identity { access_key_id: access_key_id.to_string() })
}

/// How far a request's date may be from sluice's clock: 15 minutes for DynamoDB (and its
/// streams), 5 for Kinesis, Lambda and sluice's own endpoints, as AWS answers.
fn max_skew_ms(service: Option<&str>) -> i64 {
    match service {
        Some("dynamodb") => 15 * 60 * 1000,
        _ => MAX_SKEW_MS,
    }
}

/// The clock skew rule, or a presigned request's own expiry.
fn check_time(
    expires: Option<&str>,
    signed_ms: i64,
    date: &str,
    now_ms: i64,
    skew_ms: i64,
) -> Result<(), AuthError> {
    let now = sigv4::amz_date(now_ms);
    let minutes = skew_ms / 60_000;
    if signed_ms > now_ms + skew_ms {
        let latest = sigv4::amz_date(now_ms + skew_ms);
        return Err(AuthError::InvalidSignature(messages::not_yet_current(
            date, &latest, &now, minutes,
        )));
    }
    let valid_ms = match expires {
        Some(e) => match e.parse::<i64>() {
            Ok(s) if (1..=MAX_EXPIRES_SECONDS).contains(&s) => s * 1000,
            _ => {
                return Err(AuthError::Incomplete(format!(
                    "X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECONDS} seconds, not '{e}'."
                )));
            }
        },
        None => skew_ms,
    };
    if signed_ms + valid_ms < now_ms {
        let earliest = sigv4::amz_date(now_ms - valid_ms);
        let minutes = valid_ms / 60_000;
        return Err(AuthError::InvalidSignature(messages::expired(date, &earliest, &now, minutes)));
    }
    Ok(())
}

/// `(name, value)` for each signed header as it arrived, every occurrence of a repeated
/// one; the `Host` of an HTTP/2 request is its `:authority`.
fn signed_headers(request: &Incoming<'_>, names: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in names {
        let name = name.to_ascii_lowercase();
        // A pseudo-header name is no header name: looked up as none.
        let found: Vec<&hyper::header::HeaderValue> = match name.starts_with(':') {
            true => Vec::new(),
            false => request.headers.get_all(name.as_str()).iter().collect(),
        };
        if found.is_empty() {
            // HTTP/2's `:authority` stands for `Host`, and the JS SDK v3 signs
            // `:authority` by that name even over HTTP/1.1.
            let host = request.headers.get("host").and_then(|v| v.to_str().ok());
            let value = match (name.as_str(), request.authority.or(host)) {
                ("host" | ":authority", Some(authority)) => authority.to_string(),
                _ => String::new(),
            };
            out.push((name, value));
            continue;
        }
        for value in found {
            out.push((name.clone(), String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
    }
    out
}

/// The path as every service but S3 signs it: dot segments and empty segments removed,
/// then each segment (still percent-encoded as sent) encoded once more.
pub fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.len() > 1 && path.ends_with('/') && !segments.is_empty();
    let mut out = String::with_capacity(path.len() + 8);
    for s in &segments {
        out.push('/');
        out.push_str(&encode_segment(s));
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The query as SigV4 signs it: each name and value decoded and encoded again (only
/// unreserved characters left as they are), sorted by name, then value; a presigned
/// request's own signature left out.
pub fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(k, _)| !(presigned && *k == "X-Amz-Signature"))
        .map(|(k, v)| (encode_segment(&percent_decode(k)), encode_segment(&percent_decode(v))))
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// `YYYYMMDDTHHMMSSZ` as epoch milliseconds.
pub fn amz_date_millis(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = date.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000)
}

/// An expiry as STS writes one (`2026-12-31T23:59:59Z`, or `+00:00` for `Z`), as epoch
/// milliseconds.
pub fn expiration_millis(text: &str) -> Option<i64> {
    let utc = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00"))?;
    let b = utc.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    amz_date_millis(&format!("{}Z", utc.replace(['-', ':'], "")))
}

/// An RFC 7231 date (`Sun, 06 Nov 1994 08:49:37 GMT`) as `YYYYMMDDTHHMMSSZ`.
fn http_date_to_amz(date: &str) -> Option<String> {
    let parts: Vec<&str> = date.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else { return None };
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let time = time.replace(':', "");
    let out = format!("{year:0>4}{month:02}{day:0>2}T{time}Z");
    amz_date_millis(&out).map(|_| out)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Equal, in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
