//! `Content-Encoding` of request bodies. AWS accepts gzip bodies (the SDKs send them once
//! request compression is turned on, for bodies over 10 KB by default); ScyllaDB's
//! `test_compressed_request.py`, run against AWS, records the rules kept here: several
//! gzip members one after another are one body, an encoding other than gzip or a body
//! that is not valid gzip is a 500 (InternalServerError), and nothing is applied.
//!
//! The inflated body is bounded by `server.max_body_bytes` as it is inflated (a body that
//! inflates past it is refused with 413 at that point), so a small body that inflates to
//! gigabytes costs no more memory than a large plain one.

use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;

use super::ProtocolError;

/// The body as sent, or inflated as its `Content-Encoding` says.
pub fn decode(encoding: Option<&str>, body: Bytes, limit: usize) -> Result<Bytes, ProtocolError> {
    let encoding = encoding.map(str::trim).unwrap_or_default();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(body);
    }
    if !encoding.eq_ignore_ascii_case("gzip") {
        return Err(ProtocolError::ContentEncoding(format!(
            "Content-Encoding {encoding} is not supported"
        )));
    }
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    // One byte past the limit tells a body at the limit from one over it.
    let read = MultiGzDecoder::new(body.as_ref()).take(limit as u64 + 1).read_to_end(&mut inflated);
    match read {
        Ok(_) if inflated.len() > limit => Err(ProtocolError::RequestTooLarge),
        Ok(0) => Err(ProtocolError::ContentEncoding("empty gzip body".into())),
        Ok(_) => Ok(Bytes::from(inflated)),
        Err(e) => Err(ProtocolError::ContentEncoding(format!("invalid gzip body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_are_inflated_within_the_limit() {
        let plain = Bytes::from_static(b"{\"TableName\": \"t\"}");
        assert_eq!(decode(None, plain.clone(), 100), Ok(plain.clone()));
        assert_eq!(decode(Some("identity"), plain.clone(), 100), Ok(plain.clone()));
        assert_eq!(decode(Some("GZIP"), gzip(&plain).into(), 100), Ok(plain.clone()));
        // Two members are one body.
        let mut two = gzip(&plain[..5]);
        two.extend(gzip(&plain[5..]));
        assert_eq!(decode(Some("gzip"), two.into(), 100), Ok(plain.clone()));
        // A bomb stops at the limit.
        let bomb = gzip(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(decode(Some("gzip"), bomb.into(), 1 << 20), Err(ProtocolError::RequestTooLarge));
        assert_eq!(decode(Some("gzip"), gzip(&plain).into(), plain.len()), Ok(plain.clone()));
    }

    #[test]
    fn other_encodings_and_broken_gzip_are_refused() {
        let plain = Bytes::from_static(b"{}");
        for (encoding, body) in [
            ("garbage", plain.clone()),
            ("br", plain.clone()),
            ("gzip", plain.clone()),
            ("gzip", Bytes::new()),
        ] {
            let e = decode(Some(encoding), body, 100).unwrap_err();
            assert!(matches!(e, ProtocolError::ContentEncoding(_)), "{encoding}: {e:?}");
        }
        let mut cut = gzip(b"{\"a\": 1}");
        cut.pop();
        assert!(matches!(
            decode(Some("gzip"), cut.into(), 100),
            Err(ProtocolError::ContentEncoding(_))
        ));
    }
}
