//! AWS's words for refused signatures (sources in docs/security.md), in one place.

/// UnrecognizedClientException: an access key (or session token) AWS does not know.
pub const UNRECOGNIZED_CLIENT: &str = "The security token included in the request is invalid.";

/// ExpiredTokenException: temporary credentials past their expiry (no final period, as
/// DynamoDB's captured answer has none).
pub const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

/// InvalidSignatureException: the signature does not match.
pub const MISMATCH: &str = "The request signature we calculated does not match the signature \
    you provided. Check your AWS Secret Access Key and signing method. Consult the service \
    documentation for details.";

/// [`MISMATCH`] followed by the canonical request and string to sign sluice computed, as
/// DynamoDB and Kinesis answer (Lambda answers the sentence alone), so a client can see
/// what differed.
pub fn mismatch(canonical_request: &str, string_to_sign: &str) -> String {
    format!(
        "{MISMATCH}\n\nThe Canonical String for this request should have been\n\
         '{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )
}

/// InvalidSignatureException: signed more than `minutes` before `now`.
pub fn expired(signed: &str, earliest: &str, now: &str, minutes: i64) -> String {
    format!("Signature expired: {signed} is now earlier than {earliest} ({now} - {minutes} min.)")
}

/// InvalidSignatureException: signed more than `minutes` after `now`.
pub fn not_yet_current(signed: &str, latest: &str, now: &str, minutes: i64) -> String {
    format!(
        "Signature not yet current: {signed} is still later than {latest} ({now} + {minutes} min.)"
    )
}

/// IncompleteSignatureException: a credential that is not five pieces.
pub fn bad_credential(credential: &str) -> String {
    format!(
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got '{credential}'"
    )
}

/// InvalidSignatureException (with the other scope pieces that are wrong).
pub fn wrong_region(region: &str) -> String {
    format!("Credential should be scoped to a valid region, not '{region}'. ")
}

/// ... a scope not ending in `aws4_request`.
pub fn wrong_terminator(terminator: &str) -> String {
    format!(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    )
}

/// The credential scope names another service than the one called.
pub fn wrong_service(expected: &str) -> String {
    format!("Credential should be scoped to correct service: '{expected}'. ")
}

/// The credential scope's date is not the request's.
pub fn wrong_date(scope_date: &str, date: &str) -> String {
    let day = date.get(..8).unwrap_or(date);
    format!(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope_date}' != '{day}', from '{date}'."
    )
}

/// IncompleteSignatureException: an algorithm other than SigV4's.
pub fn unsupported_algorithm(algorithm: &str) -> String {
    format!("Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). ")
}

/// The `Host` header is not signed.
pub const HOST_NOT_SIGNED: &str = "'Host' must be a 'SignedHeader' in the AWS Authorization.";

/// IncompleteSignatureException: a date header that is not a date.
pub fn bad_date(date: &str) -> String {
    format!(
        "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )
}
