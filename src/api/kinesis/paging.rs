//! NextToken for ListStreams and ListShards: opaque, signed, and valid for 300 seconds
//! (ExpiredNextTokenException after that, as AWS documents for ListShards). A token
//! carries where the next page starts and, for ListShards, the stream and filter the
//! first page was asked with, so later pages stay consistent.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::KinesisError;

/// How long a NextToken is valid.
pub const NEXT_TOKEN_TTL_MS: i64 = 300_000;

/// What a ListShards or ListStreams token remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageToken {
    /// `s` for ListStreams, `h` for ListShards.
    pub kind: char,
    pub issued_ms: i64,
    /// ListStreams: the last name returned. ListShards: the stream's name.
    pub name: String,
    /// ListShards: the stream id (a recreated stream does not continue an old listing),
    /// the last shard index returned, and the filter of the first page.
    #[serde(default)]
    pub stream_id: u64,
    #[serde(default)]
    pub after_shard: Option<u32>,
    #[serde(default)]
    pub filter: Option<(String, Option<u32>, Option<i64>)>,
}

impl PageToken {
    /// The wire form: base64url of the JSON and a tag keyed by the server's secret.
    pub fn encode(&self, secret: &[u8; 16]) -> String {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let mut v = tag(secret, &body).to_vec();
        v.extend_from_slice(&body);
        URL_SAFE_NO_PAD.encode(v)
    }

    /// Decodes and checks a token for `kind`, refusing expired ones with AWS's exception.
    pub fn decode(
        token: &str,
        kind: char,
        secret: &[u8; 16],
        now_ms: i64,
    ) -> Result<PageToken, KinesisError> {
        let invalid = || KinesisError::InvalidArgument(format!("Invalid NextToken: {token}"));
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() < 8 {
            return Err(invalid());
        }
        let (got, body) = raw.split_at(8);
        if tag(secret, body) != got {
            return Err(invalid());
        }
        let t: PageToken = serde_json::from_slice(body).map_err(|_| invalid())?;
        if t.kind != kind {
            return Err(invalid());
        }
        // Saturating: an issue time at the edge of i64 (only a token signed with the
        // secret could carry one; the fuzzer does) must not overflow.
        if now_ms.saturating_sub(t.issued_ms) > NEXT_TOKEN_TTL_MS {
            return Err(KinesisError::ExpiredNextToken(format!(
                "The NextToken {token} has expired. NextTokens are valid for 300 seconds."
            )));
        }
        Ok(t)
    }
}

fn tag(secret: &[u8; 16], body: &[u8]) -> [u8; 8] {
    let mut input = secret.to_vec();
    input.extend_from_slice(body);
    input.extend_from_slice(b"next-token");
    let d = md5::compute(&input).0;
    let mut out = [0; 8];
    out.copy_from_slice(&d[..8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_expire_and_refuse_forgeries() {
        let t = PageToken {
            kind: 'h',
            issued_ms: 1000,
            name: "s".into(),
            stream_id: 3,
            after_shard: Some(4),
            filter: Some(("AT_LATEST".into(), None, None)),
        };
        let secret = [7; 16];
        let wire = t.encode(&secret);
        assert_eq!(PageToken::decode(&wire, 'h', &secret, 2000).unwrap(), t);
        assert!(matches!(
            PageToken::decode(&wire, 'h', &secret, 1000 + NEXT_TOKEN_TTL_MS + 1),
            Err(KinesisError::ExpiredNextToken(_))
        ));
        assert!(matches!(
            PageToken::decode(&wire, 's', &secret, 2000),
            Err(KinesisError::InvalidArgument(_))
        ));
        assert!(PageToken::decode(&wire, 'h', &[1; 16], 2000).is_err());
        assert!(PageToken::decode("garbage!", 'h', &secret, 2000).is_err());
    }

    /// Fuzz finding (fuzz/regressions/tokens): `now - issued_ms` overflowed.
    #[test]
    fn an_issue_time_at_the_edge_of_i64_is_expired_not_an_overflow() {
        let secret = [7; 16];
        let t = PageToken {
            kind: 's',
            issued_ms: i64::MIN,
            name: "s".into(),
            stream_id: 0,
            after_shard: None,
            filter: None,
        };
        let wire = t.encode(&secret);
        assert!(matches!(
            PageToken::decode(&wire, 's', &secret, 1000),
            Err(KinesisError::ExpiredNextToken(_))
        ));
        let future = PageToken { issued_ms: i64::MAX, ..t }.encode(&secret);
        assert!(PageToken::decode(&future, 's', &secret, -1000).is_ok());
    }
}
