//! Verification against AWS's published SigV4 test suite (credentials `AKIDEXAMPLE`,
//! 2015-08-30T12:36:00Z, us-east-1, service `service`) and AWS's refusals.

use hyper::HeaderMap;

use super::*;
use crate::config::{AuthConfig, AuthKey};
use crate::protocol::auth::{parse_authorization, parse_presigned};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const WHEN: &str = "20150830T123600Z";

fn keys(token: Option<&str>) -> Keys {
    Keys::new(&AuthConfig {
        enforce: true,
        keys: vec![AuthKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(str::to_string),
            policy: None,
            expiration: None,
            account_id: None,
        }],
    })
}

fn now() -> i64 {
    amz_date_millis(WHEN).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in pairs {
        map.append(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    map
}

/// Verifies a suite request: `(method, path, query)`, headers, body, `Authorization`.
fn check(
    keys: &Keys,
    (method, path, query): (&str, &str, Option<&str>),
    pairs: &[(&str, &str)],
    body: &[u8],
    now_ms: i64,
) -> Result<Identity, AuthError> {
    let headers = headers(pairs);
    let request = Incoming {
        method,
        path,
        query,
        headers: &headers,
        authority: None,
        body,
        service: Some("service"),
    };
    let credential = match query.and_then(parse_presigned) {
        Some(c) => c,
        None => {
            parse_authorization(headers.get("authorization").and_then(|v| v.to_str().ok()), true)
                .map_err(|e| AuthError::Incomplete(e.to_string()))?
        }
    };
    verify(keys, &request, &credential, now_ms)
}

fn authz(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

const GET_VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

#[test]
fn the_suites_requests_verify() {
    let k = keys(None);
    let vanilla = authz("host;x-amz-date", GET_VANILLA);
    let h = [("host", "example.amazonaws.com"), ("x-amz-date", WHEN), ("authorization", &vanilla)];
    let who = check(&k, ("GET", "/", None), &h, b"", now()).unwrap();
    assert_eq!(who.access_key_id, "AKIDEXAMPLE");
    // post-x-www-form-urlencoded: a signed content type and a body.
    let post = authz(
        "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    );
    let h = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", "example.amazonaws.com"),
        ("x-amz-date", WHEN),
        ("authorization", &post),
    ];
    check(&k, ("POST", "/", None), &h, b"Param1=value1", now()).unwrap();
    // The same request with a path the suite normalizes to `/` (get-slash-dot-slash,
    // get-relative-relative): dot segments and empty segments do not count.
    let h = [("host", "example.amazonaws.com"), ("x-amz-date", WHEN), ("authorization", &vanilla)];
    for path in ["/./", "//", "/example/..", "/example1/example2/../.."] {
        check(&k, ("GET", path, None), &h, b"", now()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    // HTTP/2 has no Host header: its :authority stands for it.
    let h2 = headers(&[("x-amz-date", WHEN)]);
    let request = Incoming {
        method: "GET",
        path: "/",
        query: None,
        headers: &h2,
        authority: Some("example.amazonaws.com"),
        body: b"",
        service: None,
    };
    let credential = parse_authorization(Some(&vanilla), true).unwrap();
    verify(&k, &request, &credential, now()).unwrap();
}

#[test]
fn canonical_forms_follow_the_suite() {
    assert_eq!(canonical_path("/"), "/");
    assert_eq!(canonical_path("//example//"), "/example/");
    assert_eq!(canonical_path("/example/../"), "/");
    // Every service but S3 encodes the (already encoded) path once more.
    assert_eq!(
        canonical_path("/2015-03-31/functions/arn%3Aaws%3Alambda%3Af/invocations"),
        "/2015-03-31/functions/arn%253Aaws%253Alambda%253Af/invocations"
    );
    assert_eq!(canonical_path("/-._~0123456789"), "/-._~0123456789");
    // get-vanilla-query-order-key-case, -unreserved, -utf8, and empty values.
    assert_eq!(
        canonical_query("Param2=value2&Param1=value1", false),
        "Param1=value1&Param2=value2"
    );
    assert_eq!(
        canonical_query("Param1=value2&Param1=Value1", false),
        "Param1=Value1&Param1=value2"
    );
    assert_eq!(canonical_query("%E1%88%B4=bar", false), "%E1%88%B4=bar");
    assert_eq!(canonical_query("b&a=", false), "a=&b=");
    assert_eq!(canonical_query("a=1&X-Amz-Signature=x", true), "a=1");
    assert_eq!(canonical_query("a=b c", false), "a=b%20c");
    assert_eq!(amz_date_millis("20150830T123600Z"), Some(1_440_938_160_000));
    assert_eq!(amz_date_millis("2015-08-30T12:36:00Z"), None);
    assert_eq!(http_date_to_amz("Sun, 30 Aug 2015 12:36:00 GMT").as_deref(), Some(WHEN));
}

#[test]
fn refusals_name_what_is_wrong_in_awss_words() {
    let k = keys(None);
    let vanilla = authz("host;x-amz-date", GET_VANILLA);
    let base = [("host", "example.amazonaws.com"), ("x-amz-date", WHEN)];
    let with = |auth: &str| {
        let mut h = base.to_vec();
        h.push(("authorization", auth));
        h.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>()
    };
    let run = |pairs: Vec<(String, String)>, now_ms: i64| {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        check(&k, ("GET", "/", None), &refs, b"", now_ms)
    };

    // A wrong signature: AWS's message, with what it computed.
    let wrong = authz("host;x-amz-date", &"0".repeat(64));
    let Err(AuthError::InvalidSignature(m)) = run(with(&wrong), now()) else { panic!() };
    assert!(m.starts_with("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."), "{m}");
    assert!(m.contains("'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'"), "{m}");
    assert!(
        m.contains(
            "'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        ),
        "{m}"
    );

    // A key nobody configured, or the right key with another secret.
    let other = vanilla.replace("AKIDEXAMPLE", "AKIDOTHER");
    assert_eq!(run(with(&other), now()), Err(AuthError::UnrecognizedClient));
    let k2 = Keys::new(&AuthConfig {
        enforce: true,
        keys: vec![AuthKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "another".into(),
            session_token: None,
            policy: None,
            expiration: None,
            account_id: None,
        }],
    });
    let h = with(&vanilla);
    let refs: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert!(matches!(
        check(&k2, ("GET", "/", None), &refs, b"", now()),
        Err(AuthError::InvalidSignature(_))
    ));

    // Five minutes either way, then refused with both times named.
    let minute = 60_000;
    run(with(&vanilla), now() + 5 * minute).unwrap();
    run(with(&vanilla), now() - 5 * minute).unwrap();
    assert_eq!(
        run(with(&vanilla), now() + 5 * minute + 1000),
        Err(AuthError::InvalidSignature(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)".into()
        ))
    );
    assert_eq!(
        run(with(&vanilla), now() - 5 * minute - 1000),
        Err(AuthError::InvalidSignature(
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)".into()
        ))
    );

    // The scope's service and date must be the request's; Host must be signed.
    let foreign = vanilla.replace("/service/", "/kinesis/");
    let Err(AuthError::InvalidSignature(m)) = run(with(&foreign), now()) else { panic!() };
    assert_eq!(m, "Credential should be scoped to correct service: 'service'. ");
    let yesterday = vanilla.replace("/20150830/", "/20150829/");
    let Err(AuthError::InvalidSignature(m)) = run(with(&yesterday), now()) else { panic!() };
    assert!(m.starts_with("Date in Credential scope does not match"), "{m}");
    let unsigned_host = authz("x-amz-date", GET_VANILLA);
    assert_eq!(
        run(with(&unsigned_host), now()),
        Err(AuthError::InvalidSignature(messages::HOST_NOT_SIGNED.into()))
    );
    let short = vanilla.replace("/us-east-1/service/aws4_request", "/us-east-1");
    assert!(matches!(run(with(&short), now()), Err(AuthError::Incomplete(_))));
    let v2 = vanilla.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
    assert_eq!(
        run(with(&v2), now()),
        Err(AuthError::Incomplete(
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). "
                .into()
        ))
    );
}

#[test]
fn session_tokens_must_be_the_keys() {
    // get-vanilla-with-session-token's request, signed with the token as a header.
    let signed = |token: Option<&str>| {
        let mut h = vec![("host", "example.amazonaws.com"), ("x-amz-date", WHEN)];
        if let Some(t) = token {
            h.push(("x-amz-security-token", t));
        }
        let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: SECRET,
            region: "us-east-1",
            service: "service",
        };
        let request =
            sigv4::Request { method: "GET", path: "/", query: "", headers: &h, payload: b"" };
        let auth = signer.authorization(&request, WHEN);
        let mut out: Vec<(String, String)> =
            h.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        out.push(("authorization".into(), auth));
        let _ = names;
        out
    };
    let run = |k: &Keys, pairs: Vec<(String, String)>| {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        check(k, ("GET", "/", None), &refs, b"", now())
    };
    let with_token = keys(Some("token-1"));
    run(&with_token, signed(Some("token-1"))).unwrap();
    assert_eq!(run(&with_token, signed(Some("token-2"))), Err(AuthError::UnrecognizedClient));
    assert_eq!(run(&with_token, signed(None)), Err(AuthError::UnrecognizedClient));
    assert_eq!(run(&keys(None), signed(Some("token-1"))), Err(AuthError::UnrecognizedClient));
    run(&keys(None), signed(None)).unwrap();

    // Temporary credentials with an expiry: good until it, ExpiredTokenException from it
    // on (WHEN is 2015-08-30T12:36:00Z); a wrong token is still an unknown client.
    let expiring = |at: &str| {
        Keys::new(&AuthConfig {
            enforce: true,
            keys: vec![AuthKey {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: SECRET.into(),
                session_token: Some("token-1".into()),
                policy: None,
                expiration: Some(at.into()),
                account_id: None,
            }],
        })
    };
    run(&expiring("2015-08-30T12:36:01Z"), signed(Some("token-1"))).unwrap();
    let expired = expiring("2015-08-30T12:36:00+00:00");
    assert_eq!(run(&expired, signed(Some("token-1"))), Err(AuthError::ExpiredToken));
    assert_eq!(run(&expired, signed(Some("token-2"))), Err(AuthError::UnrecognizedClient));
}

#[test]
fn expirations_are_read_as_sts_writes_them() {
    let at = amz_date_millis("20261231T235959Z");
    assert_eq!(expiration_millis("2026-12-31T23:59:59Z"), at);
    assert_eq!(expiration_millis("2026-12-31T23:59:59+00:00"), at);
    for bad in ["2026-12-31 23:59:59Z", "2026-12-31T23:59:59+01:00", "2026-13-01T00:00:00Z", ""] {
        assert_eq!(expiration_millis(bad), None, "{bad}");
    }
}

#[test]
fn presigned_queries_verify_until_they_expire() {
    let signer = Signer {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        region: "us-east-1",
        service: "service",
    };
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date={WHEN}&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
    );
    let h = [("host", "example.amazonaws.com")];
    let canonical = sigv4::Request {
        method: "GET",
        path: "/",
        query: &canonical_query(&query, true),
        headers: &h,
        payload: b"",
    };
    let key = signer.signing_key(WHEN);
    let signature = signer.sign(&canonical, WHEN, &key, &sigv4::payload_hash(b"")).signature;
    let full = format!("{query}&X-Amz-Signature={signature}");
    let k = keys(None);
    check(&k, ("GET", "/", Some(&full)), &h, b"", now()).unwrap();
    check(&k, ("GET", "/", Some(&full)), &h, b"", now() + 60_000).unwrap();
    assert!(matches!(
        check(&k, ("GET", "/", Some(&full)), &h, b"", now() + 61_000),
        Err(AuthError::InvalidSignature(m)) if m.starts_with("Signature expired")
    ));
    let tampered = full.replace("X-Amz-Expires=60", "X-Amz-Expires=600");
    assert!(matches!(
        check(&k, ("GET", "/", Some(&tampered)), &h, b"", now()),
        Err(AuthError::InvalidSignature(_))
    ));
}

/// The SigV4 test suite AWS publishes (the CRT's, shipped in the `aws-sigv4` crate the SDK
/// dev-dependencies bring into the cargo registry): every signed request of every case,
/// header and query forms, must verify at the case's time with its credentials.
#[test]
fn the_published_test_suite_verifies() {
    let Some(suite) = suite_dir() else {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("REQUIRE_AWSLAMBDARIC").is_some();
        assert!(!required, "the aws-sigv4 crate's test suite is not in the cargo registry");
        eprintln!(
            "*** NOT RUN: the aws-sigv4 crate's SigV4 test suite is not in the cargo registry ***"
        );
        return;
    };
    // Cases a server cannot receive as written (a raw space or a folded header line in the
    // request), or that expect the path encoded once (S3's rule; the crate skips them too).
    let unreceivable = [
        "get-space-normalized",
        "get-space-unnormalized",
        "get-utf8",
        "get-header-value-multiline",
    ];
    let mut verified = 0;
    for case in std::fs::read_dir(&suite).unwrap().filter_map(Result::ok) {
        let name = case.file_name().to_string_lossy().to_string();
        let Ok(context) = std::fs::read_to_string(case.path().join("context.json")) else {
            continue;
        };
        let context: serde_json::Value = serde_json::from_str(&context).unwrap();
        if unreceivable.contains(&name.as_str()) || context["normalize"] == false {
            continue;
        }
        let c = &context["credentials"];
        let keys = Keys::new(&AuthConfig {
            enforce: true,
            keys: vec![AuthKey {
                access_key_id: c["access_key_id"].as_str().unwrap().into(),
                secret_access_key: c["secret_access_key"].as_str().unwrap().into(),
                session_token: c["token"].as_str().map(str::to_string),
                policy: None,
                expiration: None,
                account_id: None,
            }],
        });
        let when = context["timestamp"].as_str().unwrap().replace(['-', ':'], "");
        let now = amz_date_millis(&when).unwrap();
        let service = context["service"].as_str().unwrap();
        for form in ["header", "query"] {
            // A token added to the query after signing (IoT's custom) is not SigV4's rule.
            if form == "query" && context["omit_session_token"] == true {
                continue;
            }
            let Ok(text) =
                std::fs::read_to_string(case.path().join(format!("{form}-signed-request.txt")))
            else {
                continue;
            };
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut lines = head.lines();
            let line = lines.next().unwrap();
            let (method, rest) = line.split_once(' ').unwrap();
            let target = rest.rsplit_once(' ').map_or(rest, |(t, _)| t);
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (target, None),
            };
            let mut map = HeaderMap::new();
            for l in lines {
                let (n, v) = l.split_once(':').unwrap();
                map.append(
                    hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    hyper::header::HeaderValue::from_str(v).unwrap(),
                );
            }
            let request = Incoming {
                method,
                path,
                query,
                headers: &map,
                authority: None,
                body: body.as_bytes(),
                service: Some(service),
            };
            let credential = match query.and_then(parse_presigned) {
                Some(c) => c,
                None => parse_authorization(
                    map.get("authorization").and_then(|v| v.to_str().ok()),
                    true,
                )
                .unwrap_or_else(|e| panic!("{name} ({form}): {e}")),
            };
            verify(&keys, &request, &credential, now)
                .unwrap_or_else(|e| panic!("{name} ({form}): {e}"));
            verified += 1;
        }
    }
    assert!(verified >= 40, "only {verified} signed requests found in {suite:?}");
}

/// `<cargo home>/registry/src/<index>/aws-sigv4-<version>/aws-signing-test-suite/v4`.
fn suite_dir() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))?;
    let src = home.join("registry").join("src");
    for index in std::fs::read_dir(src).ok()?.filter_map(Result::ok) {
        let mut crates: Vec<_> = std::fs::read_dir(index.path())
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("aws-sigv4-1."))
            })
            .collect();
        crates.sort();
        if let Some(dir) =
            crates.iter().rev().map(|c| c.join("aws-signing-test-suite/v4")).find(|d| d.is_dir())
        {
            return Some(dir);
        }
    }
    None
}

#[test]
fn unsigned_payloads_verify_and_s3s_streaming_payloads_do_not() {
    let k = keys(None);
    let signer = Signer {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        region: "us-east-1",
        service: "service",
    };
    let body = b"{\"TableName\":\"t\"}";
    let run = |claimed: &str| {
        let h = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", WHEN),
            ("x-amz-content-sha256", claimed),
        ];
        let request =
            sigv4::Request { method: "POST", path: "/", query: "", headers: &h, payload: body };
        let signed = signer.sign(&request, WHEN, &signer.signing_key(WHEN), claimed);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}, SignedHeaders={}, Signature={}",
            signed.scope, signed.signed_headers, signed.signature
        );
        let mut pairs = h.to_vec();
        pairs.push(("authorization", &auth));
        check(&k, ("POST", "/", None), &pairs, body, now())
    };
    run("UNSIGNED-PAYLOAD").unwrap();
    // The body is hashed whole: a client signing S3's chunk-by-chunk form does not match.
    assert!(matches!(
        run("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        Err(AuthError::InvalidSignature(_))
    ));
}
