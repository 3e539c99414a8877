//! SigV4 `Authorization` header parsing. Signatures are not verified (any credentials
//! work, as in every emulator); the header must be well formed, and its credential scope
//! gives the request's region.

use super::ProtocolError;

/// What the `Authorization` header tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub region: Option<String>,
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
    Ok(parse_credential(credential.unwrap_or_default()))
}

/// Parses a presigned query string's `X-Amz-Credential`, which some clients send instead.
pub fn parse_presigned(query: &str) -> Option<Credential> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "X-Amz-Credential").then(|| parse_credential(&v.replace("%2F", "/")))
    })
}

/// `<key>/<date>/<region>/<service>/aws4_request`.
fn parse_credential(scope: &str) -> Credential {
    let mut parts = scope.split('/');
    let access_key_id = parts.next().unwrap_or_default().to_string();
    let region = parts.nth(1).filter(|r| !r.is_empty()).map(str::to_string);
    Credential { access_key_id, region }
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
