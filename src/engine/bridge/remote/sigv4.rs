//! AWS Signature Version 4, as the bridge signs its PutRecords calls to a remote Kinesis
//! endpoint: canonical request, string to sign, derived signing key, `Authorization`
//! header. Only what a POST with a body and a handful of plain headers needs: the path is
//! given already canonical and there is no query string to normalize.
//!
//! Checked against AWS's published SigV4 test suite ("get-vanilla",
//! "post-x-www-form-urlencoded") and against botocore's signer on a Kinesis request.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::engine::streams::civil_from_days;

type HmacSha256 = Hmac<Sha256>;

/// Who signs, for which region and service.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The parts of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Already URI-encoded, e.g. `/`.
    pub path: &'a str,
    /// Already canonical (sorted, encoded); empty for none.
    pub query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included; any case, any order.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// `YYYYMMDDTHHMMSSZ` (UTC) for epoch milliseconds `ms`: the `X-Amz-Date` header.
pub fn amz_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    if !(0..=9999).contains(&y) {
        // A clock far outside ours: as `format!` writes it, not four wrong digits.
        return format!(
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
    }
    let mut out = String::with_capacity(16);
    // Written digit by digit: this runs for every signed request.
    let digits = |out: &mut String, n: i64, width: u32| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10_i64.pow(i) % 10) as u8));
        }
    };
    digits(&mut out, y, 4);
    digits(&mut out, i64::from(m), 2);
    digits(&mut out, i64::from(d), 2);
    out.push('T');
    digits(&mut out, rem / 3600, 2);
    digits(&mut out, rem % 3600 / 60, 2);
    digits(&mut out, rem % 60, 2);
    out.push('Z');
    out
}

fn sha256_hex(data: &[u8]) -> String {
    crate::hex::lower(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; were it to, the signature
    // would be refused by the remote and the call retried, never a crash.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return Vec::new() };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

impl Signer<'_> {
    /// The `Authorization` header value for `request`, sent with `X-Amz-Date: amz_date`.
    pub fn authorization(&self, request: &Request<'_>, amz_date: &str) -> String {
        let key = self.signing_key(amz_date);
        self.authorization_with_key(request, amz_date, &key)
    }

    /// The key derived from the secret for the day of `amz_date`: the same all day, so a
    /// signer of many requests derives it once a day.
    pub fn signing_key(&self, amz_date: &str) -> Vec<u8> {
        let date = amz_date.get(..8).unwrap_or(amz_date);
        [date, self.region, self.service, "aws4_request"]
            .iter()
            .fold(format!("AWS4{}", self.secret_access_key).into_bytes(), |key, part| {
                hmac(&key, part.as_bytes())
            })
    }

    /// [`Signer::authorization`] with the day's key already derived.
    pub fn authorization_with_key(
        &self,
        request: &Request<'_>,
        amz_date: &str,
        key: &[u8],
    ) -> String {
        let signed = self.sign(request, amz_date, key, &sha256_hex(request.payload));
        let mut out = String::with_capacity(
            64 + self.access_key_id.len() + signed.scope.len() + signed.signed_headers.len(),
        );
        for part in [
            "AWS4-HMAC-SHA256 Credential=",
            self.access_key_id,
            "/",
            &signed.scope,
            ", SignedHeaders=",
            &signed.signed_headers,
            ", Signature=",
            &signed.signature,
        ] {
            out.push_str(part);
        }
        out
    }

    /// Signs `request` whose payload hashes to `payload_hash` (the hex SHA-256 of its
    /// body, or a placeholder such as `UNSIGNED-PAYLOAD`), with every step kept: a
    /// verifier shows the canonical request and string to sign of a mismatch. Built with
    /// `push_str` into buffers sized once (`format!` here was most of an invocation's
    /// signing time).
    pub fn sign(
        &self,
        request: &Request<'_>,
        amz_date: &str,
        key: &[u8],
        payload_hash: &str,
    ) -> Signed {
        let date = amz_date.get(..8).unwrap_or(amz_date);
        let scope = concat(&[date, "/", self.region, "/", self.service, "/aws4_request"]);
        let (canonical_headers, signed_headers) = canonical_headers(request.headers);
        let canonical_request = concat(&[
            request.method,
            "\n",
            request.path,
            "\n",
            request.query,
            "\n",
            &canonical_headers,
            "\n",
            &signed_headers,
            "\n",
            payload_hash,
        ]);
        let mut string_to_sign = concat(&["AWS4-HMAC-SHA256\n", amz_date, "\n", &scope, "\n"]);
        string_to_sign.reserve(64);
        crate::hex::push_lower(&mut string_to_sign, &Sha256::digest(canonical_request.as_bytes()));
        let signature = crate::hex::lower(&hmac(key, string_to_sign.as_bytes()));
        Signed { scope, signed_headers, canonical_request, string_to_sign, signature }
    }
}

/// `parts` joined, in one allocation.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// A signature and the steps that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `date/region/service/aws4_request`.
    pub scope: String,
    /// `name;name`, lowercased and sorted.
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    /// Lowercase hex.
    pub signature: String,
}

/// The lowercase hex SHA-256 of `data` (a payload hash).
pub fn payload_hash(data: &[u8]) -> String {
    sha256_hex(data)
}

/// The headers of an awsJson POST to `/` as the SDKs send it, signed: `content-type`,
/// `host`, `x-amz-date`, `x-amz-target`, then the `authorization` covering the first four
/// and `payload`. `epoch_ms` is the signing time.
pub fn signed_json_post(
    signer: &Signer<'_>,
    host: &str,
    content_type: &str,
    target: &str,
    payload: &[u8],
    epoch_ms: i64,
) -> [(&'static str, String); 5] {
    let date = amz_date(epoch_ms);
    let headers = [
        ("content-type", content_type),
        ("host", host),
        ("x-amz-date", date.as_str()),
        ("x-amz-target", target),
    ];
    let request = Request { method: "POST", path: "/", query: "", headers: &headers, payload };
    let authorization = signer.authorization(&request, &date);
    [
        ("content-type", content_type.to_string()),
        ("host", host.to_string()),
        ("x-amz-date", date.clone()),
        ("x-amz-target", target.to_string()),
        ("authorization", authorization),
    ]
}

/// (`name:value\n` lines, `name;name` list): names lowercased and sorted, values trimmed
/// with inner runs of spaces collapsed, repeated names joined with commas.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut sorted: Vec<(String, &str)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        sorted.push((name.to_ascii_lowercase(), value));
    }
    // Stable: a repeated name's values keep the order they were given in.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines =
        String::with_capacity(sorted.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>());
    let mut names = String::new();
    let mut last: Option<&str> = None;
    for (name, value) in &sorted {
        if last == Some(name.as_str()) {
            // A repeated name: its values join the previous line.
            lines.pop();
            lines.push(',');
        } else {
            if last.is_some() {
                names.push(';');
            }
            names.push_str(name);
            lines.push_str(name);
            lines.push(':');
        }
        // Runs of spaces collapse to one, and the value is trimmed.
        for (i, word) in value.split_whitespace().enumerate() {
            if i > 0 {
                lines.push(' ');
            }
            lines.push_str(word);
        }
        lines.push('\n');
        last = Some(name);
    }
    (lines, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS SigV4 test suite's credentials, region, service and time.
    const SUITE: Signer<'static> = Signer {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
    };
    const WHEN: &str = "20150830T123600Z";

    #[test]
    fn get_vanilla() {
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", WHEN)];
        let request =
            Request { method: "GET", path: "/", query: "", headers: &headers, payload: b"" };
        assert_eq!(
            SUITE.authorization(&request, WHEN),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", WHEN),
        ];
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: b"Param1=value1",
        };
        assert_eq!(
            SUITE.authorization(&request, WHEN),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    /// A Kinesis PutRecords as the bridge sends it; the expected value is botocore's
    /// `SigV4Auth` on the same inputs (botocore 1.43, time pinned).
    #[test]
    fn kinesis_put_records_matches_botocore() {
        let signer = Signer { region: "eu-west-1", service: "kinesis", ..SUITE };
        let when = amz_date(1_772_355_907_000);
        assert_eq!(when, "20260301T090507Z");
        // Unordered, mixed-case names and padded values sign like their canonical form.
        let headers = [
            ("X-Amz-Target", "Kinesis_20131202.PutRecords"),
            ("content-type", "  application/x-amz-json-1.1 "),
            ("Host", "127.0.0.1:4567"),
            ("X-Amz-Date", when.as_str()),
        ];
        let body = br#"{"StreamARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/feed","Records":[{"Data":"eyJhIjoxfQ==","PartitionKey":"0AB18464EFEE6043E48DD4475DABA453"}]}"#;
        let request =
            Request { method: "POST", path: "/", query: "", headers: &headers, payload: body };
        assert_eq!(
            signer.authorization(&request, &when),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260301/eu-west-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=b6b1f8fc0b924580b9b88a27c7d3edc2c16d3860d5ee12ae8a7df5e56f7b91f0"
        );
    }

    #[test]
    fn canonical_headers_join_repeats_and_collapse_spaces() {
        let (lines, names) =
            canonical_headers(&[("B", "x   y"), ("a", "1"), ("b", " z "), ("A", "2")]);
        assert_eq!(lines, "a:1,2\nb:x y,z\n");
        assert_eq!(names, "a;b");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_796_605_323_999), "20261207T010203Z");
        // Outside four-digit years: what `format!` wrote, and no overflow.
        assert_eq!(amz_date(-62_198_755_200_000), "-0010101T000000Z");
        assert_eq!(amz_date(253_402_300_800_000), "100000101T000000Z");
    }
}
