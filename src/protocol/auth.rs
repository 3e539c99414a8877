//! SigV4 `Authorization` header and presigned query parsing: the header must be well
//! formed, and its credential scope gives the request's region. Whether the signature is
//! right is `crate::auth`'s question (with `auth.enforce`; without it any credentials
//! work, as in every emulator).

use super::ProtocolError;

/// What the `Authorization` header tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub region: Option<String>,
    /// The whole credential: `<key>/<date>/<region>/<service>/aws4_request`.
    pub credential: String,
    /// `AWS4-HMAC-SHA256`, as given.
    pub algorithm: String,
    pub signed_headers: String,
    pub signature: String,
    /// The presigned query form's own fields (`X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-Security-Token`); `None` for the header form.
    pub presigned: Option<Presigned>,
}

/// What a presigned query carries beside the signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presigned {
    pub date: Option<String>,
    pub expires: Option<String>,
    pub security_token: Option<String>,
}

/// Checks the header as AWS's front end does, in its order, with its messages.
pub fn parse_authorization(
    header: Option<&str>,
    has_date: bool,
) -> Result<Credential, ProtocolError> {
    let Some(auth) = header.map(str::trim).filter(|a| a.starts_with("AWS4-")) else {
        return Err(ProtocolError::MissingAuthenticationToken);
    };
    let params = auth.split_once(' ').map(|(_, rest)| rest).unwrap_or("");
    let mut credential = None;
    let mut signature = None;
    let mut signed_headers = None;
    for pair in params.split(',') {
        if let Some((key, value)) = pair.trim().split_once('=') {
            match key.trim() {
                "Credential" => credential = Some(value.trim()),
                "Signature" => signature = Some(value.trim()),
                "SignedHeaders" => signed_headers = Some(value.trim()),
                _ => {}
            }
        }
    }
    let mut missing = String::new();
    for (name, value) in
        [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed_headers)]
    {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if !has_date {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        return Err(ProtocolError::IncompleteSignature(format!("{missing}Authorization={auth}")));
    }
    let algorithm = auth.split_once(' ').map_or(auth, |(a, _)| a);
    let mut c = parse_credential(credential.unwrap_or_default());
    c.algorithm = algorithm.to_string();
    c.signed_headers = signed_headers.unwrap_or_default().to_string();
    c.signature = signature.unwrap_or_default().to_string();
    Ok(c)
}

/// Parses a presigned query string (`X-Amz-Credential` and the rest), which some clients
/// send instead of the header; `None` when the query has no `X-Amz-Credential`.
pub fn parse_presigned(query: &str) -> Option<Credential> {
    let mut fields = Presigned::default();
    let (mut credential, mut algorithm, mut signed_headers, mut signature) =
        (None, String::new(), String::new(), String::new());
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "X-Amz-Credential" => credential = Some(v),
            "X-Amz-Algorithm" => algorithm = v,
            "X-Amz-SignedHeaders" => signed_headers = v,
            "X-Amz-Signature" => signature = v,
            "X-Amz-Date" => fields.date = Some(v),
            "X-Amz-Expires" => fields.expires = Some(v),
            "X-Amz-Security-Token" => fields.security_token = Some(v),
            _ => {}
        }
    }
    let mut c = parse_credential(&credential?);
    c.algorithm = algorithm;
    c.signed_headers = signed_headers;
    c.signature = signature;
    c.presigned = Some(fields);
    Some(c)
}

/// `<key>/<date>/<region>/<service>/aws4_request`.
fn parse_credential(scope: &str) -> Credential {
    let mut parts = scope.split('/');
    let access_key_id = parts.next().unwrap_or_default().to_string();
    let region = parts.nth(1).filter(|r| !r.is_empty()).map(str::to_string);
    Credential {
        access_key_id,
        region,
        credential: scope.to_string(),
        algorithm: String::new(),
        signed_headers: String::new(),
        signature: String::new(),
        presigned: None,
    }
}

/// `%XX` escapes decoded (a `+` stays a `+`, as SigV4's canonical query keeps it); an
/// invalid escape or UTF-8 is kept as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-2/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    #[test]
    fn region_comes_from_the_scope() {
        let c = parse_authorization(Some(GOOD), true).unwrap();
        assert_eq!(c.region.as_deref(), Some("eu-west-2"));
        assert_eq!(c.access_key_id, "AKID");
    }

    #[test]
    fn missing_or_foreign_header_is_missing_token() {
        for h in [None, Some("Basic abc"), Some("")] {
            assert_eq!(
                parse_authorization(h, true),
                Err(ProtocolError::MissingAuthenticationToken)
            );
        }
    }

    #[test]
    fn incomplete_header_names_each_missing_part() {
        let Err(ProtocolError::IncompleteSignature(m)) =
            parse_authorization(Some("AWS4-HMAC-SHA256 Signature=x"), false)
        else {
            panic!("expected IncompleteSignature");
        };
        assert!(m.starts_with("Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Signature=x"), "{m}");
    }

    #[test]
    fn presigned_query_gives_region() {
        let c = parse_presigned("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fap-south-1%2Fkinesis%2Faws4_request").unwrap();
        assert_eq!(c.region.as_deref(), Some("ap-south-1"));
    }
}
