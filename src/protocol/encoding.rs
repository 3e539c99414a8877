//! `Content-Encoding` of request bodies. AWS accepts gzip bodies (the SDKs send them once
//! request compression is turned on, for bodies over 10 KB by default); ScyllaDB's
//! `test_compressed_request.py`, run against AWS, records the rules kept here: several
//! gzip members one after another are one body, an encoding other than gzip or a body
//! that is not valid gzip is a 500 (InternalServerError), and nothing is applied.
//!
//! The inflated body is bounded by `server.max_body_bytes` as it is inflated (a body that
//! inflates past it is refused with 413 at that point), so a small body that inflates to
//! gigabytes costs no more memory than a large plain one.
//!
//! Responses: DynamoDB compresses an answer of 4 KiB or more with gzip or deflate (zlib)
//! when the request's `Accept-Encoding` asks for one, and DynamoDB's CRC32 header is then
//! of the compressed bytes (the Go SDK v2's DynamoDB customizations and the Java SDK's
//! `calculateCrc32FromCompressedData` say so). How DynamoDB reads `Accept-Encoding` was
//! recorded against AWS by ScyllaDB's `test_compressed_response.py`; [`accepted`] keeps
//! those rules.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::{GzEncoder, ZlibEncoder};

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

/// A response coding DynamoDB offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The smallest answer DynamoDB compresses.
pub const MIN_COMPRESSED_BYTES: usize = 4096;

/// The coding an `Accept-Encoding` value asks for, as DynamoDB reads it: comma-separated
/// codings, case-insensitive, blanks and unknown ones (`br`, `x-gzip`, `"gzip"`, `gzip br`)
/// skipped, `identity` ignored; each weighed by its first `q` parameter (spaces allowed
/// around `=`; above 1 counts as 1, below 0 as 0, an unreadable one as 1; a coding named
/// twice takes its highest). `*` stands for a coding not named. The highest weight above 0
/// wins; on a tie a named coding beats one taken from `*`, then the one named first, and
/// gzip if both come from `*`.
pub fn accepted(header: &str) -> Option<Coding> {
    // (weight, named at position), per coding; the weight of `*`.
    let mut named: [Option<(f64, usize)>; 2] = [None, None];
    let mut star: Option<f64> = None;
    for (position, entry) in header.split(',').enumerate() {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let weight = parts
            .find_map(|param| {
                let (name, value) = param.split_once('=')?;
                (name.trim() == "q").then(|| value.trim().parse::<f64>().unwrap_or(1.0))
            })
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let slot = match coding.as_str() {
            "gzip" => &mut named[0],
            "deflate" => &mut named[1],
            "*" => {
                star = Some(star.map_or(weight, |s| s.max(weight)));
                continue;
            }
            _ => continue,
        };
        *slot = Some(match *slot {
            Some((w, at)) => (w.max(weight), at),
            None => (weight, position),
        });
    }
    // (weight, named, position) per coding; the best sorts last.
    let rank = |slot: Option<(f64, usize)>| match (slot, star) {
        (Some((w, at)), _) => Some((w, true, at)),
        (None, Some(w)) => Some((w, false, usize::MAX)),
        (None, None) => None,
    };
    let candidates = [(Coding::Gzip, rank(named[0])), (Coding::Deflate, rank(named[1]))];
    let mut best: Option<(Coding, (f64, bool, usize))> = None;
    for (coding, rank) in candidates {
        let Some(rank) = rank.filter(|r| r.0 > 0.0) else { continue };
        if best.is_none_or(|(_, b)| outranks(rank, b)) {
            best = Some((coding, rank));
        }
    }
    best.map(|(coding, _)| coding)
}

/// Whether `a` (weight, named, position) beats `b`: a higher weight; on a tie, named over
/// taken from `*`, then named first.
fn outranks(a: (f64, bool, usize), b: (f64, bool, usize)) -> bool {
    if a.0 != b.0 {
        return a.0 > b.0;
    }
    match (a.1, b.1) {
        (true, false) => true,
        (true, true) => a.2 < b.2,
        _ => false,
    }
}

/// `body` compressed with `coding`.
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    let out = Vec::with_capacity(body.len() / 4 + 64);
    // Writing to a Vec cannot fail.
    let written = match coding {
        Coding::Gzip => {
            let mut e = GzEncoder::new(out, Compression::fast());
            e.write_all(body).and_then(|()| e.finish())
        }
        Coding::Deflate => {
            let mut e = ZlibEncoder::new(out, Compression::fast());
            e.write_all(body).and_then(|()| e.finish())
        }
    };
    written.unwrap_or_default()
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

    /// How DynamoDB answered these `Accept-Encoding` values (ScyllaDB's
    /// `test_compressed_response_accept_encodings`, run against AWS).
    #[test]
    fn accept_encoding_is_read_as_dynamodb_reads_it() {
        use Coding::{Deflate, Gzip};
        let cases: &[(&str, Option<Coding>)] = &[
            ("identity", None),
            ("", None),
            ("br", None),
            ("zstd", None),
            ("compress", None),
            ("x-gzip", None),
            ("gzip", Some(Gzip)),
            ("deflate", Some(Deflate)),
            ("gzip, deflate", Some(Gzip)),
            ("br, identity, deflate, gzip", Some(Deflate)),
            ("GZIP, identity", Some(Gzip)),
            ("dog, gzip ,, cat", Some(Gzip)),
            ("gzip;q=0.8, deflate;q=0.5", Some(Gzip)),
            ("br, gzip;q=0, deflate; q = 0.5 , identity;q=0", Some(Deflate)),
            ("*", Some(Gzip)),
            ("*, deflate;q=0.5", Some(Gzip)),
            ("*, deflate", Some(Deflate)),
            ("*, identity", Some(Gzip)),
            ("*, gzip;q=0.5", Some(Deflate)),
            ("gzip ;q=0", None),
            ("identity;q=0", None),
            ("*;q=0", None),
            ("*;q=0.5,identity", Some(Gzip)),
            ("gzip;q=0.5,identity;q=0.8", Some(Gzip)),
            ("br;q=0.8,identity;q=0.5,*;q=0", None),
            ("\"gzip\"", None),
            ("gzip br", None),
            ("gzip:q=1", None),
            ("deflate;q=0.5, gzip;q=31", Some(Gzip)),
            ("gzip;q=31,deflate;q=51", Some(Gzip)),
            ("deflate;q=0.5, gzip;q=0.2", Some(Deflate)),
            ("deflate;q=0.5, gzip;q=1;q=0.2", Some(Gzip)),
            ("deflate;q=0.5,gzip;q=0.", Some(Deflate)),
            ("deflate;q=0.5,gzip;q=0.x", Some(Gzip)),
            ("deflate;q=-0.5,gzip;q=0.2", Some(Gzip)),
            ("gzip;nq=1;q=0 ", None),
            ("gzip;q=0, gzip;q=1, gzip;q=0", Some(Gzip)),
            ("br,identity;q=0.5,gzip;q=0.0001", Some(Gzip)),
        ];
        for (header, expected) in cases {
            assert_eq!(accepted(header), *expected, "Accept-Encoding: {header}");
        }
    }

    #[test]
    fn compressed_answers_inflate_back() {
        let body = vec![b'x'; 10_000];
        let gz = compress(Coding::Gzip, &body);
        let mut back = Vec::new();
        MultiGzDecoder::new(gz.as_slice()).read_to_end(&mut back).unwrap();
        assert_eq!(back, body);
        let z = compress(Coding::Deflate, &body);
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(z.as_slice()).read_to_end(&mut back).unwrap();
        assert_eq!(back, body);
        assert!(z.len() < 200 && gz.len() < 200);
    }
}
